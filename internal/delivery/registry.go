// Package delivery keeps the register of live deliveries (one connection
// carrying one feed to one broadcaster, whatever the protocol) and enforces
// rights on them while they run: a revoked or suspended entitlement, a
// deleted feed or an ended window closes the delivery within a sweep period.
package delivery

import (
	"context"
	"errors"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/podium-broadcast/podium/internal/catalog"
)

// ErrNotEntitled closes a delivery whose broadcaster has lost the right to its feed.
var ErrNotEntitled = errors.New("not entitled")

// SweepPeriod is how often running deliveries are checked against the catalog
// even when nothing changed, so that windows end on time.
const SweepPeriod = 200 * time.Millisecond

// Transport is the protocol side of a delivery.
type Transport interface {
	// Stats returns the connection's transport counters.
	Stats() TransportStats
	// Close ends the connection, giving reason to the peer and the log.
	Close(reason error)
}

// TransportStats are the counters of a delivery's connection.
type TransportStats struct {
	PacketsSent          uint64
	PacketsRetransmitted uint64
	PacketsLost          uint64 // reported lost by the receiver
	PacketsDropped       uint64 // dropped by the sender, too late to be useful
	RTT                  time.Duration
}

// Delivery is one live connection carrying a feed to a broadcaster.
type Delivery struct {
	ID            uint64
	BroadcasterID string
	FeedID        string
	Protocol      string
	RemoteAddr    string
	Since         time.Time

	transport Transport
	bytes     atomic.Uint64
}

// AddBytes counts bytes delivered.
func (d *Delivery) AddBytes(n int) { d.bytes.Add(uint64(n)) }

// Bytes returns the bytes delivered so far.
func (d *Delivery) Bytes() uint64 { return d.bytes.Load() }

// Stats returns the transport's counters.
func (d *Delivery) Stats() TransportStats { return d.transport.Stats() }

// Catalog gives the current catalog snapshot.
type Catalog interface {
	Snapshot() *catalog.Snapshot
}

// Registry holds the live deliveries.
type Registry struct {
	catalog Catalog
	now     func() time.Time
	kick    chan struct{}

	mu         sync.Mutex
	nextID     uint64
	deliveries map[uint64]*Delivery

	// closedBytes keeps the bytes of finished deliveries per broadcaster, for metrics.
	closedMu    sync.Mutex
	closedBytes map[string]uint64
}

// NewRegistry returns an empty registry checking rights against c.
func NewRegistry(c Catalog) *Registry {
	return &Registry{catalog: c, now: time.Now, kick: make(chan struct{}, 1),
		deliveries: make(map[uint64]*Delivery), closedBytes: make(map[string]uint64)}
}

// Add registers a delivery that has just started.
func (r *Registry) Add(d *Delivery, t Transport) {
	d.transport = t
	r.mu.Lock()
	r.nextID++
	d.ID = r.nextID
	r.deliveries[d.ID] = d
	r.mu.Unlock()
}

// Remove unregisters a delivery that has ended.
func (r *Registry) Remove(d *Delivery) {
	r.mu.Lock()
	_, ok := r.deliveries[d.ID]
	delete(r.deliveries, d.ID)
	r.mu.Unlock()
	if ok {
		r.closedMu.Lock()
		r.closedBytes[d.BroadcasterID] += d.Bytes()
		r.closedMu.Unlock()
	}
}

// List returns the live deliveries, oldest first.
func (r *Registry) List() []*Delivery {
	r.mu.Lock()
	out := make([]*Delivery, 0, len(r.deliveries))
	for _, d := range r.deliveries {
		out = append(out, d)
	}
	r.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Count returns how many live deliveries of feedID use protocol.
func (r *Registry) Count(feedID, protocol string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, d := range r.deliveries {
		if d.FeedID == feedID && d.Protocol == protocol {
			n++
		}
	}
	return n
}

// BytesByBroadcaster returns the bytes delivered to each broadcaster, live and finished deliveries together.
func (r *Registry) BytesByBroadcaster() map[string]uint64 {
	r.closedMu.Lock()
	out := make(map[string]uint64, len(r.closedBytes))
	for b, n := range r.closedBytes {
		out[b] = n
	}
	r.closedMu.Unlock()
	for _, d := range r.List() {
		out[d.BroadcasterID] += d.Bytes()
	}
	return out
}

// CatalogChanged asks for an immediate rights sweep. It never blocks.
func (r *Registry) CatalogChanged(*catalog.Snapshot) {
	select {
	case r.kick <- struct{}{}:
	default:
	}
}

// Run enforces rights until ctx ends: on every catalog change and every SweepPeriod.
func (r *Registry) Run(ctx context.Context) {
	tick := time.NewTicker(SweepPeriod)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		case <-r.kick:
		}
		r.Sweep()
	}
}

// Sweep closes every delivery whose broadcaster is no longer entitled to its feed.
func (r *Registry) Sweep() {
	snap := r.catalog.Snapshot()
	now := r.now()
	for _, d := range r.List() {
		if reason := snap.Refusal(d.BroadcasterID, d.FeedID, now); reason != "" {
			d.transport.Close(&RefusedError{Reason: reason})
		}
	}
}

// RefusedError says why a broadcaster may not receive a feed.
type RefusedError struct{ Reason string }

func (e *RefusedError) Error() string { return e.Reason }

// Is makes errors.Is(err, ErrNotEntitled) true.
func (e *RefusedError) Is(target error) bool { return target == ErrNotEntitled }
