package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/podium-broadcast/podium/internal/catalog"
)

// A catalog write takes the next catalog version in its transaction (the
// version row stays locked until it commits, so writes from every node
// are ordered) and, on PostgreSQL, records what it changed, one row per
// object, and notifies the other nodes of the version. A node applies the
// changes of the versions it has not seen, in version order, by reading
// the objects named again: the snapshot it serves follows the catalog's
// history, never a state the catalog was not in but for objects that are
// already newer. A SQLite catalog has one node: its version is only counted.

// changeKind is the kind of object a change names.
type changeKind string

const (
	changeFeed        changeKind = "feed"
	changeBroadcaster changeKind = "broadcaster"
	changeEntitlement changeKind = "entitlement"
	changeSource      changeKind = "source" // by feed id
	changeDestination changeKind = "destination"
	changeClip        changeKind = "clip" // by seq
	changeNone        changeKind = "none" // a version that changed nothing a snapshot holds
)

// changeOp says whether the object was put (created or changed) or deleted.
type changeOp string

const (
	opPut    changeOp = "put"
	opDelete changeOp = "delete"
)

type change struct {
	version int64
	kind    changeKind
	op      changeOp
	key     string
}

// notifyChannel is the PostgreSQL channel versions are notified on.
const notifyChannel = "podium_catalog"

// Changes are kept for changesKept versions, pruned every changesPruneEvery:
// a node further behind reads the whole catalog again.
const (
	changesKept       = 10000
	changesPruneEvery = 1000
	// maxCatchUp is the most changes a node applies one by one; more, and
	// it reads the whole catalog again.
	maxCatchUp = 2000
)

// commit runs fn in a transaction that takes the next catalog version and
// records fn's changes, and returns the version committed.
func (s *Store) commit(ctx context.Context, fn func(tx *dbTx) error) (int64, error) {
	t, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("begin: %w", err)
	}
	defer t.Rollback()
	var version int64
	if err := t.QueryRowContext(ctx, `UPDATE catalog_version SET version = version + 1 WHERE id = 1 RETURNING version`).Scan(&version); err != nil {
		return 0, fmt.Errorf("catalog version: %w", err)
	}
	if err := fn(t); err != nil {
		return 0, err
	}
	if s.d.name == "postgres" {
		if err := recordChanges(ctx, t, version); err != nil {
			return 0, err
		}
	}
	if err := t.Commit(); err != nil {
		return 0, fmt.Errorf("commit: %w", err)
	}
	return version, nil
}

// recordChanges writes the transaction's changes under version, prunes
// the oldest now and then, and notifies the version at commit.
func recordChanges(ctx context.Context, t *dbTx, version int64) error {
	if len(t.changes) == 0 {
		t.changed(changeNone, opPut, "")
	}
	at := time.Now().UnixMilli()
	for n, c := range t.changes {
		if _, err := t.ExecContext(ctx, `INSERT INTO catalog_changes (version, n, kind, op, object, at_ms) VALUES (?, ?, ?, ?, ?, ?)`,
			version, n, string(c.kind), string(c.op), c.key, at); err != nil {
			return fmt.Errorf("record catalog change: %w", err)
		}
	}
	if version%changesPruneEvery == 0 {
		if _, err := t.ExecContext(ctx, `DELETE FROM catalog_changes WHERE version <= ?`, version-changesKept); err != nil {
			return fmt.Errorf("prune catalog changes: %w", err)
		}
	}
	if _, err := t.ExecContext(ctx, `SELECT pg_notify(?, ?)`, notifyChannel, strconv.FormatInt(version, 10)); err != nil {
		return fmt.Errorf("notify catalog version: %w", err)
	}
	return nil
}

// applyOwn applies this node's own write of version with apply, when it
// follows the version the node had; when another node's write came
// between, it reads them both from the database instead. The caller
// holds writeMu.
func (s *Store) applyOwn(ctx context.Context, version int64, apply func()) {
	s.sync.seen(version)
	if s.sync.at() == version-1 {
		apply()
		s.sync.applied(version, version)
		return
	}
	if err := s.catchUpLocked(ctx); err != nil {
		// The listener catches up when the database answers again.
		s.log.Warn("catalog not caught up after a write", "version", version, "err", err)
	}
}

// catchUp applies the changes of the versions the node has not seen.
func (s *Store) catchUp(ctx context.Context) error {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	return s.catchUpLocked(ctx)
}

func (s *Store) catchUpLocked(ctx context.Context) error {
	from := s.sync.at()
	changes, err := s.changesAfter(ctx, from)
	if err != nil {
		return err
	}
	if len(changes) == 0 {
		var latest int64
		if err := s.db.QueryRowContext(ctx, `SELECT version FROM catalog_version WHERE id = 1`).Scan(&latest); err != nil {
			return fmt.Errorf("read catalog version: %w", err)
		}
		if latest > from {
			return s.resync(ctx) // changes pruned, or a version that recorded none
		}
		s.sync.applied(from, latest)
		return nil
	}
	if changes[0].version != from+1 || len(changes) > maxCatchUp {
		return s.resync(ctx)
	}
	snap := s.snapshot.Load()
	catalogChanged := false
	for _, c := range changes {
		if c.kind == changeNone {
			continue
		}
		if c.kind == changeClip {
			if err := s.applyClipChange(ctx, c); err != nil {
				return err
			}
			continue
		}
		if snap, err = applyChange(ctx, s.db, snap, c); err != nil {
			return err
		}
		catalogChanged = true
	}
	if catalogChanged {
		s.publish(snap)
	}
	last := changes[len(changes)-1].version
	s.sync.applied(last, last)
	return nil
}

// changesAfter reads the changes of the versions after from, in order,
// up to one more than maxCatchUp.
func (s *Store) changesAfter(ctx context.Context, from int64) ([]change, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT version, kind, op, object FROM catalog_changes WHERE version > ? ORDER BY version, n LIMIT ?`,
		from, maxCatchUp+1)
	if err != nil {
		return nil, fmt.Errorf("read catalog changes: %w", err)
	}
	defer rows.Close()
	var out []change
	for rows.Next() {
		var c change
		var kind, op string
		if err := rows.Scan(&c.version, &kind, &op, &c.key); err != nil {
			return nil, fmt.Errorf("read catalog changes: %w", s.d.classify(err))
		}
		c.kind, c.op = changeKind(kind), changeOp(op)
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read catalog changes: %w", s.d.classify(err))
	}
	return out, nil
}

// applyChange returns snap with the object c names as the database has it
// now (or without it, if c deleted it).
func applyChange(ctx context.Context, q queryer, snap *catalog.Snapshot, c change) (*catalog.Snapshot, error) {
	if c.op == opDelete {
		switch c.kind {
		case changeFeed:
			return snap.WithoutFeed(c.key), nil
		case changeBroadcaster:
			return snap.WithoutBroadcaster(c.key), nil
		case changeSource:
			return snap.WithoutCallerSource(c.key), nil
		case changeDestination:
			return snap.WithoutDestination(c.key), nil
		}
		return nil, fmt.Errorf("catalog change %d: cannot delete a %s", c.version, c.kind)
	}
	// An object put and since deleted is not found: its delete comes later.
	switch c.kind {
	case changeFeed:
		feeds, err := loadFeeds(ctx, q, "WHERE id = ?", c.key)
		return withAll(snap, feeds, err, (*catalog.Snapshot).WithFeed)
	case changeBroadcaster:
		broadcasters, err := loadBroadcasters(ctx, q, "WHERE id = ?", c.key)
		return withAll(snap, broadcasters, err, (*catalog.Snapshot).WithBroadcaster)
	case changeEntitlement:
		entitlements, err := loadEntitlements(ctx, q, "WHERE id = ?", c.key)
		return withAll(snap, entitlements, err, (*catalog.Snapshot).WithEntitlement)
	case changeSource:
		sources, err := loadCallerSources(ctx, q, "WHERE feed_id = ?", c.key)
		return withAll(snap, sources, err, (*catalog.Snapshot).WithCallerSource)
	case changeDestination:
		destinations, err := loadDestinations(ctx, q, "WHERE id = ?", c.key)
		return withAll(snap, destinations, err, (*catalog.Snapshot).WithDestination)
	}
	return nil, fmt.Errorf("catalog change %d: unknown kind %q", c.version, c.kind)
}

// withAll returns snap with each of items put in by with, and err.
func withAll[T any](snap *catalog.Snapshot, items []T, err error, with func(*catalog.Snapshot, T) *catalog.Snapshot) (*catalog.Snapshot, error) {
	for _, it := range items {
		snap = with(snap, it)
	}
	return snap, err
}

// applyClipChange gives the clip index the clip c names as the database has it now.
func (s *Store) applyClipChange(ctx context.Context, c change) error {
	seq, err := strconv.ParseInt(c.key, 10, 64)
	if err != nil {
		return fmt.Errorf("catalog change %d: clip %q: %w", c.version, c.key, err)
	}
	s.clips.mu.Lock()
	defer s.clips.mu.Unlock()
	if c.op == opDelete {
		s.clips.remove(seq)
		return nil
	}
	clip, err := scanClip(s.db.QueryRowContext(ctx, `SELECT `+clipColumns+` FROM clips c WHERE c.seq = ?`, seq), c.key)
	if errors.Is(err, catalog.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	s.clips.put(seq, clip)
	return nil
}

// syncState is how current the node's snapshot is.
type syncState struct {
	mu sync.Mutex
	// version is the version the snapshot is at; latest the newest the
	// node has heard of.
	version, latest int64
	// connected: the node hears of new versions (always, on SQLite).
	connected bool
	// currentAt is when the node last knew itself current.
	currentAt time.Time
}

// at is the version the snapshot is at.
func (st *syncState) at() int64 {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.version
}

// applied records that the snapshot is at version, of latest heard of.
func (st *syncState) applied(version, latest int64) {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.version = version
	st.latest = max(st.latest, latest, version)
	if st.version == st.latest {
		st.currentAt = time.Now()
	}
}

// seen records that version exists.
func (st *syncState) seen(version int64) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if version > st.latest {
		if st.version == st.latest {
			st.currentAt = time.Now()
		}
		st.latest = version
	}
}

func (st *syncState) markCurrent() {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.connected = true
	if st.version == st.latest {
		st.currentAt = time.Now()
	}
}

func (st *syncState) setConnected(connected bool) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.connected && !connected && st.version == st.latest {
		st.currentAt = time.Now()
	}
	st.connected = connected
}

// SyncState says how current a node's snapshot of the catalog is.
type SyncState struct {
	// Store is "sqlite" or "postgres".
	Store string
	// Version is the catalog version the snapshot is at; Latest the newest
	// the node has heard of, and Lag how many versions that is ahead.
	Version, Latest, Lag int64
	// Connected: the node hears of new versions as they commit. A node
	// that does not may be behind by versions it cannot know of.
	Connected bool
	// Behind is how long the node has not known itself current: zero when
	// it is connected and at the latest version.
	Behind time.Duration
}

// Sync says how current the node's snapshot is.
func (s *Store) Sync() SyncState {
	st := &s.sync
	st.mu.Lock()
	defer st.mu.Unlock()
	out := SyncState{Store: s.d.name, Version: st.version, Latest: st.latest, Lag: st.latest - st.version, Connected: st.connected}
	if !st.connected || st.version < st.latest {
		out.Behind = time.Since(st.currentAt)
	}
	return out
}
