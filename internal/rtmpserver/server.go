// Package rtmpserver is Podium's RTMP ingest, for the encoders that do not
// speak SRT (OBS Studio, vMix, many cameras): they publish to
// rtmp://HOST:PORT/live with the stream key FEED?key=PUBLISH_PASSPHRASE.
// Their H.264 or H.265 video and AAC audio are remuxed into an MPEG
// transport stream and written into the feed as one of its sources, so that
// everything downstream (SRT deliveries, HLS) sees a feed like any other.
//
// It takes publishers only: players are refused (broadcasters receive over
// SRT or HLS). RTMP carries the key in the clear, so use it on networks you
// trust, or SRT with encryption elsewhere.
package rtmpserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/podium-broadcast/podium/internal/catalog"
	"github.com/podium-broadcast/podium/internal/limits"
	"github.com/podium-broadcast/podium/internal/ratelimit"
)

// Config sets up the RTMP server.
type Config struct {
	// Addr is the TCP address to listen on, such as ":1935".
	Addr string
	// Timeout bounds the handshake and the commands up to publish, and any
	// silence of a publisher, after which the connection is closed.
	Timeout time.Duration
	// Auth locks out addresses after too many wrong keys; nil: no limit.
	Auth *ratelimit.Limiter
	// Connections bounds the connections at once, a publisher counting as
	// one; nil: no limit.
	Connections *limits.ConnectionLimiter
}

// DefaultTimeout is Config.Timeout when it is zero.
const DefaultTimeout = 10 * time.Second

// Catalog gives the current catalog snapshot.
type Catalog interface {
	Snapshot() *catalog.Snapshot
}

// Publisher is where a publisher's transport stream goes: the feed's
// primary or backup source. Write takes whole transport packets; Kicked is
// closed when Podium drops the publisher, for Reason; Detach ends it.
type Publisher interface {
	Write([]byte) error
	Kicked() <-chan struct{}
	Reason() error
	Detach()
}

// AttachFunc makes a connection the feed's source in role ("primary" or
// "backup"); remote names it in the feed's status.
type AttachFunc func(feedID, role, remote string) (Publisher, error)

// Server is the RTMP listener and its publish sessions.
type Server struct {
	cfg     Config
	catalog Catalog
	attach  AttachFunc
	metrics *Metrics
	log     *slog.Logger

	ln net.Listener
	wg sync.WaitGroup

	mu    sync.Mutex
	conns map[net.Conn]struct{}
}

// New returns a server that writes publishers into feeds through attach;
// Listen binds it and Serve runs it.
func New(cfg Config, c Catalog, attach AttachFunc, m *Metrics, log *slog.Logger) *Server {
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	return &Server{cfg: cfg, catalog: c, attach: attach, metrics: m, log: log, conns: make(map[net.Conn]struct{})}
}

// Listen binds the TCP listener.
func (s *Server) Listen() error {
	ln, err := net.Listen("tcp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen rtmp %s: %w", s.cfg.Addr, err)
	}
	s.ln = ln
	return nil
}

// Addr returns the address the server listens on.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Serve accepts connections until ctx ends, then closes every connection and
// waits for their sessions to finish.
func (s *Server) Serve(ctx context.Context) error {
	stop := context.AfterFunc(ctx, func() {
		s.ln.Close()
		s.mu.Lock()
		for c := range s.conns {
			c.Close()
		}
		s.mu.Unlock()
	})
	defer stop()
	for {
		nc, err := s.ln.Accept()
		if err != nil {
			s.ln.Close()
			s.wg.Wait()
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return nil
			}
			return fmt.Errorf("rtmp accept: %w", err)
		}
		if !s.track(ctx, nc) {
			nc.Close()
			continue
		}
		s.wg.Go(func() {
			defer s.untrack(nc)
			s.serveConn(ctx, nc)
		})
	}
}

// track registers a connection so that shutdown closes it; it reports
// false once shutdown has begun.
func (s *Server) track(ctx context.Context, nc net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ctx.Err() != nil {
		return false
	}
	s.conns[nc] = struct{}{}
	return true
}

func (s *Server) untrack(nc net.Conn) {
	s.mu.Lock()
	delete(s.conns, nc)
	s.mu.Unlock()
	nc.Close()
}
