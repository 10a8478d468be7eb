package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgconn/ctxwatch"
)

// The listener's timing: how often a quiet connection is asked for the
// latest version (which also tells a dead connection from a quiet one), and
// the waits between attempts to connect again.
const (
	listenHeartbeat  = 2 * time.Second
	listenRetryFirst = 100 * time.Millisecond
	listenRetryMax   = 5 * time.Second
)

// listen keeps the node's snapshot current with the catalog on PostgreSQL
// until ctx ends: it listens for the versions other nodes commit and
// applies their changes. After a lost connection it reads the whole
// catalog again, since notifications sent meanwhile are gone.
func (s *Store) listen(ctx context.Context, cfg *pgx.ConnConfig) {
	cfg = cfg.Copy()
	// A heartbeat's timeout leaves the connection usable (a deadline on the
	// socket, not a cancel request to the server).
	cfg.BuildContextWatcherHandler = func(c *pgconn.PgConn) ctxwatch.Handler {
		return &pgconn.DeadlineContextWatcherHandler{Conn: c.Conn()}
	}
	wait := listenRetryFirst
	lost := false
	for ctx.Err() == nil {
		started := time.Now()
		err := s.listenOnce(ctx, cfg, lost)
		if ctx.Err() != nil {
			return
		}
		s.sync.setConnected(false)
		if !lost {
			s.log.Warn("catalog store unreachable: serving the last snapshot", "store", "postgres", "version", s.sync.at(), "err", err)
		}
		lost = true
		if time.Since(started) > time.Minute {
			wait = listenRetryFirst
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		wait = min(2*wait, listenRetryMax)
	}
}

// listenOnce connects, listens, catches up (reading everything again when
// resync) and applies versions as they are notified, until the connection
// fails or ctx ends.
func (s *Store) listenOnce(ctx context.Context, cfg *pgx.ConnConfig, resync bool) error {
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "LISTEN "+notifyChannel); err != nil {
		return err
	}
	// Listening from here on, nothing committed later is missed: take what was.
	if resync {
		s.writeMu.Lock()
		err = s.resync(ctx)
		s.writeMu.Unlock()
		if err != nil {
			return fmt.Errorf("read the catalog again: %w", err)
		}
		s.log.Info("catalog store reachable again: caught up", "store", "postgres", "version", s.sync.at())
	} else if err := s.catchUp(ctx); err != nil {
		return err
	}
	s.sync.markCurrent()
	for {
		wait, cancel := context.WithTimeout(ctx, listenHeartbeat)
		n, err := conn.WaitForNotification(wait)
		cancel()
		var latest int64
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case err == nil:
			if latest, err = strconv.ParseInt(n.Payload, 10, 64); err != nil {
				s.log.Warn("catalog notification without a version", "payload", n.Payload)
				continue
			}
		case errors.Is(err, context.DeadlineExceeded):
			if err := conn.QueryRow(ctx, `SELECT version FROM catalog_version WHERE id = 1`).Scan(&latest); err != nil {
				return err
			}
		default:
			return err
		}
		s.sync.seen(latest)
		if latest > s.sync.at() {
			if err := s.catchUp(ctx); err != nil {
				return err
			}
		}
		s.sync.markCurrent()
	}
}
