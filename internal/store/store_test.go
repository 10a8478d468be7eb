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
	backends(t, testCatalogSurvivesReopenAndRefusesBadReferences)
}

func testCatalogSurvivesReopenAndRefusesBadReferences(t *testing.T, b backend) {
	ctx := context.Background()
	st, err := b.open()
	if err != nil {
		t.Fatal(err)
	}
	if b.name == "sqlite" {
		if info, err := os.Stat(filepath.Join(b.opts.DataDir, "catalog.db")); err != nil || info.Mode().Perm() != 0o600 {
			t.Fatalf("catalog.db mode: %v %v", info, err)
		}
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

	st, err = b.open()
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
	backends(t, testAuditLogPagesNewestFirstAndSurvivesReopen)
}

func testAuditLogPagesNewestFirstAndSurvivesReopen(t *testing.T, b backend) {
	ctx := context.Background()
	st, err := b.open()
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
	st, err = b.open()
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

// TestBroadcasterGenerationIsNewForARecreatedID: each creation draws a
// generation that survives a reopen; deleting the id and creating it
// again draws another, so the new account is not the old one.
func TestBroadcasterGenerationIsNewForARecreatedID(t *testing.T) {
	backends(t, testBroadcasterGenerationIsNewForARecreatedID)
}

func testBroadcasterGenerationIsNewForARecreatedID(t *testing.T, b backend) {
	ctx := context.Background()
	st, err := b.open()
	if err != nil {
		t.Fatal(err)
	}
	nbc := catalog.Broadcaster{ID: "nbc", Name: "NBC", Territories: []string{"US"}, SRTPassphrase: "ssssssssss", APIKeyHash: "h1", CreatedAt: time.Now()}
	if err := st.CreateBroadcaster(ctx, nbc); err != nil {
		t.Fatal(err)
	}
	first, _ := st.Snapshot().Broadcaster("nbc")
	if first.Generation == 0 {
		t.Fatal("no generation drawn")
	}
	st.Close()
	if st, err = b.open(); err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if again, _ := st.Snapshot().Broadcaster("nbc"); again.Generation != first.Generation {
		t.Fatalf("generation after reopen %x, want %x", again.Generation, first.Generation)
	}
	if err := st.DeleteBroadcaster(ctx, "nbc"); err != nil {
		t.Fatal(err)
	}
	nbc.APIKeyHash = "h2"
	if err := st.CreateBroadcaster(ctx, nbc); err != nil {
		t.Fatal(err)
	}
	if reborn, _ := st.Snapshot().Broadcaster("nbc"); reborn.Generation == 0 || reborn.Generation == first.Generation {
		t.Fatalf("recreated nbc has generation %x, the deleted one had %x", reborn.Generation, first.Generation)
	}
}

// TestGenerationMigrationDrawsOneForExistingBroadcasters: a catalog made
// before the generation migration (9) gets a non-zero generation for each
// broadcaster.
func TestGenerationMigrationDrawsOneForExistingBroadcasters(t *testing.T) {
	backends(t, testGenerationMigrationDrawsOneForExistingBroadcasters)
}

func testGenerationMigrationDrawsOneForExistingBroadcasters(t *testing.T, b backend) {
	ctx := context.Background()
	st, err := b.open()
	if err != nil {
		t.Fatal(err)
	}
	// Back to the schema of migration 8: without what 9 and 10 added.
	for _, q := range []string{
		`DROP TABLE catalog_changes`,
		`DROP TABLE catalog_version`,
		`ALTER TABLE broadcasters DROP COLUMN generation`,
		`INSERT INTO broadcasters (id, name, territories, srt_passphrase, api_key_hash, created_at) VALUES ('ebu', 'EBU', '["CH"]', 'ssssssssss', 'h', '2028-07-01T00:00:00Z')`,
	} {
		if _, err := st.db.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	tx, err := st.db.BeginTx(ctx, nil)
	if err == nil {
		if err = st.setSchemaVersion(ctx, tx, 8); err == nil {
			err = tx.Commit()
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	if st, err = b.open(); err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if b, ok := st.Snapshot().Broadcaster("ebu"); !ok || b.Generation == 0 {
		t.Fatalf("ebu after the generation migration: %+v", b)
	}
}
