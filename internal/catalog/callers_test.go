package catalog

import (
	"strings"
	"testing"
	"time"
)

func TestParseSRTAddress(t *testing.T) {
	ok := []struct{ in, canonical, dial string }{
		{"srt://127.0.0.1:9000", "srt://127.0.0.1:9000", "127.0.0.1:9000"},
		{"srt://Encoder.Venue.example:6001", "srt://encoder.venue.example:6001", "encoder.venue.example:6001"},
		{"srt://[2001:DB8::1]:9000", "srt://[2001:db8::1]:9000", "[2001:db8::1]:9000"},
		{"srt://localhost:65535", "srt://localhost:65535", "localhost:65535"},
		{"srt://ird-1.example.:1", "srt://ird-1.example.:1", "ird-1.example.:1"},
	}
	for _, tc := range ok {
		canonical, dial, err := ParseSRTAddress("address", tc.in)
		if err != nil || canonical != tc.canonical || dial != tc.dial {
			t.Errorf("%q: %q %q %v, want %q %q", tc.in, canonical, dial, err, tc.canonical, tc.dial)
		}
	}
	bad := []string{
		"", "127.0.0.1:9000", "udp://127.0.0.1:9000", "SRT://127.0.0.1:9000", "srt://127.0.0.1", "srt://127.0.0.1:",
		"srt://:9000", "srt://127.0.0.1:0", "srt://127.0.0.1:65536", "srt://127.0.0.1:09000", "srt://127.0.0.1:90a",
		"srt://127.0.0.1:9000?streamid=x", "srt://127.0.0.1:9000/live", "srt://user@127.0.0.1:9000", "srt://127.0.0.1:9000#x",
		"srt://0.0.0.0:9000", "srt://[::]:9000", "srt://239.1.1.1:9000", "srt://::1:9000", "srt://[127.0.0.1]:9000",
		"srt://256.1.1.1:9000", "srt://under_score.example:9000", "srt://-lead.example:9000", "srt://a..b:9000",
		"srt://%41.example:9000", "srt://[fe80::1%25eth0]:9000", "srt:// host:9000", "srt://" + strings.Repeat("a", 300) + ":1",
		"srt://" + strings.Repeat("a", 64) + ".example:1",
	}
	for _, in := range bad {
		if _, _, err := ParseSRTAddress("address", in); err == nil || err.Field != "address" {
			t.Errorf("%q accepted (%v)", in, err)
		}
	}
}

func TestCallerValidation(t *testing.T) {
	src := CallerSource{FeedID: "f", Role: RolePrimary, Address: "srt://Enc.example:9000", Passphrase: "0123456789", Latency: 200 * time.Millisecond}
	if err := src.Validate(); err != nil || src.Address != "srt://enc.example:9000" {
		t.Fatalf("%v %q", err, src.Address)
	}
	for field, s := range map[string]CallerSource{
		"role":       {FeedID: "f", Role: "main", Address: "srt://h.example:1"},
		"address":    {FeedID: "f", Role: RoleBackup, Address: "srt://h.example"},
		"streamid":   {FeedID: "f", Role: RoleBackup, Address: "srt://h.example:1", StreamID: "a\nb"},
		"passphrase": {FeedID: "f", Role: RoleBackup, Address: "srt://h.example:1", Passphrase: "short"},
		"latency_ms": {FeedID: "f", Role: RoleBackup, Address: "srt://h.example:1", Latency: 5 * time.Millisecond},
	} {
		if err := s.Validate(); err == nil || err.Field != field {
			t.Errorf("%s: got %v", field, err)
		}
	}
	d := Destination{BroadcasterID: "b", FeedID: "f", Address: "srt://10.0.0.1:9000", StreamID: strings.Repeat("x", MaxStreamID)}
	if err := d.Validate(); err != nil {
		t.Fatal(err)
	}
	d.StreamID += "x"
	if err := d.Validate(); err == nil || err.Field != "streamid" {
		t.Errorf("streamid of %d bytes: %v", len(d.StreamID), err)
	}
	d = Destination{BroadcasterID: "b", FeedID: "F", Address: "srt://10.0.0.1:9000"}
	if err := d.Validate(); err == nil || err.Field != "feed_id" {
		t.Errorf("feed_id: %v", err)
	}
}

func TestHolds(t *testing.T) {
	now := time.Date(2028, 7, 14, 20, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		e    Entitlement
		want bool
	}{
		{"active", Entitlement{Status: StatusActive}, true},
		{"scheduled", Entitlement{Status: StatusActive, StartsAt: now.Add(time.Hour)}, true},
		{"suspended", Entitlement{Status: StatusSuspended}, true},
		{"revoked", Entitlement{Status: StatusRevoked}, false},
		{"window ended", Entitlement{Status: StatusActive, EndsAt: now}, false},
	}
	for _, tc := range tests {
		tc.e.BroadcasterID, tc.e.FeedID = "b", "f"
		s := NewSnapshot([]Feed{{ID: "f"}}, []Broadcaster{{ID: "b"}}, []Entitlement{tc.e})
		if got := s.Holds("b", "f", now); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
	if NewSnapshot(nil, []Broadcaster{{ID: "b"}}, []Entitlement{{BroadcasterID: "b", FeedID: "f", Status: StatusActive}}).Holds("b", "f", now) {
		t.Error("holds a feed that does not exist")
	}
}

// FuzzParseSRTAddress: any input is refused or read into a canonical address
// that reads back to itself and dials the host:port it names.
func FuzzParseSRTAddress(f *testing.F) {
	for _, seed := range []string{"srt://127.0.0.1:9000", "srt://[::1]:1", "srt://enc.example:6000", "srt://a:1?x", "srt://[fe80::1%25x]:1"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, in string) {
		canonical, dial, err := ParseSRTAddress("address", in)
		if err != nil {
			if err.Field != "address" {
				t.Fatalf("error names %q", err.Field)
			}
			return
		}
		again, dialAgain, err := ParseSRTAddress("address", canonical)
		if err != nil || again != canonical || dialAgain != dial || DialAddress(canonical) != dial {
			t.Fatalf("%q -> %q %q reads back as %q %q %v", in, canonical, dial, again, dialAgain, err)
		}
	})
}
