package store

import (
	"context"
	"fmt"
	"time"

	"github.com/podium-broadcast/podium/internal/catalog"
)

// CreateFeed adds a feed; an id already in use is catalog.ErrConflict.
func (s *Store) CreateFeed(ctx context.Context, f catalog.Feed) error {
	return s.write(ctx, func(tx *dbTx) error {
		_, err := tx.ExecContext(ctx,
			`INSERT INTO feeds (id, name, kind, publish_passphrase, backup_publish_passphrase, record, record_max_age_s, record_max_bytes, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			f.ID, f.Name, string(f.Kind), f.PublishPassphrase, f.BackupPublishPassphrase,
			f.Recording.Enabled, int64(f.Recording.MaxAge/time.Second), f.Recording.MaxBytes, formatTime(f.CreatedAt))
		if tx.d.isUniqueViolation(err) {
			return fmt.Errorf("feed %q already exists: %w", f.ID, catalog.ErrConflict)
		}
		tx.changed(changeFeed, opPut, f.ID)
		return err
	}, func(snap *catalog.Snapshot) *catalog.Snapshot {
		f.CreatedAt = stored(f.CreatedAt)
		f.Recording.MaxAge = f.Recording.MaxAge.Truncate(time.Second)
		return snap.WithFeed(f)
	})
}

// SetRecording changes a feed's archive setting.
func (s *Store) SetRecording(ctx context.Context, id string, p catalog.RecordingPolicy) error {
	return s.write(ctx, func(tx *dbTx) error {
		res, err := tx.ExecContext(ctx, `UPDATE feeds SET record = ?, record_max_age_s = ?, record_max_bytes = ? WHERE id = ?`,
			p.Enabled, int64(p.MaxAge/time.Second), p.MaxBytes, id)
		if err != nil {
			return err
		}
		tx.changed(changeFeed, opPut, id)
		return affectedOne(res, "feed", id)
	}, func(snap *catalog.Snapshot) *catalog.Snapshot {
		f, _ := snap.Feed(id)
		p.MaxAge = p.MaxAge.Truncate(time.Second)
		f.Recording = p
		return snap.WithFeed(f)
	})
}

// DeleteFeed removes a feed and every entitlement to it.
func (s *Store) DeleteFeed(ctx context.Context, id string) error {
	return s.write(ctx, func(tx *dbTx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM feeds WHERE id = ?`, id)
		if err != nil {
			return err
		}
		tx.changed(changeFeed, opDelete, id)
		return affectedOne(res, "feed", id)
	}, func(snap *catalog.Snapshot) *catalog.Snapshot { return snap.WithoutFeed(id) })
}

// loadFeeds reads the feeds a where clause (or "": all) selects.
func loadFeeds(ctx context.Context, q queryer, where string, args ...any) ([]catalog.Feed, error) {
	rows, err := q.QueryContext(ctx, `SELECT id, name, kind, publish_passphrase, backup_publish_passphrase, record, record_max_age_s, record_max_bytes, created_at
		FROM feeds `+where+` ORDER BY id`, args...)
	if err != nil {
		return nil, fmt.Errorf("load feeds: %w", err)
	}
	defer rows.Close()
	var out []catalog.Feed
	for rows.Next() {
		var f catalog.Feed
		var kind, created string
		var maxAge int64
		if err := rows.Scan(&f.ID, &f.Name, &kind, &f.PublishPassphrase, &f.BackupPublishPassphrase,
			&f.Recording.Enabled, &maxAge, &f.Recording.MaxBytes, &created); err != nil {
			return nil, fmt.Errorf("load feeds: %w", err)
		}
		f.Kind = catalog.FeedKind(kind)
		f.Recording.MaxAge = time.Duration(maxAge) * time.Second
		if f.CreatedAt, err = parseTime(created); err != nil {
			return nil, fmt.Errorf("load feed %s: %w", f.ID, err)
		}
		out = append(out, f)
	}
	return out, rows.Err()
}
