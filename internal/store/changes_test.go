package store

import (
	"context"
	"testing"
	"time"

	"github.com/podium-broadcast/podium/internal/catalog"
)

// TestChangesReachAnotherNodeInVersionOrder: two nodes share a PostgreSQL
// catalog; what one writes (a grant, then its revoke) reaches the other's
// snapshot, and both end at the same version.
func TestChangesReachAnotherNodeInVersionOrder(t *testing.T) {
	ctx := context.Background()
	b := newBackend(t, "postgres")
	a, err := b.open()
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	other, err := b.open()
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	now := time.Now().UTC()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(a.CreateFeed(ctx, catalog.Feed{ID: "f", Name: "F", Kind: catalog.KindMultilateral, PublishPassphrase: "pppppppppp", CreatedAt: now}))
	must(a.CreateBroadcaster(ctx, catalog.Broadcaster{ID: "b", Name: "B", SRTPassphrase: "ssssssssss", APIKeyHash: "h", CreatedAt: now}))
	start := time.Now()
	must(a.CreateEntitlement(ctx, catalog.Entitlement{ID: "e", BroadcasterID: "b", FeedID: "f", Status: catalog.StatusActive, EndsAt: now.Add(time.Hour), CreatedAt: now, UpdatedAt: now}))
	waitFor(t, func() bool { return other.Snapshot().Holds("b", "f", time.Now()) })
	t.Logf("a grant reached the other node in %v", time.Since(start))
	must(a.SetEntitlementStatus(ctx, "e", catalog.StatusRevoked, now))
	waitFor(t, func() bool { return !other.Snapshot().Holds("b", "f", time.Now()) })
	waitFor(t, func() bool { s := other.Sync(); return s.Version == a.Sync().Version && s.Lag == 0 && s.Connected })
	// The other node writes in turn, after versions it took from a.
	must(other.DeleteFeed(ctx, "f"))
	waitFor(t, func() bool { _, ok := a.Snapshot().Feed("f"); return !ok && a.Sync().Version == other.Sync().Version })
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("not within 20 s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
