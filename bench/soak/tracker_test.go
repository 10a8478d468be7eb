package main

import (
	"slices"
	"testing"
	"time"

	"github.com/podium-broadcast/podium/bench/internal/harness"
)

func TestTracker(t *testing.T) {
	start := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return start.Add(time.Duration(ms) * time.Millisecond) }
	st := func(session uint32, seq uint64) harness.Stamp { return harness.Stamp{Session: session, Seq: seq} }

	tr := newTracker(start, time.Second, 3)
	tr.connect()
	tr.add(st(1, 9), at(-100)) // before the soak: not counted, but starts the run
	tr.add(st(1, 10), at(0))
	tr.add(st(1, 11), at(100))
	tr.add(st(1, 14), at(200)) // 12 and 13 lost in transit
	// The primary dies; its last chunk comes out with the backup's (session
	// 2) first, at its latest keyframe, in one read.
	tr.add(st(1, 15), at(900))
	tr.add(st(2, 5), at(900))
	tr.add(st(2, 6), at(1100))
	// Cut, and joined again: the jump is not a hole.
	tr.connect()
	tr.add(st(2, 40), at(1800))
	tr.add(st(2, 41), at(2100))
	// The primary is back (session 3), in the next read.
	tr.add(st(3, 0), at(2200))
	tr.add(st(3, 2), at(2300))
	tr.add(st(3, 3), at(3000)) // after the soak

	got, holes, changes, connections := tr.counts()
	if want := []uint64{5, 2, 3}; !slices.Equal(got, want) {
		t.Errorf("got per bucket %v, want %v", got, want)
	}
	if want := []uint64{2, 0, 1}; !slices.Equal(holes, want) {
		t.Errorf("holes per bucket %v, want %v", holes, want)
	}
	if connections != 2 {
		t.Errorf("connections = %d, want 2", connections)
	}
	if len(changes) != 2 {
		t.Fatalf("changes = %+v, want 2", changes)
	}
	failover, ok := findChange(changes, 1, 2, start)
	if !ok || failover.from != st(1, 15) || failover.to != st(2, 5) || failover.silence() != 700*time.Millisecond {
		t.Errorf("failover = %+v (found %v), silence %v", failover, ok, failover.silence())
	}
	back, ok := findChange(changes, 2, 3, start)
	if !ok || back.from != st(2, 41) || back.to != st(3, 0) || back.silence() != 100*time.Millisecond {
		t.Errorf("switch-back = %+v (found %v), silence %v", back, ok, back.silence())
	}
	if _, ok := findChange(changes, 1, 3, start); ok {
		t.Error("found a change that did not happen")
	}
	if _, ok := findChange(changes, 1, 2, at(1000)); ok {
		t.Error("found a change before the instant asked")
	}
}
