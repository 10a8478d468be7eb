package api_test

import (
	"bufio"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// signIn posts token to /session and returns the session cookie.
func signIn(t *testing.T, srv *httptest.Server, token string) *http.Cookie {
	t.Helper()
	resp, err := http.Post(srv.URL+"/api/v1/session", "application/json", strings.NewReader(`{"token":"`+token+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("sign in: %d", resp.StatusCode)
	}
	for _, c := range resp.Cookies() {
		if c.Name == "podium_session" {
			if !c.HttpOnly || !c.Secure || c.SameSite != http.SameSiteStrictMode {
				t.Fatalf("session cookie is not HttpOnly, Secure and SameSite=Strict: %+v", c)
			}
			return c
		}
	}
	t.Fatal("no session cookie")
	return nil
}

func withCookie(t *testing.T, srv *httptest.Server, method, path string, c *http.Cookie) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(method, srv.URL+path, nil)
	req.AddCookie(c)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func TestPortalSessionSignsInAndOut(t *testing.T) {
	srv := newServer(t)
	key := seed(t, srv)

	bad := call(t, srv, "POST", "/api/v1/session", "", `{"token":"not-a-key"}`)
	if code, field := bad.errorField(); bad.status != 401 || code != "unauthorized" || field != "token" {
		t.Fatalf("bad token: %d %v", bad.status, bad.body)
	}
	if empty := call(t, srv, "POST", "/api/v1/session", "", `{"token":""}`); empty.status != 422 {
		t.Fatalf("empty token: %d %v", empty.status, empty.body)
	}

	c := signIn(t, srv, key)
	resp := withCookie(t, srv, "GET", "/api/v1/feeds", c)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("feeds with the session cookie: %d", resp.StatusCode)
	}
	resp = withCookie(t, srv, "DELETE", "/api/v1/session", c)
	resp.Body.Close()
	if resp.StatusCode != 204 {
		t.Fatalf("sign out: %d", resp.StatusCode)
	}
	// The old cookie value no longer opens anything, even if a browser kept it.
	resp = withCookie(t, srv, "GET", "/api/v1/feeds", c)
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Fatalf("feeds after sign out: %d", resp.StatusCode)
	}

	admin := signIn(t, srv, adminToken)
	resp = withCookie(t, srv, "GET", "/api/v1/session", admin)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("admin session: %d", resp.StatusCode)
	}
}

func TestSRTDetailsAreTheBroadcastersOwn(t *testing.T) {
	srv := newServer(t)
	key := seed(t, srv)
	a := call(t, srv, "GET", "/api/v1/feeds/f1/srt", key, "")
	if a.status != 200 || a.body["streamid"] != "#!::r=f1,u=b1,m=request" || a.body["passphrase"] == "" {
		t.Fatalf("details: %d %v", a.status, a.body)
	}
	cmds := a.body["commands"].(map[string]any)
	for _, name := range []string{"ffplay", "ffmpeg", "srt_live_transmit", "vlc", "mpv"} {
		if cmd, _ := cmds[name].(string); !strings.Contains(cmd, "#!::r=f1,u=b1,m=request") {
			t.Fatalf("%s command: %q", name, cmd)
		}
	}
	if a := call(t, srv, "GET", "/api/v1/feeds/f2/srt", key, ""); a.status != 404 {
		t.Fatalf("details of a feed not entitled: %d", a.status)
	}
	if a := call(t, srv, "GET", "/api/v1/feeds/f1/srt", adminToken, ""); a.status != 400 {
		t.Fatalf("operator without ?broadcaster: %d", a.status)
	}
	if a := call(t, srv, "GET", "/api/v1/feeds/f1/srt?broadcaster=b2", adminToken, ""); a.status != 200 || a.body["streamid"] != "#!::r=f1,u=b2,m=request" {
		t.Fatalf("operator for b2: %d %v", a.status, a.body)
	}
}

func TestEventStreamSendsLiveStateAndCatalogChanges(t *testing.T) {
	srv := newServer(t)
	seed(t, srv)
	c := signIn(t, srv, adminToken)
	resp := withCookie(t, srv, "GET", "/api/v1/events", c)
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); resp.StatusCode != 200 || ct != "text/event-stream" {
		t.Fatalf("events: %d %s", resp.StatusCode, ct)
	}
	events := make(chan string, 64)
	go func() {
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			if name, ok := strings.CutPrefix(sc.Text(), "event: "); ok {
				events <- name
			}
		}
		close(events)
	}()
	want := func(name string) {
		t.Helper()
		deadline := time.After(30 * time.Second)
		for {
			select {
			case got, ok := <-events:
				if !ok {
					t.Fatalf("stream ended before %q", name)
				}
				if got == name {
					return
				}
			case <-deadline:
				t.Fatalf("no %q event", name)
			}
		}
	}
	want("hello")
	want("history")
	want("feeds")
	want("deliveries")
	call(t, srv, "POST", "/api/v1/feeds", adminToken, `{"id":"f3","name":"Three"}`)
	want("catalog")
	// Signing out ends the stream.
	out := withCookie(t, srv, "DELETE", "/api/v1/session", c)
	out.Body.Close()
	deadline := time.After(30 * time.Second)
	for {
		select {
		case _, ok := <-events:
			if !ok {
				return
			}
		case <-deadline:
			t.Fatal("stream still open after sign out")
		}
	}
}
