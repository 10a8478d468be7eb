package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/podium-broadcast/podium/internal/store"
)

// libraryWords are the words of the generated library's titles: short
// prefixes of them match many clips, which makes a search heavy.
var libraryWords = strings.Fields("athletics sprint final heat relay marathon hurdles javelin discus hammer pole vault long jump triple high decathlon heptathlon walk steeple")

// fillLibrary adds n clips of the feed to the library, straight into the store.
func fillLibrary(t *testing.T, p *podium, feed string, n int) {
	t.Helper()
	start := time.Date(2028, 7, 14, 10, 0, 0, 0, time.UTC)
	clips := make([]store.Clip, n)
	for i := range clips {
		var title []string
		for w := range 6 {
			title = append(title, libraryWords[(i*7+w*3)%len(libraryWords)])
		}
		at := start.Add(time.Duration(i) * time.Second)
		clips[i] = store.Clip{ID: fmt.Sprintf("clip-%06d", i), FeedID: feed, Owner: "", Start: at, End: at.Add(10 * time.Second),
			Title: strings.Join(title, " "), Description: "generated " + title[0], Tags: []string{title[1]}, Athletes: []string{},
			Sport: "Athletics", Event: title[2], Mode: "copy", Format: "ts", Status: store.ClipReady, CreatedAt: at, UpdatedAt: at}
	}
	if err := p.Store.CreateClips(context.Background(), clips...); err != nil {
		t.Fatal(err)
	}
}

// heaviestQuery is a search text at the bounds (32 words, 1000 bytes at
// most) of one-letter prefixes, each a word the clips' titles start with or not.
func heaviestQuery() string {
	letters := "ashfrmjdvltwegpcuoinbkqxyz0123"
	words := make([]string, store.MaxQueryTerms)
	for i := range words {
		words[i] = string(letters[i%len(letters)])
	}
	return strings.Join(words, " ")
}

// TestHeavySearchesDoNotDelayARightsChange runs the heaviest searches the
// API allows, many at once and without a pause, while an entitlement is
// suspended: the PATCH answers and the live SRT delivery is cut within the
// usual second, because searches read on their own connections. A search
// text beyond the bounds is refused with 400 naming q, without being run.
func TestHeavySearchesDoNotDelayARightsChange(t *testing.T) {
	p := startPodium(t, options{})
	b := p.createBroadcaster("nhk")
	f := p.createFeed("ath-100m-final")
	ent := p.grant(b.ID, f.ID)
	filling := time.Now()
	fillLibrary(t, p, f.ID, 5000)
	t.Logf("library of 5,000 clips filled in %v", time.Since(filling).Round(time.Millisecond))

	search := func(q string) (int, time.Duration, []byte) {
		req, _ := http.NewRequest("GET", p.base+"/api/v1/clips?limit=200&q="+url.QueryEscape(q), nil)
		req.Header.Set("Authorization", "Bearer "+b.APIKey)
		start := time.Now()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, time.Since(start), nil
		}
		defer resp.Body.Close()
		var body json.RawMessage
		json.NewDecoder(resp.Body).Decode(&body)
		return resp.StatusCode, time.Since(start), body
	}

	// Far beyond the bounds: 100,000 words, about 500 KB.
	huge := strings.Repeat("sprint ", 100_000)[:500_000]
	status, took, body := search(huge)
	var refusal struct{ Error struct{ Field string } }
	json.Unmarshal(body, &refusal)
	t.Logf("500 KB search: %d in %v: %.200s", status, took.Round(time.Millisecond), body)
	if status != http.StatusBadRequest || refusal.Error.Field != "q" {
		t.Fatalf("500 KB search: status %d, field %q, want 400 naming q", status, refusal.Error.Field)
	}
	if took > 5*time.Second {
		t.Fatalf("500 KB search refused after %v", took)
	}
	q := heaviestQuery()
	if status, took, body = search(q); status != http.StatusOK {
		t.Fatalf("search at the bounds: %d %.300s", status, body)
	}
	t.Logf("one search at the bounds (%d bytes): %v", len(q), took.Round(time.Millisecond))

	ctx, cancel := context.WithCancel(context.Background())
	p.publish(ctx, f, fixture, true)
	reader := p.pull(f.ID, b)
	eventually(t, 5*time.Second, "reader not receiving", func() bool { return reader.stdout.Len() > 5000 })

	var wg sync.WaitGroup
	var searchesMu sync.Mutex
	searches := 0
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				if status, _, _ := search(q); status == http.StatusOK {
					searchesMu.Lock()
					searches++
					searchesMu.Unlock()
				}
			}
		}()
	}
	defer func() { cancel(); wg.Wait() }()
	eventually(t, 30*time.Second, "searches not answering", func() bool {
		searchesMu.Lock()
		defer searchesMu.Unlock()
		return searches >= 8
	})

	start := time.Now()
	p.mustAPI("PATCH", "/api/v1/entitlements/"+ent, map[string]string{"status": "suspended"}, 200, nil)
	patched := time.Since(start)
	eventually(t, 30*time.Second, "delivery still open", func() bool {
		for _, d := range p.deliveries() {
			if d.BroadcasterID == b.ID && d.FeedID == f.ID {
				return false
			}
		}
		return true
	})
	cut := time.Since(start)
	eventually(t, 5*time.Second, "srt-live-transmit not disconnected", reader.exited)
	searchesMu.Lock()
	t.Logf("under %d searches so far: PATCH answered in %v, delivery cut %v after it was sent", searches, patched.Round(time.Millisecond), cut.Round(time.Millisecond))
	searchesMu.Unlock()
	if cut > time.Second {
		t.Fatalf("delivery cut %v after the PATCH was sent, want within 1 s", cut)
	}
}

// fileSize is the size of a file, 0 if it is not there.
func fileSize(path string) int64 {
	info, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return info.Size()
}

// TestRefusedRequestsDoNotGrowTheAuditLog sends, as a broadcaster, 40
// DELETEs of clips whose ids are 500 KB long (each a 404): the catalog
// database (with its WAL) grows by well under 1 MB, at most 30 of them are audited (the
// per-caller limit), each in short form, and GET /audit?limit=50 is small.
func TestRefusedRequestsDoNotGrowTheAuditLog(t *testing.T) {
	p := startPodium(t, options{})
	b := p.createBroadcaster("nhk")
	db := filepath.Join(p.Config.DataDir, "catalog.db")
	before := fileSize(db) + fileSize(db+"-wal")
	id := strings.Repeat("x", 500_000)
	for range 40 {
		if status := p.api("DELETE", "/api/v1/clips/"+id, b.APIKey, nil, nil); status != http.StatusNotFound {
			t.Fatalf("DELETE of a clip that does not exist: %d", status)
		}
	}
	grown := fileSize(db) + fileSize(db+"-wal") - before
	resp, err := http.NewRequest("GET", p.base+"/api/v1/audit?limit=50", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Header.Set("Authorization", "Bearer "+p.AdminToken)
	answer, err := http.DefaultClient.Do(resp)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(answer.Body)
	answer.Body.Close()
	var entries []struct {
		Path    string            `json:"path"`
		Status  int               `json:"status"`
		Targets map[string]string `json:"targets"`
	}
	if err := json.Unmarshal(body, &entries); err != nil {
		t.Fatalf("GET /audit: %v: %.300s", err, body)
	}
	refused := 0
	for _, e := range entries {
		if e.Status != http.StatusNotFound {
			continue
		}
		refused++
		if len(e.Path) > 64 || len(e.Targets["clip"]) > 64 {
			t.Fatalf("a refused request audited in full: path of %d bytes, clip id of %d", len(e.Path), len(e.Targets["clip"]))
		}
	}
	t.Logf("40 refused DELETEs of 500 KB ids: catalog grew %d bytes; %d audited; GET /audit?limit=50 is %d bytes", grown, refused, len(body))
	if grown > 1<<20/2 { // the WAL takes a page or two per entry until its checkpoint
		t.Fatalf("the catalog grew %d bytes", grown)
	}
	if refused == 0 || refused > 30 {
		t.Fatalf("%d refused requests audited, want 1 to 30", refused)
	}
	if len(body) > 64<<10 {
		t.Fatalf("GET /audit?limit=50 is %d bytes", len(body))
	}
}

// TestIdleFeedsHoldNoRecorders creates 100 feeds that never go live: the
// server's goroutines do not grow with them (a recorder starts with a
// feed's first publisher), and a feed that goes live is recorded.
func TestIdleFeedsHoldNoRecorders(t *testing.T) {
	p := startPodium(t, options{configure: shortSegments})
	const idle = 100
	p.createFeed("warm-up")
	eventually(t, 10*time.Second, "warm-up feed not armed", func() bool { return p.recording("warm-up", p.AdminToken).State == "idle" })
	before := runtime.NumGoroutine()
	for i := range idle {
		p.createFeed(fmt.Sprintf("idle-%03d", i))
	}
	last := fmt.Sprintf("idle-%03d", idle-1)
	eventually(t, 30*time.Second, "idle feeds not armed", func() bool { return p.recording(last, p.AdminToken).State == "idle" })
	grown := runtime.NumGoroutine() - before
	t.Logf("%d idle feeds: %d goroutines more", idle, grown)
	if grown >= idle/2 {
		t.Fatalf("%d idle feeds took %d goroutines", idle, grown)
	}

	f := p.createFeed("ath-100m-final")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	p.publish(ctx, f, fixture, true)
	eventually(t, 20*time.Second, "a live feed not recorded", func() bool { return p.recording(f.ID, p.AdminToken).Segments >= 2 })
}
