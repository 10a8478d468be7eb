package store

import (
	"context"
	"errors"
	"fmt"
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

func TestAuditLogPagesNewestFirstAndSurvivesReopen(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st, err := Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	changes := 0
	st.OnChange(func(*catalog.Snapshot) { changes++ })
	at := time.Date(2028, 7, 14, 20, 0, 0, 0, time.UTC)
	for i := range 5 {
		id, err := st.AppendAudit(ctx, AuditEntry{At: at.Add(time.Duration(i) * time.Second), Actor: "admin", RemoteAddr: "192.0.2.1:5000",
			Method: "POST", Path: "/api/v1/feeds", Targets: map[string]string{"feed": fmt.Sprintf("f%d", i)}, Status: 201})
		if err != nil || id != int64(i+1) {
			t.Fatalf("append %d: id %d, %v", i, id, err)
		}
	}
	if changes != 0 {
		t.Fatal("an audit entry changed the catalog")
	}
	st.Close()
	st, err = Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	page, err := st.Audit(ctx, 2, 0)
	if err != nil || len(page) != 2 || page[0].ID != 5 || page[1].ID != 4 {
		t.Fatalf("first page: %+v %v", page, err)
	}
	if e := page[0]; e.Targets["feed"] != "f4" || !e.At.Equal(at.Add(4*time.Second)) || e.Status != 201 || e.Actor != "admin" {
		t.Fatalf("entry read back: %+v", e)
	}
	page, _ = st.Audit(ctx, 10, page[1].ID)
	if len(page) != 3 || page[0].ID != 3 || page[2].ID != 1 {
		t.Fatalf("next page: %+v", page)
	}
}
