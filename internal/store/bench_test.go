package store

import (
	"context"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/podium-broadcast/podium/internal/catalog"
)

// catalogOf returns a store holding feeds feeds and broadcasters
// broadcasters, each broadcaster entitled to every tenth feed, filled
// in one transaction.
func catalogOf(tb testing.TB, b backend, feeds, broadcasters int) *Store {
	tb.Helper()
	ctx := context.Background()
	st, err := b.open()
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	now := formatTime(time.Now())
	err = st.write(ctx, func(tx *dbTx) error {
		for i := range feeds {
			if _, err := tx.ExecContext(ctx, `INSERT INTO feeds (id, name, kind, publish_passphrase, backup_publish_passphrase, created_at)
				VALUES (?, ?, 'multilateral', 'pppppppppppp', 'bbbbbbbbbbbb', ?)`, fmt.Sprintf("feed-%05d", i), "Feed", now); err != nil {
				return err
			}
		}
		for i := range broadcasters {
			id := fmt.Sprintf("rhb-%03d", i)
			if _, err := tx.ExecContext(ctx, `INSERT INTO broadcasters (id, name, territories, srt_passphrase, api_key_hash, created_at)
				VALUES (?, ?, '["FR"]', 'ssssssssssss', ?, ?)`, id, "RHB", catalog.HashAPIKey(id), now); err != nil {
				return err
			}
			for f := i % 10; f < feeds; f += 10 {
				if _, err := tx.ExecContext(ctx, `INSERT INTO entitlements (id, broadcaster_id, feed_id, starts_at, ends_at, status, created_at, updated_at)
					VALUES (?, ?, ?, '', '', 'active', ?, ?)`, fmt.Sprintf("ent-%s-%05d", id, f), id, fmt.Sprintf("feed-%05d", f), now, now); err != nil {
					return err
				}
			}
		}
		return nil
	}, func(snap *catalog.Snapshot) *catalog.Snapshot { return snap })
	if err == nil {
		err = st.resync(ctx)
	}
	if err != nil {
		tb.Fatal(err)
	}
	return st
}

// BenchmarkCreateFeedAt10000 creates feeds in a catalog of 10,000 feeds,
// 50 broadcasters and 50,000 entitlements.
func BenchmarkCreateFeedAt10000(b *testing.B) {
	st := catalogOf(b, newBackend(b, "sqlite"), 10_000, 50)
	ctx := context.Background()
	i := 0
	for b.Loop() {
		i++
		if err := st.CreateFeed(ctx, catalog.Feed{ID: fmt.Sprintf("new-%06d", i), Name: "New", Kind: catalog.KindMultilateral,
			PublishPassphrase: "pppppppppppp", BackupPublishPassphrase: "bbbbbbbbbbbb", Recording: catalog.DefaultRecording, CreatedAt: time.Now()}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCreateBroadcasterAt10000 creates broadcasters in the same catalog.
func BenchmarkCreateBroadcasterAt10000(b *testing.B) {
	st := catalogOf(b, newBackend(b, "sqlite"), 10_000, 50)
	ctx := context.Background()
	i := 0
	for b.Loop() {
		i++
		id := fmt.Sprintf("new-%06d", i)
		if err := st.CreateBroadcaster(ctx, catalog.Broadcaster{ID: id, Name: "New", Territories: []string{"FR"},
			SRTPassphrase: "ssssssssssss", APIKeyHash: catalog.HashAPIKey(id), CreatedAt: time.Now()}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCreateFeedAt100 is the same write in a catalog of 100 feeds.
func BenchmarkCreateFeedAt100(b *testing.B) {
	st := catalogOf(b, newBackend(b, "sqlite"), 100, 5)
	ctx := context.Background()
	i := 0
	for b.Loop() {
		i++
		if err := st.CreateFeed(ctx, catalog.Feed{ID: fmt.Sprintf("new-%06d", i), Name: "New", Kind: catalog.KindMultilateral,
			PublishPassphrase: "pppppppppppp", BackupPublishPassphrase: "bbbbbbbbbbbb", Recording: catalog.DefaultRecording, CreatedAt: time.Now()}); err != nil {
			b.Fatal(err)
		}
	}
}

// sameCatalog reports how two snapshots differ in what they answer, or "".
func sameCatalog(a, b *catalog.Snapshot, now time.Time) string {
	empty := func(n int) bool { return n == 0 }
	for _, c := range []struct {
		what string
		x, y any
		n, m int
	}{
		{"feeds", a.Feeds(), b.Feeds(), len(a.Feeds()), len(b.Feeds())},
		{"broadcasters", a.Broadcasters(), b.Broadcasters(), len(a.Broadcasters()), len(b.Broadcasters())},
		{"entitlements", a.Entitlements("", ""), b.Entitlements("", ""), len(a.Entitlements("", "")), len(b.Entitlements("", ""))},
		{"caller sources", a.CallerSources(), b.CallerSources(), len(a.CallerSources()), len(b.CallerSources())},
		{"destinations", a.Destinations(""), b.Destinations(""), len(a.Destinations("")), len(b.Destinations(""))},
	} {
		if !(empty(c.n) && empty(c.m)) && !reflect.DeepEqual(c.x, c.y) {
			return fmt.Sprintf("%s:\n%+v\nreloaded:\n%+v", c.what, c.x, c.y)
		}
	}
	for _, br := range b.Broadcasters() {
		if x, _ := a.BroadcasterByAPIKeyHash(br.APIKeyHash); x.ID != br.ID {
			return "API key of " + br.ID
		}
		for _, f := range b.Feeds() {
			if a.Refusal(br.ID, f.ID, now) != b.Refusal(br.ID, f.ID, now) || a.Holds(br.ID, f.ID, now) != b.Holds(br.ID, f.ID, now) {
				return "rights of " + br.ID + " to " + f.ID
			}
		}
	}
	return ""
}

// TestSnapshotAfterWritesMatchesAReload makes every kind of catalog write,
// cascades included, and checks after each that the snapshot the write
// made answers as one read again from the database would.
func TestSnapshotAfterWritesMatchesAReload(t *testing.T) {
	backends(t, testSnapshotAfterWritesMatchesAReload)
}

func testSnapshotAfterWritesMatchesAReload(t *testing.T, b backend) {
	ctx := context.Background()
	st := catalogOf(t, b, 20, 3)
	now := time.Now()
	feed := func(id string) catalog.Feed {
		return catalog.Feed{ID: id, Name: "F " + id, Kind: catalog.KindVenueISO, PublishPassphrase: "pppppppppppp",
			BackupPublishPassphrase: "bbbbbbbbbbbb", Recording: catalog.RecordingPolicy{Enabled: true, MaxAge: 90*time.Minute + 300*time.Millisecond}, CreatedAt: now}
	}
	ent := func(id, b, f string, status catalog.EntitlementStatus) catalog.Entitlement {
		return catalog.Entitlement{ID: id, BroadcasterID: b, FeedID: f, StartsAt: now.Add(-time.Hour), EndsAt: now.Add(time.Hour), Status: status, CreatedAt: now, UpdatedAt: now}
	}
	steps := []struct {
		name  string
		write func() error
	}{
		{"create feed", func() error { return st.CreateFeed(ctx, feed("aaa-first")) }},
		{"create feed last", func() error { return st.CreateFeed(ctx, feed("zzz-last")) }},
		{"create broadcaster", func() error {
			return st.CreateBroadcaster(ctx, catalog.Broadcaster{ID: "nhk", Name: "NHK", Territories: []string{"JP"}, SRTPassphrase: "ssssssssssss", APIKeyHash: catalog.HashAPIKey("k"), CreatedAt: now})
		}},
		{"broadcaster without territories", func() error {
			return st.CreateBroadcaster(ctx, catalog.Broadcaster{ID: "aaa", Name: "A", SRTPassphrase: "ssssssssssss", APIKeyHash: catalog.HashAPIKey("a"), CreatedAt: now})
		}},
		{"entitle", func() error { return st.CreateEntitlement(ctx, ent("e1", "nhk", "aaa-first", catalog.StatusActive)) }},
		{"entitle again", func() error { return st.CreateEntitlement(ctx, ent("e2", "nhk", "aaa-first", catalog.StatusSuspended)) }},
		{"entitle another", func() error { return st.CreateEntitlement(ctx, ent("e3", "rhb-001", "zzz-last", catalog.StatusActive)) }},
		{"suspend", func() error { return st.SetEntitlementStatus(ctx, "e1", catalog.StatusSuspended, now.Add(time.Second)) }},
		{"revoke", func() error { return st.SetEntitlementStatus(ctx, "e3", catalog.StatusRevoked, now.Add(2*time.Second)) }},
		{"recording", func() error {
			return st.SetRecording(ctx, "feed-00003", catalog.RecordingPolicy{MaxAge: 2*time.Hour + time.Millisecond, MaxBytes: 1 << 30})
		}},
		{"caller source", func() error {
			return st.PutCallerSource(ctx, catalog.CallerSource{FeedID: "aaa-first", Role: "primary", Address: "srt://127.0.0.1:9000", Latency: 200*time.Millisecond + 7*time.Microsecond, CreatedAt: now, UpdatedAt: now})
		}},
		{"caller source replaced", func() error {
			return st.PutCallerSource(ctx, catalog.CallerSource{FeedID: "aaa-first", Role: "backup", Address: "srt://127.0.0.1:9001", CreatedAt: now.Add(time.Hour), UpdatedAt: now.Add(time.Hour)})
		}},
		{"caller source of another", func() error {
			return st.PutCallerSource(ctx, catalog.CallerSource{FeedID: "feed-00004", Role: "primary", Address: "srt://127.0.0.1:9002", CreatedAt: now, UpdatedAt: now})
		}},
		{"destination", func() error {
			return st.CreateDestination(ctx, catalog.Destination{ID: "d1", BroadcasterID: "nhk", FeedID: "aaa-first", Address: "srt://127.0.0.1:7000", Latency: time.Second, CreatedAt: now})
		}},
		{"destination 2", func() error {
			return st.CreateDestination(ctx, catalog.Destination{ID: "d2", BroadcasterID: "nhk", FeedID: "feed-00004", Address: "srt://127.0.0.1:7001", CreatedAt: now.Add(time.Second)})
		}},
		{"destination 3", func() error {
			return st.CreateDestination(ctx, catalog.Destination{ID: "d3", BroadcasterID: "aaa", FeedID: "feed-00004", Address: "srt://127.0.0.1:7002", CreatedAt: now.Add(2 * time.Second)})
		}},
		{"delete destination", func() error { return st.DeleteDestination(ctx, "nhk", "d2") }},
		{"delete caller source", func() error { return st.DeleteCallerSource(ctx, "feed-00004") }},
		{"delete feed", func() error { return st.DeleteFeed(ctx, "aaa-first") }},
		{"delete broadcaster", func() error { return st.DeleteBroadcaster(ctx, "aaa") }},
		{"delete a broadcaster with entitlements", func() error { return st.DeleteBroadcaster(ctx, "rhb-000") }},
		{"delete a feed with entitlements", func() error { return st.DeleteFeed(ctx, "feed-00011") }},
	}
	for _, step := range steps {
		if err := step.write(); err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		reloaded, err := st.load(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if diff := sameCatalog(st.Snapshot(), reloaded, now); diff != "" {
			t.Fatalf("after %s, the snapshot differs from the database in %s", step.name, diff)
		}
	}
}
