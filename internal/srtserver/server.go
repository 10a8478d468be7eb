// Package srtserver is Podium's SRT front door: one listener that takes
// contribution from venue encoders (m=publish) into the hub and delivers
// feeds to broadcasters (m=request) out of it, unchanged. Every connection is
// authenticated by passphrase and checked against the catalog before it is
// accepted; refusals use the SRT access-control reject codes. Podium also
// calls out: it pulls feeds from encoders that listen (Callers) and pushes
// feeds to broadcasters' receivers that listen (Pushes), reconnecting with
// backoff.
package srtserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/podium-broadcast/podium/internal/catalog"
	"github.com/podium-broadcast/podium/internal/delivery"
	"github.com/podium-broadcast/podium/internal/hub"
	"github.com/podium-broadcast/podium/internal/ingest"
	"github.com/podium-broadcast/podium/internal/limits"
	"github.com/podium-broadcast/podium/internal/ratelimit"
)

// Config sets up the SRT server.
type Config struct {
	// Addr is the UDP address to listen on, such as ":6000".
	Addr string
	// Latency is the SRT latency the listener offers (the peer's, if larger, wins).
	Latency time.Duration
	// MaxLag is how long a receiver may stop acknowledging, or a send queue
	// stay full, before the delivery is cut as lagging.
	MaxLag time.Duration
	// Auth locks out addresses after too many wrong passphrases; nil: no limit.
	Auth *ratelimit.Limiter
	// Connections bounds the connections at once; nil: no limit.
	Connections *limits.ConnectionLimiter
	// CatchUps bounds the deliveries that start with a backlog at once
	// (see catchUpGate); 0: DefaultCatchUps.
	CatchUps int
}

// Catalog gives the current catalog snapshot.
type Catalog interface {
	Snapshot() *catalog.Snapshot
}

// Server is the SRT listener with its publish and request sessions.
type Server struct {
	cfg        Config
	catalog    Catalog
	hub        *hub.Hub
	sources    *ingest.Switcher
	deliveries *delivery.Registry
	metrics    *Metrics
	log        *slog.Logger
	now        func() time.Time

	ln listener
	wg sync.WaitGroup

	catchUps *catchUpGate

	mu         sync.Mutex
	publishers map[string]*publishSession
	pulls      map[*pullSession]struct{}
}

// New returns a server; Listen binds it and Serve runs it. Publishers go
// on air through sources (primary and backup), receivers read h.
func New(cfg Config, c Catalog, h *hub.Hub, sources *ingest.Switcher, d *delivery.Registry, m *Metrics, log *slog.Logger) *Server {
	s := &Server{cfg: cfg, catalog: c, hub: h, sources: sources, deliveries: d, metrics: m, log: log, now: time.Now,
		publishers: make(map[string]*publishSession), pulls: make(map[*pullSession]struct{}), catchUps: newCatchUpGate(cfg.CatchUps)}
	m.server = s
	return s
}

// Listen binds the SRT listener.
func (s *Server) Listen() error {
	ln, err := listenSRT(s.cfg.Addr, listenConfig{Latency: s.cfg.Latency, SendQueueDelay: s.cfg.MaxLag, Log: s.log})
	if err != nil {
		return err
	}
	s.ln = ln
	return nil
}

// Addr returns the address the server listens on.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Serve accepts connections until ctx ends, then closes every connection and
// waits for their sessions to finish.
func (s *Server) Serve(ctx context.Context) error {
	s.wg.Go(func() { s.watchReceivers(ctx) })
	stop := context.AfterFunc(ctx, s.ln.Close)
	defer stop()
	for {
		req, err := s.ln.Accept()
		if err != nil {
			s.ln.Close()
			s.wg.Wait()
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return nil
			}
			return fmt.Errorf("srt accept: %w", err)
		}
		s.handle(ctx, req)
	}
}

// handle decides on one connection request. It runs on the accept loop, so
// it only looks things up; sessions run on their own goroutines.
func (s *Server) handle(ctx context.Context, req request) {
	remote := req.RemoteAddr().String()
	// A locked-out address is refused before its passphrase is looked at.
	if retry, ok := s.cfg.Auth.Check(remote); !ok {
		s.refuse(req, remote, reject(RejectLocked, "address locked out after too many failed authentications; retry in %v", retry.Round(time.Second)))
		return
	}
	id, err := ParseStreamID(req.StreamID())
	if err != nil {
		s.refuse(req, remote, err)
		return
	}
	if id.Mode == ModePublish {
		err = s.acceptPublish(ctx, req, id, remote)
	} else {
		err = s.acceptPull(ctx, req, id, remote)
	}
	if err != nil {
		s.refuse(req, remote, err)
	}
}

func (s *Server) refuse(req request, remote string, err error) {
	var rej *Rejection
	if !errors.As(err, &rej) {
		rej = &Rejection{Code: RejectInternal, Reason: err.Error()}
	}
	req.Reject(rej.Code)
	s.metrics.rejections.WithLabelValues(rej.Code.String()).Inc()
	level := slog.LevelWarn
	if rej.Code == RejectLocked {
		// The lockout itself is logged once, by the limiter.
		level = slog.LevelDebug
	}
	s.log.Log(context.Background(), level, "srt connection rejected", "remote", remote, "streamid", truncate(req.StreamID()),
		"code", uint32(rej.Code), "rejection", rej.Code.String(), "reason", rej.Reason)
}

// authenticate checks the caller's passphrase, counting a wrong one against its address.
func (s *Server) authenticate(req request, remote, passphrase, whose string) error {
	if err := checkPassphrase(req, passphrase, whose); err != nil {
		s.cfg.Auth.Fail(remote)
		return err
	}
	s.cfg.Auth.Succeed(remote)
	return nil
}

// checkPassphrase sets the passphrase the caller must have encrypted with.
func checkPassphrase(req request, passphrase, whose string) error {
	if !req.Encrypted() {
		return reject(RejectUnauthorized, "no passphrase: the connection must be encrypted with %s", whose)
	}
	if err := req.SetPassphrase(passphrase); err != nil {
		return reject(RejectUnauthorized, "wrong passphrase: it is not %s", whose)
	}
	return nil
}

func (s *Server) acceptPublish(ctx context.Context, req request, id StreamID, remote string) error {
	role := id.Session
	switch role {
	case "":
		role = ingest.Primary
	case ingest.Primary, ingest.Backup:
	default:
		return reject(RejectBadRequest, "streamid s=%q: a publisher's s= is primary or backup", truncate(role))
	}
	feed, ok := s.catalog.Snapshot().Feed(id.Resource)
	if !ok {
		// Refused and counted as a wrong passphrase is, so that the answer
		// tells nobody which feed ids exist and guessing them locks out.
		s.cfg.Auth.Fail(remote)
		return reject(RejectUnauthorized, "unknown feed %q", truncate(id.Resource))
	}
	passphrase := feed.PublishPassphrase
	if role == ingest.Backup {
		passphrase = feed.BackupPublishPassphrase
	}
	if err := s.authenticate(req, remote, passphrase, "the feed's "+role+" publish passphrase"); err != nil {
		return err
	}
	release, err := s.cfg.Connections.Acquire("")
	if err != nil {
		return reject(RejectOverload, "publisher of feed %s: %v", feed.ID, err)
	}
	pub, err := s.sources.Attach(feed.ID, role, remote)
	if errors.Is(err, ingest.ErrRoleTaken) || errors.Is(err, hub.ErrPublisherActive) {
		release()
		return reject(RejectConflict, "feed %q already has a live publisher (%s)", feed.ID, role)
	}
	if err != nil {
		release()
		return reject(RejectNotFound, "feed %q: %v", feed.ID, err)
	}
	c, err := req.Accept()
	if err != nil {
		pub.Detach()
		release()
		return fmt.Errorf("accept: %w", err)
	}
	p := &publishSession{server: s, feedID: feed.ID, role: role, conn: c, pub: pub, remote: remote, since: s.now(), release: release}
	s.mu.Lock()
	s.publishers[feed.ID+"/"+role] = p
	s.mu.Unlock()
	s.wg.Go(func() { p.run(ctx) })
	return nil
}

func (s *Server) acceptPull(ctx context.Context, req request, id StreamID, remote string) error {
	snap := s.catalog.Snapshot()
	b, ok := snap.Broadcaster(id.User)
	if !ok {
		// Said as unauthorized, not not-found, so that callers cannot probe for broadcaster ids.
		s.cfg.Auth.Fail(remote)
		return reject(RejectUnauthorized, "unknown broadcaster %q", truncate(id.User))
	}
	if err := s.authenticate(req, remote, b.SRTPassphrase, "broadcaster "+b.ID+"'s SRT passphrase"); err != nil {
		return err
	}
	if _, ok := snap.Feed(id.Resource); !ok {
		return reject(RejectNotFound, "feed %q does not exist", truncate(id.Resource))
	}
	if reason := snap.Refusal(b.ID, id.Resource, s.now()); reason != "" {
		return reject(RejectForbidden, "broadcaster %s may not receive feed %s: %s", b.ID, id.Resource, reason)
	}
	release, err := s.cfg.Connections.Acquire(b.ID)
	if err != nil {
		return reject(RejectOverload, "broadcaster %s pulling feed %s: %v", b.ID, id.Resource, err)
	}
	feed := s.hub.Feed(id.Resource)
	reader, catchUp, err := s.newDeliveryReader(feed)
	if err != nil {
		release()
		return reject(RejectNotFound, "feed %q: %v", id.Resource, err)
	}
	c, err := req.Accept()
	if err != nil {
		reader.Close(err)
		catchUp.done()
		release()
		return fmt.Errorf("accept: %w", err)
	}
	c.SetInputRate(feed.Bitrate())
	p := &pullSession{server: s, conn: c, reader: reader, catchUp: catchUp, mode: "request", lastProgress: s.now(), release: release,
		delivery: &delivery.Delivery{BroadcasterID: b.ID, FeedID: id.Resource, Protocol: "srt", RemoteAddr: remote, Since: s.now()}}
	s.track(p)
	s.wg.Go(func() { p.run(ctx) })
	return nil
}

// PublisherStats returns the SRT counters of the feed's live SRT publisher:
// the primary's, or the backup's when only the backup is connected.
func (s *Server) PublisherStats(feedID string) (delivery.TransportStats, bool) {
	s.mu.Lock()
	p, ok := s.publishers[feedID+"/"+ingest.Primary]
	if !ok {
		p, ok = s.publishers[feedID+"/"+ingest.Backup]
	}
	s.mu.Unlock()
	if !ok {
		return delivery.TransportStats{}, false
	}
	return p.Stats(), true
}

// watchReceivers cuts deliveries whose receiver stopped acknowledging: a
// stalled or overloaded receiver must not hold the sender's buffers.
func (s *Server) watchReceivers(ctx context.Context) {
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		s.mu.Lock()
		pulls := make([]*pullSession, 0, len(s.pulls))
		for p := range s.pulls {
			pulls = append(pulls, p)
		}
		s.mu.Unlock()
		now := s.now()
		for _, p := range pulls {
			if p.stalled(now, s.cfg.MaxLag) {
				p.Close(fmt.Errorf("%w: receiver acknowledged nothing for %v", hub.ErrLagging, s.cfg.MaxLag))
			}
		}
	}
}
