package api_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/podium-broadcast/podium/internal/api"
	"github.com/podium-broadcast/podium/internal/delivery"
	"github.com/podium-broadcast/podium/internal/hub"
	"github.com/podium-broadcast/podium/internal/store"
)

const adminToken = "test-admin-token"

type noIngest struct{}

func (noIngest) PublisherStats(string) (delivery.TransportStats, bool) {
	return delivery.TransportStats{}, false
}

func newServer(t *testing.T) *httptest.Server {
	t.Helper()
	st, err := store.Open(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	h := api.Handler(api.Deps{Store: st, Hub: hub.New(hub.DefaultConfig), Deliveries: delivery.NewRegistry(st),
		Ingest: noIngest{}, AdminToken: adminToken, Log: slog.New(slog.DiscardHandler), Metrics: http.NotFoundHandler()})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

type answer struct {
	status int
	body   map[string]any
	list   []map[string]any
}

func call(t *testing.T, srv *httptest.Server, method, path, token, body string) answer {
	t.Helper()
	req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	a := answer{status: resp.StatusCode}
	if len(data) > 0 && data[0] == '[' {
		json.Unmarshal(data, &a.list)
	} else if len(data) > 0 {
		if err := json.Unmarshal(data, &a.body); err != nil {
			t.Fatalf("%s %s: not JSON: %s", method, path, data)
		}
	}
	return a
}

func (a answer) errorField() (code, field string) {
	e, _ := a.body["error"].(map[string]any)
	code, _ = e["code"].(string)
	field, _ = e["field"].(string)
	return code, field
}

// seed creates feed f1, broadcasters b1 (entitled to f1) and b2, and returns b1's API key.
func seed(t *testing.T, srv *httptest.Server) (apiKey string) {
	t.Helper()
	for _, c := range []struct{ path, body string }{
		{"/api/v1/feeds", `{"id":"f1","name":"Feed one","kind":"multilateral"}`},
		{"/api/v1/feeds", `{"id":"f2","name":"Feed two","kind":"venue-iso"}`},
		{"/api/v1/broadcasters", `{"id":"b1","name":"One","territories":["FR","BE"]}`},
		{"/api/v1/broadcasters", `{"id":"b2","name":"Two"}`},
		{"/api/v1/entitlements", `{"broadcaster_id":"b1","feed_id":"f1"}`},
	} {
		a := call(t, srv, "POST", c.path, adminToken, c.body)
		if a.status != 201 {
			t.Fatalf("seed %s: %d %v", c.path, a.status, a.body)
		}
		if key, ok := a.body["api_key"].(string); ok && a.body["id"] == "b1" {
			apiKey = key
		}
	}
	return apiKey
}

func TestBadInputIsRejectedWithTheField(t *testing.T) {
	srv := newServer(t)
	key := seed(t, srv)
	tests := []struct {
		name, method, path, token, body string
		status                          int
		code, field                     string
	}{
		{"no token", "GET", "/api/v1/feeds", "", "", 401, "unauthorized", ""},
		{"unknown token", "GET", "/api/v1/feeds", "nope", "", 401, "unauthorized", ""},
		{"broadcaster may not create feeds", "POST", "/api/v1/feeds", key, `{"id":"x","name":"X"}`, 403, "forbidden", ""},
		{"broadcaster may not grant", "POST", "/api/v1/entitlements", key, `{"broadcaster_id":"b1","feed_id":"f2"}`, 403, "forbidden", ""},
		{"broadcaster may not delete", "DELETE", "/api/v1/feeds/f1", key, "", 403, "forbidden", ""},
		{"malformed JSON", "POST", "/api/v1/feeds", adminToken, `{"id":"x",`, 400, "bad_request", ""},
		{"not an object", "POST", "/api/v1/feeds", adminToken, `["x"]`, 400, "bad_request", ""},
		{"empty body without Content-Type", "POST", "/api/v1/feeds", adminToken, ``, 415, "unsupported_media_type", ""},
		{"trailing data", "POST", "/api/v1/feeds", adminToken, `{"id":"x","name":"X"} {}`, 400, "bad_request", ""},
		{"unknown field", "POST", "/api/v1/feeds", adminToken, `{"id":"x","name":"X","colour":"red"}`, 400, "bad_request", "colour"},
		{"wrong type", "POST", "/api/v1/feeds", adminToken, `{"id":7,"name":"X"}`, 400, "bad_request", "id"},
		{"bad id", "POST", "/api/v1/feeds", adminToken, `{"id":"Bad_ID","name":"X"}`, 422, "invalid", "id"},
		{"id too long", "POST", "/api/v1/feeds", adminToken, `{"id":"` + strings.Repeat("a", 64) + `","name":"X"}`, 422, "invalid", "id"},
		{"missing name", "POST", "/api/v1/feeds", adminToken, `{"id":"x"}`, 422, "invalid", "name"},
		{"unknown kind", "POST", "/api/v1/feeds", adminToken, `{"id":"x","name":"X","kind":"cooking"}`, 422, "invalid", "kind"},
		{"short passphrase", "POST", "/api/v1/feeds", adminToken, `{"id":"x","name":"X","publish_passphrase":"short"}`, 422, "invalid", "publish_passphrase"},
		{"duplicate feed", "POST", "/api/v1/feeds", adminToken, `{"id":"f1","name":"Again"}`, 409, "conflict", ""},
		{"bad territory", "POST", "/api/v1/broadcasters", adminToken, `{"id":"b3","name":"Three","territories":["XX"]}`, 422, "invalid", "territories[0]"},
		{"lower-case territory", "POST", "/api/v1/broadcasters", adminToken, `{"id":"b3","name":"Three","territories":["fr"]}`, 422, "invalid", "territories[0]"},
		{"duplicate broadcaster", "POST", "/api/v1/broadcasters", adminToken, `{"id":"b1","name":"One"}`, 409, "conflict", ""},
		{"grant to unknown feed", "POST", "/api/v1/entitlements", adminToken, `{"broadcaster_id":"b1","feed_id":"nope"}`, 422, "unknown_reference", "feed_id"},
		{"grant to unknown broadcaster", "POST", "/api/v1/entitlements", adminToken, `{"broadcaster_id":"nope","feed_id":"f1"}`, 422, "unknown_reference", "broadcaster_id"},
		{"bad time", "POST", "/api/v1/entitlements", adminToken, `{"broadcaster_id":"b1","feed_id":"f2","starts_at":"tomorrow"}`, 400, "bad_request", "starts_at"},
		{"window ends before it starts", "POST", "/api/v1/entitlements", adminToken,
			`{"broadcaster_id":"b1","feed_id":"f2","starts_at":"2028-07-14T20:00:00Z","ends_at":"2028-07-14T19:00:00Z"}`, 422, "invalid", "ends_at"},
		{"unknown status", "PATCH", "/api/v1/entitlements/nope", adminToken, `{"status":"paused"}`, 422, "invalid", "status"},
		{"patch unknown entitlement", "PATCH", "/api/v1/entitlements/nope", adminToken, `{"status":"suspended"}`, 404, "not_found", ""},
		{"unknown feed", "GET", "/api/v1/feeds/nope", adminToken, "", 404, "not_found", ""},
		{"delete unknown feed", "DELETE", "/api/v1/feeds/nope", adminToken, "", 404, "not_found", ""},
		{"feed not entitled is invisible", "GET", "/api/v1/feeds/f2", key, "", 404, "not_found", ""},
		{"other broadcaster is invisible", "GET", "/api/v1/broadcasters/b2", key, "", 404, "not_found", ""},
		{"other broadcaster's entitlements", "GET", "/api/v1/entitlements?broadcaster_id=b2", key, "", 403, "forbidden", "broadcaster_id"},
		{"no such endpoint", "GET", "/api/v1/nothing", adminToken, "", 404, "not_found", ""},
		{"wrong method", "PUT", "/api/v1/feeds", adminToken, "{}", 405, "method_not_allowed", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := call(t, srv, tc.method, tc.path, tc.token, tc.body)
			code, field := a.errorField()
			if a.status != tc.status || code != tc.code || field != tc.field {
				t.Fatalf("%d %s field %q, want %d %s field %q: %v", a.status, code, field, tc.status, tc.code, tc.field, a.body)
			}
			if msg, _ := a.body["error"].(map[string]any)["message"].(string); msg == "" {
				t.Fatal("error without a message")
			}
		})
	}
	// Nothing of the refused requests was created.
	if a := call(t, srv, "GET", "/api/v1/feeds", adminToken, ""); len(a.list) != 2 {
		t.Fatalf("feeds after refused requests: %v", a.list)
	}
	if a := call(t, srv, "GET", "/api/v1/broadcasters", adminToken, ""); len(a.list) != 2 {
		t.Fatalf("broadcasters after refused requests: %v", a.list)
	}
	if a := call(t, srv, "GET", "/api/v1/entitlements", adminToken, ""); len(a.list) != 1 {
		t.Fatalf("entitlements after refused requests: %v", a.list)
	}
}

func TestBroadcasterSeesOnlyWhatItIsEntitledTo(t *testing.T) {
	srv := newServer(t)
	key := seed(t, srv)
	a := call(t, srv, "GET", "/api/v1/feeds", key, "")
	if a.status != 200 || len(a.list) != 1 || a.list[0]["id"] != "f1" {
		t.Fatalf("broadcaster's feeds: %d %v", a.status, a.list)
	}
	if a.list[0]["publisher"] != nil || a.list[0]["publish_passphrase"] != nil {
		t.Fatal("broadcaster sees publisher details")
	}
	if a := call(t, srv, "GET", "/api/v1/broadcasters", key, ""); len(a.list) != 1 || a.list[0]["id"] != "b1" {
		t.Fatalf("broadcaster's broadcasters: %v", a.list)
	}
	ents := call(t, srv, "GET", "/api/v1/entitlements", key, "")
	if len(ents.list) != 1 {
		t.Fatalf("broadcaster's entitlements: %v", ents.list)
	}
	id := ents.list[0]["id"].(string)
	if a := call(t, srv, "PATCH", "/api/v1/entitlements/"+id, adminToken, `{"status":"suspended"}`); a.status != 200 || a.body["status"] != "suspended" || a.body["effective"] != false {
		t.Fatalf("suspend: %d %v", a.status, a.body)
	}
	if a := call(t, srv, "GET", "/api/v1/feeds", key, ""); len(a.list) != 0 {
		t.Fatalf("suspended feed still listed: %v", a.list)
	}
	if a := call(t, srv, "PATCH", "/api/v1/entitlements/"+id, adminToken, `{"status":"active"}`); a.status != 200 || a.body["effective"] != true {
		t.Fatalf("reactivate: %d %v", a.status, a.body)
	}
	if a := call(t, srv, "DELETE", "/api/v1/entitlements/"+id, adminToken, ""); a.status != 200 || a.body["status"] != "revoked" {
		t.Fatalf("revoke: %d %v", a.status, a.body)
	}
	if a := call(t, srv, "PATCH", "/api/v1/entitlements/"+id, adminToken, `{"status":"active"}`); a.status != 409 {
		t.Fatalf("reactivating a revoked entitlement: %d %v", a.status, a.body)
	}
	if a := call(t, srv, "GET", "/api/v1/feeds", key, ""); len(a.list) != 0 {
		t.Fatalf("revoked feed still listed: %v", a.list)
	}
}

func TestSecretsAreShownOnlyAtCreation(t *testing.T) {
	srv := newServer(t)
	created := call(t, srv, "POST", "/api/v1/broadcasters", adminToken, `{"id":"b9","name":"Nine","srt_passphrase":"given-passphrase"}`)
	if created.body["srt_passphrase"] != "given-passphrase" || !strings.HasPrefix(created.body["api_key"].(string), "pk_") {
		t.Fatalf("creation answer: %v", created.body)
	}
	got := call(t, srv, "GET", "/api/v1/broadcasters/b9", adminToken, "")
	if _, ok := got.body["srt_passphrase"]; ok {
		t.Fatal("GET shows the SRT passphrase")
	}
	if _, ok := got.body["api_key"]; ok {
		t.Fatal("GET shows the API key")
	}
	feed := call(t, srv, "POST", "/api/v1/feeds", adminToken, `{"id":"f9","name":"Nine"}`)
	if p, _ := feed.body["publish_passphrase"].(string); len(p) < 16 || feed.body["kind"] != "multilateral" {
		t.Fatalf("feed creation answer: %v", feed.body)
	}
	if again := call(t, srv, "GET", "/api/v1/feeds/f9", adminToken, ""); again.body["publish_passphrase"] != nil {
		t.Fatal("GET shows the publish passphrase")
	}
	// The new key works at once.
	if a := call(t, srv, "GET", "/api/v1/feeds", created.body["api_key"].(string), ""); a.status != 200 {
		t.Fatalf("new API key refused: %d", a.status)
	}
}
