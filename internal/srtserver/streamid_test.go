package srtserver

import (
	"errors"
	"testing"
	"unicode/utf8"
)

func TestParseStreamID(t *testing.T) {
	tests := []struct {
		in   string
		want StreamID
		code RejectCode
	}{
		{in: "#!::r=ath-100m-final,m=publish", want: StreamID{Resource: "ath-100m-final", Mode: ModePublish, Type: "stream"}},
		{in: "#!::m=publish,r=ath-100m-final", want: StreamID{Resource: "ath-100m-final", Mode: ModePublish, Type: "stream"}},
		{in: "#!::r=f,u=nbc,m=request", want: StreamID{Resource: "f", User: "nbc", Mode: ModeRequest, Type: "stream"}},
		{in: "#!::r=f,u=nbc", want: StreamID{Resource: "f", User: "nbc", Mode: ModeRequest, Type: "stream"}},
		{in: "#!::r=f,u=nbc,h=podium.example,t=stream,s=abc", want: StreamID{Resource: "f", User: "nbc", Host: "podium.example", Session: "abc", Mode: ModeRequest, Type: "stream"}},
		// GStreamer passes the # of its URI escaped.
		{in: "%23!::r=f,u=nbc,m=request", want: StreamID{Resource: "f", User: "nbc", Mode: ModeRequest, Type: "stream"}},
		{in: "%23!r=f", code: RejectBadRequest},
		{in: "", code: RejectBadRequest},
		{in: "ath-100m-final", code: RejectBadRequest},
		{in: "#!::", code: RejectBadRequest},
		{in: "#!::r=f,m=publish,", code: RejectBadRequest},
		{in: "#!::r=f,r=g,m=publish", code: RejectBadRequest},
		{in: "#!::r=,m=publish", code: RejectBadRequest},
		{in: "#!::m=publish", code: RejectBadRequest},
		{in: "#!::r=f,m=request", code: RejectBadRequest},
		{in: "#!::r=f,x=1", code: RejectBadRequest},
		{in: "#!::r=f,m=bidirectional,u=a", code: RejectBadMode},
		{in: "#!::r=f,m=publish,t=file", code: RejectUnsupportedMedia},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseStreamID(tc.in)
			if tc.code != 0 {
				var rej *Rejection
				if !errors.As(err, &rej) || rej.Code != tc.code {
					t.Fatalf("err = %v, want code %d", err, tc.code)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
			again, err := ParseStreamID(got.String())
			if err != nil || again.Resource != got.Resource || again.User != got.User || again.Mode != got.Mode {
				t.Fatalf("String() %q does not parse back: %+v %v", got.String(), again, err)
			}
		})
	}
}

func FuzzParseStreamID(f *testing.F) {
	for _, s := range []string{"#!::r=f,m=publish", "#!::r=f,u=b,m=request", "#!::r=a=b,,", "x", "#!::t=file"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, err := ParseStreamID(s)
		if err != nil {
			var rej *Rejection
			if !errors.As(err, &rej) || rej.Code == 0 {
				t.Fatalf("error without a reject code: %v", err)
			}
			if len(rej.Reason) > 400 || (utf8.ValidString(s) && !utf8.ValidString(rej.Reason)) {
				t.Fatalf("reason unbounded or mangled: %q", rej.Reason)
			}
			return
		}
		if id.Resource == "" || (id.Mode != ModePublish && id.Mode != ModeRequest) {
			t.Fatalf("accepted incomplete streamid %q as %+v", s, id)
		}
	})
}
