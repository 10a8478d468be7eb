// Package limits bounds what callers may take of a server: connections at
// once, in total and per broadcaster. The protocol servers ask for a slot
// before they accept a connection and refuse in their own words when there
// is none (an SRT reject code, an HTTP status); every refusal, and every
// publisher cut for its bitrate (enforced by the hub), is counted in
// podium_limit_rejections_total{limit}.
package limits

import (
	"fmt"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// The limits, as named in metrics and logs.
const (
	Connections               = "connections"
	ConnectionsPerBroadcaster = "connections_per_broadcaster"
	PublishBitrate            = "publish_bitrate"
)

// ExceededError is a refusal for being over a limit.
type ExceededError struct {
	Limit string // Connections or ConnectionsPerBroadcaster
	Max   int
	// BroadcasterID is the broadcaster over its own limit.
	BroadcasterID string
}

func (e *ExceededError) Error() string {
	if e.Limit == ConnectionsPerBroadcaster {
		return fmt.Sprintf("broadcaster %s already has %d connections, its limit (max_connections_per_broadcaster)", e.BroadcasterID, e.Max)
	}
	return fmt.Sprintf("server already has %d connections, its limit (max_connections)", e.Max)
}

// Metrics counts refusals for being over a limit.
type Metrics struct {
	rejections *prometheus.CounterVec
}

// NewMetrics registers the limit metrics on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{rejections: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "podium_limit_rejections_total",
		Help: "Connections refused, and publishers cut, for being over a limit: connections, connections_per_broadcaster, publish_bitrate."},
		[]string{"limit"})}
	reg.MustRegister(m.rejections)
	return m
}

// Rejected counts one refusal for limit.
func (m *Metrics) Rejected(limit string) {
	if m != nil {
		m.rejections.WithLabelValues(limit).Inc()
	}
}

// ConnectionLimiter counts the connections in use: every one against Max,
// a broadcaster's against PerBroadcaster. A nil *ConnectionLimiter limits nothing.
type ConnectionLimiter struct {
	max, perBroadcaster int
	metrics             *Metrics

	mu            sync.Mutex
	total         int
	byBroadcaster map[string]int
}

// NewConnectionLimiter returns a limiter of max connections in all and
// perBroadcaster per broadcaster (0: no limit). metrics may be nil.
func NewConnectionLimiter(max, perBroadcaster int, metrics *Metrics) *ConnectionLimiter {
	return &ConnectionLimiter{max: max, perBroadcaster: perBroadcaster, metrics: metrics, byBroadcaster: make(map[string]int)}
}

// Acquire takes a slot for one connection of broadcasterID ("" for a
// connection of no broadcaster, such as a publisher's), or fails with an
// *ExceededError. release gives the slot back; later calls do nothing.
func (c *ConnectionLimiter) Acquire(broadcasterID string) (release func(), err error) {
	if c == nil {
		return func() {}, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.max > 0 && c.total >= c.max {
		c.metrics.Rejected(Connections)
		return nil, &ExceededError{Limit: Connections, Max: c.max}
	}
	if broadcasterID != "" && c.perBroadcaster > 0 && c.byBroadcaster[broadcasterID] >= c.perBroadcaster {
		c.metrics.Rejected(ConnectionsPerBroadcaster)
		return nil, &ExceededError{Limit: ConnectionsPerBroadcaster, Max: c.perBroadcaster, BroadcasterID: broadcasterID}
	}
	c.total++
	if broadcasterID != "" {
		c.byBroadcaster[broadcasterID]++
	}
	var once sync.Once
	return func() { once.Do(func() { c.release(broadcasterID) }) }, nil
}

func (c *ConnectionLimiter) release(broadcasterID string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.total--
	if broadcasterID != "" {
		if c.byBroadcaster[broadcasterID]--; c.byBroadcaster[broadcasterID] <= 0 {
			delete(c.byBroadcaster, broadcasterID)
		}
	}
}

// InUse returns the connections held, in all and by broadcasterID.
func (c *ConnectionLimiter) InUse(broadcasterID string) (total, ofBroadcaster int) {
	if c == nil {
		return 0, 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.total, c.byBroadcaster[broadcasterID]
}
