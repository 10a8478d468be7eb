package store

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"

	"github.com/podium-broadcast/podium/internal/catalog"
)

// CreateBroadcaster adds a broadcaster, drawing its generation unless b
// has one; an id already in use is catalog.ErrConflict.
func (s *Store) CreateBroadcaster(ctx context.Context, b catalog.Broadcaster) error {
	territories, err := json.Marshal(b.Territories)
	if err != nil {
		return err
	}
	for b.Generation == 0 {
		b.Generation = rand.Uint64()
	}
	return s.write(ctx, func(tx *dbTx) error {
		_, err := tx.ExecContext(ctx,
			`INSERT INTO broadcasters (id, name, territories, srt_passphrase, api_key_hash, created_at, generation) VALUES (?, ?, ?, ?, ?, ?, ?)`,
			b.ID, b.Name, string(territories), b.SRTPassphrase, b.APIKeyHash, formatTime(b.CreatedAt), int64(b.Generation))
		if tx.d.isUniqueViolation(err) {
			return fmt.Errorf("broadcaster %q already exists: %w", b.ID, catalog.ErrConflict)
		}
		tx.changed(changeBroadcaster, opPut, b.ID)
		return err
	}, func(snap *catalog.Snapshot) *catalog.Snapshot {
		b.CreatedAt = stored(b.CreatedAt)
		return snap.WithBroadcaster(b)
	})
}

// DeleteBroadcaster removes a broadcaster and all its entitlements.
func (s *Store) DeleteBroadcaster(ctx context.Context, id string) error {
	return s.write(ctx, func(tx *dbTx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM broadcasters WHERE id = ?`, id)
		if err != nil {
			return err
		}
		tx.changed(changeBroadcaster, opDelete, id)
		return affectedOne(res, "broadcaster", id)
	}, func(snap *catalog.Snapshot) *catalog.Snapshot { return snap.WithoutBroadcaster(id) })
}

// loadBroadcasters reads the broadcasters a where clause (or "": all) selects.
func loadBroadcasters(ctx context.Context, q queryer, where string, args ...any) ([]catalog.Broadcaster, error) {
	rows, err := q.QueryContext(ctx, `SELECT id, name, territories, srt_passphrase, api_key_hash, created_at, generation FROM broadcasters `+where+` ORDER BY id`, args...)
	if err != nil {
		return nil, fmt.Errorf("load broadcasters: %w", err)
	}
	defer rows.Close()
	var out []catalog.Broadcaster
	for rows.Next() {
		var b catalog.Broadcaster
		var territories, created string
		var generation int64
		if err := rows.Scan(&b.ID, &b.Name, &territories, &b.SRTPassphrase, &b.APIKeyHash, &created, &generation); err != nil {
			return nil, fmt.Errorf("load broadcasters: %w", err)
		}
		if err := json.Unmarshal([]byte(territories), &b.Territories); err != nil {
			return nil, fmt.Errorf("load broadcaster %s territories: %w", b.ID, err)
		}
		b.Generation = uint64(generation)
		if b.CreatedAt, err = parseTime(created); err != nil {
			return nil, fmt.Errorf("load broadcaster %s: %w", b.ID, err)
		}
		out = append(out, b)
	}
	return out, rows.Err()
}
