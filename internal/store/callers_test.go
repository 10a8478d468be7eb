package store

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/podium-broadcast/podium/internal/catalog"
)

func TestCallsSurviveReopenAndFollowTheirOwners(t *testing.T) {
	backends(t, testCallsSurviveReopenAndFollowTheirOwners)
}

func testCallsSurviveReopenAndFollowTheirOwners(t *testing.T, b backend) {
	ctx := context.Background()
	st, err := b.open()
	if err != nil {
		t.Fatal(err)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	now := time.Now().UTC().Truncate(time.Second)
	must(st.CreateFeed(ctx, catalog.Feed{ID: "f", Name: "F", Kind: catalog.KindMultilateral, PublishPassphrase: "pppppppppp", CreatedAt: now}))
	must(st.CreateBroadcaster(ctx, catalog.Broadcaster{ID: "b", Name: "B", SRTPassphrase: "ssssssssss", APIKeyHash: "hash", CreatedAt: now}))
	src := catalog.CallerSource{FeedID: "f", Role: catalog.RolePrimary, Address: "srt://10.0.0.1:9000", StreamID: "cam", Passphrase: "encoder-pass",
		Latency: 250 * time.Millisecond, CreatedAt: now, UpdatedAt: now}
	must(st.PutCallerSource(ctx, src))
	src.Address, src.UpdatedAt = "srt://10.0.0.2:9000", now.Add(time.Minute)
	must(st.PutCallerSource(ctx, catalog.CallerSource{FeedID: "f", Role: src.Role, Address: src.Address, StreamID: src.StreamID,
		Passphrase: src.Passphrase, Latency: src.Latency, CreatedAt: now.Add(time.Hour), UpdatedAt: src.UpdatedAt}))
	if err := st.PutCallerSource(ctx, catalog.CallerSource{FeedID: "nope", Role: catalog.RolePrimary, Address: "srt://10.0.0.1:1"}); !errors.Is(err, catalog.ErrNotFound) {
		t.Fatalf("caller source of an unknown feed: %v", err)
	}
	d := catalog.Destination{ID: "dst-1", BroadcasterID: "b", FeedID: "f", Address: "srt://10.0.0.3:7000", Passphrase: "ird-passphrase", CreatedAt: now}
	must(st.CreateDestination(ctx, d))
	if err := st.CreateDestination(ctx, catalog.Destination{ID: "dst-2", BroadcasterID: "b", FeedID: "f", Address: d.Address}); !errors.Is(err, catalog.ErrConflict) {
		t.Fatalf("the same destination twice: %v", err)
	}
	var ref *RefError
	if err := st.CreateDestination(ctx, catalog.Destination{ID: "dst-3", BroadcasterID: "b", FeedID: "nope", Address: d.Address}); !errors.As(err, &ref) || ref.Field != "feed_id" {
		t.Fatalf("destination for an unknown feed: %v", err)
	}
	if err := st.DeleteDestination(ctx, "other", "dst-1"); !errors.Is(err, catalog.ErrNotFound) {
		t.Fatalf("deleting another broadcaster's destination: %v", err)
	}
	st.Close()

	st, err = b.open()
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	snap := st.Snapshot()
	if got, ok := snap.CallerSource("f"); !ok || got != src {
		t.Fatalf("caller source after reopen: %+v, want %+v", got, src)
	}
	if got, ok := snap.Destination("dst-1"); !ok || got != d || len(snap.Destinations("b")) != 1 || len(snap.Destinations("x")) != 0 {
		t.Fatalf("destination after reopen: %+v", got)
	}
	must(st.DeleteBroadcaster(ctx, "b"))
	if len(st.Snapshot().Destinations("")) != 0 {
		t.Fatal("destinations of a deleted broadcaster remain")
	}
	must(st.DeleteCallerSource(ctx, "f"))
	if err := st.DeleteCallerSource(ctx, "f"); !errors.Is(err, catalog.ErrNotFound) {
		t.Fatalf("deleting a caller source twice: %v", err)
	}
}
