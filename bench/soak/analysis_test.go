package main

import (
	"math"
	"slices"
	"testing"
	"time"

	"github.com/podium-broadcast/podium/bench/internal/harness"
)

func TestBuildMinutes(t *testing.T) {
	const mb = 1 << 20
	s := func(at time.Duration, rss uint64, cuts, bytesOut, cores float64) sample {
		return sample{at: at, ok: true, rss: rss * mb, heapInuse: float64(rss) * mb / 2, readers: 4, cuts: cuts, bytesOut: bytesOut, podiumCores: cores}
	}
	samples := []sample{
		s(0, 40, 1, 0, 0),
		s(30*time.Second, 44, 2, 1e9, 0.5),
		s(60*time.Second, 46, 4, 2e9, 0.7),
		s(90*time.Second, 47, 4, 3e9, 0.9),
		// The last minute is 30 s long: the soak lasts 2m30s.
		s(150*time.Second, 48, 7, 5e9, 1.1),
	}
	interval := 10 * time.Millisecond // 6000 chunks a minute
	slots := []slotCounts{
		{feed: "a", got: []uint64{6000, 5400, 3000}, holes: []uint64{0, 60, 0}, exits: []time.Duration{70 * time.Second}},
		{feed: "a", got: []uint64{6000, 6000, 2000}, holes: []uint64{0, 0, 0}},
	}
	rows := buildMinutes(samples, slots, 150*time.Second, interval)
	if len(rows) != 3 {
		t.Fatalf("%d rows, want 3", len(rows))
	}
	for _, tc := range []struct {
		row                                minuteRow
		rss                                uint64
		cuts, gbps, cores, received, worst float64
		short, exits, samples              int
		length                             time.Duration
	}{
		{row: rows[0], rss: 46, cuts: 3, gbps: 2e9 * 8 / 60 / 1e9, cores: 0.6, received: 1, worst: 1, samples: 2, length: time.Minute},
		{row: rows[1], rss: 47, cuts: 0, gbps: 1e9 * 8 / 30 / 1e9, cores: 0.9, received: 0.95, worst: 0.9, short: 1, exits: 1, samples: 1, length: time.Minute},
		{row: rows[2], rss: 48, cuts: 3, gbps: 2e9 * 8 / 60 / 1e9, cores: 1.1, received: (1 + 2.0/3) / 2, worst: 2.0 / 3, short: 1, samples: 1, length: 30 * time.Second},
	} {
		r := tc.row
		if r.rss != tc.rss*mb || r.cuts != tc.cuts || !near(r.deliveredGbps, tc.gbps) || !near(r.podiumCores, tc.cores) ||
			!near(r.received, tc.received) || !near(r.worst, tc.worst) || r.short != tc.short || r.exits != tc.exits ||
			r.samples != tc.samples || r.length != tc.length || r.readers != 4 {
			t.Errorf("minute %d = %+v, want %+v", r.minute, r, tc)
		}
	}
	if want := 60.0 / (5400 + 6000 + 60); !near(rows[1].holes, want) {
		t.Errorf("minute 2 lost in transit %v, want %v", rows[1].holes, want)
	}
}

func TestTrend(t *testing.T) {
	var samples []sample
	for i := range 61 {
		at := time.Duration(i) * 10 * time.Second
		rss := 100 << 20
		if at < 2*time.Minute {
			rss = 50<<20 + i*(5<<20) // warming up: not fitted
		}
		live := float64(20<<20 + i*(1<<19))
		// The heap in use saws between the live heap and twice it: not fitted.
		inuse := live * float64(1+(i*7)%10) / 10
		samples = append(samples, sample{at: at, ok: true, rss: uint64(rss + i%2*(1<<20)), heapLive: live, heapInuse: live + inuse})
	}
	tr := trend(samples, 10*time.Minute)
	if !tr.ok || tr.from != 2*time.Minute || tr.to != 10*time.Minute || tr.samples != 49 {
		t.Fatalf("trend = %+v", tr)
	}
	// RSS: flat with noise; live heap: half a MiB every 10 s, 3 MiB a minute.
	if math.Abs(tr.rssSlope) > 0.05 || !near(tr.heapSlope, 3) {
		t.Errorf("slopes: RSS %.3f, heap %.3f MiB/min; want 0 and 3", tr.rssSlope, tr.heapSlope)
	}
	if tr.flat(1) || !tr.flat(4) {
		t.Errorf("flat(1) = %v, flat(4) = %v; want false, true", tr.flat(1), tr.flat(4))
	}
	if tr.rssMin != 100<<20 || tr.rssMax != 101<<20 {
		t.Errorf("RSS range %d–%d", tr.rssMin, tr.rssMax)
	}
	if short := trend(samples[:14], 10*time.Minute); short.ok {
		t.Errorf("a trend from %d samples", short.samples)
	}
}

func TestViewSwitch(t *testing.T) {
	base := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	interval := 10 * time.Millisecond
	sess := map[uint32]sessionInfo{
		1: {feed: "a", role: primary, start: base, interval: interval},
		2: {feed: "a", role: backup, start: base.Add(5 * time.Millisecond), interval: interval},
	}
	lookup := func(id uint32) (sessionInfo, bool) { s, ok := sess[id]; return s, ok }
	kill := base.Add(10 * time.Second)
	change := func(lastSeq, firstSeq uint64, quiet, first time.Duration) sourceChange {
		return sourceChange{from: harness.Stamp{Session: 1, Seq: lastSeq}, to: harness.Stamp{Session: 2, Seq: firstSeq},
			quietFrom: kill.Add(quiet), firstAt: kill.Add(first)}
	}
	slots := []slotCounts{
		{feed: "a", changes: []sourceChange{change(1000, 950, 150*time.Millisecond, 700*time.Millisecond)}},
		{feed: "a", changes: []sourceChange{change(998, 1010, 100*time.Millisecond, 800*time.Millisecond)}},
		{feed: "a"}, // disconnected at the time
		// An earlier switch, before the kill (the primary had stalled).
		{feed: "a", changes: []sourceChange{change(10, 20, -5*time.Second, -4*time.Second)}},
		{feed: "b", changes: []sourceChange{change(1, 2, 0, time.Second)}},
	}
	v := viewSwitch(slots, "a", 1, 2, kill, true, lookup)
	if v.receivers != 2 {
		t.Fatalf("receivers = %d, want 2", v.receivers)
	}
	if want := []time.Duration{550 * time.Millisecond, 700 * time.Millisecond}; !slices.Equal(v.silence, want) {
		t.Errorf("silence %v, want %v", v.silence, want)
	}
	if want := []time.Duration{700 * time.Millisecond, 800 * time.Millisecond}; !slices.Equal(v.afterKill, want) {
		t.Errorf("after the kill %v, want %v", v.afterKill, want)
	}
	// Backup chunk 950 was sent at 9.505 s, primary chunk 1000 at 10 s: the
	// receiver got half a second of stream twice. 1010 at 10.105 s after 998 at
	// 9.98 s: 115 ms skipped.
	if want := []time.Duration{-505 * time.Millisecond, 115 * time.Millisecond}; !slices.Equal(v.mediaGap, want) {
		t.Errorf("stream skipped %v, want %v", v.mediaGap, want)
	}
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-6*max(1, math.Abs(b)) }
