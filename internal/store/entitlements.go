package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/podium-broadcast/podium/internal/catalog"
)

// CreateEntitlement grants a broadcaster a feed. The broadcaster and the feed
// must exist (catalog.ErrNotFound, wrapped in a *catalog.FieldError naming the field).
func (s *Store) CreateEntitlement(ctx context.Context, e catalog.Entitlement) error {
	return s.write(ctx, func(tx *dbTx) error {
		if err := exists(ctx, tx, "broadcasters", e.BroadcasterID); err != nil {
			return &RefError{Field: "broadcaster_id", Err: notFound("broadcaster", e.BroadcasterID)}
		}
		if err := exists(ctx, tx, "feeds", e.FeedID); err != nil {
			return &RefError{Field: "feed_id", Err: notFound("feed", e.FeedID)}
		}
		_, err := tx.ExecContext(ctx,
			`INSERT INTO entitlements (id, broadcaster_id, feed_id, starts_at, ends_at, status, created_at, updated_at)
			 VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			e.ID, e.BroadcasterID, e.FeedID, formatTime(e.StartsAt), formatTime(e.EndsAt), string(e.Status),
			formatTime(e.CreatedAt), formatTime(e.UpdatedAt))
		if tx.d.isUniqueViolation(err) {
			return fmt.Errorf("entitlement %q already exists: %w", e.ID, catalog.ErrConflict)
		}
		tx.changed(changeEntitlement, opPut, e.ID)
		return err
	}, func(snap *catalog.Snapshot) *catalog.Snapshot {
		e.StartsAt, e.EndsAt, e.CreatedAt, e.UpdatedAt = stored(e.StartsAt), stored(e.EndsAt), stored(e.CreatedAt), stored(e.UpdatedAt)
		return snap.WithEntitlement(e)
	})
}

// RefError is a reference from one record to another that does not exist.
type RefError struct {
	Field string
	Err   error
}

func (e *RefError) Error() string { return e.Field + ": " + e.Err.Error() }
func (e *RefError) Unwrap() error { return e.Err }

func exists(ctx context.Context, tx *dbTx, table, id string) error {
	var one int
	return tx.QueryRowContext(ctx, "SELECT 1 FROM "+table+" WHERE id = ?", id).Scan(&one)
}

// SetEntitlementStatus changes an entitlement's status at instant now. A revoked
// entitlement cannot change again (catalog.ErrConflict).
func (s *Store) SetEntitlementStatus(ctx context.Context, id string, status catalog.EntitlementStatus, now time.Time) error {
	return s.write(ctx, func(tx *dbTx) error {
		var current string
		err := tx.QueryRowContext(ctx, `SELECT status FROM entitlements WHERE id = ?`, id).Scan(&current)
		if errors.Is(err, sql.ErrNoRows) {
			return notFound("entitlement", id)
		}
		if err != nil {
			return err
		}
		if catalog.EntitlementStatus(current) == catalog.StatusRevoked {
			return fmt.Errorf("entitlement %q is revoked: %w", id, catalog.ErrConflict)
		}
		_, err = tx.ExecContext(ctx, `UPDATE entitlements SET status = ?, updated_at = ? WHERE id = ?`, string(status), formatTime(now), id)
		tx.changed(changeEntitlement, opPut, id)
		return err
	}, func(snap *catalog.Snapshot) *catalog.Snapshot {
		e, _ := snap.Entitlement(id)
		e.Status, e.UpdatedAt = status, stored(now)
		return snap.WithEntitlement(e)
	})
}

// loadEntitlements reads the entitlements a where clause (or "": all) selects.
func loadEntitlements(ctx context.Context, q queryer, where string, args ...any) ([]catalog.Entitlement, error) {
	rows, err := q.QueryContext(ctx,
		`SELECT id, broadcaster_id, feed_id, starts_at, ends_at, status, created_at, updated_at FROM entitlements `+where+` ORDER BY created_at, id`, args...)
	if err != nil {
		return nil, fmt.Errorf("load entitlements: %w", err)
	}
	defer rows.Close()
	var out []catalog.Entitlement
	for rows.Next() {
		var e catalog.Entitlement
		var starts, ends, status, created, updated string
		if err := rows.Scan(&e.ID, &e.BroadcasterID, &e.FeedID, &starts, &ends, &status, &created, &updated); err != nil {
			return nil, fmt.Errorf("load entitlements: %w", err)
		}
		e.Status = catalog.EntitlementStatus(status)
		for _, field := range []struct {
			text string
			dst  *time.Time
		}{{starts, &e.StartsAt}, {ends, &e.EndsAt}, {created, &e.CreatedAt}, {updated, &e.UpdatedAt}} {
			if *field.dst, err = parseTime(field.text); err != nil {
				return nil, fmt.Errorf("load entitlement %s: %w", e.ID, err)
			}
		}
		out = append(out, e)
	}
	return out, rows.Err()
}
