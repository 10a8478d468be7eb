package api_test

import (
	"fmt"
	"strings"
	"testing"
)

func TestCallsBadInputIsRejectedWithTheField(t *testing.T) {
	srv := newServer(t)
	key := seed(t, srv)
	const src = "/api/v1/feeds/f1/source"
	const dst = "/api/v1/broadcasters/b1/destinations"
	tests := []struct {
		name, method, path, token, body string
		status                          int
		code, field                     string
	}{
		{"broadcaster may not set a source", "PUT", src, key, `{"address":"srt://10.0.0.1:9000"}`, 403, "forbidden", ""},
		{"broadcaster may not read a source", "GET", src, key, "", 403, "forbidden", ""},
		{"source of an unknown feed", "PUT", "/api/v1/feeds/nope/source", adminToken, `{"address":"srt://10.0.0.1:9000"}`, 404, "not_found", ""},
		{"source without address", "PUT", src, adminToken, `{}`, 422, "invalid", "address"},
		{"source address not srt", "PUT", src, adminToken, `{"address":"udp://10.0.0.1:9000"}`, 422, "invalid", "address"},
		{"source address without port", "PUT", src, adminToken, `{"address":"srt://10.0.0.1"}`, 422, "invalid", "address"},
		{"source address with a query", "PUT", src, adminToken, `{"address":"srt://10.0.0.1:9000?passphrase=x"}`, 422, "invalid", "address"},
		{"source address of a listener", "PUT", src, adminToken, `{"address":"srt://:9000"}`, 422, "invalid", "address"},
		{"source passphrase too short", "PUT", src, adminToken, `{"address":"srt://10.0.0.1:9000","passphrase":"short"}`, 422, "invalid", "passphrase"},
		{"source passphrase too long", "PUT", src, adminToken, `{"address":"srt://10.0.0.1:9000","passphrase":"` + strings.Repeat("p", 80) + `"}`, 422, "invalid", "passphrase"},
		{"source passphrase empty", "PUT", src, adminToken, `{"address":"srt://10.0.0.1:9000","passphrase":""}`, 422, "invalid", "passphrase"},
		{"source streamid too long", "PUT", src, adminToken, `{"address":"srt://10.0.0.1:9000","streamid":"` + strings.Repeat("s", 513) + `"}`, 422, "invalid", "streamid"},
		{"source latency too low", "PUT", src, adminToken, `{"address":"srt://10.0.0.1:9000","latency_ms":5}`, 422, "invalid", "latency_ms"},
		{"source latency too high", "PUT", src, adminToken, `{"address":"srt://10.0.0.1:9000","latency_ms":100000000000000}`, 422, "invalid", "latency_ms"},
		{"source latency not a number", "PUT", src, adminToken, `{"address":"srt://10.0.0.1:9000","latency_ms":"120"}`, 400, "bad_request", "latency_ms"},
		{"source latency a fraction", "PUT", src, adminToken, `{"address":"srt://10.0.0.1:9000","latency_ms":120.5}`, 400, "bad_request", "latency_ms"},
		{"source unknown role", "PUT", src, adminToken, `{"address":"srt://10.0.0.1:9000","role":"main"}`, 422, "invalid", "role"},
		{"source unknown field", "PUT", src, adminToken, `{"address":"srt://10.0.0.1:9000","mode":"caller"}`, 400, "bad_request", "mode"},
		{"source address wrong type", "PUT", src, adminToken, `{"address":9000}`, 400, "bad_request", "address"},
		{"no source to delete", "DELETE", src, adminToken, "", 404, "not_found", ""},
		{"no source to read", "GET", src, adminToken, "", 404, "not_found", ""},
		{"destination without feed", "POST", dst, key, `{"address":"srt://10.0.0.1:9000"}`, 422, "invalid", "feed_id"},
		{"destination without address", "POST", dst, key, `{"feed_id":"f1"}`, 422, "invalid", "address"},
		{"destination bad address", "POST", dst, key, `{"feed_id":"f1","address":"srt://10.0.0.1:port"}`, 422, "invalid", "address"},
		{"destination bad passphrase", "POST", dst, key, `{"feed_id":"f1","address":"srt://10.0.0.1:9000","passphrase":"with space 1"}`, 422, "invalid", "passphrase"},
		{"destination unknown field", "POST", dst, key, `{"feed_id":"f1","address":"srt://10.0.0.1:9000","mode":"caller"}`, 400, "bad_request", "mode"},
		{"destination for a feed not entitled", "POST", dst, key, `{"feed_id":"f2","address":"srt://10.0.0.1:9000"}`, 422, "not_entitled", "feed_id"},
		{"destination for a feed that does not exist", "POST", dst, key, `{"feed_id":"nope","address":"srt://10.0.0.1:9000"}`, 422, "not_entitled", "feed_id"},
		{"admin: destination for an unknown feed", "POST", dst, adminToken, `{"feed_id":"nope","address":"srt://10.0.0.1:9000"}`, 422, "unknown_reference", "feed_id"},
		{"another broadcaster's destinations", "POST", "/api/v1/broadcasters/b2/destinations", key, `{"feed_id":"f1","address":"srt://10.0.0.1:9000"}`, 404, "not_found", ""},
		{"another broadcaster's list", "GET", "/api/v1/broadcasters/b2/destinations", key, "", 404, "not_found", ""},
		{"destinations of an unknown broadcaster", "GET", "/api/v1/broadcasters/nope/destinations", adminToken, "", 404, "not_found", ""},
		{"unknown destination", "DELETE", dst + "/dst-nope", key, "", 404, "not_found", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := call(t, srv, tc.method, tc.path, tc.token, tc.body)
			code, field := a.errorField()
			if a.status != tc.status || code != tc.code || field != tc.field {
				t.Fatalf("%d %s field %q, want %d %s field %q: %v", a.status, code, field, tc.status, tc.code, tc.field, a.body)
			}
		})
	}
	if a := call(t, srv, "GET", dst, adminToken, ""); a.status != 200 || len(a.list) != 0 {
		t.Fatalf("destinations after refused requests: %d %v", a.status, a.list)
	}
}

func TestCallerSourceAPI(t *testing.T) {
	srv := newServer(t)
	seed(t, srv)
	const path = "/api/v1/feeds/f1/source"
	put := call(t, srv, "PUT", path, adminToken,
		`{"address":"srt://Encoder.Example:9000","streamid":"#!::r=cam1","passphrase":"encoder-passphrase","latency_ms":500,"role":"backup"}`)
	if put.status != 200 || put.body["address"] != "srt://encoder.example:9000" || put.body["role"] != "backup" ||
		put.body["encrypted"] != true || put.body["latency_ms"] != 500.0 || put.body["state"] != "connecting" || put.body["streamid"] != "#!::r=cam1" {
		t.Fatalf("PUT: %d %v", put.status, put.body)
	}
	if _, shown := put.body["passphrase"]; shown {
		t.Fatal("the passphrase is shown")
	}
	got := call(t, srv, "GET", path, adminToken, "")
	if got.status != 200 || got.body["created_at"] == nil || got.body["address"] != "srt://encoder.example:9000" {
		t.Fatalf("GET: %d %v", got.status, got.body)
	}
	again := call(t, srv, "PUT", path, adminToken, `{"address":"srt://10.0.0.2:9000"}`)
	if again.status != 200 || again.body["created_at"] != got.body["created_at"] || again.body["role"] != "primary" ||
		again.body["encrypted"] != false {
		t.Fatalf("PUT again: %d %v", again.status, again.body)
	}
	if feed := call(t, srv, "GET", "/api/v1/feeds/f1", adminToken, ""); feed.body["caller_source"] == nil {
		t.Fatalf("feed without its caller source: %v", feed.body)
	}
	if a := call(t, srv, "DELETE", path, adminToken, ""); a.status != 204 {
		t.Fatalf("DELETE: %d %v", a.status, a.body)
	}
	if a := call(t, srv, "GET", path, adminToken, ""); a.status != 404 {
		t.Fatalf("GET after DELETE: %d", a.status)
	}
	// A deleted feed takes its caller source along.
	call(t, srv, "PUT", path, adminToken, `{"address":"srt://10.0.0.2:9000"}`)
	call(t, srv, "DELETE", "/api/v1/feeds/f1", adminToken, "")
	call(t, srv, "POST", "/api/v1/feeds", adminToken, `{"id":"f1","name":"Feed one again"}`)
	if a := call(t, srv, "GET", path, adminToken, ""); a.status != 404 {
		t.Fatalf("caller source outlived its feed: %d %v", a.status, a.body)
	}
}

func TestDestinationsAPI(t *testing.T) {
	srv := newServer(t)
	key := seed(t, srv)
	const path = "/api/v1/broadcasters/b1/destinations"
	created := call(t, srv, "POST", path, key, `{"feed_id":"f1","address":"srt://ird.example:7000","passphrase":"ird-passphrase"}`)
	id, _ := created.body["id"].(string)
	if created.status != 201 || !strings.HasPrefix(id, "dst-") || created.body["broadcaster_id"] != "b1" || created.body["encrypted"] != true {
		t.Fatalf("POST: %d %v", created.status, created.body)
	}
	if _, shown := created.body["passphrase"]; shown {
		t.Fatal("the passphrase is shown")
	}
	if a := call(t, srv, "POST", path, key, `{"feed_id":"f1","address":"srt://IRD.example:7000"}`); a.status != 409 {
		t.Fatalf("the same destination twice: %d %v", a.status, a.body)
	}
	// The operator may register a destination for a feed the broadcaster is not entitled to; it does not run.
	other := call(t, srv, "POST", path, adminToken, `{"feed_id":"f2","address":"srt://ird.example:7001"}`)
	if other.status != 201 || other.body["state"] != "not_entitled" || other.body["last_error"] != "no entitlement to this feed" {
		t.Fatalf("admin POST for a feed not entitled: %d %v", other.status, other.body)
	}
	if a := call(t, srv, "GET", path, key, ""); a.status != 200 || len(a.list) != 2 {
		t.Fatalf("list: %d %v", a.status, a.list)
	}
	if a := call(t, srv, "GET", path+"/"+id, key, ""); a.status != 200 || a.body["id"] != id {
		t.Fatalf("GET one: %d %v", a.status, a.body)
	}
	if a := call(t, srv, "GET", "/api/v1/broadcasters/b2/destinations/"+id, adminToken, ""); a.status != 404 {
		t.Fatalf("GET under another broadcaster: %d", a.status)
	}
	if a := call(t, srv, "DELETE", "/api/v1/broadcasters/b2/destinations/"+id, adminToken, ""); a.status != 404 {
		t.Fatalf("DELETE under another broadcaster: %d", a.status)
	}
	if a := call(t, srv, "DELETE", path+"/"+id, key, ""); a.status != 204 {
		t.Fatalf("DELETE: %d %v", a.status, a.body)
	}
	for i := 1; i < 32; i++ {
		if a := call(t, srv, "POST", path, adminToken, fmt.Sprintf(`{"feed_id":"f1","address":"srt://ird.example:%d"}`, 8000+i)); a.status != 201 {
			t.Fatalf("destination %d: %d %v", i, a.status, a.body)
		}
	}
	if a := call(t, srv, "POST", path, adminToken, `{"feed_id":"f1","address":"srt://ird.example:9999"}`); a.status != 409 {
		t.Fatalf("destination 33: %d %v", a.status, a.body)
	}
	// Deleting the broadcaster takes its destinations along.
	call(t, srv, "DELETE", "/api/v1/broadcasters/b1", adminToken, "")
	call(t, srv, "POST", "/api/v1/broadcasters", adminToken, `{"id":"b1","name":"One again"}`)
	if a := call(t, srv, "GET", path, adminToken, ""); len(a.list) != 0 {
		t.Fatalf("destinations outlived their broadcaster: %v", a.list)
	}
}
