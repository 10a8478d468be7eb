package api

import (
	"context"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/podium-broadcast/podium/internal/store"
)

// auditRecord collects, while a request is handled, what the audit log needs
// to know of it: who made it (once authenticated) and what it acted on
// beyond its URL.
type auditRecord struct {
	principal *principal
	// signIn marks a sign-in whose token was checked: recorded whatever the outcome.
	signIn  bool
	targets map[string]string
}

type auditKey struct{}

func auditOf(r *http.Request) *auditRecord {
	rec, _ := r.Context().Value(auditKey{}).(*auditRecord)
	return rec
}

// audited notes who the request comes from, for the audit log.
func audited(r *http.Request, p principal) {
	if rec := auditOf(r); rec != nil {
		rec.principal = &p
	}
}

// auditTarget names an object the request acts on that its URL does not.
func auditTarget(r *http.Request, kind, id string) {
	if rec := auditOf(r); rec != nil && id != "" {
		if rec.targets == nil {
			rec.targets = map[string]string{}
		}
		rec.targets[kind] = id
	}
}

// auditWrites records every request that may change something (all but
// GET, HEAD and OPTIONS) once its caller is known, with its answer's status:
// every catalog write of today and of routes to come, and sign-in and
// sign-out. Requests refused before anyone was identified are not recorded
// (the log and the failed-authentication limiter see those), except sign-ins
// whose token was checked.
func (s *server) auditWrites(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions:
			next.ServeHTTP(w, r)
			return
		}
		rec := &auditRecord{}
		sw := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(sw, r.WithContext(context.WithValue(r.Context(), auditKey{}, rec)))
		if rec.principal == nil && !rec.signIn {
			return
		}
		e := store.AuditEntry{At: s.now(), Actor: "anonymous", RemoteAddr: r.RemoteAddr, Method: r.Method,
			Path: r.URL.Path, Targets: targetsOf(r, sw.Header().Get("Location")), Status: sw.status}
		if p := rec.principal; p != nil {
			e.Actor, e.BroadcasterID = "admin", p.broadcasterID
			if !p.admin {
				e.Actor = "broadcaster"
			}
		}
		for kind, id := range rec.targets {
			e.Targets[kind] = id
		}
		if sw.status >= 400 && sw.status < 500 {
			if !s.auditRefusal(e) {
				return
			}
			e = e.Shortened(refusedAuditField)
		}
		if _, err := s.Store.AppendAudit(context.WithoutCancel(r.Context()), e); err != nil {
			s.Log.Error("audit log write failed", "method", r.Method, "path", r.URL.Path, "err", err)
		}
	})
}

// A refused request (4xx) is audited in short form, each field cut to
// refusedAuditField bytes, and at most refusalsPerWindow of one caller's
// are audited per refusalWindow: a caller cannot grow the log with
// requests that change nothing.
const (
	refusedAuditField = 64
	refusalsPerWindow = 30
	refusalWindow     = time.Minute
	// maxRefusalCallers bounds the callers followed at once.
	maxRefusalCallers = 10_000
)

// auditRefusal reports whether a refused request's entry is to be
// written, and logs once per window that a caller's refusals are no
// longer audited.
func (s *server) auditRefusal(e store.AuditEntry) bool {
	caller := e.Actor + ":" + e.BroadcasterID
	if e.Actor == "anonymous" {
		host, _, err := net.SplitHostPort(e.RemoteAddr)
		if err != nil {
			host = e.RemoteAddr
		}
		caller += host
	}
	ok, first, previous := s.refusals.allow(caller, s.now())
	if previous > 0 {
		s.Log.Warn("refused requests left out of the audit log", "caller", caller, "requests", previous, "window", refusalWindow)
	}
	if first {
		s.Log.Warn("audit of refused requests rate-limited", "caller", caller, "limit", refusalsPerWindow, "window", refusalWindow)
	}
	return ok
}

// refusalLimiter counts each caller's audited refusals in fixed windows.
type refusalLimiter struct {
	mu      sync.Mutex
	callers map[string]*refusalCount
}

type refusalCount struct {
	start            time.Time
	audited, dropped int
}

func newRefusalLimiter() *refusalLimiter {
	return &refusalLimiter{callers: map[string]*refusalCount{}}
}

// allow counts a refusal of caller at now: ok if it is to be audited,
// first if it is the first left out in this window, and previous, at the
// start of a new window, how many the last one left out.
func (l *refusalLimiter) allow(caller string, now time.Time) (ok, first bool, previous int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	c := l.callers[caller]
	if c == nil {
		if len(l.callers) >= maxRefusalCallers {
			for k, old := range l.callers {
				if now.Sub(old.start) >= refusalWindow {
					delete(l.callers, k)
				}
			}
			if len(l.callers) >= maxRefusalCallers {
				return false, false, 0
			}
		}
		c = &refusalCount{start: now}
		l.callers[caller] = c
	}
	if now.Sub(c.start) >= refusalWindow {
		previous = c.dropped
		*c = refusalCount{start: now}
	}
	if c.audited < refusalsPerWindow {
		c.audited++
		return true, false, previous
	}
	c.dropped++
	return false, c.dropped == 1, previous
}

// targetsOf names the objects in the request's route ({id} after /feeds is
// a feed) and the one its answer created (its Location).
func targetsOf(r *http.Request, location string) map[string]string {
	targets := map[string]string{}
	if rctx := chi.RouteContext(r.Context()); rctx != nil {
		segments := strings.Split(rctx.RoutePattern(), "/")
		for i := 1; i < len(segments); i++ {
			if name, ok := strings.CutPrefix(segments[i], "{"); ok {
				targets[kindOf(segments[i-1])] = rctx.URLParam(strings.TrimSuffix(name, "}"))
			}
		}
	}
	if location != "" {
		segments := strings.Split(strings.TrimSuffix(location, "/"), "/")
		if n := len(segments); n >= 2 {
			targets[kindOf(segments[n-2])] = segments[n-1]
		}
	}
	return targets
}

// kindOf names the object of a collection: feeds -> feed.
func kindOf(collection string) string {
	return strings.TrimSuffix(collection, "s")
}

type auditJSON struct {
	ID            int64             `json:"id"`
	At            *string           `json:"at"`
	Actor         string            `json:"actor"`
	BroadcasterID string            `json:"broadcaster_id,omitempty"`
	RemoteAddr    string            `json:"remote_addr"`
	Method        string            `json:"method"`
	Path          string            `json:"path"`
	Targets       map[string]string `json:"targets"`
	Status        int               `json:"status"`
}

// Audit log pages: 100 entries unless told, 1000 at most.
const (
	auditPage    = 100
	auditPageMax = 1000
)

// listAudit answers GET /audit?limit=&before=: entries newest first; pass
// the last id of a page as before to get the next.
func (s *server) listAudit(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit, before := auditPage, int64(0)
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > auditPageMax {
			writeError(w, badRequest("limit", "limit must be a whole number from 1 to %d, not %q", auditPageMax, v))
			return
		}
		limit = n
	}
	if v := q.Get("before"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1 {
			writeError(w, badRequest("before", "before must be the id of an audit entry, not %q", v))
			return
		}
		before = n
	}
	entries, err := s.Store.Audit(r.Context(), limit, before)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := make([]auditJSON, 0, len(entries))
	for _, e := range entries {
		out = append(out, auditJSON{ID: e.ID, At: formatTime(e.At), Actor: e.Actor, BroadcasterID: e.BroadcasterID,
			RemoteAddr: e.RemoteAddr, Method: e.Method, Path: e.Path, Targets: e.Targets, Status: e.Status})
	}
	writeJSON(w, http.StatusOK, out)
}
