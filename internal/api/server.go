// Package api is Podium's REST API under /api/v1: the catalog (feeds,
// broadcasters, entitlements) for operators, read-only views for
// broadcasters, the live deliveries, playback and SRT pull details, and a
// server-sent event stream for the portal. It authenticates every request
// with a bearer token (the admin token or a broadcaster's API key) or with
// the portal's session cookie obtained by signing in with one of them.
package api

import (
	"context"
	_ "embed"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/podium-broadcast/podium/internal/catalog"
	"github.com/podium-broadcast/podium/internal/delivery"
	"github.com/podium-broadcast/podium/internal/hub"
	"github.com/podium-broadcast/podium/internal/ingest"
	"github.com/podium-broadcast/podium/internal/ratelimit"
	"github.com/podium-broadcast/podium/internal/store"
)

// OpenAPI is the description of this API.
//
//go:embed openapi.yaml
var OpenAPI []byte

// Ingest reports on live publishers.
type Ingest interface {
	PublisherStats(feedID string) (delivery.TransportStats, bool)
}

// Deps are what the API works on.
type Deps struct {
	Store      *store.Store
	Hub        *hub.Hub
	Deliveries *delivery.Registry
	Ingest     Ingest
	AdminToken string
	Log        *slog.Logger
	// Metrics serves /metrics.
	Metrics http.Handler
	// SRTAddr is the SRT listener's address as broadcasters reach it (host:port).
	SRTAddr string
	// SRTLatency is the SRT latency the server offers.
	SRTLatency time.Duration
	// Playback signs HLS playback URLs; nil when HLS is off.
	Playback Playback
	// Sources reports and forces primary/backup switching.
	Sources Sources
	// Callers reports on the feeds' SRT caller sources, Pushes on the
	// broadcasters' push destinations; nil when they do not run.
	Callers CallStatuses
	Pushes  CallStatuses
	// Archive reports on recordings; nil when recording is off.
	Archive Archive
	// Auth counts wrong tokens per client address and, once it is locked
	// out, refuses its further wrong tokens with 429; nil: no limit.
	Auth *ratelimit.Limiter
	// Clips is the clip engine; nil when clips are not cut on this server.
	Clips Clips
	// ClipUpdates carries the engine's reports to the library and the
	// event streams; nil: Handler makes its own (engine reports then reach
	// only what the app wires to it).
	ClipUpdates *ClipUpdates
}

// Sources is the contribution switching the API reports on and drives.
type Sources interface {
	Status(feedID string) (ingest.Status, bool)
	Force(feedID, role string) error
	Forget(feedID string)
}

type server struct {
	Deps
	now      func() time.Time
	sessions *sessions
	// refusals bounds how many refused requests each caller gets audited.
	refusals *refusalLimiter

	subsMu  sync.Mutex
	nextSub uint64
	subs    map[uint64]func()
}

// Handler returns the HTTP handler of the API, /metrics and /healthz.
func Handler(d Deps) http.Handler {
	if d.ClipUpdates == nil {
		d.ClipUpdates = NewClipUpdates(d.Store, d.Log)
	}
	s := &server{Deps: d, now: time.Now, subs: make(map[uint64]func())}
	s.sessions = newSessions(s.now)
	s.refusals = newRefusalLimiter()
	d.Store.OnChange(s.catalogChanged)
	r := chi.NewRouter()
	r.Use(s.logRequests)
	r.Get("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	r.Handle("/metrics", d.Metrics)
	r.Route("/api/v1", func(r chi.Router) {
		r.Use(s.auditWrites)
		r.Get("/openapi.yaml", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/yaml")
			w.Write(OpenAPI)
		})
		r.Post("/session", s.signIn)
		r.Group(func(r chi.Router) {
			r.Use(s.authenticate)
			s.routes(r)
		})
		r.NotFound(func(w http.ResponseWriter, r *http.Request) {
			writeError(w, apiError(http.StatusNotFound, "not_found", "", "no such endpoint: %s %s", r.Method, r.URL.Path))
		})
		r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
			writeError(w, apiError(http.StatusMethodNotAllowed, "method_not_allowed", "", "%s is not allowed on %s", r.Method, r.URL.Path))
		})
	})
	return r
}

func (s *server) routes(r chi.Router) {
	r.Get("/feeds", s.listFeeds)
	r.Post("/feeds", s.admin(s.createFeed))
	r.Get("/feeds/{id}", s.getFeed)
	r.Patch("/feeds/{id}", s.admin(s.patchFeed))
	r.Get("/feeds/{id}/recording", s.getRecording)
	r.Delete("/feeds/{id}", s.admin(s.deleteFeed))
	r.Post("/feeds/{id}/switch", s.admin(s.switchSource))
	r.Put("/feeds/{id}/source", s.admin(s.putCallerSource))
	r.Get("/feeds/{id}/source", s.admin(s.getCallerSource))
	r.Delete("/feeds/{id}/source", s.admin(s.deleteCallerSource))
	r.Get("/broadcasters", s.listBroadcasters)
	r.Post("/broadcasters", s.admin(s.createBroadcaster))
	r.Get("/broadcasters/{id}", s.getBroadcaster)
	r.Delete("/broadcasters/{id}", s.admin(s.deleteBroadcaster))
	r.Get("/broadcasters/{id}/destinations", s.ownBroadcaster(s.listDestinations))
	r.Post("/broadcasters/{id}/destinations", s.ownBroadcaster(s.createDestination))
	r.Get("/broadcasters/{id}/destinations/{did}", s.ownBroadcaster(s.getDestination))
	r.Delete("/broadcasters/{id}/destinations/{did}", s.ownBroadcaster(s.deleteDestination))
	r.Get("/entitlements", s.listEntitlements)
	r.Post("/entitlements", s.admin(s.createEntitlement))
	r.Get("/entitlements/{id}", s.getEntitlement)
	r.Patch("/entitlements/{id}", s.admin(s.patchEntitlement))
	r.Delete("/entitlements/{id}", s.admin(s.revokeEntitlement))
	r.Get("/feeds/{id}/playback", s.playback)
	r.Get("/feeds/{id}/srt", s.srtDetails)
	r.Get("/deliveries", s.listDeliveries)
	r.Get("/session", s.getSession)
	r.Delete("/session", s.signOut)
	r.Get("/events", s.events)
	r.Get("/audit", s.admin(s.listAudit))
	r.Post("/schedule/import", s.admin(s.importSchedule))
	r.Get("/sessions", s.listSessions)
	r.Get("/clips", s.listClips)
	r.Post("/clips", s.createClip)
	r.Get("/clips/{id}", s.getClip)
	r.Patch("/clips/{id}", s.patchClip)
	r.Delete("/clips/{id}", s.deleteClip)
	r.Get("/clips/{id}/download", s.downloadClip)
	r.Get("/clips/{id}/thumbnail.jpg", s.thumbnail)
}

// principal is who a request comes from: the operator (admin) or a broadcaster.
type principal struct {
	admin         bool
	broadcasterID string
}

type principalKey struct{}

func who(r *http.Request) principal { return r.Context().Value(principalKey{}).(principal) }

func (s *server) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var p principal
		var ok bool
		if header := r.Header.Get("Authorization"); header != "" {
			token, bearer := strings.CutPrefix(header, "Bearer ")
			if bearer {
				p, ok = s.tokenPrincipal(strings.TrimSpace(token))
			}
			if s.lockedOut(w, r, ok) {
				return
			}
		} else {
			// Session ids are 256-bit random values, out of reach of guessing;
			// a stale cookie (say, after a restart) is not an attack.
			p, ok = s.sessionPrincipal(r)
			if ok {
				audited(r, p)
				if refuseCrossSite(w, r) {
					s.Log.Warn("cross-site request refused", "method", r.Method, "path", r.URL.Path, "remote", r.RemoteAddr,
						"origin", clip(r.Header.Get("Origin")), "sec_fetch_site", clip(r.Header.Get("Sec-Fetch-Site")))
					return
				}
			}
		}
		if !ok {
			writeError(w, errUnauthorized)
			return
		}
		audited(r, p)
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), principalKey{}, p)))
	})
}

// admin lets only the operator through.
func (s *server) admin(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !who(r).admin {
			writeError(w, errForbidden)
			return
		}
		h(w, r)
	}
}

// fail writes err as an API error, logging what is not the caller's fault.
func (s *server) fail(w http.ResponseWriter, r *http.Request, err error) {
	if e := fromDomain(err); e != nil {
		writeError(w, e)
		return
	}
	s.Log.Error("api request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	writeError(w, apiError(http.StatusInternalServerError, "internal", "", "internal error; see the server log"))
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

// Flush lets streaming responses through the recorder.
func (s *statusRecorder) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (s *server) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rec, r)
		if r.URL.Path == "/metrics" || r.URL.Path == "/healthz" {
			return
		}
		level := slog.LevelDebug
		if (r.Method != http.MethodGet || rec.status >= 400) && rec.status != http.StatusTooManyRequests {
			// Refusals of a locked-out address are not logged one by one: the lockout is, once.
			level = slog.LevelInfo
		}
		s.Log.Log(r.Context(), level, "http request", "method", r.Method, "path", r.URL.Path, "status", rec.status,
			"remote", r.RemoteAddr, "duration", time.Since(start).Round(time.Microsecond))
	})
}

func formatTime(t time.Time) *string {
	if t.IsZero() {
		return nil
	}
	s := t.UTC().Format(time.RFC3339)
	return &s
}

// pathFeed returns the feed the path's {id} names if the caller may see it;
// otherwise it answers 404, as for a feed that does not exist.
func (s *server) pathFeed(w http.ResponseWriter, r *http.Request) (catalog.Feed, bool) {
	id := chi.URLParam(r, "id")
	snap := s.Store.Snapshot()
	f, ok := snap.Feed(id)
	if !ok || !s.visibleFeed(r, snap, id) {
		writeError(w, notFound("feed", id))
		return f, false
	}
	return f, true
}

// visibleFeed reports whether the caller may see the feed: the operator sees
// all, a broadcaster those it is entitled to now.
func (s *server) visibleFeed(r *http.Request, snap *catalog.Snapshot, feedID string) bool {
	p := who(r)
	return p.admin || snap.Entitled(p.broadcasterID, feedID, s.now())
}
