// Package store persists the catalog (feeds, broadcasters, entitlements,
// and where Podium calls out: caller sources and push destinations) in
// SQLite or PostgreSQL and serves it as an immutable in-memory catalog.Snapshot that is
// replaced after every committed write. It holds no rules of its own beyond
// referential integrity: those live in package catalog. Beside the catalog
// it keeps the schedule and the clip library, whose searches filter and
// count in an in-memory index of the clips (clipIndex), kept by the
// library's writes. Every write takes the next catalog version; on
// PostgreSQL, where many nodes share one catalog, each node applies the
// others' changes in version order as they are notified (see changes.go).
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/podium-broadcast/podium/internal/catalog"
	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// Store is the catalog's persistence. It is safe for concurrent use.
type Store struct {
	d *dialect
	// db writes. On SQLite it is the one connection that writes, and
	// reads that are not part of a write go to reads, a pool of read-only
	// connections, so that no read, however heavy, delays a write (WAL lets
	// readers and the writer run side by side). On PostgreSQL both are the
	// same pool.
	db       *database
	reads    *database
	writeMu  sync.Mutex // serialises writes and the changes applied, so snapshots follow version order
	snapshot atomic.Pointer[catalog.Snapshot]
	sync     syncState

	observersMu sync.Mutex
	observers   []func(*catalog.Snapshot)

	// clips indexes the clip library for searches; clip writes keep it.
	clips *clipIndex

	log *slog.Logger
	// stop ends the goroutines the store owns (the change listener); wg waits for them.
	stop context.CancelFunc
	wg   sync.WaitGroup
}

// Options say where the catalog is kept.
type Options struct {
	// Store is "sqlite" (or empty) for a catalog in DataDir, or a
	// PostgreSQL URL, postgres://USER:PASS@HOST:PORT/DB?sslmode=...
	Store string
	// DataDir holds catalog.db when Store is sqlite.
	DataDir string
	// Log receives what the change listener has to say (PostgreSQL); nil: discarded.
	Log *slog.Logger
}

// IsPostgresURL reports whether a store setting names PostgreSQL.
func IsPostgresURL(store string) bool {
	return strings.HasPrefix(store, "postgres://") || strings.HasPrefix(store, "postgresql://")
}

// CheckSetting says what is wrong with a store setting, or returns nil.
func CheckSetting(store string) error {
	if store == "" || store == "sqlite" {
		return nil
	}
	if !IsPostgresURL(store) {
		return fmt.Errorf("store is sqlite or a PostgreSQL URL (postgres://USER:PASS@HOST:PORT/DB), not %q", redactURL(store))
	}
	if _, err := pgx.ParseConfig(store); err != nil {
		return fmt.Errorf("store %s: %w", redactURL(store), err)
	}
	return nil
}

// redactURL hides a URL's password.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}

// Open opens (creating if needed) the catalog database in dataDir.
func Open(ctx context.Context, dataDir string) (*Store, error) {
	return OpenWith(ctx, Options{DataDir: dataDir})
}

// OpenWith opens the catalog where o says, migrating its schema.
func OpenWith(ctx context.Context, o Options) (*Store, error) {
	if err := CheckSetting(o.Store); err != nil {
		return nil, err
	}
	log := o.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if IsPostgresURL(o.Store) {
		return openPostgres(ctx, o.Store, log)
	}
	return openSQLite(ctx, o.DataDir, log)
}

func openSQLite(ctx context.Context, dataDir string, log *slog.Logger) (*Store, error) {
	path := filepath.Join(dataDir, "catalog.db")
	dsn := "file:" + path + "?_pragma=journal_mode(WAL)&_pragma=busy_timeout(5000)&_pragma=foreign_keys(1)&_pragma=synchronous(FULL)"
	raw, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open catalog %s: %w", path, err)
	}
	raw.SetMaxOpenConns(1)
	s := &Store{d: sqliteDialect, db: &database{raw: raw, d: sqliteDialect}, log: log, stop: func() {}}
	if err := s.migrate(ctx); err != nil {
		raw.Close()
		return nil, fmt.Errorf("migrate catalog %s: %w", path, err)
	}
	// The writer has made the database (and its -wal and -shm) before the
	// readers open it read-only.
	reads, err := sql.Open("sqlite", "file:"+path+"?mode=ro&_pragma=busy_timeout(5000)&_pragma=query_only(1)")
	if err != nil {
		raw.Close()
		return nil, fmt.Errorf("open catalog %s for reading: %w", path, err)
	}
	reads.SetMaxOpenConns(readConns)
	reads.SetMaxIdleConns(readConns)
	s.reads = &database{raw: reads, d: sqliteDialect}
	if err := s.resync(ctx); err != nil {
		s.Close()
		return nil, err
	}
	// One process writes a SQLite catalog: it is always current.
	s.sync.markCurrent()
	// The catalog holds SRT passphrases: keep it, and the WAL that holds
	// its latest writes, from other local users.
	if err := protect(path); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// postgresConns is the size of a node's pool of PostgreSQL connections.
const postgresConns = 10

// postgresConnectTimeout bounds a connection attempt when the URL sets
// none, so that a write to an unreachable server answers rather than hangs.
const postgresConnectTimeout = 5 * time.Second

func openPostgres(ctx context.Context, location string, log *slog.Logger) (*Store, error) {
	cfg, err := pgx.ParseConfig(location)
	if err != nil {
		return nil, fmt.Errorf("store %s: %w", redactURL(location), err)
	}
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = postgresConnectTimeout
	}
	raw := stdlib.OpenDB(*cfg)
	raw.SetMaxOpenConns(postgresConns)
	raw.SetMaxIdleConns(postgresConns)
	raw.SetConnMaxIdleTime(time.Minute)
	db := &database{raw: raw, d: postgresDialect}
	s := &Store{d: postgresDialect, db: db, reads: db, log: log, stop: func() {}}
	where := fmt.Sprintf("%s:%d/%s", cfg.Host, cfg.Port, cfg.Database)
	if err := s.migrate(ctx); err != nil {
		raw.Close()
		return nil, fmt.Errorf("migrate catalog postgres %s: %w", where, err)
	}
	if err := s.resync(ctx); err != nil {
		raw.Close()
		return nil, fmt.Errorf("load catalog postgres %s: %w", where, err)
	}
	s.sync.markCurrent()
	listenCtx, stop := context.WithCancel(context.Background())
	s.stop = stop
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.listen(listenCtx, cfg)
	}()
	return s, nil
}

// readConns is the size of the pool of read-only SQLite connections.
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

// Close stops the change listener and closes the database: on SQLite the
// readers first, then the writer, which checkpoints the WAL.
func (s *Store) Close() error {
	s.stop()
	s.wg.Wait()
	var rerr error
	if s.reads != nil && s.reads != s.db {
		rerr = s.reads.Close()
	}
	if err := s.db.Close(); err != nil {
		return err
	}
	return rerr
}

// Dialect is "sqlite" or "postgres": where the catalog is kept.
func (s *Store) Dialect() string { return s.d.name }

func (s *Store) migrate(ctx context.Context) error {
	if s.d.name == "postgres" {
		if _, err := s.db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)`); err != nil {
			return err
		}
	}
	for {
		done, err := s.migrateOne(ctx)
		if err != nil || done {
			return err
		}
	}
}

// migrateOne takes the next migration, if any, in a transaction of its
// own; done says there was none. On PostgreSQL, nodes starting at once
// take their turns (an advisory lock), each reading the version anew.
func (s *Store) migrateOne(ctx context.Context) (done bool, err error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return false, err
	}
	defer tx.Rollback()
	version, err := s.schemaVersion(ctx, tx)
	if err != nil {
		return false, err
	}
	if version >= len(migrations) {
		return true, nil
	}
	m := migrations[version]
	text := m.sqlite
	if s.d.name == "postgres" {
		text = m.postgres
	}
	if _, err := tx.raw.ExecContext(ctx, text); err != nil {
		return false, fmt.Errorf("migration %d: %w", version+1, err)
	}
	if err := s.setSchemaVersion(ctx, tx, version+1); err != nil {
		return false, err
	}
	return false, tx.Commit()
}

// schemaVersion is how many migrations the database has taken.
func (s *Store) schemaVersion(ctx context.Context, tx *dbTx) (int, error) {
	var version int
	if s.d.name == "sqlite" {
		return version, tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version)
	}
	if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(7263001)`); err != nil {
		return 0, err
	}
	err := tx.QueryRowContext(ctx, `SELECT version FROM schema_version`).Scan(&version)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	return version, err
}

func (s *Store) setSchemaVersion(ctx context.Context, tx *dbTx, version int) error {
	if s.d.name == "sqlite" {
		_, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", version))
		return err
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM schema_version`); err != nil {
		return err
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO schema_version (version) VALUES (?)`, version)
	return err
}

// Snapshot returns the catalog as of the last applied version.
func (s *Store) Snapshot() *catalog.Snapshot { return s.snapshot.Load() }

// OnChange registers fn to be called with the new snapshot after every
// committed write, this node's or (PostgreSQL) another's once applied. fn
// runs on the writer's or the listener's goroutine and must not block.
func (s *Store) OnChange(fn func(*catalog.Snapshot)) {
	s.observersMu.Lock()
	defer s.observersMu.Unlock()
	s.observers = append(s.observers, fn)
}

// publish makes snap the snapshot and tells the observers; the caller holds writeMu.
func (s *Store) publish(snap *catalog.Snapshot) {
	s.snapshot.Store(snap)
	s.observersMu.Lock()
	observers := append([]func(*catalog.Snapshot){}, s.observers...)
	s.observersMu.Unlock()
	for _, fn := range observers {
		fn(snap)
	}
}

// write runs fn in a transaction that takes the next catalog version,
// then publishes the next snapshot, made from the last by edit (what fn
// changed), not read again from the database: a write costs the same in a
// catalog of ten feeds or ten thousand. fn says what it changed with
// tx.changed, for the other nodes.
func (s *Store) write(ctx context.Context, fn func(tx *dbTx) error, edit func(*catalog.Snapshot) *catalog.Snapshot) error {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	version, err := s.commit(ctx, fn)
	if err != nil {
		return err
	}
	s.applyOwn(ctx, version, func() { s.publish(edit(s.snapshot.Load())) })
	return nil
}

// resync reads the whole catalog and the clip index again, as of one
// version, and makes them the node's; the caller holds writeMu or is Open.
func (s *Store) resync(ctx context.Context) error {
	// One repeatable read: the version and the tables agree.
	t, err := s.reads.BeginTx(ctx, s.d.snapshotTx())
	if err != nil {
		return fmt.Errorf("read catalog: %w", err)
	}
	defer t.Rollback()
	var version int64
	if err := t.QueryRowContext(ctx, `SELECT version FROM catalog_version WHERE id = 1`).Scan(&version); err != nil {
		return fmt.Errorf("read catalog version: %w", err)
	}
	snap, err := load(ctx, t)
	if err != nil {
		return err
	}
	clips, err := loadClipIndex(ctx, t, s.d)
	if err != nil {
		return err
	}
	if s.clips == nil {
		s.clips = clips
	} else {
		s.clips.replace(clips)
	}
	s.publish(snap)
	s.sync.applied(version, version)
	return nil
}

// load reads the whole catalog into a new snapshot.
func (s *Store) load(ctx context.Context) (*catalog.Snapshot, error) { return load(ctx, s.db) }

func load(ctx context.Context, q queryer) (*catalog.Snapshot, error) {
	feeds, err := loadFeeds(ctx, q, "")
	if err != nil {
		return nil, err
	}
	broadcasters, err := loadBroadcasters(ctx, q, "")
	if err != nil {
		return nil, err
	}
	entitlements, err := loadEntitlements(ctx, q, "")
	if err != nil {
		return nil, err
	}
	sources, err := loadCallerSources(ctx, q, "")
	if err != nil {
		return nil, err
	}
	destinations, err := loadDestinations(ctx, q, "")
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
