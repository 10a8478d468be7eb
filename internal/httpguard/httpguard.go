// Package httpguard protects Podium's HTTP listeners (API, portal, HLS,
// metrics) from clients that hold connections without using them: it caps
// connections in total and per client address, refusing the ones over a cap
// at accept with 503 and Retry-After; it cuts request bodies that arrive
// slower than a minimum rate (408), bounds every write, closes idle
// keep-alive connections, and keeps accepting through file-descriptor
// exhaustion by backing off. It does not authenticate or route anything.
package httpguard

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/podium-broadcast/podium/internal/ratelimit"
)

// MinBodyRate is the slowest a request body may arrive, in bytes per second,
// once its first ReadTimeout is spent: each byte read extends the body's
// deadline by 1/MinBodyRate s.
const MinBodyRate = 1024

// maxRefusing bounds the over-limit connections being answered at once; past
// it a refused connection is closed without an answer.
const maxRefusing = 64

// refuseLinger is how long a refused connection is given to read its 503.
const refuseLinger = time.Second

// ErrBodyTimeout is what reading a request body returns when the body arrives
// slower than MinBodyRate (or stalls for ReadTimeout).
var ErrBodyTimeout = errors.New("request body arrived too slowly")

// Refusal reasons and timeout kinds, the label values of the metrics.
const (
	ReasonConnections        = "connections"
	ReasonConnectionsPerAddr = "connections_per_address"
	TimeoutHeader            = "header"
	TimeoutBody              = "body"
	TimeoutIdle              = "idle"
	TimeoutWrite             = "write"
)

// Config is the limits of one listener.
type Config struct {
	// MaxConnections and MaxConnectionsPerAddress cap the open connections,
	// all together and from one client address (IPv6 by /64); 0: no cap.
	MaxConnections, MaxConnectionsPerAddress int
	// ReadTimeout bounds reading a request's header, and the first stretch of
	// its body (then MinBodyRate applies); a body stalled this long is cut.
	ReadTimeout time.Duration
	// WriteTimeout bounds every single write to a client.
	WriteTimeout time.Duration
	// IdleTimeout closes a keep-alive connection that waits this long for its next request.
	IdleTimeout time.Duration
	// TLS says the server speaks TLS on the listener: a refused connection is
	// then closed without a (plain-text) 503.
	TLS bool
}

// Metrics counts what the guards do; one set serves every listener.
type Metrics struct {
	connections prometheus.Gauge
	refused     *prometheus.CounterVec
	timeouts    *prometheus.CounterVec
	acceptWaits prometheus.Counter
}

// NewMetrics registers the guards' metrics on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		connections: prometheus.NewGauge(prometheus.GaugeOpts{Name: "podium_http_connections",
			Help: "HTTP connections open now (API, portal, HLS, metrics)."}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "podium_http_connections_refused_total",
			Help: "HTTP connections refused at accept for being over a cap, by reason (connections, connections_per_address)."}, []string{"reason"}),
		timeouts: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "podium_http_timeouts_total",
			Help: "HTTP connections cut by a timeout, by kind (header, body, idle, write)."}, []string{"kind"}),
		acceptWaits: prometheus.NewCounter(prometheus.CounterOpts{Name: "podium_http_accept_backoffs_total",
			Help: "Times accepting HTTP connections paused because the process was out of file descriptors (or memory)."}),
	}
	for _, r := range []string{ReasonConnections, ReasonConnectionsPerAddr} {
		m.refused.WithLabelValues(r)
	}
	for _, k := range []string{TimeoutHeader, TimeoutBody, TimeoutIdle, TimeoutWrite} {
		m.timeouts.WithLabelValues(k)
	}
	reg.MustRegister(m.connections, m.refused, m.timeouts, m.acceptWaits)
	return m
}

// Guard holds one listener's limits and its open connections.
type Guard struct {
	cfg     Config
	metrics *Metrics
	log     *slog.Logger

	mu     sync.Mutex
	total  int
	byAddr map[string]int

	refusing chan struct{} // a token per refusal being answered
	wg       sync.WaitGroup
}

// New returns a guard with cfg's limits.
func New(cfg Config, metrics *Metrics, log *slog.Logger) *Guard {
	return &Guard{cfg: cfg, metrics: metrics, log: log, byAddr: make(map[string]int), refusing: make(chan struct{}, maxRefusing)}
}

// Server returns an http.Server serving h with the guard's timeouts; serve it
// on a listener from Listen.
func (g *Guard) Server(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           g.Handler(h),
		ReadHeaderTimeout: g.cfg.ReadTimeout,
		IdleTimeout:       g.cfg.IdleTimeout,
		ConnState:         g.connState,
		ErrorLog:          slog.NewLogLogger(g.log.Handler(), slog.LevelWarn),
	}
}

// Listen wraps ln: connections over a cap are refused, every write is
// bounded, and running out of file descriptors pauses accepting instead of
// ending it. Closing the returned listener closes ln.
func (g *Guard) Listen(ln net.Listener) net.Listener {
	return &listener{Listener: ln, g: g, closed: make(chan struct{})}
}

// Wait returns when every refusal being answered is done (after the listener is closed).
func (g *Guard) Wait() { g.wg.Wait() }

type listener struct {
	net.Listener
	g         *Guard
	closeOnce sync.Once
	closed    chan struct{}
}

func (l *listener) Close() error {
	l.closeOnce.Do(func() { close(l.closed) })
	return l.Listener.Close()
}

// Accept returns the next connection within the caps; it refuses the others
// itself, and waits out a shortage of file descriptors.
func (l *listener) Accept() (net.Conn, error) {
	var backoff time.Duration
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			if !resourceShortage(err) {
				return nil, err
			}
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			if backoff == 5*time.Millisecond {
				l.g.log.Warn("http accept paused", "err", err, "reason", "out of file descriptors or memory; see podium_http_connections and the process's file limit")
			}
			l.g.metrics.acceptWaits.Inc()
			select {
			case <-time.After(backoff):
				continue
			case <-l.closed:
				return nil, net.ErrClosed
			}
		}
		backoff = 0
		if gc := l.g.admit(c); gc != nil {
			return gc, nil
		}
	}
}

// resourceShortage reports whether an accept error is the process (or the
// system) running out of file descriptors or memory: a reason to wait, not to stop.
func resourceShortage(err error) bool {
	var errno syscall.Errno
	if !errors.As(err, &errno) {
		return false
	}
	switch errno {
	case syscall.EMFILE, syscall.ENFILE, syscall.ENOBUFS, syscall.ENOMEM, syscall.ECONNABORTED, syscall.EINTR, syscall.EAGAIN:
		return true
	}
	return false
}

// admit counts c in, or refuses it and returns nil.
func (g *Guard) admit(c net.Conn) *conn {
	key := ratelimit.Key(c.RemoteAddr().String())
	g.mu.Lock()
	reason := ""
	switch {
	case g.cfg.MaxConnections > 0 && g.total >= g.cfg.MaxConnections:
		reason = ReasonConnections
	case g.cfg.MaxConnectionsPerAddress > 0 && g.byAddr[key] >= g.cfg.MaxConnectionsPerAddress:
		reason = ReasonConnectionsPerAddr
	default:
		g.total++
		g.byAddr[key]++
	}
	total, fromAddr := g.total, g.byAddr[key]
	g.mu.Unlock()
	if reason != "" {
		g.metrics.refused.WithLabelValues(reason).Inc()
		g.log.Debug("http connection refused", "remote", c.RemoteAddr().String(), "limit", reason, "connections", total, "from_address", fromAddr)
		g.refuse(c, reason)
		return nil
	}
	g.metrics.connections.Inc()
	return &conn{Conn: c, g: g, key: key}
}

// release counts a closed connection out.
func (g *Guard) release(key string) {
	g.mu.Lock()
	g.total--
	if g.byAddr[key]--; g.byAddr[key] <= 0 {
		delete(g.byAddr, key)
	}
	g.mu.Unlock()
	g.metrics.connections.Dec()
}

// refuse answers an over-limit connection with 503 and Retry-After (plain
// HTTP only) and closes it, without holding up Accept.
func (g *Guard) refuse(c net.Conn, reason string) {
	if g.cfg.TLS {
		c.Close()
		return
	}
	select {
	case g.refusing <- struct{}{}:
	default:
		c.Close()
		return
	}
	g.wg.Go(func() {
		defer func() { <-g.refusing }()
		defer c.Close()
		c.SetDeadline(time.Now().Add(refuseLinger))
		body := fmt.Sprintf(`{"error":{"code":"too_many_connections","message":"too many connections (%s): try again later"}}`+"\n", reason)
		fmt.Fprintf(c, "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nRetry-After: 1\r\nConnection: close\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
		// Half-close and read what the client sent, so that its unread
		// request does not turn the close into a reset that loses the 503.
		if tc, ok := c.(*net.TCPConn); ok {
			tc.CloseWrite()
		}
		buf := make([]byte, 4096)
		for range 16 {
			if _, err := c.Read(buf); err != nil {
				return
			}
		}
	})
}

// connState tracks each connection's HTTP state, to tell an idle keep-alive
// timeout from a header timeout.
func (g *Guard) connState(nc net.Conn, state http.ConnState) {
	if tc, ok := nc.(*tls.Conn); ok {
		nc = tc.NetConn()
	}
	if c, ok := nc.(*conn); ok {
		if state == http.StateIdle {
			c.readSinceIdle.Store(false)
		}
		c.state.Store(int32(state))
	}
}

// conn is an admitted connection.
type conn struct {
	net.Conn
	g             *Guard
	key           string
	state         atomic.Int32 // http.ConnState
	readSinceIdle atomic.Bool
	closeOnce     sync.Once
}

func (c *conn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if n > 0 {
		c.readSinceIdle.Store(true)
	}
	if err != nil && isTimeout(err) {
		// Timeouts of an active request are its body's, counted where the body is read.
		switch http.ConnState(c.state.Load()) {
		case http.StateNew:
			c.g.metrics.timeouts.WithLabelValues(TimeoutHeader).Inc()
		case http.StateIdle:
			if c.readSinceIdle.Load() {
				c.g.metrics.timeouts.WithLabelValues(TimeoutHeader).Inc()
			} else {
				c.g.metrics.timeouts.WithLabelValues(TimeoutIdle).Inc()
			}
		}
	}
	return n, err
}

func (c *conn) Write(b []byte) (int, error) {
	if c.g.cfg.WriteTimeout > 0 {
		c.Conn.SetWriteDeadline(time.Now().Add(c.g.cfg.WriteTimeout))
	}
	n, err := c.Conn.Write(b)
	if err != nil && isTimeout(err) {
		c.g.metrics.timeouts.WithLabelValues(TimeoutWrite).Inc()
	}
	return n, err
}

func (c *conn) Close() error {
	err := c.Conn.Close()
	c.closeOnce.Do(func() { c.g.release(c.key) })
	return err
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, os.ErrDeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}

// Handler bounds the time to read each request's body: ReadTimeout, plus
// 1/MinBodyRate s per byte read, and never ReadTimeout without a byte. A body
// over time fails with ErrBodyTimeout, and the connection is closed after
// the answer.
func (g *Guard) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if g.cfg.ReadTimeout > 0 && r.Body != nil && r.Body != http.NoBody {
			b := &body{body: r.Body, rc: http.NewResponseController(w), start: time.Now(), timeout: g.cfg.ReadTimeout, metrics: g.metrics}
			// Also bounds what the server reads of a body the handler left unread.
			b.rc.SetReadDeadline(b.start.Add(b.timeout))
			r.Body = b
		}
		next.ServeHTTP(w, r)
	})
}

type body struct {
	body     io.ReadCloser
	rc       *http.ResponseController
	start    time.Time
	timeout  time.Duration
	n        int64
	timedOut bool
	metrics  *Metrics
}

func (b *body) Read(p []byte) (int, error) {
	if b.timedOut {
		return 0, ErrBodyTimeout
	}
	now := time.Now()
	deadline := b.start.Add(b.timeout + time.Duration(b.n)*time.Second/MinBodyRate)
	if stalled := now.Add(b.timeout); stalled.Before(deadline) {
		deadline = stalled
	}
	b.rc.SetReadDeadline(deadline)
	n, err := b.body.Read(p)
	b.n += int64(n)
	if err != nil && isTimeout(err) {
		b.timedOut = true
		b.metrics.timeouts.WithLabelValues(TimeoutBody).Inc()
		return n, fmt.Errorf("%w (%d bytes in %v)", ErrBodyTimeout, b.n, now.Sub(b.start).Round(time.Millisecond))
	}
	return n, err
}

func (b *body) Close() error { return b.body.Close() }

// fileReserve is the file descriptors kept for everything but HTTP
// connections: SRT and RTMP, the archive, the databases.
const fileReserve = 256

// WarnFileLimit logs a warning when the process's file limit leaves less
// than fileReserve descriptors beside maxConnections HTTP connections, so
// that the operator raises one or lowers the other before the connections
// take the descriptors recording needs.
func WarnFileLimit(maxConnections int, log *slog.Logger) {
	var limit syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &limit); err != nil {
		return
	}
	if maxConnections > 0 && uint64(maxConnections)+fileReserve > limit.Cur {
		log.Warn("file limit is low for http_max_connections", "file_limit", limit.Cur, "http_max_connections", maxConnections,
			"reason", fmt.Sprintf("keep http_max_connections at least %d below the file limit (ulimit -n, LimitNOFILE=)", fileReserve))
	}
}
