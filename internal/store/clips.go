package store

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/podium-broadcast/podium/internal/catalog"
)

// clipsMigration is migration 7. Times are Unix milliseconds; end_ms is
// NULL while a clip is open (marked in, not yet out).
const clipsMigration = `CREATE TABLE clips (
		seq INTEGER PRIMARY KEY AUTOINCREMENT,
		id TEXT NOT NULL UNIQUE,
		feed_id TEXT NOT NULL,
		owner TEXT NOT NULL,
		start_ms INTEGER NOT NULL,
		end_ms INTEGER,
		title TEXT NOT NULL,
		description TEXT NOT NULL,
		tags TEXT NOT NULL,
		athletes TEXT NOT NULL,
		session_id TEXT NOT NULL,
		sport TEXT NOT NULL,
		event TEXT NOT NULL,
		phase TEXT NOT NULL,
		venue TEXT NOT NULL,
		mode TEXT NOT NULL,
		format TEXT NOT NULL,
		status TEXT NOT NULL,
		progress REAL NOT NULL,
		error TEXT NOT NULL,
		duration_ms INTEGER NOT NULL,
		size INTEGER NOT NULL,
		path TEXT NOT NULL,
		thumbnail TEXT NOT NULL,
		created_at TEXT NOT NULL,
		updated_at TEXT NOT NULL
	);
	CREATE INDEX clips_start ON clips(start_ms);
	CREATE INDEX clips_feed ON clips(feed_id, start_ms);
	CREATE INDEX clips_owner ON clips(owner, start_ms);
	CREATE INDEX clips_sport ON clips(sport COLLATE NOCASE);
	CREATE INDEX clips_event ON clips(event COLLATE NOCASE);
	CREATE INDEX clips_status ON clips(status);
	CREATE TABLE clip_athletes (
		clip_seq INTEGER NOT NULL REFERENCES clips(seq) ON DELETE CASCADE,
		athlete TEXT NOT NULL COLLATE NOCASE,
		PRIMARY KEY (clip_seq, athlete)
	);
	CREATE INDEX clip_athletes_name ON clip_athletes(athlete, clip_seq);
	CREATE VIRTUAL TABLE clips_fts USING fts5(title, description, tags, athletes, sport, event, phase, venue,
		content='clips', content_rowid='seq', tokenize='unicode61 remove_diacritics 2');
	CREATE TRIGGER clips_fts_insert AFTER INSERT ON clips BEGIN
		INSERT INTO clips_fts(rowid, title, description, tags, athletes, sport, event, phase, venue)
		VALUES (new.seq, new.title, new.description, new.tags, new.athletes, new.sport, new.event, new.phase, new.venue);
	END;
	CREATE TRIGGER clips_fts_delete AFTER DELETE ON clips BEGIN
		INSERT INTO clips_fts(clips_fts, rowid, title, description, tags, athletes, sport, event, phase, venue)
		VALUES ('delete', old.seq, old.title, old.description, old.tags, old.athletes, old.sport, old.event, old.phase, old.venue);
	END;
	CREATE TRIGGER clips_fts_update AFTER UPDATE OF title, description, tags, athletes, sport, event, phase, venue ON clips BEGIN
		INSERT INTO clips_fts(clips_fts, rowid, title, description, tags, athletes, sport, event, phase, venue)
		VALUES ('delete', old.seq, old.title, old.description, old.tags, old.athletes, old.sport, old.event, old.phase, old.venue);
		INSERT INTO clips_fts(rowid, title, description, tags, athletes, sport, event, phase, venue)
		VALUES (new.seq, new.title, new.description, new.tags, new.athletes, new.sport, new.event, new.phase, new.venue);
	END;`

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
	return s.clipTx(ctx, func(tx *sql.Tx) error {
		insert, err := tx.PrepareContext(ctx, `INSERT INTO clips (id, feed_id, owner, start_ms, end_ms, title, description, tags, athletes,
			session_id, sport, event, phase, venue, mode, format, status, progress, error, duration_ms, size, path, thumbnail, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
		if err != nil {
			return err
		}
		defer insert.Close()
		for _, c := range clips {
			res, err := insert.ExecContext(ctx, c.ID, c.FeedID, c.Owner, c.Start.UnixMilli(), endMillis(c.End), c.Title, c.Description,
				jsonList(c.Tags), jsonList(c.Athletes), c.SessionID, c.Sport, c.Event, c.Phase, c.Venue, c.Mode, c.Format,
				c.Status, c.Progress, c.Error, c.Duration.Milliseconds(), c.Size, c.Path, c.Thumbnail,
				formatTime(c.CreatedAt), formatTime(c.UpdatedAt))
			if isUniqueViolation(err) {
				return fmt.Errorf("clip %q already exists: %w", c.ID, catalog.ErrConflict)
			}
			if err != nil {
				return fmt.Errorf("add clip %s: %w", c.ID, err)
			}
			seq, err := res.LastInsertId()
			if err != nil {
				return err
			}
			if err := setAthletes(ctx, tx, seq, c.Athletes); err != nil {
				return err
			}
		}
		return nil
	})
}

// Clip returns the clip with the given id (catalog.ErrNotFound if none).
func (s *Store) Clip(ctx context.Context, id string) (Clip, error) {
	return scanClip(s.db.QueryRowContext(ctx, `SELECT `+clipColumns+` FROM clips c WHERE c.id = ?`, id), id)
}

// ClipsWithStatus lists the clips in any of the given states, oldest first:
// on a restart, the queued and running ones are submitted again.
func (s *Store) ClipsWithStatus(ctx context.Context, statuses ...string) ([]Clip, error) {
	args := make([]any, len(statuses))
	for i, st := range statuses {
		args[i] = st
	}
	return s.queryClips(ctx, `SELECT `+clipColumns+` FROM clips c WHERE c.status IN (`+placeholders(len(args))+`) ORDER BY c.seq`, args...)
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
	err := s.clipTx(ctx, func(tx *sql.Tx) error {
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
	err := s.clipTx(ctx, func(tx *sql.Tx) error {
		c, err := scanClip(tx.QueryRowContext(ctx, `SELECT `+clipColumns+` FROM clips c WHERE c.id = ?`, id), id)
		if err != nil {
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
			var seq int64
			if err := tx.QueryRowContext(ctx, `SELECT seq FROM clips WHERE id = ?`, id).Scan(&seq); err != nil {
				return err
			}
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
		out = c
		return nil
	})
	return out, err
}

// DeleteClip removes a clip from the library (its files are the engine's to remove).
func (s *Store) DeleteClip(ctx context.Context, id string) error {
	res, err := s.db.ExecContext(ctx, `DELETE FROM clips WHERE id = ?`, id)
	if err != nil {
		return fmt.Errorf("delete clip %s: %w", id, err)
	}
	return affectedOne(res, "clip", id)
}

// ClipRights limits a search to what a broadcaster may see: clips of the
// feeds it is entitled to, and its own.
type ClipRights struct {
	Owner string
	Feeds []string
}

// ClipQuery is a search of the library; zero fields do not filter.
type ClipQuery struct {
	// Text is matched, word by word and by prefix, against the title,
	// description, tags, athletes, sport, event, phase and venue.
	Text string
	// Sport, Event and Athlete match exactly, ignoring case.
	Sport, Event, Athlete string
	FeedID                string
	// From and To: clips overlapping [From, To] (an open clip runs on, up
	// to MaxClipLength from its start).
	From, To time.Time
	// Rights nil: every clip (the operator).
	Rights *ClipRights
	// Limit is the page size (at least 1); Offset skips that many clips.
	Limit, Offset int
}

// Facets the library counts.
const (
	FacetSport   = "sport"
	FacetEvent   = "event"
	FacetAthlete = "athlete"
	FacetFeed    = "feed"
)

// MaxFacetValues is how many values of each facet a search counts (the most frequent).
const MaxFacetValues = 50

// ClipPage is a page of search results, with the number of clips the
// search selects and, by facet, how many of those carry each value.
type ClipPage struct {
	Clips  []Clip
	Total  int
	Facets map[string]map[string]int
}

// SearchClips runs a search: a page of clips, newest first (by start), the
// number selected and the facet counts. Its cost grows with the number of
// clips selected, which are all counted.
func (s *Store) SearchClips(ctx context.Context, q ClipQuery) (ClipPage, error) {
	from, where, args := clipFilter(q)
	page := ClipPage{Facets: map[string]map[string]int{}}
	var err error
	// The page's clips are picked by start alone, then read: sorting whole
	// rows of a large selection would read every one of them.
	page.Clips, err = s.queryClips(ctx, `SELECT `+clipColumns+` FROM clips c WHERE c.seq IN (SELECT c.seq`+from+where+
		` ORDER BY c.start_ms DESC, c.seq DESC LIMIT ? OFFSET ?) ORDER BY c.start_ms DESC, c.seq DESC`,
		append(args, max(q.Limit, 1), max(q.Offset, 0))...)
	if err != nil {
		return page, err
	}
	if where == "" {
		err = s.libraryFacets(ctx, &page)
	} else {
		err = s.selectionFacets(ctx, &page, from, where, args)
	}
	if err != nil {
		return page, err
	}
	athletesOf := from + ` JOIN clip_athletes a ON a.clip_seq = c.seq` + where
	if where == "" {
		athletesOf = ` FROM clip_athletes a`
	}
	athletes, err := s.facet(ctx, `SELECT a.athlete, count(*)`+athletesOf+` GROUP BY a.athlete ORDER BY 2 DESC, 1 LIMIT ?`,
		append(args, MaxFacetValues)...)
	if err != nil {
		return page, fmt.Errorf("count clips by athlete: %w", err)
	}
	page.Facets[FacetAthlete] = athletes
	return page, nil
}

// libraryFacets counts the whole library: each facet from its column's
// index, in the index's order, without reading the clips.
func (s *Store) libraryFacets(ctx context.Context, page *ClipPage) error {
	if err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM clips`).Scan(&page.Total); err != nil {
		return fmt.Errorf("count clips: %w", err)
	}
	for _, f := range []struct{ name, column string }{
		{FacetSport, `sport COLLATE NOCASE`}, {FacetEvent, `event COLLATE NOCASE`}, {FacetFeed, `feed_id`},
	} {
		counts, err := s.facet(ctx, `SELECT `+f.column+`, count(*) FROM clips GROUP BY 1 HAVING `+f.column+` != ''
			ORDER BY 2 DESC, 1 LIMIT ?`, MaxFacetValues)
		if err != nil {
			return fmt.Errorf("count clips by %s: %w", f.name, err)
		}
		page.Facets[f.name] = counts
	}
	return nil
}

// selectionFacets counts the clips a filter selects, and their sports,
// events and feeds, in one pass over them.
func (s *Store) selectionFacets(ctx context.Context, page *ClipPage, from, where string, args []any) error {
	rows, err := s.db.QueryContext(ctx, `SELECT c.sport COLLATE NOCASE, c.event COLLATE NOCASE, c.feed_id, count(*)`+from+where+` GROUP BY 1, 2, 3`, args...)
	if err != nil {
		return fmt.Errorf("count clips: %w", err)
	}
	defer rows.Close()
	counts := map[string]*facetCounter{FacetSport: newFacetCounter(), FacetEvent: newFacetCounter(), FacetFeed: newFacetCounter()}
	for rows.Next() {
		var sport, event, feed string
		var n int
		if err := rows.Scan(&sport, &event, &feed, &n); err != nil {
			return fmt.Errorf("count clips: %w", err)
		}
		page.Total += n
		counts[FacetSport].add(sport, n)
		counts[FacetEvent].add(event, n)
		counts[FacetFeed].add(feed, n)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("count clips: %w", err)
	}
	for name, c := range counts {
		page.Facets[name] = c.top(MaxFacetValues)
	}
	return nil
}

// facetCounter adds up a facet's counts by value, ignoring case (the first
// spelling met is kept) and empty values.
type facetCounter struct {
	counts   map[string]int
	spelling map[string]string
}

func newFacetCounter() *facetCounter {
	return &facetCounter{counts: map[string]int{}, spelling: map[string]string{}}
}

func (f *facetCounter) add(value string, n int) {
	if value == "" {
		return
	}
	key := strings.ToLower(value)
	if _, ok := f.spelling[key]; !ok {
		f.spelling[key] = value
	}
	f.counts[key] += n
}

// top returns the n most frequent values (ties by value).
func (f *facetCounter) top(n int) map[string]int {
	keys := slices.Collect(maps.Keys(f.counts))
	slices.SortFunc(keys, func(a, b string) int {
		if c := cmp.Compare(f.counts[b], f.counts[a]); c != 0 {
			return c
		}
		return strings.Compare(a, b)
	})
	out := make(map[string]int, min(n, len(keys)))
	for _, k := range keys[:min(n, len(keys))] {
		out[f.spelling[k]] = f.counts[k]
	}
	return out
}

// clipFilter returns the FROM clause, the WHERE clause and its arguments of a search.
func clipFilter(q ClipQuery) (from, where string, args []any) {
	from = ` FROM clips c`
	var conds []string
	if match := ftsQuery(q.Text); match != "" {
		from += ` JOIN clips_fts ON clips_fts.rowid = c.seq`
		conds, args = append(conds, `clips_fts MATCH ?`), append(args, match)
	}
	for _, f := range []struct{ cond, value string }{
		{`c.sport = ? COLLATE NOCASE`, q.Sport},
		{`c.event = ? COLLATE NOCASE`, q.Event},
		{`c.feed_id = ?`, q.FeedID},
		{`c.seq IN (SELECT clip_seq FROM clip_athletes WHERE athlete = ?)`, q.Athlete},
	} {
		if f.value != "" {
			conds, args = append(conds, f.cond), append(args, f.value)
		}
	}
	if !q.From.IsZero() {
		// No clip is longer than MaxClipLength, open ones included (their
		// end, when set, is bounded alike): the bound on start lets the
		// index on start narrow the search.
		conds, args = append(conds, `c.start_ms > ?`, `(c.end_ms IS NULL OR c.end_ms > ?)`),
			append(args, q.From.Add(-MaxClipLength).UnixMilli(), q.From.UnixMilli())
	}
	if !q.To.IsZero() {
		conds, args = append(conds, `c.start_ms <= ?`), append(args, q.To.UnixMilli())
	}
	if r := q.Rights; r != nil {
		cond := `(c.owner = ?`
		args = append(args, r.Owner)
		if len(r.Feeds) > 0 {
			cond += ` OR c.feed_id IN (` + placeholders(len(r.Feeds)) + `)`
			for _, f := range r.Feeds {
				args = append(args, f)
			}
		}
		conds = append(conds, cond+`)`)
	}
	if len(conds) > 0 {
		where = ` WHERE ` + strings.Join(conds, ` AND `)
	}
	return from, where, args
}

// ftsQuery turns what a user typed into an FTS5 query: every word (split as
// the index's tokenizer splits) must match, as a prefix. Nothing of the
// input is taken as FTS5 syntax.
func ftsQuery(text string) string {
	words := strings.FieldsFunc(text, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsNumber(r) })
	for i, w := range words {
		words[i] = `"` + w + `"*`
	}
	return strings.Join(words, " ")
}

func (s *Store) facet(ctx context.Context, query string, args ...any) (map[string]int, error) {
	rows, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var value string
		var n int
		if err := rows.Scan(&value, &n); err != nil {
			return nil, err
		}
		out[value] = n
	}
	return out, rows.Err()
}

func (s *Store) queryClips(ctx context.Context, query string, args ...any) ([]Clip, error) {
	rows, err := s.db.QueryContext(ctx, query, args...)
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

func setAthletes(ctx context.Context, tx *sql.Tx, seq int64, athletes []string) error {
	for _, a := range athletes {
		if _, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO clip_athletes (clip_seq, athlete) VALUES (?, ?)`, seq, a); err != nil {
			return fmt.Errorf("clip athletes: %w", err)
		}
	}
	return nil
}

// clipTx runs fn in a transaction of the library. Library writes do not
// touch the catalog, so no snapshot is rebuilt.
func (s *Store) clipTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
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
