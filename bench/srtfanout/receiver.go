package main

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/podium-broadcast/podium/bench/internal/harness"
)

// tally counts, for one measurement window, which chunks reached which receivers.
type tally struct {
	first, end uint64          // the window: chunks first to end-1
	hits       []atomic.Uint32 // per chunk of the window, the receivers that got it
}

func newTally(first, end uint64) *tally {
	return &tally{first: first, end: end, hits: make([]atomic.Uint32, end-first)}
}

// missedByAll counts the chunks of the window that no receiver got: lost
// upstream of the fan-out (ingest), not in it.
func (t *tally) missedByAll() int {
	n := 0
	for i := range t.hits {
		if t.hits[i].Load() == 0 {
			n++
		}
	}
	return n
}

// receiver is an srt-live-transmit caller pulling the feed, counting the
// stamps that come through.
type receiver struct {
	*harness.Receiver
	// session is the publisher whose chunks the receiver counts.
	session uint32
	// window is the tally of the current measurement, nil outside one.
	window *atomic.Pointer[tally]
	got    atomic.Uint64 // chunks of the window received
	latest atomic.Uint64 // 1 + the sequence number of the latest chunk received
	first  atomic.Uint64 // 1 + the sequence number of the first chunk received
	// stale counts the chunks received from earlier publishers of the feed.
	stale atomic.Uint64

	connectOnce sync.Once
	connected   chan struct{} // closed at the first stamp
}

func startReceiver(procs *harness.Supervisor, name, url string, session uint32, window *atomic.Pointer[tally]) (*receiver, error) {
	r := &receiver{session: session, window: window, connected: make(chan struct{})}
	inner, err := harness.StartReceiver(procs, name, url, r.count)
	if err != nil {
		return nil, err
	}
	r.Receiver = inner
	return r, nil
}

func (r *receiver) count(st harness.Stamp, _ time.Time) {
	r.connectOnce.Do(func() { close(r.connected) })
	if st.Session != r.session {
		r.stale.Add(1)
		return
	}
	r.first.CompareAndSwap(0, st.Seq+1)
	r.latest.Store(st.Seq + 1)
	t := r.window.Load()
	if t == nil || st.Seq < t.first || st.Seq >= t.end {
		return
	}
	r.got.Add(1)
	t.hits[st.Seq-t.first].Add(1)
}

// stopReceivers stops the receivers' processes and waits for their pipes to be read out.
func stopReceivers(receivers []*receiver) {
	inner := make([]*harness.Receiver, len(receivers))
	for i, r := range receivers {
		inner[i] = r.Receiver
	}
	harness.StopReceivers(inner)
}

// liveEdge is how far behind the publisher a receiver may be and still count
// as caught up: the SRT latency (120 ms), the pipe's batching and some slack.
const liveEdge = 300 * time.Millisecond

// live reports whether the receiver has caught up with the publisher.
func (r *receiver) live(pub *harness.Publisher) bool {
	return r.latest.Load() > pub.SeqAt(time.Now().Add(-liveEdge))
}
