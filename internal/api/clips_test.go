package api_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/podium-broadcast/podium/internal/api"
	"github.com/podium-broadcast/podium/internal/delivery"
	"github.com/podium-broadcast/podium/internal/hub"
	"github.com/podium-broadcast/podium/internal/store"
)

// fakeEngine stands for the clip engine: it records what it is asked, and
// the test finishes clips with finish.
type fakeEngine struct {
	mu        sync.Mutex
	submitted []api.ClipSpec
	ends      map[string]time.Time
	cancelled []string
	refuse    error
}

func (e *fakeEngine) Submit(spec api.ClipSpec) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.refuse != nil {
		return e.refuse
	}
	e.submitted = append(e.submitted, spec)
	return nil
}

func (e *fakeEngine) SetEnd(id string, end time.Time) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.ends == nil {
		e.ends = map[string]time.Time{}
	}
	e.ends[id] = end
	return nil
}

func (e *fakeEngine) Cancel(id string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.cancelled = append(e.cancelled, id)
	return nil
}

// calls returns how many clips were submitted, the ends set and the clips cancelled.
func (e *fakeEngine) calls() (submitted int, ends map[string]time.Time, cancelled []string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.submitted), maps.Clone(e.ends), slices.Clone(e.cancelled)
}

func (e *fakeEngine) spec(id string) (api.ClipSpec, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, s := range e.submitted {
		if s.ClipID == id {
			return s, true
		}
	}
	return api.ClipSpec{}, false
}

// library is a server with the clip library, a fake engine and the catalog of seed.
type library struct {
	srv     *httptest.Server
	st      *store.Store
	engine  *fakeEngine
	updates *api.ClipUpdates
	dir     string
	key     string // b1's API key (entitled to f1)
	key2    string // b2's (entitled to nothing)
}

func newLibrary(t *testing.T) *library {
	t.Helper()
	lib := &library{engine: &fakeEngine{}, dir: t.TempDir()}
	st, err := store.Open(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	lib.st = st
	lib.updates = api.NewClipUpdates(st, slog.New(slog.DiscardHandler))
	h := api.Handler(api.Deps{Store: st, Hub: hub.New(hub.DefaultConfig), Deliveries: delivery.NewRegistry(st),
		Ingest: noIngest{}, AdminToken: adminToken, Log: slog.New(slog.DiscardHandler), Metrics: http.NotFoundHandler(),
		Clips: lib.engine, ClipUpdates: lib.updates})
	lib.srv = httptest.NewServer(h)
	t.Cleanup(lib.srv.Close)
	lib.key = seed(t, lib.srv)
	b3 := call(t, lib.srv, "POST", "/api/v1/broadcasters", adminToken, `{"id":"b3","name":"Three"}`)
	lib.key2 = b3.body["api_key"].(string)
	return lib
}

// finish plays the engine's part: the clip's file and still are written and reported ready.
func (lib *library) finish(t *testing.T, id string, content string) {
	t.Helper()
	path, thumb := filepath.Join(lib.dir, id+".mp4"), filepath.Join(lib.dir, id+".jpg")
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(thumb, []byte("\xff\xd8\xff\xe0 a jpeg"), 0o644); err != nil {
		t.Fatal(err)
	}
	lib.updates.UpdateClip(api.ClipUpdate{ClipID: id, Status: "running", Progress: 0.5})
	lib.updates.UpdateClip(api.ClipUpdate{ClipID: id, Status: "ready", Progress: 1, Path: path, Size: int64(len(content)),
		Duration: 12500 * time.Millisecond, Thumbnail: thumb})
}

func (lib *library) cut(t *testing.T, token, body string) map[string]any {
	t.Helper()
	a := call(t, lib.srv, "POST", "/api/v1/clips", token, body)
	if a.status != 202 {
		t.Fatalf("cut %s: %d %v", body, a.status, a.body)
	}
	return a.body
}

func TestScheduleImportRefusesBadImportsWhole(t *testing.T) {
	lib := newLibrary(t)
	post := func(contentType, body, token string) answer {
		t.Helper()
		req, _ := http.NewRequest("POST", lib.srv.URL+"/api/v1/schedule/import", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", contentType)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		a := answer{status: resp.StatusCode}
		json.NewDecoder(resp.Body).Decode(&a.body)
		return a
	}
	first := `[{"id":"ATH-M100-H","sport":"Athletics","event":"Men's 100m","phase":"Heats","venue":"Olympic Stadium",
		"start":"2028-07-14T10:00:00Z","end":"2028-07-14T11:00:00Z","feed_ids":["f1","f2"]},
		{"id":"SWM-W200-F","sport":"Swimming","event":"Women's 200m Freestyle","venue":"Aquatics Centre",
		"start":"2028-07-14T18:00:00Z","end":"2028-07-14T18:30:00Z","feed_ids":["f2"]}]`
	if a := post("application/json", first, adminToken); a.status != 200 || a.body["imported"] != 2.0 || a.body["created"] != 2.0 || a.body["updated"] != 0.0 {
		t.Fatalf("JSON import: %d %v", a.status, a.body)
	}
	const head = "id,sport,event,phase,venue,start,end,feed_ids\n"
	update := head + "ATH-M100-H,Athletics,Men's 100m,Heats,Olympic Stadium,2028-07-14T10:00:00Z,2028-07-14T11:30:00Z,f1\n" +
		"ATH-M100-F,Athletics,Men's 100m,Final,Olympic Stadium,2028-07-14T20:00:00Z,2028-07-14T20:15:00Z,f1;f2\n"
	if a := post("text/csv; charset=utf-8", update, adminToken); a.status != 200 || a.body["imported"] != 2.0 || a.body["created"] != 1.0 || a.body["updated"] != 1.0 {
		t.Fatalf("CSV import: %d %v", a.status, a.body)
	}
	sessions := func(query, token string) []map[string]any {
		t.Helper()
		a := call(t, lib.srv, "GET", "/api/v1/sessions"+query, token, "")
		if a.status != 200 {
			t.Fatalf("sessions%s: %d %v", query, a.status, a.body)
		}
		var list []map[string]any
		for _, s := range a.body["sessions"].([]any) {
			list = append(list, s.(map[string]any))
		}
		return list
	}
	before := sessions("", adminToken)
	if len(before) != 3 || before[0]["end"] != "2028-07-14T11:30:00Z" {
		t.Fatalf("schedule: %v", before)
	}
	good := "G,Athletics,100m,,Stadium,2028-07-14T10:00:00Z,2028-07-14T11:00:00Z,f1\n"
	for _, tc := range []struct {
		name, contentType, body string
		status                  int
		code, field             string
		line                    int
	}{
		{"csv: unknown feed on line 3", "text/csv", head + good + "H,Athletics,100m,,Stadium,2028-07-14T10:00:00Z,2028-07-14T11:00:00Z,f1;nope\n", 422, "unknown_reference", "feed_ids", 3},
		{"csv: end before start", "text/csv", head + good + "H,Athletics,100m,,Stadium,2028-07-14T10:00:00Z,2028-07-14T09:00:00Z,f1\n", 422, "invalid", "end", 3},
		{"csv: duplicate id", "text/csv", head + good + good, 422, "invalid", "id", 3},
		{"csv: bad CSV", "text/csv", head + good + "H,\"Athletics\n", 422, "invalid", "", 3},
		{"csv: missing column", "text/csv", "id,sport,event,venue,start\n", 422, "invalid", "end", 1},
		{"json: unknown feed on element 2", "application/json", `[{"id":"G","sport":"s","event":"e","venue":"v","start":"2028-07-14T10:00:00Z","end":"2028-07-14T11:00:00Z"},
			{"id":"H","sport":"s","event":"e","venue":"v","start":"2028-07-14T10:00:00Z","end":"2028-07-14T11:00:00Z","feed_ids":["nope"]}]`, 422, "unknown_reference", "feed_ids", 2},
		{"json: missing sport", "application/json", `[{"id":"G","event":"e","venue":"v","start":"2028-07-14T10:00:00Z","end":"2028-07-14T11:00:00Z"}]`, 422, "invalid", "sport", 1},
		{"json: bad time", "application/json", `[{"id":"G","sport":"s","event":"e","venue":"v","start":"10:00","end":"2028-07-14T11:00:00Z"}]`, 422, "invalid", "start", 1},
		{"json: not an array", "application/json", `{"id":"G"}`, 400, "bad_request", "", 0},
		{"not JSON or CSV", "text/plain", good, 415, "unsupported_media_type", "", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := post(tc.contentType, tc.body, adminToken)
			code, field := a.errorField()
			line, _ := a.body["error"].(map[string]any)["line"].(float64)
			if a.status != tc.status || code != tc.code || field != tc.field || int(line) != tc.line {
				t.Fatalf("%d %s field %q line %v, want %d %s field %q line %d: %v", a.status, code, field, line, tc.status, tc.code, tc.field, tc.line, a.body)
			}
		})
	}
	if a := post("application/json", first, lib.key); a.status != 403 {
		t.Fatalf("a broadcaster imports: %d", a.status)
	}
	if after := sessions("", adminToken); !slices.EqualFunc(after, before, func(a, b map[string]any) bool { return fmt.Sprint(a) == fmt.Sprint(b) }) {
		t.Fatalf("a refused import changed the schedule:\n%v\n%v", before, after)
	}
	if got := sessions("?from=2028-07-14T11:15:00Z&to=2028-07-14T18:00:00Z&sport=athletics", adminToken); len(got) != 1 || got[0]["id"] != "ATH-M100-H" {
		t.Fatalf("filtered: %v", got)
	}
	if got := sessions("?venue=Aquatics%20Centre", adminToken); len(got) != 1 || got[0]["id"] != "SWM-W200-F" {
		t.Fatalf("by venue: %v", got)
	}
	// b1 is entitled to f1 only: it sees every session, and only f1 among their feeds.
	got := sessions("", lib.key)
	if len(got) != 3 || fmt.Sprint(got[1]["feed_ids"]) != "[]" || fmt.Sprint(got[2]["feed_ids"]) != "[f1]" {
		t.Fatalf("broadcaster's schedule: %v", got)
	}
	if a := call(t, lib.srv, "GET", "/api/v1/sessions?from=yesterday", adminToken, ""); a.status != 400 {
		t.Fatalf("bad from: %d", a.status)
	}
	// Pages: limit and offset, with the total and the next page's offset.
	var paged []string
	for offset := 0.0; ; {
		a := call(t, lib.srv, "GET", fmt.Sprintf("/api/v1/sessions?limit=2&offset=%v", offset), adminToken, "")
		if a.status != 200 || a.body["total"] != 3.0 || a.body["limit"] != 2.0 || a.body["offset"] != offset {
			t.Fatalf("page at %v: %d %v", offset, a.status, a.body)
		}
		for _, s := range a.body["sessions"].([]any) {
			paged = append(paged, s.(map[string]any)["id"].(string))
		}
		next, ok := a.body["next"].(float64)
		if !ok {
			if a.body["next"] != nil {
				t.Fatalf("next: %v", a.body["next"])
			}
			break
		}
		offset = next
	}
	var all []string
	for _, s := range before {
		all = append(all, s["id"].(string))
	}
	if !slices.Equal(paged, all) {
		t.Fatalf("pages of 2: %v, want %v", paged, all)
	}
	if a := call(t, lib.srv, "GET", "/api/v1/sessions?offset=10", adminToken, ""); a.status != 200 || len(a.body["sessions"].([]any)) != 0 || a.body["next"] != nil {
		t.Fatalf("past the end: %d %v", a.status, a.body)
	}
	for _, q := range []string{"limit=0", "limit=1001", "limit=ten", "offset=-1"} {
		a := call(t, lib.srv, "GET", "/api/v1/sessions?"+q, adminToken, "")
		if code, field := a.errorField(); a.status != 400 || code != "bad_request" || field != strings.Split(q, "=")[0] {
			t.Errorf("%s: %d %s field %q, want 400 naming the field", q, a.status, code, field)
		}
	}
}

func TestClipRequestsAreCheckedField(t *testing.T) {
	lib := newLibrary(t)
	start := time.Now().Add(-time.Minute).UTC().Format(time.RFC3339)
	for _, tc := range []struct {
		name, token, body string
		status            int
		code, field       string
	}{
		{"missing feed", adminToken, `{"start":"now"}`, 422, "invalid", "feed_id"},
		{"missing start", adminToken, `{"feed_id":"f1"}`, 422, "invalid", "start"},
		{"bad start", adminToken, `{"feed_id":"f1","start":"yesterday"}`, 400, "bad_request", "start"},
		{"bad end", adminToken, `{"feed_id":"f1","start":"now","end":"later"}`, 400, "bad_request", "end"},
		{"end before start", adminToken, `{"feed_id":"f1","start":"now","end":"now-1m"}`, 422, "invalid", "end"},
		{"end at start", adminToken, `{"feed_id":"f1","start":"` + start + `","end":"` + start + `"}`, 422, "invalid", "end"},
		{"too long", adminToken, `{"feed_id":"f1","start":"now-4h","end":"now"}`, 422, "invalid", "end"},
		{"start in year 1", adminToken, `{"feed_id":"f1","start":"0001-01-01T00:00:00Z","end":"0001-01-01T00:00:10Z"}`, 422, "invalid", "start"},
		{"start in 1900", adminToken, `{"feed_id":"f1","start":"1900-07-14T20:00:00Z"}`, 422, "invalid", "start"},
		{"start in year 9999", adminToken, `{"feed_id":"f1","start":"9999-12-31T23:59:00Z"}`, 422, "invalid", "start"},
		{"start a week ahead", adminToken, `{"feed_id":"f1","start":"now+168h"}`, 422, "invalid", "start"},
		{"unknown mode", adminToken, `{"feed_id":"f1","start":"now","mode":"slow-motion"}`, 422, "invalid", "mode"},
		{"unknown format", adminToken, `{"feed_id":"f1","start":"now","format":"mkv"}`, 422, "invalid", "format"},
		{"long title", adminToken, `{"feed_id":"f1","start":"now","title":"` + strings.Repeat("x", 201) + `"}`, 422, "invalid", "title"},
		{"long tag", adminToken, `{"feed_id":"f1","start":"now","tags":["ok","` + strings.Repeat("x", 101) + `"]}`, 422, "invalid", "tags[1]"},
		{"tags not an array", adminToken, `{"feed_id":"f1","start":"now","tags":"a"}`, 400, "bad_request", "tags"},
		{"unknown field", adminToken, `{"feed_id":"f1","start":"now","speed":2}`, 400, "bad_request", "speed"},
		{"unknown feed", adminToken, `{"feed_id":"nope","start":"now"}`, 404, "not_found", ""},
		{"feed not entitled", lib.key, `{"feed_id":"f2","start":"now"}`, 404, "not_found", ""},
		{"bad page size", adminToken, "", 400, "bad_request", "limit"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			method, path := "POST", "/api/v1/clips"
			if tc.body == "" {
				method, path = "GET", "/api/v1/clips?limit=201"
			}
			a := call(t, lib.srv, method, path, tc.token, tc.body)
			code, field := a.errorField()
			if a.status != tc.status || code != tc.code || field != tc.field {
				t.Fatalf("%d %s field %q, want %d %s field %q: %v", a.status, code, field, tc.status, tc.code, tc.field, a.body)
			}
		})
	}
	if n, _, _ := lib.engine.calls(); n != 0 {
		t.Fatalf("%d refused clips reached the engine", n)
	}
	lib.engine.mu.Lock()
	lib.engine.refuse = errors.New("queue full")
	lib.engine.mu.Unlock()
	if a := call(t, lib.srv, "POST", "/api/v1/clips", adminToken, `{"feed_id":"f1","start":"now-10s","end":"now"}`); a.status != 503 {
		t.Fatalf("engine refusing: %d %v", a.status, a.body)
	}
	if a := call(t, lib.srv, "GET", "/api/v1/clips", adminToken, ""); a.body["total"] != 0.0 {
		t.Fatalf("a clip the engine refused is in the library: %v", a.body)
	}
}

func TestClipInheritsTheScheduleSessionCoveringItsStart(t *testing.T) {
	lib := newLibrary(t)
	now := time.Now().UTC()
	schedule := fmt.Sprintf(`[{"id":"ATH-M100-F","sport":"Athletics","event":"Men's 100m","phase":"Final","venue":"Olympic Stadium",
		"start":%q,"end":%q,"feed_ids":["f1"]},
		{"id":"ATH-M100-SF","sport":"Athletics","event":"Men's 100m","phase":"Semi-final","venue":"Olympic Stadium",
		"start":%q,"end":%q,"feed_ids":["f1"]}]`,
		now.Add(-10*time.Minute).Format(time.RFC3339), now.Add(10*time.Minute).Format(time.RFC3339),
		now.Add(-time.Hour).Format(time.RFC3339), now.Add(-10*time.Minute).Format(time.RFC3339))
	if a := call(t, lib.srv, "POST", "/api/v1/schedule/import", adminToken, schedule); a.status != 200 {
		t.Fatalf("import: %d %v", a.status, a.body)
	}
	final := lib.cut(t, lib.key, `{"feed_id":"f1","start":"now-30s","end":"now","athletes":["Noah Lyles"]}`)
	if final["sport"] != "Athletics" || final["event"] != "Men's 100m" || final["phase"] != "Final" || final["venue"] != "Olympic Stadium" ||
		final["session_id"] != "ATH-M100-F" || !strings.HasPrefix(final["title"].(string), "Men's 100m Final ") {
		t.Fatalf("clip in the final: %v", final)
	}
	semi := lib.cut(t, adminToken, `{"feed_id":"f1","start":"now-15m","end":"now-14m","title":"Semi"}`)
	if semi["phase"] != "Semi-final" || semi["title"] != "Semi" {
		t.Fatalf("clip in the semi-final: %v", semi)
	}
	other := lib.cut(t, adminToken, `{"feed_id":"f2","start":"now-30s","end":"now"}`)
	if other["sport"] != "" || other["session_id"] != nil || !strings.HasPrefix(other["title"].(string), "Feed two ") {
		t.Fatalf("clip of a feed the schedule does not name: %v", other)
	}
	if a := call(t, lib.srv, "GET", "/api/v1/clips?sport=athletics&event=Men's%20100m", adminToken, ""); a.body["total"] != 2.0 {
		t.Fatalf("clips by sport and event: %v", a.body)
	}
}

func TestClipRightsMatrix(t *testing.T) {
	lib := newLibrary(t)
	adminF1 := lib.cut(t, adminToken, `{"feed_id":"f1","start":"now-1m","end":"now","title":"Admin on f1"}`)["id"].(string)
	adminF2 := lib.cut(t, adminToken, `{"feed_id":"f2","start":"now-1m","end":"now","title":"Admin on f2"}`)["id"].(string)
	ownF1 := lib.cut(t, lib.key, `{"feed_id":"f1","start":"now-1m","end":"now","title":"b1 on f1"}`)
	if ownF1["broadcaster_id"] != "b1" {
		t.Fatalf("owner: %v", ownF1)
	}
	own := ownF1["id"].(string)
	listed := func(token string) []string {
		t.Helper()
		a := call(t, lib.srv, "GET", "/api/v1/clips", token, "")
		var ids []string
		for _, c := range a.body["clips"].([]any) {
			ids = append(ids, c.(map[string]any)["id"].(string))
		}
		slices.Sort(ids)
		return ids
	}
	sorted := func(ids ...string) []string { slices.Sort(ids); return ids }
	status := func(method, id, suffix, token, body string) int {
		t.Helper()
		req, _ := http.NewRequest(method, lib.srv.URL+"/api/v1/clips/"+id+suffix, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	lib.finish(t, adminF1, "admin clip")
	for _, tc := range []struct {
		name, method, id, suffix, token, body string
		want                                  int
	}{
		{"admin reads a broadcaster's clip", "GET", own, "", adminToken, "", 200},
		{"entitled: reads another's clip of the feed", "GET", adminF1, "", lib.key, "", 200},
		{"entitled: downloads it", "GET", adminF1, "/download", lib.key, "", 200},
		{"entitled: may not edit another's clip", "PATCH", adminF1, "", lib.key, `{"title":"mine"}`, 403},
		{"entitled: may not delete another's clip", "DELETE", adminF1, "", lib.key, "", 403},
		{"not entitled: clip of the feed is invisible", "GET", adminF2, "", lib.key, "", 404},
		{"not entitled: its download too", "GET", adminF2, "/download", lib.key, "", 404},
		{"not entitled at all", "GET", adminF1, "", lib.key2, "", 404},
		{"not entitled: edit", "PATCH", adminF1, "", lib.key2, `{"title":"x"}`, 404},
		{"own clip: edit", "PATCH", own, "", lib.key, `{"title":"b1's best"}`, 200},
		{"admin edits any", "PATCH", own, "", adminToken, `{"tags":["sprint"]}`, 200},
		{"unknown clip", "GET", "clip-nope", "", adminToken, "", 404},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := status(tc.method, tc.id, tc.suffix, tc.token, tc.body); got != tc.want {
				t.Fatalf("%s %s%s: %d, want %d", tc.method, tc.id, tc.suffix, got, tc.want)
			}
		})
	}
	if got := listed(adminToken); !slices.Equal(got, sorted(adminF1, adminF2, own)) {
		t.Fatalf("admin lists %v", got)
	}
	if got := listed(lib.key); !slices.Equal(got, sorted(adminF1, own)) {
		t.Fatalf("b1 lists %v", got)
	}
	if got := listed(lib.key2); len(got) != 0 {
		t.Fatalf("b3 lists %v", got)
	}
	// Revoked: b1 keeps its own clip and loses the others of f1.
	ents := call(t, lib.srv, "GET", "/api/v1/entitlements?broadcaster_id=b1", adminToken, "")
	if a := call(t, lib.srv, "DELETE", "/api/v1/entitlements/"+ents.list[0]["id"].(string), adminToken, ""); a.status != 200 {
		t.Fatalf("revoke: %d", a.status)
	}
	if got := listed(lib.key); !slices.Equal(got, []string{own}) {
		t.Fatalf("b1 lists after the revoke %v", got)
	}
	if got := status("GET", adminF1, "/download", lib.key, ""); got != 404 {
		t.Fatalf("download after the revoke: %d", got)
	}
	if got := status("GET", own, "", lib.key, ""); got != 200 {
		t.Fatalf("own clip after the revoke: %d", got)
	}
	if a := call(t, lib.srv, "POST", "/api/v1/clips", lib.key, `{"feed_id":"f1","start":"now"}`); a.status != 404 {
		t.Fatalf("cutting after the revoke: %d", a.status)
	}
	if got := status("DELETE", own, "", lib.key, ""); got != 204 {
		t.Fatalf("deleting its own clip: %d", got)
	}
}

func TestClipLifecycleOpenClipProgressDownloadDelete(t *testing.T) {
	lib := newLibrary(t)
	events := followEvents(t, lib.srv, lib.key)
	c := lib.cut(t, lib.key, `{"feed_id":"f1","start":"now-5s","title":"Bolt's ünïcode / final!","format":"mp4"}`)
	id := c["id"].(string)
	if c["status"] != "queued" || c["progress"] != 0.0 || c["end"] != nil || c["mode"] != "copy" {
		t.Fatalf("open clip: %v", c)
	}
	spec, ok := lib.engine.spec(id)
	if !ok || !spec.End.IsZero() || spec.FeedID != "f1" || spec.Mode != "copy" || spec.Format != "mp4" {
		t.Fatalf("engine spec: %+v", spec)
	}
	if a := call(t, lib.srv, "GET", "/api/v1/clips/"+id+"/download", lib.key, ""); a.status != 409 {
		t.Fatalf("download before ready: %d %v", a.status, a.body)
	}
	if a := call(t, lib.srv, "GET", "/api/v1/clips/"+id+"/thumbnail.jpg", lib.key, ""); a.status != 404 {
		t.Fatalf("thumbnail before ready: %d", a.status)
	}
	if a := call(t, lib.srv, "PATCH", "/api/v1/clips/"+id, lib.key, `{"end":"now-10s"}`); a.status != 422 {
		t.Fatalf("end before start: %d %v", a.status, a.body)
	}
	closed := call(t, lib.srv, "PATCH", "/api/v1/clips/"+id, lib.key, `{"end":"now","athletes":["Usain Bolt"]}`)
	if closed.status != 200 || closed.body["end"] == nil || fmt.Sprint(closed.body["athletes"]) != "[Usain Bolt]" {
		t.Fatalf("mark out: %d %v", closed.status, closed.body)
	}
	if _, ends, _ := lib.engine.calls(); ends[id].Format("2006-01-02T15:04:05.000Z07:00") != closed.body["end"] {
		t.Fatalf("engine end %v, clip end %v", ends[id], closed.body["end"])
	}
	if a := call(t, lib.srv, "PATCH", "/api/v1/clips/"+id, lib.key, `{"end":"now"}`); a.status != 409 {
		t.Fatalf("second end: %d", a.status)
	}
	content := strings.Repeat("0123456789", 1000)
	lib.finish(t, id, content)
	ready := events.waitClip(t, id, "ready")
	if ready["download_url"] != "/api/v1/clips/"+id+"/download" || ready["size"] != float64(len(content)) || ready["duration"] != 12.5 {
		t.Fatalf("ready event: %v", ready)
	}

	req, _ := http.NewRequest("GET", lib.srv.URL+"/api/v1/clips/"+id+"/download", nil)
	req.Header.Set("Authorization", "Bearer "+lib.key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != content || resp.Header.Get("Content-Type") != "video/mp4" ||
		resp.Header.Get("Content-Disposition") != `attachment; filename=Bolt-s-n-code-final-`+id+`.mp4` {
		t.Fatalf("download: %d %q %v", resp.StatusCode, resp.Header.Get("Content-Disposition"), resp.Header)
	}
	req.Header.Set("Range", "bytes=9990-")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 206 || string(body) != "0123456789" {
		t.Fatalf("range: %d %q", resp.StatusCode, body)
	}
	thumb, _ := http.NewRequest("GET", lib.srv.URL+"/api/v1/clips/"+id+"/thumbnail.jpg", nil)
	thumb.Header.Set("Authorization", "Bearer "+lib.key)
	if resp, err := http.DefaultClient.Do(thumb); err != nil || resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "image/jpeg" {
		t.Fatalf("thumbnail: %v %v", resp, err)
	}

	if a := call(t, lib.srv, "DELETE", "/api/v1/clips/"+id, lib.key, ""); a.status != 204 {
		t.Fatalf("delete: %d", a.status)
	}
	events.waitDeleted(t, id)
	if _, _, cancelled := lib.engine.calls(); !slices.Contains(cancelled, id) {
		t.Fatal("the engine was not told to cancel")
	}
	if _, err := os.Stat(filepath.Join(lib.dir, id+".mp4")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("file kept: %v", err)
	}
	if a := call(t, lib.srv, "GET", "/api/v1/clips/"+id, lib.key, ""); a.status != 404 {
		t.Fatalf("after delete: %d", a.status)
	}
	// A late report of the engine about the deleted clip is let go of.
	lib.updates.UpdateClip(api.ClipUpdate{ClipID: id, Status: "failed", Error: "cancelled"})
}

func TestClipSearchFacetsAndPages(t *testing.T) {
	lib := newLibrary(t)
	for i := range 7 {
		athletes := `["Athlete ` + fmt.Sprint(i%3) + `"]`
		if i == 4 {
			athletes = `["Usain Bolt","Yohan Blake"]`
		}
		lib.cut(t, adminToken, fmt.Sprintf(`{"feed_id":"f%d","start":"now-%dm","end":"now-%dm","title":"Clip %d","tags":["t%d"],"athletes":%s}`,
			i%2+1, 10-i, 9-i, i, i%2, athletes))
	}
	a := call(t, lib.srv, "GET", "/api/v1/clips?limit=3", adminToken, "")
	clips := a.body["clips"].([]any)
	if a.body["total"] != 7.0 || len(clips) != 3 || a.body["next"] != 3.0 || clips[0].(map[string]any)["title"] != "Clip 6" {
		t.Fatalf("first page: %v", a.body)
	}
	facets := a.body["facets"].(map[string]any)
	if fmt.Sprint(facets["feed"]) != "map[f1:4 f2:3]" || facets["athlete"].(map[string]any)["Usain Bolt"] != 1.0 {
		t.Fatalf("facets: %v", facets)
	}
	if last := call(t, lib.srv, "GET", "/api/v1/clips?limit=3&offset=6", adminToken, ""); last.body["next"] != nil || len(last.body["clips"].([]any)) != 1 {
		t.Fatalf("last page: %v", last.body)
	}
	for query, want := range map[string]float64{
		"q=bolt":                      1,
		"q=clip&feed=f2":              3,
		"athlete=athlete%200":         3,
		"q=t1&feed=f1":                0,
		"from=now-5m":                 2,
		"to=now-8m":                   3,
		"q=usain&athlete=Yohan+Blake": 1,
	} {
		if a := call(t, lib.srv, "GET", "/api/v1/clips?"+query, adminToken, ""); a.status != 200 || a.body["total"] != want {
			t.Errorf("%s: %d total %v, want %v", query, a.status, a.body["total"], want)
		}
	}
}

func TestResubmitClipsAfterARestart(t *testing.T) {
	lib := newLibrary(t)
	open := lib.cut(t, adminToken, `{"feed_id":"f1","start":"now-1m"}`)["id"].(string)
	running := lib.cut(t, adminToken, `{"feed_id":"f1","start":"now-1m","end":"now","mode":"exact","format":"ts"}`)["id"].(string)
	done := lib.cut(t, adminToken, `{"feed_id":"f1","start":"now-1m","end":"now"}`)["id"].(string)
	lib.updates.UpdateClip(api.ClipUpdate{ClipID: running, Status: "running", Progress: 0.4})
	lib.finish(t, done, "done")

	engine := &fakeEngine{}
	n, err := api.ResubmitClips(context.Background(), lib.st, engine, lib.updates)
	if err != nil || n != 2 {
		t.Fatalf("resubmitted %d, %v", n, err)
	}
	if spec, ok := engine.spec(open); !ok || !spec.End.IsZero() {
		t.Fatalf("open clip: %+v", spec)
	}
	if spec, ok := engine.spec(running); !ok || spec.Mode != "exact" || spec.Format != "ts" || spec.End.IsZero() {
		t.Fatalf("running clip: %+v", spec)
	}
	if a := call(t, lib.srv, "GET", "/api/v1/clips/"+running, adminToken, ""); a.body["status"] != "queued" || a.body["progress"] != 0.0 {
		t.Fatalf("running clip after resubmission: %v", a.body)
	}
	engine.refuse = errors.New("engine stopped")
	if n, _ := api.ResubmitClips(context.Background(), lib.st, engine, lib.updates); n != 0 {
		t.Fatalf("resubmitted %d to a refusing engine", n)
	}
	if a := call(t, lib.srv, "GET", "/api/v1/clips/"+open, adminToken, ""); a.body["status"] != "failed" || !strings.Contains(a.body["error"].(string), "engine stopped") {
		t.Fatalf("refused clip: %v", a.body)
	}
}

// eventStream reads a /events stream in the background.
type eventStream struct {
	clips chan map[string]any
}

func followEvents(t *testing.T, srv *httptest.Server, token string) *eventStream {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/api/v1/events", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("events: %v %v", resp, err)
	}
	es := &eventStream{clips: make(chan map[string]any, 100)}
	go func() {
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(nil, 1<<20)
		event := ""
		for sc.Scan() {
			line := sc.Text()
			if e, ok := strings.CutPrefix(line, "event: "); ok {
				event = e
			} else if data, ok := strings.CutPrefix(line, "data: "); ok && event == "clips" {
				var c map[string]any
				json.Unmarshal([]byte(data), &c)
				es.clips <- c
			}
		}
	}()
	return es
}

func (es *eventStream) next(t *testing.T, match func(map[string]any) bool) map[string]any {
	t.Helper()
	timeout := time.After(5 * time.Second)
	for {
		select {
		case c := <-es.clips:
			if match(c) {
				return c
			}
		case <-timeout:
			t.Fatal("no such clips event within 5 s")
		}
	}
}

func (es *eventStream) waitClip(t *testing.T, id, status string) map[string]any {
	t.Helper()
	return es.next(t, func(c map[string]any) bool { return c["id"] == id && c["status"] == status })
}

func (es *eventStream) waitDeleted(t *testing.T, id string) {
	t.Helper()
	es.next(t, func(c map[string]any) bool { return c["id"] == id && c["deleted"] == true })
}
