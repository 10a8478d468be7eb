// Package hls serves every live feed as Low-Latency HLS (fMP4 parts, with
// full segments listed too, so that clients without LL-HLS play the same
// playlists as classic HLS) under /hls/FEED/TOKEN/. The token is signed (see
// Signer) and checked on every request, together with the broadcaster's
// entitlement in the in-memory catalog snapshot: no database look-up, so a
// CDN can sit in front and a revoke refuses the next playlist request.
//
// A feed's muxer starts with the first request and stops after IdleTimeout
// without one. It reads the hub like any other reader: the SRT deliveries
// never wait for it.
package hls

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/http"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/podium-broadcast/podium/internal/catalog"
	"github.com/podium-broadcast/podium/internal/delivery"
	"github.com/podium-broadcast/podium/internal/hub"
	"github.com/podium-broadcast/podium/internal/limits"
	"github.com/podium-broadcast/podium/internal/ratelimit"
)

// Prefix is the URL path HLS is served under.
const Prefix = "/hls/"

// Config shapes the HLS delivery.
type Config struct {
	// TokenTTL is how long a playback URL stays valid at least.
	TokenTTL time.Duration
	// BaseURL is put before /hls/ in playback URLs: a CDN's address, or the
	// server's public one; empty hands out paths alone.
	BaseURL            string
	SegmentMinDuration time.Duration
	PartMinDuration    time.Duration
	SegmentCount       int
	// IdleTimeout stops a feed's muxer that nobody requested for this long.
	IdleTimeout time.Duration
	// StartTimeout bounds how long a request waits for a starting muxer's first segment.
	StartTimeout time.Duration
	// Auth counts forged or malformed tokens per client address and, once it
	// is locked out, refuses its further bad tokens with 429; nil: no limit.
	Auth *ratelimit.Limiter
	// Viewers bounds the viewers, apart from the SRT connections; nil: no limit.
	Viewers *limits.ConnectionLimiter
	// Archive serves time-shift playback; nil: live only.
	Archive Archive
}

// DefaultConfig is the HLS delivery's configuration unless told otherwise.
var DefaultConfig = Config{
	TokenTTL:           4 * time.Hour,
	SegmentMinDuration: time.Second,
	PartMinDuration:    200 * time.Millisecond,
	SegmentCount:       7,
	IdleTimeout:        30 * time.Second,
	StartTimeout:       10 * time.Second,
}

// expiryStep rounds token expiries up, so that a broadcaster's viewers of a
// feed share one URL for a while and a CDN caches it once for all of them.
const expiryStep = 15 * time.Minute

// viewerTimeout ends an HLS delivery after this long without a request.
const viewerTimeout = 15 * time.Second

// Catalog gives the current catalog snapshot.
type Catalog interface {
	Snapshot() *catalog.Snapshot
}

// Server is the HLS delivery of every feed.
type Server struct {
	cfg        Config
	signer     *Signer
	catalog    Catalog
	hub        *hub.Hub
	deliveries *delivery.Registry
	log        *slog.Logger
	metrics    *Metrics
	now        func() time.Time

	ctx    context.Context // set by Run; muxers live within it
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu      sync.Mutex
	muxers  map[string]*feedMuxer
	viewers map[viewerKey]*viewer
	closed  bool
}

// New returns the HLS server; Run must be running for it to serve media.
func New(cfg Config, signer *Signer, c Catalog, h *hub.Hub, d *delivery.Registry, m *Metrics, log *slog.Logger) *Server {
	ctx, cancel := context.WithCancel(context.Background())
	return &Server{cfg: cfg, signer: signer, catalog: c, hub: h, deliveries: d, metrics: m, log: log, now: time.Now,
		ctx: ctx, cancel: cancel, muxers: make(map[string]*feedMuxer), viewers: make(map[viewerKey]*viewer)}
}

// URL implements api.Playback: the path of feedID's multivariant playlist for broadcasterID.
func (s *Server) URL(feedID, broadcasterID string) (string, time.Time) {
	expires := s.now().Add(s.cfg.TokenTTL).Add(expiryStep - 1).Truncate(expiryStep)
	var generation uint64
	if broadcasterID != "" {
		b, _ := s.catalog.Snapshot().Broadcaster(broadcasterID)
		generation = b.Generation
	}
	token := s.signer.Sign(Claims{FeedID: feedID, BroadcasterID: broadcasterID, Generation: generation, Expires: expires})
	return Prefix + feedID + "/" + token + "/" + multivariantPlaylist, expires
}

// BaseURL implements api.Playback.
func (s *Server) BaseURL() string { return s.cfg.BaseURL }

// Run stops idle muxers and ends quiet viewers until ctx ends, then stops every muxer.
func (s *Server) Run(ctx context.Context) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			s.shutdown()
			return
		case <-tick.C:
			s.housekeep()
		}
	}
}

func (s *Server) shutdown() {
	s.mu.Lock()
	s.closed = true
	muxers := s.muxers
	s.muxers = map[string]*feedMuxer{}
	viewers := s.viewers
	s.viewers = map[viewerKey]*viewer{}
	s.mu.Unlock()
	s.cancel()
	for _, m := range muxers {
		m.close()
	}
	for _, v := range viewers {
		s.endViewer(v, "server shutting down")
	}
	s.wg.Wait()
}

func (s *Server) housekeep() {
	now := s.now()
	var idle []*feedMuxer
	var quiet []*viewer
	s.mu.Lock()
	for id, m := range s.muxers {
		select {
		case <-m.done:
			delete(s.muxers, id)
			continue
		default:
		}
		if now.Sub(m.idleSince()) > s.cfg.IdleTimeout {
			delete(s.muxers, id)
			idle = append(idle, m)
		}
	}
	for k, v := range s.viewers {
		if v.ended.Load() || now.Sub(v.lastSeen()) > viewerTimeout {
			delete(s.viewers, k)
			quiet = append(quiet, v)
		}
	}
	s.metrics.muxers.Set(float64(len(s.muxers)))
	s.mu.Unlock()
	for _, m := range idle {
		s.log.Info("hls muxer stopped", "feed", m.feedID, "reason", "idle")
		m.close()
	}
	for _, v := range quiet {
		reason := "no request for " + viewerTimeout.String()
		if v.ended.Load() {
			reason = v.reason()
		}
		s.endViewer(v, reason)
	}
}

// ServeHTTP serves /hls/FEED/TOKEN/FILE.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// The token is the credential, not a cookie: any page may play the URL,
	// such as the portal when playback URLs name a CDN.
	w.Header().Set("Access-Control-Allow-Origin", "*")
	feedID, token, file, ok := splitPath(r.URL.Path)
	kind := fileKind(file)
	if !ok {
		s.refuse(w, kind, http.StatusNotFound, "no such HLS path: expected /hls/FEED/TOKEN/FILE")
		return
	}
	if r.Method == http.MethodOptions {
		w.Header().Set("Access-Control-Allow-Methods", "GET, HEAD")
		w.Header().Set("Access-Control-Max-Age", "86400")
		w.WriteHeader(http.StatusNoContent)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		s.refuse(w, kind, http.StatusMethodNotAllowed, "HLS answers GET and HEAD only")
		return
	}
	claims, err := s.signer.Verify(token, s.now())
	if errors.Is(err, ErrTokenMalformed) || errors.Is(err, ErrTokenSignature) {
		// A guess or a forgery; an expired or another feed's token was signed
		// by Podium. Only these are refused for a locked-out client: a valid
		// token never is, so that behind a proxy one client's forgeries cannot
		// lock out everyone else's players.
		if retry, allowed := s.cfg.Auth.Check(r.RemoteAddr); !allowed {
			w.Header().Set("Retry-After", strconv.Itoa(max(1, int(math.Ceil(retry.Seconds())))))
			s.refuse(w, kind, http.StatusTooManyRequests, "too many forged or malformed tokens from this address: it is locked out, try again later")
			return
		}
		s.cfg.Auth.Fail(r.RemoteAddr)
	}
	if err == nil && claims.FeedID != feedID {
		err = ErrTokenFeed
	}
	if err != nil {
		s.log.Info("hls request refused", "feed", feedID, "remote", r.RemoteAddr, "file", file, "reason", err)
		s.refuse(w, kind, http.StatusForbidden, err.Error())
		return
	}
	snap := s.catalog.Snapshot()
	if _, exists := snap.Feed(feedID); !exists {
		s.refuse(w, kind, http.StatusNotFound, "feed does not exist")
		return
	}
	if claims.BroadcasterID != "" {
		if b, ok := snap.Broadcaster(claims.BroadcasterID); ok && b.Generation != claims.Generation {
			s.log.Info("hls request refused", "feed", feedID, "broadcaster", claims.BroadcasterID, "remote", r.RemoteAddr, "file", file, "reason", ErrTokenAccount)
			s.refuse(w, kind, http.StatusForbidden, ErrTokenAccount.Error())
			return
		}
		if reason := snap.Refusal(claims.BroadcasterID, feedID, s.now()); reason != "" {
			s.log.Info("hls request refused", "feed", feedID, "broadcaster", claims.BroadcasterID, "remote", r.RemoteAddr, "file", file, "reason", reason)
			s.refuse(w, kind, http.StatusForbidden, reason)
			return
		}
	}
	if isArchiveFile(file) {
		s.serveTimeShift(w, r, claims, token, feedID, file, kind)
		return
	}
	m, err := s.muxer(r.Context(), feedID)
	if err != nil {
		w.Header().Set("Retry-After", "2")
		s.refuse(w, kind, http.StatusServiceUnavailable, err.Error())
		return
	}
	v, admitted := s.admit(w, r, claims, token, kind)
	if !admitted {
		return
	}
	rec := &responseRecorder{ResponseWriter: w, playlist: kind == "playlist"}
	switch kind {
	case "playlist":
		m.servePlaylist(rec, r, file)
	case "segment":
		m.serveSegment(rec, r)
	default:
		m.muxer.Handle(rec, r)
	}
	switch {
	case !rec.wroteHeader:
		s.refuse(w, kind, http.StatusNotFound, "no such file (it may have left the live window)")
		return
	case rec.status == http.StatusInternalServerError && isDone(m.done):
		// The muxer stopped while the request waited: the feed went offline.
		s.metrics.requests.WithLabelValues(kind, "503").Inc()
		return
	}
	s.metrics.requests.WithLabelValues(kind, fmt.Sprint(rec.status)).Inc()
	s.served(v, rec.bytes)
}

// serveTimeShift serves the archive to a viewer, counted as its HLS delivery.
func (s *Server) serveTimeShift(w http.ResponseWriter, r *http.Request, claims Claims, token, feedID, file, kind string) {
	v, admitted := s.admit(w, r, claims, token, kind)
	if !admitted {
		return
	}
	s.served(v, s.serveArchive(w, r, feedID, file))
}

// admit counts a request to its broadcaster's HLS viewer, none for the
// operator; when a connection limit refuses the viewer, it answers and
// reports false.
func (s *Server) admit(w http.ResponseWriter, r *http.Request, claims Claims, token, kind string) (*viewer, bool) {
	if claims.BroadcasterID == "" {
		return nil, true
	}
	v, err := s.viewer(claims, token, r)
	if err != nil {
		s.refuseOverLimit(w, kind, claims, r, err)
		return nil, false
	}
	return v, true
}

// served counts n bytes served, and to the viewer's delivery if there is one.
func (s *Server) served(v *viewer, n int) {
	s.metrics.bytes.Add(float64(n))
	if v != nil {
		v.delivery.AddBytes(n)
	}
}

// muxer returns the feed's running muxer, starting it if needed, once it has
// a segment to serve.
func (s *Server) muxer(ctx context.Context, feedID string) (*feedMuxer, error) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, hub.ErrShutdown
	}
	m, ok := s.muxers[feedID]
	if ok && isDone(m.done) {
		delete(s.muxers, feedID)
		ok = false
	}
	if !ok {
		f, live := s.hub.Lookup(feedID)
		if !live || !f.Live() {
			s.mu.Unlock()
			return nil, errors.New("feed offline: no publisher")
		}
		var err error
		m, err = startMuxer(s.ctx, &s.wg, f, s.cfg, s.log)
		if err != nil {
			s.mu.Unlock()
			return nil, err
		}
		s.muxers[feedID] = m
		s.log.Info("hls muxer started", "feed", feedID)
	}
	s.mu.Unlock()
	m.touch()
	wait := time.NewTimer(s.cfg.StartTimeout)
	defer wait.Stop()
	select {
	case <-m.ready:
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-wait.C:
		return nil, errors.New("feed has no segment yet: retry")
	}
	if isDone(m.done) || m.muxer == nil {
		<-m.done
		err := m.err
		if err == nil {
			err = errors.New("muxer stopped")
		}
		return nil, fmt.Errorf("feed cannot be served as HLS: %w", err)
	}
	return m, nil
}

func isDone(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// refuseOverLimit answers a new viewer over a viewer limit: 429 when its
// broadcaster has too many viewers, 503 when the server has.
func (s *Server) refuseOverLimit(w http.ResponseWriter, kind string, c Claims, r *http.Request, err error) {
	status := http.StatusServiceUnavailable
	var exceeded *limits.ExceededError
	if errors.As(err, &exceeded) && exceeded.PerBroadcaster() {
		status = http.StatusTooManyRequests
	}
	s.log.Warn("hls viewer refused", "feed", c.FeedID, "broadcaster", c.BroadcasterID, "remote", remoteIP(r), "reason", err)
	w.Header().Set("Retry-After", "10")
	s.refuse(w, kind, status, err.Error())
}

// refuse answers an HLS request with an error a player and a person can read.
func (s *Server) refuse(w http.ResponseWriter, kind string, status int, reason string) {
	s.metrics.requests.WithLabelValues(kind, fmt.Sprint(status)).Inc()
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	fmt.Fprintln(w, reason)
}

// splitPath cuts /hls/FEED/TOKEN/FILE.
func splitPath(p string) (feed, token, file string, ok bool) {
	rest, found := strings.CutPrefix(p, Prefix)
	if !found {
		return "", "", "", false
	}
	parts := strings.Split(rest, "/")
	if len(parts) != 3 || parts[0] == "" || parts[1] == "" || parts[2] == "" || path.Clean(p) != p {
		return "", "", "", false
	}
	return parts[0], parts[1], parts[2], true
}

func fileKind(file string) string {
	switch {
	case strings.HasSuffix(file, ".m3u8"):
		return "playlist"
	case strings.HasSuffix(file, "_init.mp4"):
		return "init"
	case strings.Contains(file, "_part"):
		return "part"
	case strings.HasSuffix(file, ".mp4"):
		return "segment"
	}
	return "other"
}

// responseRecorder notes what the muxer answered, and keeps playlists from
// being cached: every playlist request must reach the origin to be checked.
type responseRecorder struct {
	http.ResponseWriter
	playlist    bool
	wroteHeader bool
	status      int
	bytes       int
}

func (r *responseRecorder) WriteHeader(status int) {
	if r.wroteHeader {
		return
	}
	r.wroteHeader, r.status = true, status
	if r.playlist {
		r.Header().Set("Cache-Control", "no-cache")
	}
	r.ResponseWriter.WriteHeader(status)
}

func (r *responseRecorder) Write(p []byte) (int, error) {
	if !r.wroteHeader {
		r.WriteHeader(http.StatusOK)
	}
	n, err := r.ResponseWriter.Write(p)
	r.bytes += n
	return n, err
}

// remoteIP is the client's address without the port.
func remoteIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
