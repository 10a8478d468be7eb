package api_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
)

func TestAuditLogRecordsAdminActions(t *testing.T) {
	srv := newServer(t)
	key := seed(t, srv) // 2 feeds, 2 broadcasters, 1 entitlement
	ents := call(t, srv, "GET", "/api/v1/entitlements", adminToken, "")
	entID := ents.list[0]["id"].(string)
	steps := []struct{ method, path, token, body string }{
		{"PATCH", "/api/v1/entitlements/" + entID, adminToken, `{"status":"suspended"}`},
		{"DELETE", "/api/v1/entitlements/" + entID, adminToken, ""},
		{"DELETE", "/api/v1/feeds/f2", adminToken, ""},
		{"DELETE", "/api/v1/feeds/f2", adminToken, ""},                    // 404, recorded too
		{"POST", "/api/v1/feeds", key, `{"id":"x","name":"X"}`},           // a broadcaster refused: 403
		{"POST", "/api/v1/feeds", "not-a-token", `{"id":"x","name":"X"}`}, // nobody identified: not recorded
		{"POST", "/api/v1/session", "", `{"token":"not-a-token"}`},        // refused sign-in: recorded
		{"POST", "/api/v1/session", "", `{"token":"` + key + `"}`},        // sign-in
		{"GET", "/api/v1/feeds", adminToken, ""},                          // reads are not recorded
		{"DELETE", "/api/v1/broadcasters/b2", adminToken, ""},
	}
	for _, s := range steps {
		call(t, srv, s.method, s.path, s.token, s.body)
	}
	c := signIn(t, srv, adminToken)
	resp := withCookie(t, srv, "DELETE", "/api/v1/session", c)
	resp.Body.Close()

	got := call(t, srv, "GET", "/api/v1/audit", adminToken, "")
	if got.status != 200 {
		t.Fatalf("GET /audit: %d %v", got.status, got.body)
	}
	var lines []string
	for i := len(got.list) - 1; i >= 0; i-- { // oldest first
		e := got.list[i]
		who := e["actor"].(string)
		if b, ok := e["broadcaster_id"].(string); ok {
			who += ":" + b
		}
		var targets []string
		for _, kind := range []string{"feed", "broadcaster", "entitlement"} {
			if id, ok := e["targets"].(map[string]any)[kind].(string); ok {
				if kind == "entitlement" {
					id = "E" // generated
				}
				targets = append(targets, kind+"="+id)
			}
		}
		if e["remote_addr"] == "" || e["at"] == nil {
			t.Errorf("entry without remote address or time: %v", e)
		}
		lines = append(lines, fmt.Sprintf("%s %s %s %v %s", who, e["method"], e["path"], e["status"], strings.Join(targets, ",")))
	}
	want := []string{
		"admin POST /api/v1/feeds 201 feed=f1",
		"admin POST /api/v1/feeds 201 feed=f2",
		"admin POST /api/v1/broadcasters 201 broadcaster=b1",
		"admin POST /api/v1/broadcasters 201 broadcaster=b2",
		"admin POST /api/v1/entitlements 201 feed=f1,broadcaster=b1,entitlement=E",
		"admin PATCH /api/v1/entitlements/" + entID + " 200 feed=f1,broadcaster=b1,entitlement=E",
		"admin DELETE /api/v1/entitlements/" + entID + " 200 feed=f1,broadcaster=b1,entitlement=E",
		"admin DELETE /api/v1/feeds/f2 204 feed=f2",
		"admin DELETE /api/v1/feeds/f2 404 feed=f2",
		"broadcaster:b1 POST /api/v1/feeds 403 ",
		"anonymous POST /api/v1/session 401 ",
		"broadcaster:b1 POST /api/v1/session 200 ",
		"admin DELETE /api/v1/broadcasters/b2 204 broadcaster=b2",
		"admin POST /api/v1/session 200 ",
		"admin DELETE /api/v1/session 204 ",
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Fatalf("audit log:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}

	// Pages, newest first.
	first := call(t, srv, "GET", "/api/v1/audit?limit=4", adminToken, "")
	last := first.list[3]["id"].(float64)
	next := call(t, srv, "GET", fmt.Sprintf("/api/v1/audit?limit=4&before=%.0f", last), adminToken, "")
	if len(first.list) != 4 || len(next.list) != 4 || next.list[0]["id"].(float64) != last-1 {
		t.Fatalf("pages: %v then %v", first.list, next.list)
	}
	for _, bad := range []struct{ query, field string }{{"limit=0", "limit"}, {"limit=abc", "limit"}, {"limit=1001", "limit"}, {"before=-1", "before"}} {
		a := call(t, srv, "GET", "/api/v1/audit?"+bad.query, adminToken, "")
		if _, field := a.errorField(); a.status != 400 || field != bad.field {
			t.Errorf("?%s: %d %v", bad.query, a.status, a.body)
		}
	}
	if a := call(t, srv, "GET", "/api/v1/audit", key, ""); a.status != http.StatusForbidden {
		t.Fatalf("a broadcaster reads the audit log: %d", a.status)
	}
}
