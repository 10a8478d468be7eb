package main

import (
	"sync"
	"time"

	"github.com/podium-broadcast/podium/bench/internal/harness"
)

// tracker counts what one receiver got, minute by minute of the soak, and
// notes every place where its stream passed from one source (publisher
// session) to another. A receiver may connect several times (when Podium
// cuts it and it joins again); chunks are counted by source session, so the
// backup's chunks count as much as the primary's.
type tracker struct {
	mu     sync.Mutex
	start  time.Time     // the soak's start: bucket 0 begins here
	bucket time.Duration // a minute, except in tests
	// got and holes are per bucket: the chunks received, and the chunks
	// missing inside a run of one source on one connection (lost in transit,
	// not cut off by a switch or a disconnection).
	got, holes  []uint64
	connections int
	// The last chunk received on the current connection, if any, and the
	// instants of the read that brought it and of the read before.
	last               harness.Stamp
	readAt, prevReadAt time.Time
	inRun              bool
	// changes lists the source changes, in order.
	changes []sourceChange
}

// sourceChange is where a receiver's stream passed from one source to
// another on the same connection: the last chunk of the old and the first of
// the new, the instant the new one's first chunk was read, and that of the
// read before it. The old source's last chunks may come in the same read as
// the new one's first: srt-live-transmit buffers a few kilobytes of its
// output, which a pause in the stream leaves unwritten until data flows again.
type sourceChange struct {
	from, to           harness.Stamp
	quietFrom, firstAt time.Time
}

// silence is how long the receiver got nothing across the change.
func (c sourceChange) silence() time.Duration { return c.firstAt.Sub(c.quietFrom) }

func newTracker(start time.Time, bucket time.Duration, buckets int) *tracker {
	return &tracker{start: start, bucket: bucket, got: make([]uint64, buckets), holes: make([]uint64, buckets)}
}

// connect marks the start of a new connection: what follows is a new run.
func (t *tracker) connect() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.inRun = false
	t.readAt, t.prevReadAt = time.Time{}, time.Time{}
	t.connections++
}

// add counts chunk st, brought by the read that returned at instant at.
func (t *tracker) add(st harness.Stamp, at time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !at.Equal(t.readAt) {
		t.prevReadAt, t.readAt = t.readAt, at
	}
	i, inSoak := t.bucketOf(at)
	if t.inRun {
		switch {
		case st.Session != t.last.Session:
			t.changes = append(t.changes, sourceChange{from: t.last, to: st, quietFrom: t.prevReadAt, firstAt: at})
		case st.Seq > t.last.Seq+1 && inSoak:
			t.holes[i] += st.Seq - t.last.Seq - 1
		}
	}
	if inSoak {
		t.got[i]++
	}
	t.last, t.inRun = st, true
}

// bucketOf returns the bucket of instant at, and whether at is within the soak.
func (t *tracker) bucketOf(at time.Time) (int, bool) {
	d := at.Sub(t.start)
	if d < 0 {
		return 0, false
	}
	i := int(d / t.bucket)
	return i, i < len(t.got)
}

// counts returns copies of the per-bucket counts and of the source changes.
func (t *tracker) counts() (got, holes []uint64, changes []sourceChange, connections int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]uint64(nil), t.got...), append([]uint64(nil), t.holes...), append([]sourceChange(nil), t.changes...), t.connections
}

// findChange returns the first source change from session from to session
// to whose new source came after instant after.
func findChange(changes []sourceChange, from, to uint32, after time.Time) (sourceChange, bool) {
	for _, c := range changes {
		if c.from.Session == from && c.to.Session == to && !c.firstAt.Before(after) {
			return c, true
		}
	}
	return sourceChange{}, false
}
