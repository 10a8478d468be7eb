package api

import (
	"net/url"
	"strings"
	"testing"
)

// FuzzCrossSite checks the cross-site rule on arbitrary headers: a request
// marked same-site or cross-site by the browser is always refused, one from
// the server's own origin (or from no browser page) is always let through,
// and an Origin whose host differs from the server's is never let through.
func FuzzCrossSite(f *testing.F) {
	for _, seed := range [][3]string{
		{"", "", "http://127.0.0.1:8080"},
		{"same-origin", "http://127.0.0.1:8080", "http://127.0.0.1:8080"},
		{"same-site", "http://127.0.0.1:9999", "http://127.0.0.1:8080"},
		{"cross-site", "https://evil.example", "https://podium.example"},
		{"none", "", "https://podium.example"},
		{"", "null", "http://127.0.0.1:8080"},
		{"", "HTTPS://Podium.Example:443", "https://podium.example"},
		{"", "http://127.0.0.1:8080/path", "http://127.0.0.1:8080"},
		{"", "http://user@127.0.0.1:8080", "http://127.0.0.1:8080"},
	} {
		f.Add(seed[0], seed[1], seed[2])
	}
	f.Fuzz(func(t *testing.T, secFetchSite, origin, own string) {
		reason := crossSite(secFetchSite, origin, own)
		if (secFetchSite == "same-site" || secFetchSite == "cross-site") && reason == "" {
			t.Fatalf("Sec-Fetch-Site %q let through", secFetchSite)
		}
		if (secFetchSite == "" || secFetchSite == "same-origin" || secFetchSite == "none") && (origin == "" || origin == own) {
			if u, err := url.Parse(own); err == nil && own == normalOrigin(u.Scheme, u.Host) && u.Path == "" && u.RawQuery == "" && u.User == nil && reason != "" {
				t.Fatalf("own origin %q refused: %s", own, reason)
			}
		}
		if reason == "" && origin != "" {
			o, err1 := url.Parse(origin)
			w, err2 := url.Parse(own)
			if err1 != nil || err2 != nil || !strings.EqualFold(o.Hostname(), w.Hostname()) || !strings.EqualFold(o.Scheme, w.Scheme) {
				t.Fatalf("Origin %q let through for own origin %q", origin, own)
			}
		}
	})
}
