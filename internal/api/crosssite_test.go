package api_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestCrossSiteWritesAreRefused: a write made with the portal's session
// cookie from a page of another origin (another port of the same host
// included) is refused 403 cross_site and changes nothing; the portal's own
// pages, API keys and reads are not affected; a JSON body must say it is
// JSON (415) and fit (413).
func TestCrossSiteWritesAreRefused(t *testing.T) {
	srv := newServer(t)
	cookie := signIn(t, srv, adminToken)
	own := srv.URL // http://127.0.0.1:PORT
	feed := func(id string) string { return `{"id":"` + id + `","name":"Feed ` + id + `"}` }
	type req struct {
		name, method, path, body, contentType string
		headers                               map[string]string
		cookie, bearer                        bool
		status                                int
		code                                  string
	}
	for _, tc := range []req{
		{"another port of the host", "POST", "/api/v1/feeds", feed("x1"), "application/json",
			map[string]string{"Origin": "http://127.0.0.1:1", "Sec-Fetch-Site": "same-site"}, true, false, 403, "cross_site"},
		{"Origin of another port without Sec-Fetch-Site", "POST", "/api/v1/feeds", feed("x2"), "application/json",
			map[string]string{"Origin": "http://127.0.0.1:1"}, true, false, 403, "cross_site"},
		{"another site", "POST", "/api/v1/feeds", feed("x3"), "application/json",
			map[string]string{"Sec-Fetch-Site": "cross-site"}, true, false, 403, "cross_site"},
		{"opaque origin", "POST", "/api/v1/feeds", feed("x4"), "application/json",
			map[string]string{"Origin": "null"}, true, false, 403, "cross_site"},
		{"https page to the http server", "POST", "/api/v1/feeds", feed("x5"), "application/json",
			map[string]string{"Origin": strings.Replace(own, "http:", "https:", 1)}, true, false, 403, "cross_site"},
		{"sign-out from another origin", "DELETE", "/api/v1/session", "", "",
			map[string]string{"Origin": "http://127.0.0.1:1", "Sec-Fetch-Site": "same-site"}, true, false, 403, "cross_site"},
		{"sign-in from another origin", "POST", "/api/v1/session", `{"token":"` + adminToken + `"}`, "application/json",
			map[string]string{"Sec-Fetch-Site": "same-site"}, false, false, 403, "cross_site"},
		{"Blob body from the portal's own page", "POST", "/api/v1/feeds", feed("x6"), "",
			map[string]string{"Origin": own, "Sec-Fetch-Site": "same-origin"}, true, false, 415, "unsupported_media_type"},
		{"text/plain body", "POST", "/api/v1/feeds", feed("x7"), "text/plain",
			map[string]string{"Origin": own}, true, false, 415, "unsupported_media_type"},
		{"oversized body", "POST", "/api/v1/feeds", `{"id":"x8","name":"` + strings.Repeat("n", 2<<20) + `"}`, "application/json",
			nil, false, true, 413, "too_large"},
		{"read from another origin", "GET", "/api/v1/feeds", "", "",
			map[string]string{"Origin": "http://127.0.0.1:1", "Sec-Fetch-Site": "same-site"}, true, false, 200, ""},
		{"API key with a foreign Origin", "POST", "/api/v1/feeds", feed("ok1"), "application/json",
			map[string]string{"Origin": "http://127.0.0.1:1", "Sec-Fetch-Site": "cross-site"}, false, true, 201, ""},
		{"the portal's own page", "POST", "/api/v1/feeds", feed("ok2"), "application/json; charset=utf-8",
			map[string]string{"Origin": own, "Sec-Fetch-Site": "same-origin"}, true, false, 201, ""},
		{"a cookie without browser headers", "POST", "/api/v1/feeds", feed("ok3"), "application/json",
			nil, true, false, 201, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, _ := http.NewRequest(tc.method, srv.URL+tc.path, strings.NewReader(tc.body))
			if tc.contentType != "" {
				r.Header.Set("Content-Type", tc.contentType)
			}
			for k, v := range tc.headers {
				r.Header.Set(k, v)
			}
			if tc.cookie {
				r.AddCookie(cookie)
			}
			if tc.bearer {
				r.Header.Set("Authorization", "Bearer "+adminToken)
			}
			resp, err := http.DefaultClient.Do(r)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var body struct {
				Error struct{ Code, Message string }
			}
			data, _ := io.ReadAll(resp.Body)
			json.Unmarshal(data, &body)
			if resp.StatusCode != tc.status || body.Error.Code != tc.code {
				t.Fatalf("%d %q, want %d %q: %s", resp.StatusCode, body.Error.Code, tc.status, tc.code, data)
			}
			if tc.status >= 400 && body.Error.Message == "" {
				t.Fatalf("refusal without a message: %s", data)
			}
		})
	}
	a := call(t, srv, "GET", "/api/v1/feeds", adminToken, "")
	var ids []string
	for _, f := range a.list {
		ids = append(ids, f["id"].(string))
	}
	if strings.Join(ids, ",") != "ok1,ok2,ok3" {
		t.Fatalf("feeds after the requests: %v, want only ok1, ok2, ok3", ids)
	}
	if resp := withCookie(t, srv, "GET", "/api/v1/session", cookie); resp.StatusCode != 200 {
		t.Fatalf("the session was ended by a cross-site sign-out: %d", resp.StatusCode)
	}
}
