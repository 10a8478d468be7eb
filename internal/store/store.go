// Package store persists the catalog (feeds, broadcasters, entitlements,
// and where Podium calls out: caller sources and push destinations) in
// SQLite and serves it as an immutable in-memory catalog.Snapshot that is
// replaced after every committed write. It holds no rules of its own beyond
// referential integrity: those live in package catalog. Beside the catalog
// it keeps the schedule and the clip library, whose searches filter and
// count in an in-memory index of the clips (clipIndex), kept by the
// library's writes.
package store

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/podium-broadcast/podium/internal/catalog"
	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// Store is the catalog's persistence. It is safe for concurrent use.
type Store struct {
	// db is the one connection that writes; reads that are not part of a
	// write go to reads, a pool of read-only connections, so that no read,
	// however heavy, delays a write (WAL lets readers and the writer run
	// side by side).
	db       *sql.DB
	reads    *sql.DB
	writeMu  sync.Mutex // serialises write+reload so snapshots follow commit order
	snapshot atomic.Pointer[catalog.Snapshot]

	observersMu sync.Mutex
	observers   []func(*catalog.Snapshot)

	// clips indexes the clip library for searches; clip writes keep it.
	clips *clipIndex
}

var migrations = []string{
	`CREATE TABLE feeds (
		id TEXT PRIMARY KEY,
		name TEXT NOT NULL,
		kind TEXT NOT NULL,
		publish_passphrase TEXT NOT NULL,
		created_at TEXT NOT NULL
	);
	CREATE TABLE broadcasters (
		id TEXT PRIMARY KEY,
		name TEXT NOT NULL,
		territories TEXT NOT NULL,
		srt_passphrase TEXT NOT NULL,
		api_key_hash TEXT NOT NULL UNIQUE,
		created_at TEXT NOT NULL
	);
	CREATE TABLE entitlements (
		id TEXT PRIMARY KEY,
		broadcaster_id TEXT NOT NULL REFERENCES broadcasters(id) ON DELETE CASCADE,
		feed_id TEXT NOT NULL REFERENCES feeds(id) ON DELETE CASCADE,
		starts_at TEXT NOT NULL,
		ends_at TEXT NOT NULL,
		status TEXT NOT NULL,
		created_at TEXT NOT NULL,
		updated_at TEXT NOT NULL
	);
	CREATE INDEX entitlements_pair ON entitlements(broadcaster_id, feed_id);`,
	// 2: a backup source's passphrase for every feed, generated for the existing ones.
	`ALTER TABLE feeds ADD COLUMN backup_publish_passphrase TEXT NOT NULL DEFAULT '';
	UPDATE feeds SET backup_publish_passphrase = upper(hex(randomblob(16))) WHERE backup_publish_passphrase = '';`,
	// 3: where Podium calls out over SRT: the encoder a feed is pulled from,
	// and the receivers broadcasters have a feed pushed to. (IF NOT EXISTS:
	// it can be run again for a catalog that took the placeholder 3 once had.)
	`CREATE TABLE IF NOT EXISTS sources (
		feed_id TEXT PRIMARY KEY REFERENCES feeds(id) ON DELETE CASCADE,
		role TEXT NOT NULL,
		address TEXT NOT NULL,
		streamid TEXT NOT NULL,
		passphrase TEXT NOT NULL,
		latency_ms INTEGER NOT NULL,
		created_at TEXT NOT NULL,
		updated_at TEXT NOT NULL
	);
	CREATE TABLE IF NOT EXISTS destinations (
		id TEXT PRIMARY KEY,
		broadcaster_id TEXT NOT NULL REFERENCES broadcasters(id) ON DELETE CASCADE,
		feed_id TEXT NOT NULL REFERENCES feeds(id) ON DELETE CASCADE,
		address TEXT NOT NULL,
		streamid TEXT NOT NULL,
		passphrase TEXT NOT NULL,
		latency_ms INTEGER NOT NULL,
		created_at TEXT NOT NULL,
		UNIQUE (broadcaster_id, feed_id, address, streamid)
	);`,
	// 4: the audit log of administrative actions. Ids only grow (AUTOINCREMENT),
	// so that they page the log; rows outlive the feeds and broadcasters they name.
	`CREATE TABLE audit_log (
		id INTEGER PRIMARY KEY AUTOINCREMENT,
		at TEXT NOT NULL,
		actor TEXT NOT NULL,
		broadcaster_id TEXT NOT NULL,
		remote_addr TEXT NOT NULL,
		method TEXT NOT NULL,
		path TEXT NOT NULL,
		targets TEXT NOT NULL,
		status INTEGER NOT NULL
	);`,
	// 5: each feed's archive setting: recorded or not, and its retention (0: the server's default).
	`ALTER TABLE feeds ADD COLUMN record INTEGER NOT NULL DEFAULT 1;
	ALTER TABLE feeds ADD COLUMN record_max_age_s INTEGER NOT NULL DEFAULT 0;
	ALTER TABLE feeds ADD COLUMN record_max_bytes INTEGER NOT NULL DEFAULT 0;`,
	// 6: the Games schedule. Times are Unix milliseconds so that ranges compare
	// as numbers; session_feeds says which feeds carry which session.
	`CREATE TABLE schedule_sessions (
		id TEXT PRIMARY KEY,
		sport TEXT NOT NULL,
		event TEXT NOT NULL,
		phase TEXT NOT NULL,
		venue TEXT NOT NULL,
		start_ms INTEGER NOT NULL,
		end_ms INTEGER NOT NULL,
		updated_at TEXT NOT NULL
	);
	CREATE INDEX schedule_sessions_time ON schedule_sessions(start_ms, end_ms);
	CREATE TABLE session_feeds (
		session_id TEXT NOT NULL REFERENCES schedule_sessions(id) ON DELETE CASCADE,
		feed_id TEXT NOT NULL REFERENCES feeds(id) ON DELETE CASCADE,
		position INTEGER NOT NULL,
		PRIMARY KEY (session_id, feed_id)
	);
	CREATE INDEX session_feeds_feed ON session_feeds(feed_id);`,
	// 7: the clip library: clips, their athletes (for the athlete facet),
	// and a full-text index kept in step by triggers. Clips outlive their
	// feed (no foreign key); seq is the rowid the index refers to.
	clipsMigration,
	// 8: searches filter, order and count in memory (clipIndex): the
	// indexes they used are no longer read, only written.
	`DROP INDEX clips_start;
	DROP INDEX clips_feed;
	DROP INDEX clips_owner;
	DROP INDEX clips_sport;
	DROP INDEX clips_event;
	DROP INDEX clip_athletes_name;`,
	// 9: each broadcaster's creation generation, sealed into its signed URLs,
	// so that an id deleted and created again is another account. The
	// existing broadcasters draw one (their URLs signed before are void).
	`ALTER TABLE broadcasters ADD COLUMN generation INTEGER NOT NULL DEFAULT 0;
	UPDATE broadcasters SET generation = random() WHERE generation = 0;
	UPDATE broadcasters SET generation = 1 WHERE generation = 0;`,
}

// Open opens (creating if needed) the catalog database in dataDir.
func Open(ctx context.Context, dataDir string) (*Store, error) {
	path := filepath.Join(dataDir, "catalog.db")
	dsn := "file:" + path + "?_pragma=journal_mode(WAL)&_pragma=busy_timeout(5000)&_pragma=foreign_keys(1)&_pragma=synchronous(FULL)"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open catalog %s: %w", path, err)
	}
	db.SetMaxOpenConns(1)
	s := &Store{db: db}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("migrate catalog %s: %w", path, err)
	}
	// The writer has made the database (and its -wal and -shm) before the
	// readers open it read-only.
	reads, err := sql.Open("sqlite", "file:"+path+"?mode=ro&_pragma=busy_timeout(5000)&_pragma=query_only(1)")
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open catalog %s for reading: %w", path, err)
	}
	reads.SetMaxOpenConns(readConns)
	reads.SetMaxIdleConns(readConns)
	s.reads = reads
	if err := s.reload(ctx); err != nil {
		s.Close()
		return nil, err
	}
	if s.clips, err = loadClipIndex(ctx, db); err != nil {
		s.Close()
		return nil, err
	}
	// The catalog holds SRT passphrases: keep it, and the WAL that holds
	// its latest writes, from other local users.
	if err := protect(path); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// readConns is the size of the pool of read-only connections.
const readConns = 4

// protect makes a database file and its side files readable by their owner only.
func protect(path string) error {
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		if err := os.Chmod(p, 0o600); err != nil && !os.IsNotExist(err) {
			return fmt.Errorf("protect catalog %s: %w", p, err)
		}
	}
	return nil
}

// Close closes the database: the readers first, then the writer, which
// checkpoints the WAL.
func (s *Store) Close() error {
	rerr := s.reads.Close()
	if err := s.db.Close(); err != nil {
		return err
	}
	return rerr
}

func (s *Store) migrate(ctx context.Context) error {
	var version int
	if err := s.db.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version); err != nil {
		return err
	}
	for i := version; i < len(migrations); i++ {
		tx, err := s.db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, migrations[i]); err != nil {
			tx.Rollback()
			return fmt.Errorf("migration %d: %w", i+1, err)
		}
		if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", i+1)); err != nil {
			tx.Rollback()
			return err
		}
		if err := tx.Commit(); err != nil {
			return err
		}
	}
	return nil
}

// Snapshot returns the catalog as of the last committed write.
func (s *Store) Snapshot() *catalog.Snapshot { return s.snapshot.Load() }

// OnChange registers fn to be called with the new snapshot after every
// committed write. fn runs on the writer's goroutine and must not block.
func (s *Store) OnChange(fn func(*catalog.Snapshot)) {
	s.observersMu.Lock()
	defer s.observersMu.Unlock()
	s.observers = append(s.observers, fn)
}

// write runs fn in a transaction, then publishes the next snapshot, made
// from the last by edit (what fn changed), not read again from the
// database: a write costs the same in a catalog of ten feeds or ten
// thousand.
func (s *Store) write(ctx context.Context, fn func(tx *sql.Tx) error, edit func(*catalog.Snapshot) *catalog.Snapshot) error {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
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
	snap := edit(s.snapshot.Load())
	s.snapshot.Store(snap)
	s.observersMu.Lock()
	observers := append([]func(*catalog.Snapshot){}, s.observers...)
	s.observersMu.Unlock()
	for _, fn := range observers {
		fn(snap)
	}
	return nil
}

func (s *Store) reload(ctx context.Context) error {
	snap, err := s.load(ctx)
	if err != nil {
		return err
	}
	s.snapshot.Store(snap)
	return nil
}

// load reads the whole catalog into a new snapshot.
func (s *Store) load(ctx context.Context) (*catalog.Snapshot, error) {
	feeds, err := s.loadFeeds(ctx)
	if err != nil {
		return nil, err
	}
	broadcasters, err := s.loadBroadcasters(ctx)
	if err != nil {
		return nil, err
	}
	entitlements, err := s.loadEntitlements(ctx)
	if err != nil {
		return nil, err
	}
	sources, err := s.loadCallerSources(ctx)
	if err != nil {
		return nil, err
	}
	destinations, err := s.loadDestinations(ctx)
	if err != nil {
		return nil, err
	}
	return catalog.NewSnapshot(feeds, broadcasters, entitlements).WithCallers(sources, destinations), nil
}

// stored is t as the database gives it back: UTC, to the nanosecond, no monotonic reading.
func stored(t time.Time) time.Time {
	out, _ := parseTime(formatTime(t))
	return out
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

func parseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	return time.Parse(time.RFC3339Nano, s)
}

func isUniqueViolation(err error) bool {
	return err != nil && strings.Contains(err.Error(), "UNIQUE constraint failed")
}

func notFound(what, id string) error {
	return fmt.Errorf("%s %q: %w", what, id, catalog.ErrNotFound)
}

func affectedOne(res sql.Result, what, id string) error {
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return notFound(what, id)
	}
	return nil
}
