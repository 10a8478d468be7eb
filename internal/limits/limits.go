// Package limits bounds what callers may take of a server: connections at
// once, in total and per broadcaster, and HLS viewers apart from them, so
// that viewers holding a playback URL can never take the slots of a
// broadcaster's SRT pulls and pushes. The protocol servers ask for a slot
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
	HLSViewers                = "hls_viewers"
	HLSViewersPerBroadcaster  = "hls_viewers_per_broadcaster"
	PublishBitrate            = "publish_bitrate"
)

// ExceededError is a refusal for being over a limit.
type ExceededError struct {
	// Limit is Connections, ConnectionsPerBroadcaster, HLSViewers or HLSViewersPerBroadcaster.
	Limit string
	Max   int
	// BroadcasterID is the broadcaster over its own limit.
	BroadcasterID string
}

// PerBroadcaster reports whether the refusal is for a broadcaster's own limit.
func (e *ExceededError) PerBroadcaster() bool {
	return e.Limit == ConnectionsPerBroadcaster || e.Limit == HLSViewersPerBroadcaster
}

func (e *ExceededError) Error() string {
	switch e.Limit {
	case ConnectionsPerBroadcaster:
		return fmt.Sprintf("broadcaster %s already has %d connections, its limit (max_connections_per_broadcaster)", e.BroadcasterID, e.Max)
	case HLSViewersPerBroadcaster:
		return fmt.Sprintf("broadcaster %s already has %d HLS viewers, its limit (max_hls_viewers_per_broadcaster)", e.BroadcasterID, e.Max)
	case HLSViewers:
		return fmt.Sprintf("server already has %d HLS viewers, its limit (max_hls_viewers)", e.Max)
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
		Help: "Connections refused, and publishers cut, for being over a limit: connections, connections_per_broadcaster, hls_viewers, hls_viewers_per_broadcaster, publish_bitrate."},
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
	// totalLimit and broadcasterLimit name the two limits in refusals and metrics.
	totalLimit, broadcasterLimit string
	metrics                      *Metrics

	mu            sync.Mutex
	total         int
	byBroadcaster map[string]int
}

// NewConnectionLimiter returns a limiter of max connections in all and
// perBroadcaster per broadcaster (0: no limit). metrics may be nil.
func NewConnectionLimiter(max, perBroadcaster int, metrics *Metrics) *ConnectionLimiter {
	return &ConnectionLimiter{max: max, perBroadcaster: perBroadcaster, totalLimit: Connections, broadcasterLimit: ConnectionsPerBroadcaster,
		metrics: metrics, byBroadcaster: make(map[string]int)}
}

// NewViewerLimiter returns a limiter of max HLS viewers in all and
// perBroadcaster per broadcaster (0: no limit), kept apart from the
// connection limiter. metrics may be nil.
func NewViewerLimiter(max, perBroadcaster int, metrics *Metrics) *ConnectionLimiter {
	return &ConnectionLimiter{max: max, perBroadcaster: perBroadcaster, totalLimit: HLSViewers, broadcasterLimit: HLSViewersPerBroadcaster,
		metrics: metrics, byBroadcaster: make(map[string]int)}
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
		c.metrics.Rejected(c.totalLimit)
		return nil, &ExceededError{Limit: c.totalLimit, Max: c.max}
	}
	if broadcasterID != "" && c.perBroadcaster > 0 && c.byBroadcaster[broadcasterID] >= c.perBroadcaster {
		c.metrics.Rejected(c.broadcasterLimit)
		return nil, &ExceededError{Limit: c.broadcasterLimit, Max: c.perBroadcaster, BroadcasterID: broadcasterID}
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
