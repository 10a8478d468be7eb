package store

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestAuditEntriesAreCutToTheirBound(t *testing.T) {
	backends(t, testAuditEntriesAreCutToTheirBound)
}

func testAuditEntriesAreCutToTheirBound(t *testing.T, b backend) {
	st := openWithFeeds(t, b)
	long := strings.Repeat("é", 300_000) // 600 KB, two bytes a character
	if _, err := st.AppendAudit(context.Background(), AuditEntry{At: time.Now(), Actor: "broadcaster", BroadcasterID: "nhk",
		RemoteAddr: "127.0.0.1:5000", Method: "DELETE", Path: "/api/v1/clips/" + long, Targets: map[string]string{"clip": long}, Status: 404}); err != nil {
		t.Fatal(err)
	}
	got, err := st.Audit(context.Background(), 10, 0)
	if err != nil || len(got) != 1 {
		t.Fatalf("%v %v", got, err)
	}
	e := got[0]
	for what, v := range map[string]string{"path": e.Path, "clip": e.Targets["clip"]} {
		if len(v) > MaxAuditField || !utf8.ValidString(v) || !strings.HasSuffix(v, "…") {
			t.Fatalf("%s kept as %d bytes (valid UTF-8: %v): %.40q", what, len(v), utf8.ValidString(v), v)
		}
	}
	if e.RemoteAddr != "127.0.0.1:5000" || e.Method != "DELETE" {
		t.Fatalf("short fields changed: %+v", e)
	}
}

func TestAuditPrunerKeepsRetentionAndRowsAndStops(t *testing.T) {
	backends(t, testAuditPrunerKeepsRetentionAndRowsAndStops)
}

func testAuditPrunerKeepsRetentionAndRowsAndStops(t *testing.T, b backend) {
	ctx := context.Background()
	st := openWithFeeds(t, b)
	now := time.Date(2028, 7, 14, 12, 0, 0, 0, time.UTC)
	for i := range 20 {
		// One entry a day, the last one today.
		if _, err := st.AppendAudit(ctx, AuditEntry{At: now.Add(time.Duration(i-19) * 24 * time.Hour), Actor: "admin", Method: "POST", Path: "/x", Status: 201}); err != nil {
			t.Fatal(err)
		}
	}
	count := func() int {
		got, err := st.Audit(ctx, 1000, 0)
		if err != nil {
			t.Fatal(err)
		}
		return len(got)
	}
	// Older than 10 days: 9 entries go (days -19 to -11).
	if n, err := st.PruneAudit(ctx, now.Add(-10*24*time.Hour-time.Hour), 0); err != nil || n != 9 || count() != 11 {
		t.Fatalf("retention: %d removed, %d left, %v", n, count(), err)
	}
	// At most 4 rows: the newest 4 stay.
	if n, err := st.PruneAudit(ctx, time.Time{}, 4); err != nil || n != 7 || count() != 4 {
		t.Fatalf("rows: %d removed, %d left, %v", n, count(), err)
	}
	if got, _ := st.Audit(ctx, 1, 0); !got[0].At.Equal(now) {
		t.Fatalf("the newest entry went: %+v", got)
	}

	// The pruner prunes at once, and returns when its context ends.
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		st.RunAuditPruner(runCtx, time.Hour, 2, func() time.Time { return now }, slog.New(slog.DiscardHandler))
	}()
	for deadline := time.Now().Add(10 * time.Second); count() != 1; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d entries left, want today's alone", count())
		}
	}
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the pruner did not stop with its context")
	}
}
