package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/podium-broadcast/podium/internal/api"
	"github.com/podium-broadcast/podium/internal/delivery"
	"github.com/podium-broadcast/podium/internal/hub"
	"github.com/podium-broadcast/podium/internal/store"
)

// fuzzHandler is the API handler on a catalog with feed f1, broadcaster b1
// and entitlement e1 (b1 to f1), for requests made with httptest.
func fuzzHandler(f *testing.F) http.Handler {
	f.Helper()
	st, err := store.Open(context.Background(), f.TempDir())
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { st.Close() })
	h := api.Handler(api.Deps{Store: st, Hub: hub.New(hub.DefaultConfig), Deliveries: delivery.NewRegistry(st),
		Ingest: noIngest{}, AdminToken: adminToken, Log: slog.New(slog.DiscardHandler), Metrics: http.NotFoundHandler(), Clips: &fakeEngine{}})
	for _, c := range []struct{ path, body string }{
		{"/api/v1/feeds", `{"id":"f1","name":"Feed one"}`},
		{"/api/v1/broadcasters", `{"id":"b1","name":"One","territories":["FR"]}`},
		{"/api/v1/entitlements", `{"id":"e1","broadcaster_id":"b1","feed_id":"f1"}`},
	} {
		if rec := serve(h, "POST", c.path, "application/json", []byte(c.body), http.Header{"Authorization": {"Bearer " + adminToken}}); rec.Code != 201 {
			f.Fatalf("seed %s: %d %s", c.path, rec.Code, rec.Body)
		}
	}
	return h
}

func serve(h http.Handler, method, path, contentType string, body []byte, header http.Header) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, bytes.NewReader(body))
	for k, v := range header {
		req.Header[k] = v
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// writes are the API requests that take a JSON body.
var writes = []struct{ method, path string }{
	{"POST", "/api/v1/feeds"},
	{"POST", "/api/v1/broadcasters"},
	{"POST", "/api/v1/entitlements"},
	{"PATCH", "/api/v1/entitlements/e1"},
	{"POST", "/api/v1/session"},
	{"PUT", "/api/v1/feeds/f1/source"},
	{"POST", "/api/v1/broadcasters/b1/destinations"},
	{"POST", "/api/v1/schedule/import"},
	{"POST", "/api/v1/clips"},
	{"PATCH", "/api/v1/feeds/f1"},
}

// FuzzAPIJSON posts arbitrary bodies to every API endpoint that reads JSON:
// the answer is never a 5xx, always a JSON error body for a 4xx, and nothing panics.
func FuzzAPIJSON(f *testing.F) {
	h := fuzzHandler(f)
	for i, body := range []string{
		`{"id":"f2","name":"Feed two","kind":"venue-iso","publish_passphrase":"0123456789"}`,
		`{"id":"b2","name":"Two","territories":["US","JP"],"srt_passphrase":"0123456789"}`,
		`{"broadcaster_id":"b1","feed_id":"f1","starts_at":"2028-07-14T20:00:00Z","ends_at":"2028-07-15T20:00:00Z"}`,
		`{"status":"suspended"}`,
		`{"token":"` + adminToken + `"}`,
		`{"address":"srt://10.0.0.1:9000","streamid":"cam1","passphrase":"0123456789","latency_ms":200,"role":"backup"}`,
		`{"feed_id":"f1","address":"srt://[2001:db8::1]:7000","passphrase":"0123456789"}`,
		`[{"id":"S1","sport":"Athletics","event":"100m","venue":"Stadium","start":"2028-07-14T19:00:00Z","end":"2028-07-14T20:00:00Z","feed_ids":["f1"]}]`,
		`{"feed_id":"f1","start":"now-30s","end":"now","title":"Gold","tags":["medal"],"athletes":["A B"],"mode":"exact","format":"ts"}`,
		`{"recording":{"enabled":false,"max_age":"72h","max_bytes":1000000}}`,
		`{"id":7}`, `[]`, `{"id":"x",`, `{"territories":[null,{}]}`, `{"starts_at":"9999-99-99T99:99:99Z"}`, "\x00", `{"status":null}`,
	} {
		f.Add(uint8(i), "application/json", []byte(body))
	}
	f.Add(uint8(0), "text/plain", []byte(`{}`))
	f.Add(uint8(7), "text/csv", []byte("id,sport,event,venue,start,end,feed_ids\nS2,Swimming,200m,Pool,2028-07-14T19:00:00Z,2028-07-14T20:00:00Z,f1\n"))
	f.Fuzz(func(t *testing.T, route uint8, contentType string, body []byte) {
		w := writes[int(route)%len(writes)]
		rec := serve(h, w.method, w.path, contentType, body, http.Header{"Authorization": {"Bearer " + adminToken}})
		if rec.Code >= 500 {
			t.Fatalf("%s %s %q: %d %s", w.method, w.path, body, rec.Code, rec.Body)
		}
		if rec.Code >= 400 {
			var e struct {
				Error struct{ Code, Message string }
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Error.Code == "" || e.Error.Message == "" {
				t.Fatalf("%s %s %q: %d without a JSON error: %s", w.method, w.path, body, rec.Code, rec.Body)
			}
		}
	})
}

// FuzzSessionCookie sends arbitrary Cookie headers: only the real session's
// value signs in; anything else is 401, never a panic or a 5xx.
func FuzzSessionCookie(f *testing.F) {
	h := fuzzHandler(f)
	rec := serve(h, "POST", "/api/v1/session", "application/json", []byte(`{"token":"`+adminToken+`"}`), nil)
	var session string
	for _, c := range rec.Result().Cookies() {
		session = c.Value
	}
	if session == "" {
		f.Fatal("no session cookie")
	}
	for _, s := range []string{"podium_session=" + session, "podium_session=", "podium_session=x; podium_session=" + session,
		`podium_session="` + session + `"`, "other=1", "podium_session=\x00", strings.Repeat("a=b;", 100)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, cookie string) {
		rec := serve(h, "GET", "/api/v1/session", "", nil, http.Header{"Cookie": {cookie}})
		switch {
		case rec.Code == 200 && !strings.Contains(cookie, session):
			t.Fatalf("cookie %q signed in", cookie)
		case rec.Code != 200 && rec.Code != 401:
			t.Fatalf("cookie %q: %d %s", cookie, rec.Code, rec.Body)
		}
	})
}

// FuzzSearchQuery sends arbitrary query strings to the searches (the clip
// library and the schedule): a 4xx names the parameter, nothing is a 5xx.
func FuzzSearchQuery(f *testing.F) {
	h := fuzzHandler(f)
	for _, q := range []string{"q=final&sport=Athletics&limit=10&offset=20", "from=now-1h&to=now", "athlete=%22&feed=f1",
		"q=%22unbalanced", "q=NEAR(a b)", "q=*", "limit=-1", "offset=99999999999999999999", "from=2028-07-14T20:00:00Z&to=2028-07-14T19:00:00Z",
		"sport=&venue=Stadium", "q=a%00b", "q=" + strings.Repeat("x ", 300)} {
		f.Add(uint8(0), q)
		f.Add(uint8(1), q)
	}
	paths := []string{"/api/v1/clips?", "/api/v1/sessions?"}
	f.Fuzz(func(t *testing.T, route uint8, query string) {
		path := paths[int(route)%len(paths)] + query
		req, err := http.NewRequest("GET", "http://podium"+path, nil)
		if err != nil {
			return // not a URL a client could send
		}
		req.Header.Set("Authorization", "Bearer "+adminToken)
		rec := httptest.NewRecorder()
		slow := time.AfterFunc(2*time.Second, func() { panic(fmt.Sprintf("GET %s: no answer within 2 s", path)) })
		h.ServeHTTP(rec, req)
		slow.Stop()
		if rec.Code >= 500 {
			t.Fatalf("GET %s: %d %s", path, rec.Code, rec.Body)
		}
	})
}
