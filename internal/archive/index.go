package archive

import (
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// index is the archive's table of closed segments, in its own SQLite file so
// that recording never waits on the catalog. A row exists only for a segment
// whose file is complete and synced, and is in the store (or, when the spool
// overflowed, in the local directory until it is uploaded). Segments closed
// but not yet uploaded to object storage wait in the spool table, which
// readers never see: their metadata outlives a restart there.
type index struct {
	db *sql.DB
}

const indexSchema = `CREATE TABLE IF NOT EXISTS segments (
	feed_id TEXT NOT NULL,
	seq INTEGER NOT NULL,
	path TEXT NOT NULL, -- the segment's key
	start_ns INTEGER NOT NULL,
	end_ns INTEGER NOT NULL,
	pts INTEGER NOT NULL,
	size INTEGER NOT NULL,
	discontinuity INTEGER NOT NULL,
	keyframes BLOB NOT NULL,
	PRIMARY KEY (feed_id, seq)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS segments_end ON segments(feed_id, end_ns);
CREATE TABLE IF NOT EXISTS spool (
	feed_id TEXT NOT NULL,
	seq INTEGER NOT NULL,
	path TEXT NOT NULL,
	start_ns INTEGER NOT NULL,
	end_ns INTEGER NOT NULL,
	pts INTEGER NOT NULL,
	size INTEGER NOT NULL,
	discontinuity INTEGER NOT NULL,
	keyframes BLOB NOT NULL,
	PRIMARY KEY (feed_id, seq)
) WITHOUT ROWID;`

func openIndex(ctx context.Context, dir string) (*index, error) {
	path := filepath.Join(dir, "index.db")
	dsn := "file:" + path + "?_pragma=journal_mode(WAL)&_pragma=busy_timeout(5000)&_pragma=synchronous(NORMAL)"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open archive index %s: %w", path, err)
	}
	db.SetMaxOpenConns(1)
	if _, err := db.ExecContext(ctx, indexSchema); err != nil {
		db.Close()
		return nil, fmt.Errorf("create archive index %s: %w", path, err)
	}
	// SQLite makes the -wal and -shm with the database's mode: all three
	// for Podium's user alone, whatever the umask was when they were made.
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		if err := os.Chmod(p, 0o600); err != nil && !os.IsNotExist(err) {
			db.Close()
			return nil, fmt.Errorf("protect archive index %s: %w", p, err)
		}
	}
	return &index{db: db}, nil
}

func (x *index) close() error { return x.db.Close() }

func (x *index) add(ctx context.Context, s Segment) error { return x.insert(ctx, "segments", s) }

// spool records a segment waiting for upload.
func (x *index) spool(ctx context.Context, s Segment) error { return x.insert(ctx, "spool", s) }

func (x *index) insert(ctx context.Context, table string, s Segment) error {
	_, err := x.db.ExecContext(ctx, `INSERT INTO `+table+` (feed_id, seq, path, start_ns, end_ns, pts, size, discontinuity, keyframes)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		s.Feed, s.Seq, s.Key, s.Start.UnixNano(), s.End.UnixNano(), s.PTS, s.Size, s.Discontinuity, encodeKeyframes(s.Keyframes))
	if err != nil {
		return fmt.Errorf("index segment %s: %w", s.Key, err)
	}
	return nil
}

const segmentColumns = `feed_id, seq, path, start_ns, end_ns, pts, size, discontinuity, keyframes`

// overlapping returns the segments of feedID that overlap [from, to), in order.
func (x *index) overlapping(ctx context.Context, feedID string, from, to time.Time) ([]Segment, error) {
	return x.query(ctx, `SELECT `+segmentColumns+` FROM segments
		WHERE feed_id = ? AND end_ns > ? AND start_ns < ? ORDER BY seq`, feedID, from.UnixNano(), to.UnixNano())
}

// overlappingTimes is overlapping without the keyframe lists: what a playlist needs.
func (x *index) overlappingTimes(ctx context.Context, feedID string, from, to time.Time) ([]Segment, error) {
	return x.query(ctx, `SELECT feed_id, seq, path, start_ns, end_ns, pts, size, discontinuity, x'' FROM segments
		WHERE feed_id = ? AND end_ns > ? AND start_ns < ? ORDER BY seq`, feedID, from.UnixNano(), to.UnixNano())
}

// oldest returns up to n of feedID's oldest segments.
func (x *index) oldest(ctx context.Context, feedID string, n int) ([]Segment, error) {
	return x.query(ctx, `SELECT `+segmentColumns+` FROM segments WHERE feed_id = ? ORDER BY seq LIMIT ?`, feedID, n)
}

func (x *index) query(ctx context.Context, q string, args ...any) ([]Segment, error) {
	rows, err := x.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("query archive index: %w", err)
	}
	defer rows.Close()
	var out []Segment
	for rows.Next() {
		var s Segment
		var start, end int64
		var keyframes []byte
		if err := rows.Scan(&s.Feed, &s.Seq, &s.Key, &start, &end, &s.PTS, &s.Size, &s.Discontinuity, &keyframes); err != nil {
			return nil, fmt.Errorf("read archive index: %w", err)
		}
		s.Start, s.End = time.Unix(0, start), time.Unix(0, end)
		s.Duration = s.End.Sub(s.Start)
		if s.Keyframes, err = decodeKeyframes(keyframes); err != nil {
			return nil, fmt.Errorf("segment %s/%d: %w", s.Feed, s.Seq, err)
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// promote moves a spooled segment's row into the index, where readers find it.
func (x *index) promote(ctx context.Context, feedID string, seq int64) error {
	tx, err := x.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("index segment %s/%d: %w", feedID, seq, err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `INSERT INTO segments SELECT `+segmentColumns+` FROM spool WHERE feed_id = ? AND seq = ?`, feedID, seq); err != nil {
		return fmt.Errorf("index segment %s/%d: %w", feedID, seq, err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM spool WHERE feed_id = ? AND seq = ?`, feedID, seq); err != nil {
		return fmt.Errorf("index segment %s/%d: %w", feedID, seq, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("index segment %s/%d: %w", feedID, seq, err)
	}
	return nil
}

// unspool forgets a spooled segment.
func (x *index) unspool(ctx context.Context, feedID string, seq int64) error {
	if _, err := x.db.ExecContext(ctx, `DELETE FROM spool WHERE feed_id = ? AND seq = ?`, feedID, seq); err != nil {
		return fmt.Errorf("unspool segment %s/%d: %w", feedID, seq, err)
	}
	return nil
}

// spooled returns every spooled segment, oldest first.
func (x *index) spooled(ctx context.Context) ([]Segment, error) {
	return x.query(ctx, `SELECT `+segmentColumns+` FROM spool ORDER BY start_ns, feed_id, seq`)
}

func (x *index) remove(ctx context.Context, feedID string, seq int64) error {
	if _, err := x.db.ExecContext(ctx, `DELETE FROM segments WHERE feed_id = ? AND seq = ?`, feedID, seq); err != nil {
		return fmt.Errorf("unindex segment %s/%d: %w", feedID, seq, err)
	}
	return nil
}

// feedTotals is what the index holds of one feed.
type feedTotals struct {
	segments int
	bytes    int64
	end      time.Time // of the newest segment
	lastSeq  int64
}

func (x *index) totals(ctx context.Context) (map[string]feedTotals, error) {
	rows, err := x.db.QueryContext(ctx, `SELECT feed_id, count(*), sum(size), max(end_ns), max(seq) FROM segments GROUP BY feed_id`)
	if err != nil {
		return nil, fmt.Errorf("sum archive index: %w", err)
	}
	defer rows.Close()
	out := make(map[string]feedTotals)
	for rows.Next() {
		var id string
		var t feedTotals
		var end int64
		if err := rows.Scan(&id, &t.segments, &t.bytes, &end, &t.lastSeq); err != nil {
			return nil, fmt.Errorf("sum archive index: %w", err)
		}
		t.end = time.Unix(0, end)
		out[id] = t
	}
	return out, rows.Err()
}

// ranges reads the continuous stretches of feedID's recording, bridging
// holes up to gap: one pass over the index in SQLite, at start-up.
func (x *index) ranges(ctx context.Context, feedID string, gap time.Duration) ([]Range, error) {
	rows, err := x.db.QueryContext(ctx, `SELECT start_ns, end_ns FROM segments WHERE feed_id = ? ORDER BY seq`, feedID)
	if err != nil {
		return nil, fmt.Errorf("read archive ranges: %w", err)
	}
	defer rows.Close()
	var out []Range
	for rows.Next() {
		var start, end int64
		if err := rows.Scan(&start, &end); err != nil {
			return nil, fmt.Errorf("read archive ranges: %w", err)
		}
		s, e := time.Unix(0, start), time.Unix(0, end)
		if n := len(out); n > 0 && !s.Before(out[n-1].From) && s.Sub(out[n-1].To) <= gap {
			out[n-1].To = later(out[n-1].To, e)
			continue
		}
		out = append(out, Range{From: s, To: e})
	}
	return out, rows.Err()
}

// encodeKeyframes packs access points as varint deltas of offset and PTS.
func encodeKeyframes(kfs []Keyframe) []byte {
	buf := make([]byte, 0, len(kfs)*6)
	var offset, pts int64
	for _, kf := range kfs {
		buf = binary.AppendVarint(buf, kf.Offset-offset)
		buf = binary.AppendVarint(buf, kf.PTS-pts)
		offset, pts = kf.Offset, kf.PTS
	}
	return buf
}

var errBadKeyframes = errors.New("corrupt keyframe list")

func decodeKeyframes(buf []byte) ([]Keyframe, error) {
	var out []Keyframe
	var offset, pts int64
	for len(buf) > 0 {
		do, n := binary.Varint(buf)
		if n <= 0 {
			return nil, errBadKeyframes
		}
		buf = buf[n:]
		dp, n := binary.Varint(buf)
		if n <= 0 {
			return nil, errBadKeyframes
		}
		buf = buf[n:]
		offset, pts = offset+do, pts+dp
		out = append(out, Keyframe{Offset: offset, PTS: pts})
	}
	return out, nil
}
