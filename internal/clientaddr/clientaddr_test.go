package clientaddr

import (
	"net/http"
	"net/netip"
	"testing"
)

func TestClient(t *testing.T) {
	res := New([]netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("2001:db8::/32")})
	tests := []struct {
		name      string
		peer      string
		xff       []string
		forwarded []string
		want      string // "" means the peer is the client
	}{
		{"untrusted peer: headers ignored", "198.51.100.9:4000", []string{"203.0.113.5"}, nil, ""},
		{"trusted peer, one hop", "10.0.0.2:4000", []string{"203.0.113.5"}, nil, "203.0.113.5"},
		{"forged left hops are skipped", "10.0.0.2:4000", []string{"1.2.3.4, 203.0.113.5"}, nil, "203.0.113.5"},
		{"chain of trusted proxies", "10.0.0.2:4000", []string{"203.0.113.5, 10.9.9.9", "10.1.1.1"}, nil, "203.0.113.5"},
		{"garbage left of the client", "10.0.0.2:4000", []string{"not-an-ip, 203.0.113.5"}, nil, "203.0.113.5"},
		{"garbage right behind the proxy", "10.0.0.2:4000", []string{"203.0.113.5, junk"}, nil, ""},
		{"every hop trusted", "10.0.0.2:4000", []string{"10.3.3.3, 10.4.4.4"}, nil, "10.3.3.3"},
		{"no header from a trusted peer", "10.0.0.2:4000", nil, nil, ""},
		{"a client's own Forwarded beside the proxy's X-Forwarded-For", "10.0.0.2:4000", []string{"192.0.2.1"},
			[]string{`for=1.2.3.4`}, "192.0.2.1"},
		{"Forwarded when there is no X-Forwarded-For", "10.0.0.2:4000", nil,
			[]string{`for=1.2.3.4, for="[2001:db8:cafe::17]:4711";proto=https, for=203.0.113.5:80`}, "203.0.113.5"},
		{"Forwarded IPv6 client", "[2001:db8::1]:443", nil, []string{`for="[2001:db9::17]:4711"`}, "2001:db9::17"},
		{"Forwarded obfuscated", "10.0.0.2:4000", nil, []string{`for=_hidden`}, ""},
		{"IPv4-mapped peer", "[::ffff:10.0.0.2]:4000", []string{"203.0.113.5"}, nil, "203.0.113.5"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := &http.Request{RemoteAddr: tc.peer, Header: http.Header{}}
			for _, v := range tc.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			for _, v := range tc.forwarded {
				r.Header.Add("Forwarded", v)
			}
			got, ok := res.Client(r)
			if tc.want == "" {
				if ok {
					t.Fatalf("client %v, want the peer", got)
				}
				return
			}
			if !ok || got.String() != tc.want {
				t.Fatalf("client %v (%v), want %s", got, ok, tc.want)
			}
		})
	}
}

func TestHandlerRewritesRemoteAddr(t *testing.T) {
	res := New([]netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")})
	var seen string
	h := res.Handler(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { seen = r.RemoteAddr }))
	r := &http.Request{RemoteAddr: "127.0.0.1:5000", Header: http.Header{"X-Forwarded-For": {"203.0.113.5"}}}
	h.ServeHTTP(nil, r)
	if seen != "203.0.113.5" || r.RemoteAddr != "127.0.0.1:5000" {
		t.Fatalf("handler saw %q, request left %q", seen, r.RemoteAddr)
	}
	untrusted := New(nil).Handler(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { seen = r.RemoteAddr }))
	untrusted.ServeHTTP(nil, r)
	if seen != "127.0.0.1:5000" {
		t.Fatalf("with no trusted proxy the handler saw %q", seen)
	}
}

// FuzzClient: whatever the headers say, Client never panics, believes
// nothing from an untrusted peer, and from a trusted one answers an address
// that no trusted network holds unless every hop it read was trusted.
func FuzzClient(f *testing.F) {
	f.Add("10.0.0.2:4000", "1.2.3.4, 203.0.113.5", "")
	f.Add("10.0.0.2:4000", "", `for="[2001:db8::1]:80";proto=https, for=_x`)
	f.Add("198.51.100.1:1", "10.1.1.1", "for=10.2.2.2")
	f.Add("[::ffff:10.0.0.2]:4000", "junk,,10.3.3.3", "")
	res := New([]netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")})
	f.Fuzz(func(t *testing.T, peer, xff, forwarded string) {
		r := &http.Request{RemoteAddr: peer, Header: http.Header{}}
		if xff != "" {
			r.Header.Set("X-Forwarded-For", xff)
		}
		if forwarded != "" {
			r.Header.Set("Forwarded", forwarded)
		}
		client, ok := res.Client(r)
		p, valid := parseHost(peer)
		if !valid || !res.isTrusted(p) {
			if ok {
				t.Fatalf("believed %v from untrusted peer %q", client, peer)
			}
			return
		}
		if ok && !client.IsValid() {
			t.Fatalf("ok with an invalid address from %q / %q", xff, forwarded)
		}
	})
}
