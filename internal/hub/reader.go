package hub

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Reader follows a feed from a random-access point onwards. Its methods other
// than Close must be called from one goroutine.
type Reader struct {
	feed       *Feed
	attachedAt time.Time
	wake       chan struct{}
	// internal readers (the recorder, the HLS muxer) are Podium's own, not
	// receivers: the feed's figures leave them out.
	internal bool

	// Guarded by feed.mu.
	next    uint64 // sequence number of the next chunk to hand out
	offset  int    // bytes of chunk next already skipped
	started bool   // an access point has been found
	// from is the first chunk the reader may start at: 0, or the live edge
	// at its attachment for a reader that waits for the next access point.
	from uint64
	// startedAt is when the reader began at its access point: the chunks it
	// found already buffered are due by startedAt+MaxLag, the rest by arrival+MaxLag.
	startedAt int64
	prefix    []byte // PAT and PMT to send before the access point
	closeErr  error

	closeOnce sync.Once
	done      chan struct{}
	bytesOut  atomic.Uint64
}

// NewReader attaches a reader to the feed. It starts at the latest
// random-access point, or waits for the next one.
func (f *Feed) NewReader() (*Reader, error) { return f.newReader(false, false) }

// NewReaderNearLiveEdge attaches a reader with little backlog to catch up
// with: it starts at the latest random-access point if that arrived within
// the last half GOP, else at the next one to arrive. Either way its first
// picture comes within about half a GOP, and its backlog is at most that.
func (f *Feed) NewReaderNearLiveEdge() (*Reader, error) { return f.newReader(false, true) }

// NewInternalReader attaches a reader for Podium's own use, such as the
// recorder's: it reads like any other but is not counted among the feed's
// readers, their bytes or their lag cuts.
func (f *Feed) NewInternalReader() (*Reader, error) { return f.newReader(true, false) }

func (f *Feed) newReader(internal, near bool) (*Reader, error) {
	r := &Reader{feed: f, wake: make(chan struct{}, 1), done: make(chan struct{}), attachedAt: f.now(), internal: internal}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.removed != nil {
		return nil, f.removed
	}
	r.next = f.head
	if near && !(f.rapValid && f.gop > 0 && f.now().UnixNano()-f.rapAt <= f.gop/2) {
		r.from = f.head
	}
	r.seekAccessPoint()
	f.readers[r] = struct{}{}
	if !r.started {
		f.unstarted[r] = struct{}{}
	}
	if internal {
		f.internal = append(f.internal, r)
	}
	return r, nil
}

// Next appends to chunks the data ready for this reader and returns it,
// waiting until there is some. The returned slices are shared and must not
// be modified. It fails once the reader is closed, with the reason.
func (r *Reader) Next(ctx context.Context, chunks [][]byte) ([][]byte, error) {
	f := r.feed
	for {
		f.mu.Lock()
		if r.closeErr != nil {
			err := r.closeErr
			f.mu.Unlock()
			return chunks, err
		}
		if !r.started {
			r.seekAccessPoint()
		}
		if r.started {
			if r.lagging() {
				f.mu.Unlock()
				r.Close(ErrLagging)
				return chunks, ErrLagging
			}
			if r.prefix != nil {
				chunks = append(chunks, r.prefix)
				r.prefix = nil
			}
			for ; r.next < f.head && len(chunks) < cap(chunks); r.next++ {
				data := f.ring[r.next&f.mask].data
				chunks = append(chunks, data[r.offset:])
				r.offset = 0
			}
		}
		if len(chunks) > 0 {
			f.mu.Unlock()
			return chunks, nil
		}
		f.waiting = append(f.waiting, r)
		f.mu.Unlock()
		select {
		case <-r.wake:
		case <-r.done:
		case <-ctx.Done():
			return chunks, ctx.Err()
		}
	}
}

// lagging reports whether the reader has fallen behind the bound. Called with feed.mu held.
func (r *Reader) lagging() bool {
	f := r.feed
	if r.next < f.tail {
		return true
	}
	if r.next == f.head {
		return false
	}
	bound := f.cfg.MaxLag
	if r.internal {
		bound = f.internalMaxLag()
	}
	due := max(f.ring[r.next&f.mask].at, r.startedAt) + int64(bound)
	return f.now().UnixNano() > due
}

// seekAccessPoint starts the reader at the feed's latest random-access point,
// or moves it to the live edge to wait for the next one. Called with feed.mu held.
func (r *Reader) seekAccessPoint() {
	f := r.feed
	if f.rapValid && f.rapSeq >= f.tail && f.rapSeq >= r.from {
		r.startAt(f.rapSeq, f.rapOffset, f.now().UnixNano())
		return
	}
	r.next = f.head
}

// startAt starts the reader at byte offset of chunk seq, the feed's latest
// random-access point, now. Called with feed.mu held.
func (r *Reader) startAt(seq uint64, offset int, now int64) {
	f := r.feed
	r.started, r.startedAt = true, now
	r.next, r.offset = seq, offset
	f.pin(seq, now)
	r.prefix = append([]byte(nil), f.rapPSI...)
	delete(f.unstarted, r)
}

func (r *Reader) signal() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// Wrote records bytes delivered by the reader's owner, for statistics.
func (r *Reader) Wrote(n int) { r.bytesOut.Add(uint64(n)) }

// BytesOut returns the bytes delivered so far.
func (r *Reader) BytesOut() uint64 { return r.bytesOut.Load() }

// Done is closed when the reader is closed.
func (r *Reader) Done() <-chan struct{} { return r.done }

// Err returns why the reader was closed, or nil.
func (r *Reader) Err() error {
	r.feed.mu.Lock()
	defer r.feed.mu.Unlock()
	return r.closeErr
}

// Close detaches the reader from the feed; Next then fails with reason.
func (r *Reader) Close(reason error) {
	r.closeOnce.Do(func() {
		f := r.feed
		f.mu.Lock()
		r.closeErr = reason
		delete(f.readers, r)
		delete(f.unstarted, r)
		if r.internal {
			f.internal = slices.DeleteFunc(f.internal, func(o *Reader) bool { return o == r })
		} else {
			if errors.Is(reason, ErrLagging) {
				f.lagCuts.Add(1)
			}
			f.bytesOutDone.Add(r.bytesOut.Load())
		}
		f.mu.Unlock()
		close(r.done)
	})
}
