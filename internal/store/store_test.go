package store

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/podium-broadcast/podium/internal/catalog"
)

func TestCatalogSurvivesReopenAndRefusesBadReferences(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st, err := Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	if info, err := os.Stat(filepath.Join(dir, "catalog.db")); err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("catalog.db mode: %v %v", info, err)
	}
	changes := 0
	st.OnChange(func(*catalog.Snapshot) { changes++ })
	now := time.Now().UTC().Truncate(time.Second)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(st.CreateFeed(ctx, catalog.Feed{ID: "f", Name: "F", Kind: catalog.KindMultilateral, PublishPassphrase: "pppppppppp", CreatedAt: now}))
	must(st.CreateBroadcaster(ctx, catalog.Broadcaster{ID: "b", Name: "B", Territories: []string{"FR"}, SRTPassphrase: "ssssssssss", APIKeyHash: "hash", CreatedAt: now}))
	must(st.CreateEntitlement(ctx, catalog.Entitlement{ID: "e", BroadcasterID: "b", FeedID: "f", Status: catalog.StatusActive, EndsAt: now.Add(time.Hour), CreatedAt: now, UpdatedAt: now}))
	must(st.SetEntitlementStatus(ctx, "e", catalog.StatusSuspended, now))

	var ref *RefError
	if err := st.CreateEntitlement(ctx, catalog.Entitlement{ID: "x", BroadcasterID: "b", FeedID: "nope", Status: catalog.StatusActive}); !errors.As(err, &ref) || ref.Field != "feed_id" {
		t.Fatalf("unknown feed: %v", err)
	}
	if err := st.CreateFeed(ctx, catalog.Feed{ID: "f", Name: "again", Kind: catalog.KindMultilateral, PublishPassphrase: "pppppppppp"}); !errors.Is(err, catalog.ErrConflict) {
		t.Fatalf("duplicate feed: %v", err)
	}
	if changes != 4 {
		t.Fatalf("%d change notifications, want 4 (one per committed write)", changes)
	}
	st.Close()

	st, err = Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	snap := st.Snapshot()
	e, ok := snap.Entitlement("e")
	if !ok || e.Status != catalog.StatusSuspended || !e.EndsAt.Equal(now.Add(time.Hour)) {
		t.Fatalf("entitlement after reopen: %+v", e)
	}
	if b, ok := snap.BroadcasterByAPIKeyHash("hash"); !ok || b.Territories[0] != "FR" {
		t.Fatalf("broadcaster after reopen: %+v", b)
	}
	must(st.SetEntitlementStatus(ctx, "e", catalog.StatusRevoked, now))
	if err := st.SetEntitlementStatus(ctx, "e", catalog.StatusActive, now); !errors.Is(err, catalog.ErrConflict) {
		t.Fatalf("reactivating a revoked entitlement: %v", err)
	}
	must(st.DeleteFeed(ctx, "f"))
	if len(st.Snapshot().Entitlements("", "")) != 0 {
		t.Fatal("entitlements of a deleted feed remain")
	}
}
