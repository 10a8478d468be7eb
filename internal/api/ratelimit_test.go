package api_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/podium-broadcast/podium/internal/api"
	"github.com/podium-broadcast/podium/internal/delivery"
	"github.com/podium-broadcast/podium/internal/hub"
	"github.com/podium-broadcast/podium/internal/ratelimit"
	"github.com/podium-broadcast/podium/internal/store"
)

type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// newLimitedServer is newServer with a failed-authentication limit of 3 per minute.
func newLimitedServer(t *testing.T) (*httptest.Server, *testClock) {
	t.Helper()
	st, err := store.Open(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	clock := &testClock{now: time.Now()}
	limiter := ratelimit.New("http", ratelimit.Config{MaxFailures: 3, Window: time.Minute, Now: clock.Now}, nil, nil)
	h := api.Handler(api.Deps{Store: st, Hub: hub.New(hub.DefaultConfig), Deliveries: delivery.NewRegistry(st),
		Ingest: noIngest{}, AdminToken: adminToken, Log: slog.New(slog.DiscardHandler), Metrics: http.NotFoundHandler(), Auth: limiter})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv, clock
}

func TestWrongTokensLockTheAddressOut(t *testing.T) {
	srv, clock := newLimitedServer(t)
	session := signIn(t, srv, adminToken)
	// Stale or forged session cookies are not counted.
	for range 5 {
		resp := withCookie(t, srv, "GET", "/api/v1/feeds", &http.Cookie{Name: "podium_session", Value: "stale"})
		resp.Body.Close()
		if resp.StatusCode != 401 {
			t.Fatalf("stale cookie: %d", resp.StatusCode)
		}
	}
	if a := call(t, srv, "GET", "/api/v1/feeds", adminToken, ""); a.status != 200 {
		t.Fatalf("locked out by stale cookies: %d", a.status)
	}
	// Wrong bearer tokens and sign-ins are.
	call(t, srv, "GET", "/api/v1/feeds", "guess-1", "")
	call(t, srv, "POST", "/api/v1/session", "", `{"token":"guess-2"}`)
	if a := call(t, srv, "GET", "/api/v1/feeds", "guess-3", ""); a.status != 401 {
		t.Fatalf("third wrong token: %d", a.status)
	}
	// Locked out: wrong tokens are refused with the JSON error and Retry-After.
	req, _ := http.NewRequest("GET", srv.URL+"/api/v1/feeds", nil)
	req.Header.Set("Authorization", "Bearer guess-4")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "60" {
		t.Fatalf("wrong token while locked out: %d, Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	a := call(t, srv, "POST", "/api/v1/session", "", `{"token":"guess-5"}`)
	if code, _ := a.errorField(); a.status != 429 || code != "too_many_requests" || !strings.Contains(a.body["error"].(map[string]any)["message"].(string), "try again in 60 s") {
		t.Fatalf("wrong sign-in while locked out: %d %v", a.status, a.body)
	}
	// The right token is let through: behind a proxy the address is everyone's.
	if a := call(t, srv, "GET", "/api/v1/feeds", adminToken, ""); a.status != 200 {
		t.Fatalf("right token while locked out: %d, want 200", a.status)
	}
	if a := call(t, srv, "POST", "/api/v1/session", "", `{"token":"`+adminToken+`"}`); a.status != 200 {
		t.Fatalf("right sign-in while locked out: %d, want 200", a.status)
	}
	// A browser signed in before keeps working: its cookie is no guess.
	resp = withCookie(t, srv, "GET", "/api/v1/session", session)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("signed-in session refused during the lockout: %d", resp.StatusCode)
	}
	clock.Advance(59 * time.Second)
	if a := call(t, srv, "GET", "/api/v1/feeds", "guess-6", ""); a.status != 429 {
		t.Fatalf("lockout ended early: %d", a.status)
	}
	clock.Advance(time.Second)
	if a := call(t, srv, "GET", "/api/v1/feeds", "guess-7", ""); a.status != 401 {
		t.Fatalf("wrong token after the lockout: %d, want 401", a.status)
	}
}
