package store

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/podium-broadcast/podium/internal/catalog"
)

// CreateFeed adds a feed; an id already in use is catalog.ErrConflict.
func (s *Store) CreateFeed(ctx context.Context, f catalog.Feed) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx,
			`INSERT INTO feeds (id, name, kind, publish_passphrase, backup_publish_passphrase, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
			f.ID, f.Name, string(f.Kind), f.PublishPassphrase, f.BackupPublishPassphrase, formatTime(f.CreatedAt))
		if isUniqueViolation(err) {
			return fmt.Errorf("feed %q already exists: %w", f.ID, catalog.ErrConflict)
		}
		return err
	})
}

// DeleteFeed removes a feed and every entitlement to it.
func (s *Store) DeleteFeed(ctx context.Context, id string) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM feeds WHERE id = ?`, id)
		if err != nil {
			return err
		}
		return affectedOne(res, "feed", id)
	})
}

func (s *Store) loadFeeds(ctx context.Context) ([]catalog.Feed, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, name, kind, publish_passphrase, backup_publish_passphrase, created_at FROM feeds ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("load feeds: %w", err)
	}
	defer rows.Close()
	var out []catalog.Feed
	for rows.Next() {
		var f catalog.Feed
		var kind, created string
		if err := rows.Scan(&f.ID, &f.Name, &kind, &f.PublishPassphrase, &f.BackupPublishPassphrase, &created); err != nil {
			return nil, fmt.Errorf("load feeds: %w", err)
		}
		f.Kind = catalog.FeedKind(kind)
		if f.CreatedAt, err = parseTime(created); err != nil {
			return nil, fmt.Errorf("load feed %s: %w", f.ID, err)
		}
		out = append(out, f)
	}
	return out, rows.Err()
}
