// Package hub is the heart of the media plane: for each live feed it takes the
// transport stream of one publisher and fans it out to many readers. Chunks
// are copied once, on the way in, and then shared read-only by every reader;
// the publisher never waits for a reader, and a reader that falls too far
// behind is cut off. The hub knows nothing of SRT, HTTP or rights: the
// protocol servers in front of it decide who may publish or read.
package hub

import (
	"context"
	"errors"
	"sort"
	"sync"
	"time"
)

// Reasons a publisher or reader is refused or disconnected.
var (
	ErrPublisherActive = errors.New("feed already has a live publisher")
	ErrFeedRemoved     = errors.New("feed deleted")
	ErrFeedOffline     = errors.New("feed offline: no publisher within the grace period")
	ErrLagging         = errors.New("reader fell too far behind the live edge")
	ErrShutdown        = errors.New("server shutting down")
	// ErrBitrateExceeded cuts a publisher above Config.MaxBitrate for BitrateSustain.
	ErrBitrateExceeded = errors.New("publish bitrate over the limit")
)

// BitrateSustain is how long a feed's ingest bitrate may stay above
// Config.MaxBitrate before its publisher is cut: long enough to let a burst
// of keyframes through.
const BitrateSustain = 2 * time.Second

// Config bounds the hub's behaviour.
type Config struct {
	// Grace is how long readers stay connected to a feed without a publisher,
	// waiting for it to come back.
	Grace time.Duration
	// MaxLag is how far, in time of arrival, a reader may trail the live edge before it is cut.
	MaxLag time.Duration
	// InternalMaxLag is how far Podium's own readers (the recorder, the HLS
	// muxer) may trail it: a disk or a machine that stalls for a few seconds
	// must not cut a gap in the archive. The chunks they still need are kept
	// that long. Below MaxLag, MaxLag holds.
	InternalMaxLag time.Duration
	// RingChunks is the most chunks a feed keeps (rounded up to a power of
	// two); its ring grows to it as the rate and the GOP need.
	RingChunks int
	// MaxBitrate, in bit/s, cuts a publisher whose ingest bitrate (as
	// Stats.BitrateBPS, a ~1 s average) stays above it for BitrateSustain. 0: no limit.
	MaxBitrate uint64
	// BitrateExceeded, if set, is told of every publisher cut for its bitrate.
	BitrateExceeded func(feedID string, err error)
}

// DefaultConfig is the hub's configuration unless told otherwise.
var DefaultConfig = Config{Grace: 10 * time.Second, MaxLag: time.Second, InternalMaxLag: 10 * time.Second, RingChunks: 1 << 18}

// Hub holds the feeds that have, or recently had, a publisher or readers.
type Hub struct {
	cfg   Config
	now   func() time.Time
	mu    sync.Mutex
	feeds map[string]*Feed
}

// New returns an empty hub.
func New(cfg Config) *Hub {
	if cfg.RingChunks <= 0 {
		cfg.RingChunks = DefaultConfig.RingChunks
	}
	return &Hub{cfg: cfg, now: time.Now, feeds: make(map[string]*Feed)}
}

// Grace is how long readers wait for a feed's publisher to come back.
func (h *Hub) Grace() time.Duration { return h.cfg.Grace }

// Feed returns the feed with the given id, creating it if needed.
func (h *Hub) Feed(id string) *Feed {
	h.mu.Lock()
	defer h.mu.Unlock()
	f, ok := h.feeds[id]
	if !ok {
		f = newFeed(id, h.cfg, h.now)
		h.feeds[id] = f
	}
	return f
}

// Lookup returns the feed with the given id if the hub has it.
func (h *Hub) Lookup(id string) (*Feed, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	f, ok := h.feeds[id]
	return f, ok
}

// Feeds lists the hub's feeds sorted by id.
func (h *Hub) Feeds() []*Feed {
	h.mu.Lock()
	out := make([]*Feed, 0, len(h.feeds))
	for _, f := range h.feeds {
		out = append(out, f)
	}
	h.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].id < out[j].id })
	return out
}

// Remove disconnects the feed's publisher and readers with reason and forgets the feed.
func (h *Hub) Remove(id string, reason error) {
	h.mu.Lock()
	f, ok := h.feeds[id]
	delete(h.feeds, id)
	h.mu.Unlock()
	if ok {
		f.close(reason)
	}
}

// Close disconnects everything.
func (h *Hub) Close() {
	for _, f := range h.Feeds() {
		h.Remove(f.id, ErrShutdown)
	}
}

// Run does the hub's housekeeping until ctx ends: it measures bitrates and
// disconnects readers of feeds that stayed without a publisher past the grace period.
func (h *Hub) Run(ctx context.Context) {
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			now := h.now()
			for _, f := range h.Feeds() {
				f.housekeep(now)
			}
		}
	}
}
