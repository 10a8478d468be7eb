package srtserver

import (
	"errors"
	"sync"
	"time"

	"github.com/podium-broadcast/podium/internal/delivery"
	"github.com/podium-broadcast/podium/internal/limits"
)

// Podium calls out over SRT in two cases, each kept up by a goroutine that
// reconnects with backoff: a caller source pulls a feed from an encoder that
// listens (callers.go), and a push delivery sends a feed to a broadcaster's
// receiver that listens (pushes.go).

// CallConfig shapes the calls Podium makes.
type CallConfig struct {
	// Latency is the SRT latency asked for when a source or destination names none.
	Latency time.Duration
	// Timeout bounds a handshake.
	Timeout time.Duration
	// MinBackoff is the first wait after a failed or lost connection; each
	// further failure doubles it, up to MaxBackoff. A connection that stayed
	// up for Healthy starts the next wait over from MinBackoff.
	MinBackoff, MaxBackoff, Healthy time.Duration
	// Connections bounds the connections at once, calls included (a push
	// counts as its broadcaster's); nil: no limit.
	Connections *limits.ConnectionLimiter
}

// DefaultCallConfig is the configuration of calls unless told otherwise.
var DefaultCallConfig = CallConfig{Latency: 120 * time.Millisecond, Timeout: 3 * time.Second,
	MinBackoff: 500 * time.Millisecond, MaxBackoff: 10 * time.Second, Healthy: time.Minute}

// The states of a call. A push is also not_entitled (the broadcaster may
// not receive the feed now) or waiting (the feed is not live).
const (
	StateConnecting  = "connecting"
	StateConnected   = "connected"
	StateBackoff     = "backoff"
	StateNotEntitled = "not_entitled"
	StateWaiting     = "waiting"
)

// CallStatus is a moment's view of a caller source or a push destination.
type CallStatus struct {
	State string
	// Since is when the state began.
	Since time.Time
	// LastError says why the last connection failed or ended (or why a push is not running).
	LastError string
	// NextAttempt is when a call in backoff tries again.
	NextAttempt time.Time
	// Reconnects counts the attempts that followed a failure or a disconnection.
	Reconnects uint64
	// RemoteAddr, Bytes and Transport describe the connection while connected.
	RemoteAddr string
	Bytes      uint64
	Transport  delivery.TransportStats
	// DeliveryID is a push's entry in the register of deliveries while connected.
	DeliveryID uint64
}

// errStopped ends a call that Podium no longer wants (source removed or changed).
var errStopped = errors.New("stopped")

// backoff spaces out reconnection attempts.
type backoff struct {
	cfg  CallConfig
	next time.Duration
}

// delay returns how long to wait before the next attempt, given how long the
// last connection lasted (zero if it never came up).
func (b *backoff) delay(lasted time.Duration) time.Duration {
	if b.next == 0 || lasted >= b.cfg.Healthy {
		b.next = b.cfg.MinBackoff
	}
	d := b.next
	b.next = min(2*b.next, b.cfg.MaxBackoff)
	return d
}

// callState is a call's status, safe for concurrent use.
type callState struct {
	mu     sync.Mutex
	status CallStatus
	conn   conn
	bytes  func() uint64
}

// set moves to a new state at instant now, recording the reason (if any) as the last error.
func (c *callState) set(state string, now time.Time, reason error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.status.State != state {
		c.status.State, c.status.Since = state, now
	}
	if reason != nil {
		c.status.LastError = reason.Error()
	}
	c.status.NextAttempt = time.Time{}
	if state != StateConnected {
		c.conn, c.bytes, c.status.RemoteAddr, c.status.DeliveryID = nil, nil, "", 0
	}
}

// connected records the live connection and how to count its bytes.
func (c *callState) connected(now time.Time, cn conn, bytes func() uint64, deliveryID uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.status.State, c.status.Since = StateConnected, now
	c.status.NextAttempt = time.Time{}
	c.conn, c.bytes, c.status.RemoteAddr, c.status.DeliveryID = cn, bytes, cn.RemoteAddr().String(), deliveryID
}

// disconnected forgets the connection, whose counters are now the metrics' to keep.
func (c *callState) disconnected() {
	c.mu.Lock()
	c.conn, c.bytes = nil, nil
	c.mu.Unlock()
}

// backingOff records a failure and when the next attempt is.
func (c *callState) backingOff(now time.Time, reason error, wait time.Duration) {
	c.set(StateBackoff, now, reason)
	c.mu.Lock()
	c.status.NextAttempt = now.Add(wait)
	c.status.Reconnects++
	c.mu.Unlock()
}

// get returns the status, with the live connection's counters.
func (c *callState) get() CallStatus {
	c.mu.Lock()
	st, cn, bytes := c.status, c.conn, c.bytes
	c.mu.Unlock()
	if cn != nil {
		st.Transport = transportStats(cn.Stats())
		st.Bytes = bytes()
	}
	return st
}

// live returns the connection while connected.
func (c *callState) live() conn {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.conn
}
