package api

import (
	"context"
	"net/http"
	"strconv"
	"strings"

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
		if _, err := s.Store.AppendAudit(context.WithoutCancel(r.Context()), e); err != nil {
			s.Log.Error("audit log write failed", "method", r.Method, "path", r.URL.Path, "err", err)
		}
	})
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
