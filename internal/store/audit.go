package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
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

// AppendAudit adds e to the audit log and returns its id.
func (s *Store) AppendAudit(ctx context.Context, e AuditEntry) (int64, error) {
	if e.Targets == nil {
		e.Targets = map[string]string{}
	}
	targets, err := json.Marshal(e.Targets)
	if err != nil {
		return 0, fmt.Errorf("audit targets: %w", err)
	}
	res, err := s.db.ExecContext(ctx,
		`INSERT INTO audit_log (at, actor, broadcaster_id, remote_addr, method, path, targets, status) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		formatTime(e.At), e.Actor, e.BroadcasterID, e.RemoteAddr, e.Method, e.Path, string(targets), e.Status)
	if err != nil {
		return 0, fmt.Errorf("append audit entry: %w", err)
	}
	return res.LastInsertId()
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
