package main

import (
	"strings"
	"testing"
	"time"

	"github.com/podium-broadcast/podium/bench/internal/harness"
)

func TestCount(t *testing.T) {
	for _, tc := range []struct {
		n     int
		thing string
		want  string
	}{
		{1, "feed", "1 feed"},
		{8, "feed", "8 feeds"},
		{0, "receiver", "0 receivers"},
		{2, "primary", "2 primaries"},
		{1, "restarted primary", "1 restarted primary"},
		{3, "unplanned switch", "3 unplanned switches"},
		{176, "SRT peer", "176 SRT peers"},
		{2, "receiver process", "2 receiver processes"},
	} {
		if got := count(tc.n, tc.thing); got != tc.want {
			t.Errorf("count(%d, %q) = %q, want %q", tc.n, tc.thing, got, tc.want)
		}
	}
	if times(1) != "once" || times(2) != "twice" || times(5) != "5 times" {
		t.Errorf("times: %q %q %q", times(1), times(2), times(5))
	}
}

func TestMarkdown(t *testing.T) {
	start := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	cfg := config{feeds: 1, readers: 2, bitrate: 10_000_000, duration: 2 * time.Minute, switchEvery: 30 * time.Second,
		outage: 15 * time.Second, hold: 5 * time.Second, stall: 500 * time.Millisecond, rejoin: 5 * time.Second, sampleEvery: 10 * time.Second}
	r := &soakRun{cfg: cfg, label: "1×2", name: "soak", start: start, sessions: sessions{byID: map[uint32]sessionInfo{}}}
	f := &feed{id: "soak-01"}
	r.feeds = []*feed{f}
	interval := chunkInterval(cfg.bitrate)
	r.sessions.byID[1] = sessionInfo{feed: f.id, role: primary, start: start.Add(-time.Minute), interval: interval}
	r.sessions.byID[2] = sessionInfo{feed: f.id, role: backup, start: start.Add(-time.Minute), interval: interval}
	r.sessions.byID[3] = sessionInfo{feed: f.id, role: primary, start: start.Add(45 * time.Second), interval: interval}
	kill := start.Add(30 * time.Second)
	for i := range cfg.readers {
		s := &slot{feed: f, index: i, track: newTracker(start, time.Minute, 2)}
		s.track.connect()
		// Every chunk of the primary until the kill, of the backup from
		// 0.6 s after, of the restarted primary from 5.2 s after its start.
		for at := start.Add(-time.Second); at.Before(start.Add(2 * time.Minute)); at = at.Add(interval) {
			var st harness.Stamp
			switch {
			case at.Before(kill):
				st = harness.Stamp{Session: 1, Seq: uint64(at.Sub(start.Add(-time.Minute)) / interval)}
			case at.Before(kill.Add(600 * time.Millisecond)):
				continue
			case at.Before(start.Add(50200 * time.Millisecond)):
				st = harness.Stamp{Session: 2, Seq: uint64(at.Sub(start.Add(-time.Minute)) / interval)}
			default:
				st = harness.Stamp{Session: 3, Seq: uint64(at.Sub(start.Add(45*time.Second)) / interval)}
			}
			s.track.add(st, at.Truncate(20*time.Millisecond))
		}
		r.slots = append(r.slots, s)
	}
	r.events = []*switchEvent{{feed: f, killAt: kill, onAirBefore: primary, killed: 1, spare: 2, restarted: 3,
		failover: 620 * time.Millisecond, restartAt: start.Add(45 * time.Second), switchBack: 230 * time.Millisecond}}
	for i := range 13 {
		at := time.Duration(i) * 10 * time.Second
		r.samples = append(r.samples, sample{at: at, ok: true, rss: 60 << 20, heapLive: 20 << 20, heapInuse: 30 << 20, goroutines: 40, readers: 2,
			bytesOut: float64(i) * 10 * 2 * 10e6 / 8, podiumCores: 0.2, peerCores: 0.1, benchCores: 0.05, machineBusy: 0.3})
	}
	r.samples[4].switchesB, r.samples[12].switchesB = 1, 1
	rep := &report{date: start, duration: 3 * time.Minute, machine: harness.MachineInfo{CPUs: 2, Model: "test CPU"},
		opts: options{config: cfg, flat: 1, out: "BENCHMARKS.md"}, runs: []*soakRun{r}}
	md := rep.markdown()
	if testing.Verbose() {
		t.Log(md)
	}
	for _, want := range []string{beginMarker, endMarker, "## Soak: 1 feed × 2 SRT receivers at 10 Mbit/s",
		"**Memory stayed flat**", "Every receiver kept up", "with 1 feed created", "the backup was on air 0.620 s after the kill",
		"| 30s | soak-01 | 0.620 s |", "5s + 0.230 s", "### Minute by minute", "| 1 | 60.0 | 20.0 / 30.0 |"} {
		if !strings.Contains(md, want) {
			t.Errorf("the section lacks %q:\n%s", want, md)
		}
	}
	for _, bad := range []string{"%!", "NaN", "unplanned"} {
		if strings.Contains(md, bad) {
			t.Errorf("the section has %q:\n%s", bad, md)
		}
	}
}
