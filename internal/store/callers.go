package store

import (
	"context"
	"fmt"
	"time"

	"github.com/podium-broadcast/podium/internal/catalog"
)

// PutCallerSource sets the feed's caller source, replacing the one it had
// (whose creation time is kept). The feed must exist (catalog.ErrNotFound).
func (s *Store) PutCallerSource(ctx context.Context, src catalog.CallerSource) error {
	return s.write(ctx, func(tx *dbTx) error {
		if err := exists(ctx, tx, "feeds", src.FeedID); err != nil {
			return notFound("feed", src.FeedID)
		}
		_, err := tx.ExecContext(ctx,
			`INSERT INTO sources (feed_id, role, address, streamid, passphrase, latency_ms, created_at, updated_at)
			 VALUES (?, ?, ?, ?, ?, ?, ?, ?)
			 ON CONFLICT (feed_id) DO UPDATE SET role = excluded.role, address = excluded.address,
			   streamid = excluded.streamid, passphrase = excluded.passphrase, latency_ms = excluded.latency_ms,
			   updated_at = excluded.updated_at`,
			src.FeedID, src.Role, src.Address, src.StreamID, src.Passphrase, src.Latency.Milliseconds(),
			formatTime(src.CreatedAt), formatTime(src.UpdatedAt))
		tx.changed(changeSource, opPut, src.FeedID)
		return err
	}, func(snap *catalog.Snapshot) *catalog.Snapshot {
		src.Latency = src.Latency.Truncate(time.Millisecond)
		src.CreatedAt, src.UpdatedAt = stored(src.CreatedAt), stored(src.UpdatedAt)
		if old, ok := snap.CallerSource(src.FeedID); ok {
			src.CreatedAt = old.CreatedAt
		}
		return snap.WithCallerSource(src)
	})
}

// DeleteCallerSource removes the feed's caller source.
func (s *Store) DeleteCallerSource(ctx context.Context, feedID string) error {
	return s.write(ctx, func(tx *dbTx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM sources WHERE feed_id = ?`, feedID)
		if err != nil {
			return err
		}
		tx.changed(changeSource, opDelete, feedID)
		return affectedOne(res, "caller source of feed", feedID)
	}, func(snap *catalog.Snapshot) *catalog.Snapshot { return snap.WithoutCallerSource(feedID) })
}

// CreateDestination registers a broadcaster's push destination. The
// broadcaster must exist (catalog.ErrNotFound) and the feed too (a
// *RefError on feed_id); the same feed to the same address and streamid
// twice, or more than catalog.MaxDestinations, is catalog.ErrConflict.
func (s *Store) CreateDestination(ctx context.Context, d catalog.Destination) error {
	return s.write(ctx, func(tx *dbTx) error {
		if err := exists(ctx, tx, "broadcasters", d.BroadcasterID); err != nil {
			return notFound("broadcaster", d.BroadcasterID)
		}
		if err := exists(ctx, tx, "feeds", d.FeedID); err != nil {
			return &RefError{Field: "feed_id", Err: notFound("feed", d.FeedID)}
		}
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM destinations WHERE broadcaster_id = ?`, d.BroadcasterID).Scan(&n); err != nil {
			return err
		}
		if n >= catalog.MaxDestinations {
			return fmt.Errorf("broadcaster %q already has %d destinations, the most allowed: %w", d.BroadcasterID, n, catalog.ErrConflict)
		}
		_, err := tx.ExecContext(ctx,
			`INSERT INTO destinations (id, broadcaster_id, feed_id, address, streamid, passphrase, latency_ms, created_at)
			 VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			d.ID, d.BroadcasterID, d.FeedID, d.Address, d.StreamID, d.Passphrase, d.Latency.Milliseconds(), formatTime(d.CreatedAt))
		if tx.d.isUniqueViolation(err) {
			return fmt.Errorf("broadcaster %q already has feed %q pushed to %s with this streamid: %w", d.BroadcasterID, d.FeedID, d.Address, catalog.ErrConflict)
		}
		tx.changed(changeDestination, opPut, d.ID)
		return err
	}, func(snap *catalog.Snapshot) *catalog.Snapshot {
		d.Latency = d.Latency.Truncate(time.Millisecond)
		d.CreatedAt = stored(d.CreatedAt)
		return snap.WithDestination(d)
	})
}

// DeleteDestination removes one of the broadcaster's destinations.
func (s *Store) DeleteDestination(ctx context.Context, broadcasterID, id string) error {
	return s.write(ctx, func(tx *dbTx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM destinations WHERE id = ? AND broadcaster_id = ?`, id, broadcasterID)
		if err != nil {
			return err
		}
		tx.changed(changeDestination, opDelete, id)
		return affectedOne(res, "destination", id)
	}, func(snap *catalog.Snapshot) *catalog.Snapshot { return snap.WithoutDestination(id) })
}

// loadCallerSources reads the caller sources a where clause (or "": all) selects.
func loadCallerSources(ctx context.Context, q queryer, where string, args ...any) ([]catalog.CallerSource, error) {
	rows, err := q.QueryContext(ctx,
		`SELECT feed_id, role, address, streamid, passphrase, latency_ms, created_at, updated_at FROM sources `+where+` ORDER BY feed_id`, args...)
	if err != nil {
		return nil, fmt.Errorf("load caller sources: %w", err)
	}
	defer rows.Close()
	var out []catalog.CallerSource
	for rows.Next() {
		var src catalog.CallerSource
		var latencyMS int64
		var created, updated string
		if err := rows.Scan(&src.FeedID, &src.Role, &src.Address, &src.StreamID, &src.Passphrase, &latencyMS, &created, &updated); err != nil {
			return nil, fmt.Errorf("load caller sources: %w", err)
		}
		src.Latency = time.Duration(latencyMS) * time.Millisecond
		if src.CreatedAt, err = parseTime(created); err != nil {
			return nil, fmt.Errorf("load caller source of %s: %w", src.FeedID, err)
		}
		if src.UpdatedAt, err = parseTime(updated); err != nil {
			return nil, fmt.Errorf("load caller source of %s: %w", src.FeedID, err)
		}
		out = append(out, src)
	}
	return out, rows.Err()
}

// loadDestinations reads the destinations a where clause (or "": all) selects.
func loadDestinations(ctx context.Context, q queryer, where string, args ...any) ([]catalog.Destination, error) {
	rows, err := q.QueryContext(ctx,
		`SELECT id, broadcaster_id, feed_id, address, streamid, passphrase, latency_ms, created_at FROM destinations `+where+` ORDER BY created_at, id`, args...)
	if err != nil {
		return nil, fmt.Errorf("load destinations: %w", err)
	}
	defer rows.Close()
	var out []catalog.Destination
	for rows.Next() {
		var d catalog.Destination
		var latencyMS int64
		var created string
		if err := rows.Scan(&d.ID, &d.BroadcasterID, &d.FeedID, &d.Address, &d.StreamID, &d.Passphrase, &latencyMS, &created); err != nil {
			return nil, fmt.Errorf("load destinations: %w", err)
		}
		d.Latency = time.Duration(latencyMS) * time.Millisecond
		if d.CreatedAt, err = parseTime(created); err != nil {
			return nil, fmt.Errorf("load destination %s: %w", d.ID, err)
		}
		out = append(out, d)
	}
	return out, rows.Err()
}
