package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/podium-broadcast/podium/internal/catalog"
)

// MaxClipLength is the longest clip: from its start to its end, set or to be set.
const MaxClipLength = 3 * time.Hour

// Clip states.
const (
	ClipQueued  = "queued"
	ClipRunning = "running"
	ClipReady   = "ready"
	ClipFailed  = "failed"
)

// Clip is an entry of the clip library: a range of a feed, its metadata, and
// the state of its export. The library is kept beside the catalog, not in
// it: clips are never part of a snapshot.
type Clip struct {
	ID     string
	FeedID string
	// Owner is the broadcaster that cut the clip, "" for the operator.
	Owner string
	// End is zero while the clip is open: marked in, not yet out.
	Start, End  time.Time
	Title       string
	Description string
	Tags        []string
	Athletes    []string
	// SessionID, Sport, Event, Phase and Venue come from the schedule
	// session that covered Start on the feed when the clip was made.
	SessionID                  string
	Sport, Event, Phase, Venue string
	// Mode is copy, exact or vertical; Format mp4 or ts.
	Mode, Format string
	// Status is ClipQueued, ClipRunning, ClipReady or ClipFailed.
	Status   string
	Progress float64
	Error    string
	Duration time.Duration
	Size     int64
	// Path and Thumbnail are the files the clip engine wrote.
	Path, Thumbnail      string
	CreatedAt, UpdatedAt time.Time
}

// Open reports whether the clip has no end yet.
func (c Clip) Open() bool { return c.End.IsZero() }

// clipColumns are the columns of clips c that scanClip reads, in its order.
const clipColumns = `c.seq, c.id, c.feed_id, c.owner, c.start_ms, c.end_ms, c.title, c.description, c.tags, c.athletes,
	c.session_id, c.sport, c.event, c.phase, c.venue, c.mode, c.format, c.status, c.progress, c.error,
	c.duration_ms, c.size, c.path, c.thumbnail, c.created_at, c.updated_at`

// CreateClips adds clips to the library in one transaction; an id already
// in use is catalog.ErrConflict.
func (s *Store) CreateClips(ctx context.Context, clips ...Clip) error {
	seqs := make([]int64, len(clips))
	return s.indexedClipTx(ctx, func(tx *dbTx) error {
		insert, err := tx.PrepareContext(ctx, `INSERT INTO clips (id, feed_id, owner, start_ms, end_ms, title, description, tags, athletes,
			session_id, sport, event, phase, venue, mode, format, status, progress, error, duration_ms, size, path, thumbnail, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING seq`)
		if err != nil {
			return err
		}
		defer insert.Close()
		for i, c := range clips {
			err := insert.QueryRowContext(ctx, c.ID, c.FeedID, c.Owner, c.Start.UnixMilli(), endMillis(c.End), c.Title, c.Description,
				jsonList(c.Tags), jsonList(c.Athletes), c.SessionID, c.Sport, c.Event, c.Phase, c.Venue, c.Mode, c.Format,
				c.Status, c.Progress, c.Error, c.Duration.Milliseconds(), c.Size, c.Path, c.Thumbnail,
				formatTime(c.CreatedAt), formatTime(c.UpdatedAt)).Scan(&seqs[i])
			if tx.d.isUniqueViolation(err) {
				return fmt.Errorf("clip %q already exists: %w", c.ID, catalog.ErrConflict)
			}
			if err != nil {
				return fmt.Errorf("add clip %s: %w", c.ID, tx.d.classify(err))
			}
			if err := setAthletes(ctx, tx, seqs[i], c.Athletes); err != nil {
				return err
			}
			if err := setSearchWords(ctx, tx, seqs[i], c); err != nil {
				return err
			}
			tx.changed(changeClip, opPut, strconv.FormatInt(seqs[i], 10))
		}
		return nil
	}, func(x *clipIndex) {
		for i, c := range clips {
			x.put(seqs[i], c)
		}
	})
}

// Clip returns the clip with the given id (catalog.ErrNotFound if none).
func (s *Store) Clip(ctx context.Context, id string) (Clip, error) {
	return scanClip(s.reads.QueryRowContext(ctx, `SELECT `+clipColumns+` FROM clips c WHERE c.id = ?`, id), id)
}

// ClipsWithStatus lists the clips in any of the given states, oldest first:
// on a restart, the queued and running ones are submitted again.
func (s *Store) ClipsWithStatus(ctx context.Context, statuses ...string) ([]Clip, error) {
	if len(statuses) == 0 {
		return []Clip{}, nil
	}
	args := make([]any, len(statuses))
	for i, st := range statuses {
		args[i] = st
	}
	return queryClips(ctx, s.reads, `SELECT `+clipColumns+` FROM clips c WHERE c.status IN (`+placeholders(len(args))+`) ORDER BY c.seq`, args...)
}

// ClipState is what the clip engine reports of an export. Empty Path and
// Thumbnail, and zero Size and Duration, leave the clip's as they are.
type ClipState struct {
	Status    string
	Progress  float64
	Error     string
	Path      string
	Size      int64
	Duration  time.Duration
	Thumbnail string
}

// SetClipState records the export's state and returns the clip as it now is.
func (s *Store) SetClipState(ctx context.Context, id string, st ClipState, now time.Time) (Clip, error) {
	var out Clip
	err := s.clipTx(ctx, func(tx *dbTx) error {
		res, err := tx.ExecContext(ctx, `UPDATE clips SET status = ?, progress = ?, error = ?,
			path = CASE WHEN ? = '' THEN path ELSE ? END, size = CASE WHEN ? = 0 THEN size ELSE ? END,
			duration_ms = CASE WHEN ? = 0 THEN duration_ms ELSE ? END, thumbnail = CASE WHEN ? = '' THEN thumbnail ELSE ? END,
			updated_at = ? WHERE id = ?`,
			st.Status, st.Progress, st.Error, st.Path, st.Path, st.Size, st.Size, st.Duration.Milliseconds(), st.Duration.Milliseconds(),
			st.Thumbnail, st.Thumbnail, formatTime(now), id)
		if err != nil {
			return fmt.Errorf("clip %s state: %w", id, err)
		}
		if err := affectedOne(res, "clip", id); err != nil {
			return err
		}
		out, err = scanClip(tx.QueryRowContext(ctx, `SELECT `+clipColumns+` FROM clips c WHERE c.id = ?`, id), id)
		return err
	})
	return out, err
}

// ClipEdit changes a clip's metadata, and closes an open clip; nil fields are left alone.
type ClipEdit struct {
	Title, Description *string
	Tags, Athletes     *[]string
	// End closes an open clip; a clip that has an end is catalog.ErrConflict.
	End *time.Time
}

// EditClip applies the edit and returns the clip as it now is.
func (s *Store) EditClip(ctx context.Context, id string, e ClipEdit, now time.Time) (Clip, error) {
	var out Clip
	var seq int64
	err := s.indexedClipTx(ctx, func(tx *dbTx) error {
		c, err := scanClip(tx.QueryRowContext(ctx, `SELECT `+clipColumns+` FROM clips c WHERE c.id = ?`, id), id)
		if err != nil {
			return err
		}
		if err := tx.QueryRowContext(ctx, `SELECT seq FROM clips WHERE id = ?`, id).Scan(&seq); err != nil {
			return err
		}
		if e.End != nil {
			if !c.Open() {
				return fmt.Errorf("clip %q already ends at %s: %w", id, c.End.UTC().Format(time.RFC3339), catalog.ErrConflict)
			}
			c.End = *e.End
		}
		for _, f := range []struct {
			from *string
			to   *string
		}{{e.Title, &c.Title}, {e.Description, &c.Description}} {
			if f.from != nil {
				*f.to = *f.from
			}
		}
		if e.Tags != nil {
			c.Tags = *e.Tags
		}
		if e.Athletes != nil {
			c.Athletes = *e.Athletes
			if _, err := tx.ExecContext(ctx, `DELETE FROM clip_athletes WHERE clip_seq = ?`, seq); err != nil {
				return err
			}
			if err := setAthletes(ctx, tx, seq, c.Athletes); err != nil {
				return err
			}
		}
		c.UpdatedAt = now
		if _, err := tx.ExecContext(ctx, `UPDATE clips SET end_ms = ?, title = ?, description = ?, tags = ?, athletes = ?, updated_at = ? WHERE id = ?`,
			endMillis(c.End), c.Title, c.Description, jsonList(c.Tags), jsonList(c.Athletes), formatTime(now), id); err != nil {
			return fmt.Errorf("edit clip %s: %w", id, err)
		}
		if err := setSearchWords(ctx, tx, seq, c); err != nil {
			return err
		}
		tx.changed(changeClip, opPut, strconv.FormatInt(seq, 10))
		out = c
		return nil
	}, func(x *clipIndex) { x.put(seq, out) })
	return out, err
}

// DeleteClip removes a clip from the library (its files are the engine's to remove).
func (s *Store) DeleteClip(ctx context.Context, id string) error {
	var seq int64
	return s.indexedClipTx(ctx, func(tx *dbTx) error {
		err := tx.QueryRowContext(ctx, `DELETE FROM clips WHERE id = ? RETURNING seq`, id).Scan(&seq)
		if errors.Is(err, sql.ErrNoRows) {
			return notFound("clip", id)
		}
		if err != nil {
			return fmt.Errorf("delete clip %s: %w", id, err)
		}
		tx.changed(changeClip, opDelete, strconv.FormatInt(seq, 10))
		return nil
	}, func(x *clipIndex) { x.remove(seq) })
}

// queryer is what clips are read from: the database or a transaction.
type queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

func queryClips(ctx context.Context, db queryer, query string, args ...any) ([]Clip, error) {
	rows, err := db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("read clips: %w", err)
	}
	defer rows.Close()
	out := []Clip{}
	for rows.Next() {
		c, err := scanClip(rows, "")
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

type scanner interface{ Scan(dest ...any) error }

// scanClip reads a row of clipColumns; id names the clip a missing row is reported as.
func scanClip(row scanner, id string) (Clip, error) {
	var c Clip
	var seq, start, durationMS int64
	var end sql.NullInt64
	var tags, athletes, created, updated string
	err := row.Scan(&seq, &c.ID, &c.FeedID, &c.Owner, &start, &end, &c.Title, &c.Description, &tags, &athletes,
		&c.SessionID, &c.Sport, &c.Event, &c.Phase, &c.Venue, &c.Mode, &c.Format, &c.Status, &c.Progress, &c.Error,
		&durationMS, &c.Size, &c.Path, &c.Thumbnail, &created, &updated)
	if errors.Is(err, sql.ErrNoRows) {
		return c, notFound("clip", id)
	}
	if err != nil {
		return c, fmt.Errorf("read clip: %w", err)
	}
	c.Start = time.UnixMilli(start).UTC()
	if end.Valid {
		c.End = time.UnixMilli(end.Int64).UTC()
	}
	c.Duration = time.Duration(durationMS) * time.Millisecond
	if err := json.Unmarshal([]byte(tags), &c.Tags); err != nil {
		return c, fmt.Errorf("clip %s tags: %w", c.ID, err)
	}
	if err := json.Unmarshal([]byte(athletes), &c.Athletes); err != nil {
		return c, fmt.Errorf("clip %s athletes: %w", c.ID, err)
	}
	if c.CreatedAt, err = parseTime(created); err != nil {
		return c, fmt.Errorf("clip %s: %w", c.ID, err)
	}
	if c.UpdatedAt, err = parseTime(updated); err != nil {
		return c, fmt.Errorf("clip %s: %w", c.ID, err)
	}
	return c, nil
}

func setAthletes(ctx context.Context, tx *dbTx, seq int64, athletes []string) error {
	for _, a := range athletes {
		if _, err := tx.ExecContext(ctx, `INSERT INTO clip_athletes (clip_seq, athlete) VALUES (?, ?) ON CONFLICT DO NOTHING`, seq, a); err != nil {
			return fmt.Errorf("clip athletes: %w", err)
		}
	}
	return nil
}

// clipTx runs fn in a transaction of the library. It changes nothing a
// search filters on, so takes no catalog version.
func (s *Store) clipTx(ctx context.Context, fn func(tx *dbTx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// indexedClipTx runs fn in a transaction of the library that takes the
// next catalog version (the other nodes' indexes follow it), then, once
// it has committed, gives the clip index what fn changed with indexed. The
// index is locked from before the transaction begins: see clipIndex.
func (s *Store) indexedClipTx(ctx context.Context, fn func(tx *dbTx) error, indexed func(*clipIndex)) error {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	s.clips.mu.Lock()
	version, err := s.commit(ctx, fn)
	if err != nil {
		s.clips.mu.Unlock()
		return err
	}
	s.sync.seen(version)
	if s.sync.at() == version-1 {
		indexed(s.clips)
		s.clips.mu.Unlock()
		s.sync.applied(version, version)
		return nil
	}
	// Another node's write came between: take both from the database.
	s.clips.mu.Unlock()
	if err := s.catchUpLocked(ctx); err != nil {
		s.log.Warn("clip index not caught up after a write", "version", version, "err", err)
	}
	return nil
}

// setSearchWords keeps PostgreSQL's full-text index of the clip stored at
// seq (SQLite's is kept by triggers).
func setSearchWords(ctx context.Context, tx *dbTx, seq int64, c Clip) error {
	if tx.d.name != "postgres" {
		return nil
	}
	if _, err := tx.ExecContext(ctx, `UPDATE clips SET search_words = ? WHERE seq = ?`, searchWords(c), seq); err != nil {
		return fmt.Errorf("clip %s search words: %w", c.ID, err)
	}
	return nil
}

func endMillis(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixMilli()
}

func jsonList(items []string) string {
	if items == nil {
		items = []string{}
	}
	data, _ := json.Marshal(items)
	return string(data)
}

// placeholders returns n comma-separated SQL parameters.
func placeholders(n int) string {
	if n == 0 {
		return ""
	}
	return strings.Repeat("?, ", n-1) + "?"
}
