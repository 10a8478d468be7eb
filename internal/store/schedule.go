package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/podium-broadcast/podium/internal/catalog"
)

// ImportError is a schedule import refused for one of its sessions: Index
// is the session's place in the import (0-based), Err what is wrong with it
// (a *RefError for a feed that does not exist).
type ImportError struct {
	Index int
	Err   error
}

func (e *ImportError) Error() string { return fmt.Sprintf("session %d: %v", e.Index, e.Err) }
func (e *ImportError) Unwrap() error { return e.Err }

// ImportSchedule adds the sessions, replacing those whose id is already in
// the schedule, all in one transaction: a session naming a feed that does
// not exist refuses the whole import (an *ImportError). It returns how many
// sessions were new and how many replaced.
func (s *Store) ImportSchedule(ctx context.Context, sessions []catalog.Session, now time.Time) (created, updated int, err error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, 0, fmt.Errorf("begin schedule import: %w", err)
	}
	defer tx.Rollback()
	for i, ses := range sessions {
		for _, feedID := range ses.FeedIDs {
			if err := exists(ctx, tx, "feeds", feedID); errors.Is(err, sql.ErrNoRows) {
				return 0, 0, &ImportError{Index: i, Err: &RefError{Field: "feed_ids", Err: notFound("feed", feedID)}}
			} else if err != nil {
				return 0, 0, fmt.Errorf("schedule import: %w", err)
			}
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM schedule_sessions WHERE id = ?`, ses.ID)
		if err != nil {
			return 0, 0, fmt.Errorf("schedule import %s: %w", ses.ID, err)
		}
		if n, _ := res.RowsAffected(); n > 0 {
			updated++
		} else {
			created++
		}
		if _, err := tx.ExecContext(ctx,
			`INSERT INTO schedule_sessions (id, sport, event, phase, venue, start_ms, end_ms, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			ses.ID, ses.Sport, ses.Event, ses.Phase, ses.Venue, ses.Start.UnixMilli(), ses.End.UnixMilli(), formatTime(now)); err != nil {
			return 0, 0, fmt.Errorf("schedule import %s: %w", ses.ID, err)
		}
		for pos, feedID := range ses.FeedIDs {
			if _, err := tx.ExecContext(ctx, `INSERT INTO session_feeds (session_id, feed_id, position) VALUES (?, ?, ?)`, ses.ID, feedID, pos); err != nil {
				return 0, 0, fmt.Errorf("schedule import %s: %w", ses.ID, err)
			}
		}
	}
	if err := tx.Commit(); err != nil {
		return 0, 0, fmt.Errorf("commit schedule import: %w", err)
	}
	return created, updated, nil
}

// SessionQuery selects sessions of the schedule; zero fields do not filter.
type SessionQuery struct {
	// From and To: sessions overlapping [From, To].
	From, To time.Time
	// Sport and Venue match exactly, ignoring case.
	Sport, Venue string
}

// Sessions lists the sessions the query selects, by start, then id.
func (s *Store) Sessions(ctx context.Context, q SessionQuery) ([]catalog.Session, error) {
	var where []string
	var args []any
	if !q.From.IsZero() {
		where, args = append(where, "s.end_ms > ?"), append(args, q.From.UnixMilli())
	}
	if !q.To.IsZero() {
		where, args = append(where, "s.start_ms <= ?"), append(args, q.To.UnixMilli())
	}
	if q.Sport != "" {
		where, args = append(where, s.d.equalFoldASCII("s.sport")), append(args, q.Sport)
	}
	if q.Venue != "" {
		where, args = append(where, s.d.equalFoldASCII("s.venue")), append(args, q.Venue)
	}
	query := `SELECT ` + sessionColumns + ` FROM schedule_sessions s`
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	return s.querySessions(ctx, query+" ORDER BY s.start_ms, s.id", args...)
}

// SessionAt returns the session that the feed carries at instant t (the
// latest to start, if several overlap); ok is false when there is none.
func (s *Store) SessionAt(ctx context.Context, feedID string, t time.Time) (ses catalog.Session, ok bool, err error) {
	ms := t.UnixMilli()
	found, err := s.querySessions(ctx, `SELECT `+sessionColumns+`
		FROM schedule_sessions s JOIN session_feeds f ON f.session_id = s.id
		WHERE f.feed_id = ? AND s.start_ms <= ? AND s.end_ms > ? ORDER BY s.start_ms DESC, s.id LIMIT 1`, feedID, ms, ms)
	if err != nil || len(found) == 0 {
		return catalog.Session{}, false, err
	}
	return found[0], true, nil
}

// sessionColumns are a session's columns of schedule_sessions s, then its feeds joined by ";".
const sessionColumns = `s.id, s.sport, s.event, s.phase, s.venue, s.start_ms, s.end_ms,
	(SELECT string_agg(feed_id, ';' ORDER BY position) FROM session_feeds WHERE session_id = s.id)`

func (s *Store) querySessions(ctx context.Context, query string, args ...any) ([]catalog.Session, error) {
	rows, err := s.reads.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("read schedule: %w", err)
	}
	defer rows.Close()
	out := []catalog.Session{}
	for rows.Next() {
		var ses catalog.Session
		var start, end int64
		var feeds sql.NullString
		if err := rows.Scan(&ses.ID, &ses.Sport, &ses.Event, &ses.Phase, &ses.Venue, &start, &end, &feeds); err != nil {
			return nil, fmt.Errorf("read schedule: %w", err)
		}
		ses.Start, ses.End = time.UnixMilli(start).UTC(), time.UnixMilli(end).UTC()
		if feeds.String != "" {
			ses.FeedIDs = strings.Split(feeds.String, ";")
		}
		out = append(out, ses)
	}
	return out, rows.Err()
}
