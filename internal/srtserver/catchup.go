package srtserver

import (
	"sync/atomic"

	"github.com/podium-broadcast/podium/internal/hub"
)

// DefaultCatchUps is how many deliveries may start with a backlog at once.
// A delivery starts at the feed's latest keyframe, up to a GOP behind the
// live edge, and sends that backlog at a multiple of the feed's rate: a
// picture at once. When every broadcaster reconnects in the same second
// (a reconnection storm) those bursts add up beyond what the machine and the
// receivers' buffers take, and receivers lose packets or are cut. Past this
// many, a delivery starts near the live edge instead (hub.NewReaderNearLiveEdge):
// at the latest keyframe if it is at most half a GOP old, else at the next
// one. Its backlog is at most half a GOP, and so is the wait for its first
// picture.
const DefaultCatchUps = 8

// catchUpDone is the unsent backlog, in packets, below which a delivery
// has caught up (a few milliseconds of a feed).
const catchUpDone = 32

// catchUpGate counts the deliveries sending a backlog.
type catchUpGate struct {
	limit    int64
	active   atomic.Int64
	deferred atomic.Uint64 // deliveries started near the live edge for want of a slot
}

// catchUp is one delivery's slot in the gate, or nil when it has none.
type catchUp struct {
	gate *catchUpGate
	held atomic.Bool
}

func newCatchUpGate(limit int) *catchUpGate {
	if limit <= 0 {
		limit = DefaultCatchUps
	}
	return &catchUpGate{limit: int64(limit)}
}

// acquire takes a slot, or returns nil when all are taken.
func (g *catchUpGate) acquire() *catchUp {
	if g.active.Add(1) > g.limit {
		g.active.Add(-1)
		g.deferred.Add(1)
		return nil
	}
	c := &catchUp{gate: g}
	c.held.Store(true)
	return c
}

// done gives the slot back; it may be called more than once, and on nil.
func (c *catchUp) done() {
	if c != nil && c.held.CompareAndSwap(true, false) {
		c.gate.active.Add(-1)
	}
}

// newDeliveryReader attaches a delivery's reader to feed: at the latest
// keyframe, with the backlog since, when a catch-up slot is free (the slot is
// returned, to be given back once the backlog is sent), else near the live edge.
func (s *Server) newDeliveryReader(feed *hub.Feed) (*hub.Reader, *catchUp, error) {
	c := s.catchUps.acquire()
	if c == nil {
		r, err := feed.NewReaderNearLiveEdge()
		return r, nil, err
	}
	r, err := feed.NewReader()
	if err != nil {
		c.done()
		return nil, nil, err
	}
	return r, c, nil
}
