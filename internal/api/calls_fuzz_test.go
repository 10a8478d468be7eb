package api

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"
)

// FuzzParseCalls: any body of PUT /feeds/{id}/source or POST
// /broadcasters/{id}/destinations is refused with a 4xx naming what is wrong,
// or read into a valid source or destination with a canonical address.
func FuzzParseCalls(f *testing.F) {
	for _, seed := range []string{
		`{"address":"srt://10.0.0.1:9000","streamid":"#!::r=x","passphrase":"0123456789","latency_ms":120,"role":"backup"}`,
		`{"feed_id":"f1","address":"srt://[::1]:9000"}`,
		`{"address":"srt://a.example:1","latency_ms":1e3}`,
		`{"address":9}`, `[]`, `{"address":"srt://x:1"} x`,
	} {
		f.Add([]byte(seed))
	}
	request := func(body []byte) *http.Request {
		r := httptest.NewRequest("POST", "/", bytes.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		return r
	}
	check := func(t *testing.T, err *Error) {
		if err.Status < 400 || err.Status > 499 || err.Message == "" || err.Code == "" {
			t.Fatalf("refused with %+v", err)
		}
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		if src, err := parseCallerSource(request(body), "f1"); err != nil {
			check(t, err)
		} else if again := src; again.Validate() != nil || again.Address != src.Address {
			t.Fatalf("accepted %+v, which does not validate again", src)
		}
		if d, err := parseDestination(request(body), "b1"); err != nil {
			check(t, err)
		} else if again := d; again.Validate() != nil || again.Address != d.Address {
			t.Fatalf("accepted %+v, which does not validate again", d)
		}
	})
}
