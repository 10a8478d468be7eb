package main

import (
	"os"
	"os/exec"
	"sync"
	"sync/atomic"
	"time"
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

// receiver is an srt-live-transmit caller pulling the feed to its stdout, a
// pipe that the bench reads, counting the stamps that come through.
type receiver struct {
	proc *child
	// session is the publisher whose chunks the receiver counts.
	session uint32
	// window is the tally of the current measurement, nil outside one.
	window *atomic.Pointer[tally]
	got    atomic.Uint64 // chunks of the window received
	bytes  atomic.Uint64
	latest atomic.Uint64 // 1 + the sequence number of the latest chunk received
	// stale counts the chunks received from earlier publishers of the feed.
	stale atomic.Uint64

	connectOnce sync.Once
	connected   chan struct{} // closed at the first stamp
	drained     chan struct{} // closed when the pipe has been read to its end
}

// drainPause is how long the bench lets a receiver's pipe fill between two
// reads: fewer, larger reads keep the bench's own CPU use low. The pipe's
// buffer (1 MiB) holds 400 ms of a 20 Mbit/s feed; a 64 KiB pipe, 25 ms.
func drainPause(pipeSize int) time.Duration {
	if pipeSize >= 1<<20 {
		return 20 * time.Millisecond
	}
	return 5 * time.Millisecond
}

func startReceiver(procs *supervisor, name, url string, session uint32, window *atomic.Pointer[tally]) (*receiver, error) {
	out, in, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	pause := drainPause(setPipeSize(out, 1<<20))
	cmd := exec.Command("srt-live-transmit", "-q", "-a:no", url, "file://con")
	cmd.Stdout = in
	proc, err := procs.start(name, cmd)
	in.Close()
	if err != nil {
		out.Close()
		return nil, err
	}
	r := &receiver{proc: proc, session: session, window: window, connected: make(chan struct{}), drained: make(chan struct{})}
	go func() {
		defer close(r.drained)
		defer out.Close()
		r.drain(out, pause)
	}()
	return r, nil
}

// drain reads the receiver's output until the process closes it.
func (r *receiver) drain(out *os.File, pause time.Duration) {
	buf := make([]byte, 256<<10)
	held := 0
	var last stamp
	seen := false
	for {
		n, err := out.Read(buf[held:])
		held += n
		r.bytes.Add(uint64(n))
		off := 0
		for held-off >= packetSize {
			if buf[off] != 0x47 { // out of sync: skip to the next sync byte
				off++
				continue
			}
			// SRT live mode delivers in order; a chunk not after the last one
			// of the same publisher would be a duplicate.
			if st, ok := readStamp(buf[off : off+packetSize]); ok && (!seen || st.session != last.session || st.seq > last.seq) {
				seen, last = true, st
				r.count(st)
			}
			off += packetSize
		}
		held = copy(buf, buf[off:held])
		if err != nil {
			return
		}
		time.Sleep(pause)
	}
}

func (r *receiver) count(st stamp) {
	r.connectOnce.Do(func() { close(r.connected) })
	if st.session != r.session {
		r.stale.Add(1)
		return
	}
	r.latest.Store(st.seq + 1)
	t := r.window.Load()
	if t == nil || st.seq < t.first || st.seq >= t.end {
		return
	}
	r.got.Add(1)
	t.hits[st.seq-t.first].Add(1)
}

// stopReceivers stops the receivers' processes and waits for their pipes to be read out.
func stopReceivers(receivers []*receiver) {
	children := make([]*child, len(receivers))
	for i, r := range receivers {
		children[i] = r.proc
	}
	stopChildren(children)
	for _, r := range receivers {
		<-r.drained
	}
}

// liveEdge is how far behind the publisher a receiver may be and still count
// as caught up: the SRT latency (120 ms), the pipe's batching and some slack.
const liveEdge = 300 * time.Millisecond

// live reports whether the receiver has caught up with the publisher.
func (r *receiver) live(pub *publisher) bool {
	return r.latest.Load() > pub.seqAt(time.Now().Add(-liveEdge))
}
