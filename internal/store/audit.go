package store

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"
	"unicode/utf8"
)

// AuditEntry is one administrative action: who did what, from where, with
// what result. The audit log is kept beside the catalog, not in it: it is
// never part of a snapshot.
type AuditEntry struct {
	ID int64
	At time.Time
	// Actor is "admin", "broadcaster" (BroadcasterID says which) or
	// "anonymous" (a sign-in with an unknown token).
	Actor         string
	BroadcasterID string
	RemoteAddr    string
	Method        string
	Path          string
	// Targets names the objects acted on, by kind: {"feed": "ath-100m-final"}.
	Targets map[string]string
	// Status is the HTTP status of the answer.
	Status int
}

// MaxAuditField is the most of each field of an entry (actor, address,
// method, path, each target's kind and id) that the audit log keeps, in
// bytes: a request cannot grow the log by more than a few kilobytes.
const MaxAuditField = 256

// AppendAudit adds e to the audit log and returns its id. Each field is
// cut to MaxAuditField bytes.
func (s *Store) AppendAudit(ctx context.Context, e AuditEntry) (int64, error) {
	e = e.Shortened(MaxAuditField)
	targets, err := json.Marshal(e.Targets)
	if err != nil {
		return 0, fmt.Errorf("audit targets: %w", err)
	}
	var id int64
	if err := s.db.QueryRowContext(ctx,
		`INSERT INTO audit_log (at, actor, broadcaster_id, remote_addr, method, path, targets, status) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
		formatTime(e.At), e.Actor, e.BroadcasterID, e.RemoteAddr, e.Method, e.Path, string(targets), e.Status).Scan(&id); err != nil {
		return 0, fmt.Errorf("append audit entry: %w", err)
	}
	return id, nil
}

// Audit returns up to limit entries of the audit log, newest first, with
// ids below before (0: from the newest).
func (s *Store) Audit(ctx context.Context, limit int, before int64) ([]AuditEntry, error) {
	rows, err := s.reads.QueryContext(ctx,
		`SELECT id, at, actor, broadcaster_id, remote_addr, method, path, targets, status FROM audit_log
		 WHERE ? = 0 OR id < ? ORDER BY id DESC LIMIT ?`, before, before, limit)
	if err != nil {
		return nil, fmt.Errorf("read audit log: %w", err)
	}
	defer rows.Close()
	out := []AuditEntry{}
	for rows.Next() {
		var e AuditEntry
		var at, targets string
		if err := rows.Scan(&e.ID, &at, &e.Actor, &e.BroadcasterID, &e.RemoteAddr, &e.Method, &e.Path, &targets, &e.Status); err != nil {
			return nil, fmt.Errorf("read audit log: %w", err)
		}
		if e.At, err = parseTime(at); err != nil {
			return nil, fmt.Errorf("audit entry %d: %w", e.ID, err)
		}
		if err := json.Unmarshal([]byte(targets), &e.Targets); err != nil {
			return nil, fmt.Errorf("audit entry %d targets: %w", e.ID, err)
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// Shortened returns the entry with each field cut to at most n bytes (on a
// character boundary, "…" marking the cut).
func (e AuditEntry) Shortened(n int) AuditEntry {
	e.Actor, e.BroadcasterID, e.RemoteAddr = cut(e.Actor, n), cut(e.BroadcasterID, n), cut(e.RemoteAddr, n)
	e.Method, e.Path = cut(e.Method, n), cut(e.Path, n)
	targets := make(map[string]string, len(e.Targets))
	for kind, id := range e.Targets {
		targets[cut(kind, n)] = cut(id, n)
	}
	e.Targets = targets
	return e
}

func cut(s string, n int) string {
	const mark = "…"
	if len(s) <= n {
		return s
	}
	end := max(n-len(mark), 0)
	for end > 0 && !utf8.RuneStart(s[end]) {
		end--
	}
	return s[:end] + mark
}

// auditPruneBatch is how many entries one pruning transaction removes at
// most, so that pruning never holds the writer for long.
const auditPruneBatch = 5000

// PruneAudit removes the entries from before olderThan (none if zero) and
// the oldest beyond maxRows (no bound if 0), and returns how many.
func (s *Store) PruneAudit(ctx context.Context, olderThan time.Time, maxRows int) (int64, error) {
	var removed int64
	if maxRows > 0 {
		res, err := s.db.ExecContext(ctx, `DELETE FROM audit_log WHERE id <= (SELECT max(id) FROM audit_log) - ?`, maxRows)
		if err != nil {
			return removed, fmt.Errorf("prune audit log: %w", err)
		}
		n, _ := res.RowsAffected()
		removed += n
	}
	if olderThan.IsZero() {
		return removed, nil
	}
	// Entries are appended in time order: look at the oldest batch only,
	// rather than scan the whole log for old ones.
	for {
		res, err := s.db.ExecContext(ctx, `DELETE FROM audit_log WHERE id IN
			(SELECT id FROM (SELECT id, at FROM audit_log ORDER BY id LIMIT ?) AS oldest WHERE at < ?)`, auditPruneBatch, formatTime(olderThan))
		if err != nil {
			return removed, fmt.Errorf("prune audit log: %w", err)
		}
		n, _ := res.RowsAffected()
		removed += n
		if n < auditPruneBatch {
			return removed, nil
		}
	}
}

// AuditPrunePeriod is how often RunAuditPruner prunes.
const AuditPrunePeriod = 5 * time.Minute

// RunAuditPruner prunes the audit log (PruneAudit with the entries older
// than retention, 0: none, and beyond maxRows) at once and every
// AuditPrunePeriod until ctx ends.
func (s *Store) RunAuditPruner(ctx context.Context, retention time.Duration, maxRows int, now func() time.Time, log *slog.Logger) {
	if retention <= 0 && maxRows <= 0 {
		return
	}
	tick := time.NewTicker(AuditPrunePeriod)
	defer tick.Stop()
	for {
		var olderThan time.Time
		if retention > 0 {
			olderThan = now().Add(-retention)
		}
		if n, err := s.PruneAudit(ctx, olderThan, maxRows); err != nil && ctx.Err() == nil {
			log.Error("audit log not pruned", "err", err)
		} else if n > 0 {
			log.Info("audit log pruned", "entries", n, "retention", retention, "max_rows", maxRows)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}
