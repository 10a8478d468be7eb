package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/podium-broadcast/podium/internal/config"
)

// reverseProxy starts a real reverse proxy on 127.0.0.1 in front of p; like
// nginx with $proxy_add_x_forwarded_for, it appends the client's address to
// X-Forwarded-For. It returns the proxy's base URL.
func reverseProxy(t *testing.T, p *podium) string {
	t.Helper()
	origin, _ := url.Parse(p.base)
	proxy := httptest.NewServer(httputil.NewSingleHostReverseProxy(origin))
	t.Cleanup(proxy.Close)
	return proxy.URL
}

// viaProxy is url with p's base replaced by the proxy's.
func viaProxy(p *podium, proxy, u string) string { return proxy + strings.TrimPrefix(u, p.base) }

// forgedHLS is a playback URL of feed through proxy with a forged token.
func forgedHLS(proxy, feed string, i int) string {
	return fmt.Sprintf("%s/hls/%s/%s.%s/index.m3u8", proxy, feed, "Zn5ifjE4MDAwMDAwMDA", strings.Repeat("A", 21+i%3))
}

// getAs fetches u with c, adding an Authorization bearer token and an
// X-Forwarded-For of the client's own (a forgery) when not empty.
func getAs(t *testing.T, c *http.Client, u, token, forgedXFF string) int {
	t.Helper()
	req, _ := http.NewRequest("GET", u, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if forgedXFF != "" {
		req.Header.Set("X-Forwarded-For", forgedXFF)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// TestForgedTokensBehindAProxyLockOutNoValidCredential: through a real
// reverse proxy, ten forged HLS tokens from one client lock out bad
// credentials only: a valid HLS URL and a valid API key through the same
// proxy still get 200. Without trusted_proxies every client shares the
// proxy's address; with it, the forger's forwarded address is locked out
// (its own X-Forwarded-For forgery notwithstanding) and another client's
// is not.
func TestForgedTokensBehindAProxyLockOutNoValidCredential(t *testing.T) {
	for _, trusted := range []bool{false, true} {
		t.Run(fmt.Sprintf("trusted_proxies=%v", trusted), func(t *testing.T) {
			p := startPodium(t, options{configure: func(c *config.Config) {
				c.AuthMaxFailures, c.AuthWindow = 3, time.Minute
				if trusted {
					c.TrustedProxies = "127.0.0.1/32"
				}
			}})
			f := p.createFeed("ath-100m-final")
			nbc := p.createBroadcaster("nbc")
			p.grant("nbc", f.ID)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			p.publish(ctx, f, fixture, true)
			eventually(t, 5*time.Second, "feed not live", func() bool { return p.metric(`podium_feed_live{feed="ath-100m-final"}`) == 1 })
			proxy := reverseProxy(t, p)
			forger, viewer := clientFrom("127.0.1.1"), clientFrom("127.0.1.2")

			statuses := map[int]int{}
			for i := range 10 {
				statuses[getAs(t, forger, forgedHLS(proxy, f.ID, i), "", "127.0.1.99")]++
			}
			if statuses[403] != 3 || statuses[429] != 7 {
				t.Fatalf("ten forged tokens answered %v, want 3 × 403 then 7 × 429", statuses)
			}
			hlsURL := viaProxy(p, proxy, p.playback(f.ID, nbc.APIKey))
			for name, c := range map[string]*http.Client{"forger": forger, "viewer": viewer} {
				if status := getAs(t, c, hlsURL, "", ""); status != 200 {
					t.Errorf("valid HLS URL from the %s through the proxy: %d, want 200", name, status)
				}
				if status := getAs(t, c, proxy+"/api/v1/feeds", nbc.APIKey, ""); status != 200 {
					t.Errorf("valid API key from the %s through the proxy: %d, want 200", name, status)
				}
			}
			// Another client's forgery: refused as forged (403), or as locked out
			// (429) when, with no trusted proxy, it shares the forger's address.
			want := 429
			if trusted {
				want = 403
			}
			if status := getAs(t, viewer, forgedHLS(proxy, f.ID, 0), "", ""); status != want {
				t.Errorf("another client's forged token: %d, want %d", status, want)
			}
			if status := getAs(t, forger, proxy+"/api/v1/feeds", "guess", ""); status != 429 {
				t.Errorf("the forger's wrong API key: %d, want 429", status)
			}
			if trusted && !strings.Contains(p.logs.String(), `msg="authentication lockout" protocol=http remote=127.0.1.1`) {
				t.Error("the lockout is not logged against the forger's forwarded address 127.0.1.1")
			}
			if !trusted && !strings.Contains(p.logs.String(), `msg="authentication lockout" protocol=http remote=127.0.0.1`) {
				t.Error("the lockout is not logged against the proxy's address")
			}
		})
	}
}

// playbackWithHost asks the API for the feed's hls_url with a Host header of
// the caller's choosing.
func playbackWithHost(t *testing.T, p *podium, feed, token, host string) string {
	t.Helper()
	req, _ := http.NewRequest("GET", p.base+"/api/v1/feeds/"+feed+"/playback", nil)
	req.Host = host
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("X-Forwarded-Proto", "https")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		HLSURL string `json:"hls_url"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != 200 {
		t.Fatalf("playback: %d %v", resp.StatusCode, err)
	}
	return out.HLSURL
}

// TestHLSURLNeverTakesTheHostHeader: hls_url starts with public_base_url
// when it is set, else with the HTTP listener's address; a Host (or
// X-Forwarded-Proto) header of the caller's choosing changes nothing.
func TestHLSURLNeverTakesTheHostHeader(t *testing.T) {
	t.Run("listen address", func(t *testing.T) {
		p := startPodium(t, options{})
		f := p.createFeed("ath-100m-final")
		got := playbackWithHost(t, p, f.ID, p.AdminToken, "evil.example")
		if !strings.HasPrefix(got, p.base+"/hls/"+f.ID+"/") {
			t.Fatalf("hls_url %q, want it under %s", got, p.base)
		}
	})
	t.Run("public_base_url", func(t *testing.T) {
		p := startPodium(t, options{configure: func(c *config.Config) { c.PublicBaseURL = "https://podium.example.com/" }})
		f := p.createFeed("ath-100m-final")
		got := playbackWithHost(t, p, f.ID, p.AdminToken, "evil.example")
		if !strings.HasPrefix(got, "https://podium.example.com/hls/"+f.ID+"/") {
			t.Fatalf("hls_url %q, want it under https://podium.example.com", got)
		}
	})
}
