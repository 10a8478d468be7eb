package srtserver

import (
	"testing"
	"time"
)

// fakeConn reports the counters a test sets.
type fakeConn struct {
	conn
	stats connStats
}

func (c *fakeConn) Stats() connStats { return c.stats }

func TestStalledReceiverDetection(t *testing.T) {
	start := time.Now()
	c := &fakeConn{}
	p := &pullSession{conn: c, lastProgress: start}
	lag := time.Second
	steps := []struct {
		after       time.Duration
		sent, acks  uint64
		wantStalled bool
	}{
		{100 * time.Millisecond, 50, 0, false}, // a new receiver has a full second to acknowledge
		{900 * time.Millisecond, 500, 0, false},
		{1200 * time.Millisecond, 600, 5, false}, // acknowledged: progress
		{2100 * time.Millisecond, 900, 5, false},
		{2300 * time.Millisecond, 1000, 5, true}, // nothing acknowledged for 1.1 s while sending
	}
	for _, s := range steps {
		c.stats = connStats{PktSent: s.sent, PktRecvACK: s.acks}
		if got := p.stalled(start.Add(s.after), lag); got != s.wantStalled {
			t.Fatalf("at %v: stalled = %v, want %v", s.after, got, s.wantStalled)
		}
	}
	// Nothing to send (the feed is off air) is not a stall.
	idle := &pullSession{conn: &fakeConn{}, lastProgress: start}
	if idle.stalled(start.Add(time.Minute), lag) {
		t.Fatal("idle receiver counted as stalled")
	}
}
