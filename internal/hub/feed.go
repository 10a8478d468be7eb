package hub

import (
	"fmt"
	"math/bits"
	"sync"
	"sync/atomic"
	"time"
)

// Feed is the fan-out of one feed: a ring of immutable chunks written by at
// most one publisher and read by any number of readers.
type Feed struct {
	id  string
	cfg Config
	now func() time.Time

	mu   sync.Mutex
	ring []slot
	mask uint64
	head uint64 // sequence number of the next chunk
	tail uint64 // oldest chunk still held
	// buffered counts the bytes of the chunks held.
	buffered int

	// The latest random-access point: the chunk, the byte in it, and the PAT
	// and PMT that stood before it.
	rapValid  bool
	rapSeq    uint64
	rapOffset int
	rapPSI    []byte
	// rapAt is when the latest random-access point arrived, gop the time
	// since the one before it (0 until there have been two).
	rapAt, gop int64
	// A reader that starts at a random-access point may trail the live
	// edge by up to the lag bound from its start: the chunks from pinSeq on
	// are kept until pinUntil for the readers started in the last MaxLag.
	pinSeq   uint64
	pinUntil int64
	// maxRing is the most chunks the ring may grow to (a power of two).
	maxRing int

	publisher    *Publisher
	offlineSince time.Time
	removed      error
	readers      map[*Reader]struct{}
	// unstarted are the readers waiting for an access point: the next one
	// to arrive starts them all, so that none misses a GOP by calling Next late.
	unstarted map[*Reader]struct{}
	// internal are the readers in readers that are Podium's own.
	internal []*Reader
	waiting  []*Reader // readers to wake on the next chunk
	waking   []*Reader // the previous waiting list, reused

	bytesIn      atomic.Uint64
	bytesOutDone atomic.Uint64 // bytes delivered to readers that have left
	lagCuts      atomic.Uint64
	bitrate      atomic.Uint64
	lastBytesIn  uint64
	lastRateAt   time.Time
	// overSince is when the bitrate rose above cfg.MaxBitrate; written by housekeep only.
	overSince time.Time

	// history keeps the bitrate every HistoryInterval for HistoryLength
	// samples, oldest first once full; written by housekeep only.
	histMu      sync.Mutex
	history     []uint64
	historyNext int
	lastSample  time.Time
}

// HistoryInterval and HistoryLength shape a feed's bitrate history: five minutes at 2 s.
const (
	HistoryInterval = 2 * time.Second
	HistoryLength   = 150
)

// slot is one chunk of the ring: whole transport packets, as received.
type slot struct {
	data []byte
	at   int64 // arrival, in nanoseconds since the Unix epoch
}

// initialRing is how many chunks a feed's ring starts with: about 2.5 s at
// 20 Mbit/s. It grows, up to Config.RingChunks, while a higher rate or a
// longer GOP needs more to keep the lag bound.
const initialRing = 4096

func newFeed(id string, cfg Config, now func() time.Time) *Feed {
	maxRing := 1 << bits.Len(uint(cfg.RingChunks-1))
	size := min(maxRing, initialRing)
	return &Feed{
		id:           id,
		cfg:          cfg,
		now:          now,
		ring:         make([]slot, size),
		mask:         uint64(size - 1),
		maxRing:      maxRing,
		rapPSI:       make([]byte, 0, 12*188),
		readers:      make(map[*Reader]struct{}),
		unstarted:    make(map[*Reader]struct{}),
		offlineSince: now(),
		lastRateAt:   now(),
	}
}

// ID returns the feed's id.
func (f *Feed) ID() string { return f.id }

// append adds a chunk that the publisher will never modify again. rap is the
// byte offset of a random-access point in it, or -1; psi is the PAT and PMT
// that stood before that point.
func (f *Feed) append(p *Publisher, data []byte, rap int, psi []byte) error {
	now := f.now().UnixNano()
	f.mu.Lock()
	if f.publisher != p {
		f.mu.Unlock()
		return errPublisherGone
	}
	if f.head-f.tail == uint64(len(f.ring)) {
		f.trim(now)
	}
	if f.head-f.tail == uint64(len(f.ring)) {
		if len(f.ring) < f.maxRing {
			f.grow()
		} else {
			f.release()
		}
	}
	f.ring[f.head&f.mask] = slot{data: data, at: now}
	f.buffered += len(data)
	if rap >= 0 {
		if f.rapValid {
			f.gop = now - f.rapAt
		}
		f.rapAt = now
		f.rapValid, f.rapSeq, f.rapOffset = true, f.head, rap
		f.rapPSI = append(f.rapPSI[:0], psi...)
		for r := range f.unstarted {
			r.startAt(f.head, rap, now)
		}
		clear(f.unstarted)
	}
	f.head++
	f.trim(now)
	f.waking, f.waiting = f.waiting, f.waking[:0]
	wake := f.waking
	f.mu.Unlock()
	for _, r := range wake {
		r.signal()
	}
	return nil
}

// trim releases chunks no reader may still need: those older than the lag bound that precede the latest
// random-access point.
func (f *Feed) trim(now int64) {
	oldest := now - int64(f.cfg.MaxLag)
	// The internal readers' next chunks are kept for their longer bound.
	needed := f.head
	for _, r := range f.internal {
		needed = min(needed, r.next)
	}
	internalOldest := now - int64(f.internalMaxLag())
	for f.tail < f.head {
		s := &f.ring[f.tail&f.mask]
		if s.at >= oldest || (f.rapValid && f.tail >= f.rapSeq) || (now < f.pinUntil && f.tail >= f.pinSeq) ||
			(f.tail >= needed && s.at >= internalOldest) {
			break
		}
		f.release()
	}
	if f.rapValid && f.rapSeq < f.tail {
		f.rapValid = false
	}
}

// internalMaxLag is the lag bound of the feed's internal readers.
func (f *Feed) internalMaxLag() time.Duration { return max(f.cfg.MaxLag, f.cfg.InternalMaxLag) }

// grow doubles the ring, keeping every chunk at its sequence number.
func (f *Feed) grow() {
	ring := make([]slot, 2*len(f.ring))
	mask := uint64(len(ring) - 1)
	for seq := f.tail; seq < f.head; seq++ {
		ring[seq&mask] = f.ring[seq&f.mask]
	}
	f.ring, f.mask = ring, mask
}

// pin keeps the chunks from seq on for a reader that starts there now.
func (f *Feed) pin(seq uint64, now int64) {
	if now >= f.pinUntil || seq < f.pinSeq {
		f.pinSeq = seq
	}
	f.pinUntil = max(f.pinUntil, now+int64(f.cfg.MaxLag))
}

// release drops the oldest chunk.
func (f *Feed) release() {
	s := &f.ring[f.tail&f.mask]
	f.buffered -= len(s.data)
	s.data = nil
	f.tail++
}

// Live reports whether a publisher is attached.
func (f *Feed) Live() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.publisher != nil
}

// Stats is a moment's view of a feed.
type Stats struct {
	Live          bool
	Publisher     *PublisherInfo
	Readers       int
	BitrateBPS    uint64
	BytesIn       uint64
	BytesOut      uint64
	LaggingCuts   uint64
	OfflineSince  time.Time
	BufferedBytes int
}

// PublisherInfo describes the attached publisher.
type PublisherInfo struct {
	RemoteAddr string
	Since      time.Time
	BytesIn    uint64
}

// Bitrate returns the feed's incoming bitrate, in bits per second.
func (f *Feed) Bitrate() uint64 { return f.bitrate.Load() }

// Stats returns the feed's current figures.
func (f *Feed) Stats() Stats {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := Stats{
		Live:        f.publisher != nil,
		Readers:     len(f.readers) - len(f.internal),
		BitrateBPS:  f.bitrate.Load(),
		BytesIn:     f.bytesIn.Load(),
		BytesOut:    f.bytesOutDone.Load(),
		LaggingCuts: f.lagCuts.Load(),
	}
	if p := f.publisher; p != nil {
		s.Publisher = &PublisherInfo{RemoteAddr: p.remote, Since: p.since, BytesIn: p.bytesIn.Load()}
	} else {
		s.OfflineSince = f.offlineSince
	}
	for r := range f.readers {
		if !r.internal {
			s.BytesOut += r.bytesOut.Load()
		}
	}
	s.BufferedBytes = f.buffered
	return s
}

// close disconnects the publisher and every reader with reason, for good.
func (f *Feed) close(reason error) {
	f.mu.Lock()
	f.removed = reason
	p := f.publisher
	f.publisher = nil
	readers := make([]*Reader, 0, len(f.readers))
	for r := range f.readers {
		readers = append(readers, r)
	}
	f.mu.Unlock()
	if p != nil {
		p.kick(reason)
	}
	for _, r := range readers {
		r.Close(reason)
	}
}

// housekeep updates the bitrate and applies the grace period.
func (f *Feed) housekeep(now time.Time) {
	in := f.bytesIn.Load()
	if elapsed := now.Sub(f.lastRateAt); elapsed > 0 {
		rate := float64(in-f.lastBytesIn) * 8 / elapsed.Seconds()
		// Smooth over about a second at a 250 ms tick.
		old := float64(f.bitrate.Load())
		f.bitrate.Store(uint64(old + (rate-old)*0.25))
	}
	f.lastBytesIn, f.lastRateAt = in, now
	if now.Sub(f.lastSample) >= HistoryInterval {
		f.lastSample = now
		f.recordBitrate(f.bitrate.Load())
	}
	f.enforceBitrate(now)

	f.mu.Lock()
	var expired []*Reader
	if f.publisher == nil {
		for r := range f.readers {
			since := f.offlineSince
			if r.attachedAt.After(since) {
				since = r.attachedAt
			}
			if now.Sub(since) >= f.cfg.Grace {
				expired = append(expired, r)
			}
		}
	}
	f.mu.Unlock()
	for _, r := range expired {
		r.Close(ErrFeedOffline)
	}
}

// enforceBitrate cuts the publisher whose bitrate stayed above the limit for BitrateSustain.
func (f *Feed) enforceBitrate(now time.Time) {
	limit := f.cfg.MaxBitrate
	rate := f.bitrate.Load()
	f.mu.Lock()
	p := f.publisher
	f.mu.Unlock()
	if limit == 0 || p == nil || rate <= limit {
		f.overSince = time.Time{}
		return
	}
	if f.overSince.IsZero() {
		f.overSince = now
	}
	over := now.Sub(f.overSince)
	if over < BitrateSustain {
		return
	}
	f.overSince = time.Time{}
	err := fmt.Errorf("%w: %.1f Mbit/s for %v, above max_publish_bitrate %.1f Mbit/s",
		ErrBitrateExceeded, float64(rate)/1e6, over.Round(100*time.Millisecond), float64(limit)/1e6)
	p.kick(err)
	if f.cfg.BitrateExceeded != nil {
		f.cfg.BitrateExceeded(f.id, err)
	}
}

func (f *Feed) recordBitrate(bps uint64) {
	f.histMu.Lock()
	defer f.histMu.Unlock()
	if len(f.history) < HistoryLength {
		f.history = append(f.history, bps)
		return
	}
	f.history[f.historyNext] = bps
	f.historyNext = (f.historyNext + 1) % HistoryLength
}

// BitrateHistory returns the feed's bitrate, in bit/s, sampled every
// HistoryInterval over the last HistoryLength samples, oldest first.
func (f *Feed) BitrateHistory() []uint64 {
	f.histMu.Lock()
	defer f.histMu.Unlock()
	out := make([]uint64, 0, len(f.history))
	out = append(out, f.history[f.historyNext:]...)
	return append(out, f.history[:f.historyNext]...)
}
