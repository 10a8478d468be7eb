package main

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"time"
)

// unusable reports whether the soak could not run at all: it stopped before
// its end, or no receiver ever got anything.
func (r *soakRun) unusable() bool {
	if r.failure != nil {
		return true
	}
	for _, s := range r.counts() {
		for _, g := range s.got {
			if g > 0 {
				return false
			}
		}
	}
	return true
}

// counts returns every slot's counts.
func (r *soakRun) counts() []slotCounts {
	out := make([]slotCounts, 0, len(r.slots))
	for _, s := range r.slots {
		if s.track == nil {
			continue
		}
		c := slotCounts{feed: s.feed.id}
		c.got, c.holes, c.changes, c.connections = s.track.counts()
		s.mu.Lock()
		for _, e := range s.exits {
			c.exits = append(c.exits, e.at.Sub(r.start))
		}
		s.mu.Unlock()
		out = append(out, c)
	}
	return out
}

// totals are a soak's figures over its whole length.
type totals struct {
	minutes                           []minuteRow
	trend                             memoryTrend
	offeredGbps, deliveredGbps        float64
	received                          float64 // mean share of the stream the receivers got
	holes                             float64
	cuts                              float64
	exits                             int
	readers                           float64
	podium, peers, bench, other, busy float64
	backupSwitches, primarySwitches   float64
	// SRT packets over the soak, from Podium's metrics.
	ingestLost, ingestDropped, deliveryLost, deliveryDropped float64
	failovers, switchBacks                                   []time.Duration
	afterKill, failSilence, backSilence                      []time.Duration
	failGap, backGap                                         []time.Duration
	kills, backupBefore, failoverErrors                      int
	early, switchBackErrs, restartFailures                   int
	pacerLate                                                time.Duration
	measured                                                 time.Duration // how much of the soak ran
}

func (r *soakRun) totals() totals {
	var t totals
	counts := r.counts()
	interval := chunkInterval(r.cfg.bitrate)
	r.mu.Lock()
	samples := slices.Clone(r.samples)
	events := slices.Clone(r.events)
	r.mu.Unlock()
	if len(samples) > 0 {
		t.measured = samples[len(samples)-1].at
	}
	span := r.cfg.duration
	if r.failure != nil {
		span = t.measured // a soak cut short is reported up to its last sample
	}
	t.minutes = buildMinutes(samples, counts, span, interval)
	t.trend = trend(samples, r.cfg.duration)
	t.offeredGbps = float64(r.cfg.feeds*r.cfg.readers*r.cfg.bitrate) / 1e9
	var first, last sample
	for _, s := range samples {
		if s.ok && !first.ok {
			first = s
		}
		if s.ok {
			last = s
		}
		if s.at > 0 {
			t.podium += s.podiumCores
			t.peers += s.peerCores
			t.bench += s.benchCores
			t.other += max(0, s.otherCores)
			t.busy += s.machineBusy
			t.readers += s.readers
		}
		t.pacerLate = max(t.pacerLate, s.pacerLate)
	}
	if k := float64(len(samples) - 1); k > 0 {
		t.podium, t.peers, t.bench, t.other, t.busy, t.readers = t.podium/k, t.peers/k, t.bench/k, t.other/k, t.busy/k, t.readers/k
	}
	if secs := (last.at - first.at).Seconds(); secs > 0 {
		t.deliveredGbps = (last.bytesOut - first.bytesOut) * 8 / secs / 1e9
		t.cuts = last.cuts - first.cuts
		t.backupSwitches = last.switchesB - first.switchesB
		t.primarySwitches = last.switchesPrimary - first.switchesPrimary
		t.ingestLost, t.ingestDropped = last.ingestLost-first.ingestLost, last.ingestDropped-first.ingestDropped
		t.deliveryLost, t.deliveryDropped = last.deliveryLost-first.deliveryLost, last.deliveryDropped-first.deliveryDropped
	}
	var got, due, holes float64
	for _, c := range counts {
		t.exits += len(c.exits)
		for i := range c.got {
			got += float64(c.got[i])
			holes += float64(c.holes[i])
		}
	}
	for _, row := range t.minutes {
		due += float64(row.length) / float64(interval) * float64(len(counts))
	}
	if due > 0 {
		t.received = min(1, got/due)
	}
	if got+holes > 0 {
		t.holes = holes / (got + holes)
	}
	for _, ev := range events {
		if ev.skipped != "" {
			continue
		}
		t.kills++
		t.restartFailures += len(ev.restartFailures)
		switch {
		case ev.cutShort && ev.failover == 0:
		case ev.onAirBefore != primary:
			t.backupBefore++
		case ev.failoverErr != nil:
			t.failoverErrors++
		default:
			t.failovers = append(t.failovers, ev.failover)
			fo := viewSwitch(counts, ev.feed.id, ev.killed, ev.spare, ev.killAt, true, r.sessions.get)
			t.afterKill = append(t.afterKill, fo.afterKill...)
			t.failSilence = append(t.failSilence, fo.silence...)
			t.failGap = append(t.failGap, fo.mediaGap...)
		}
		switch {
		case ev.restartAt.IsZero(), ev.cutShort:
		case ev.switchBackErr != nil:
			t.switchBackErrs++
		case ev.early:
			t.early++
		default:
			t.switchBacks = append(t.switchBacks, ev.switchBack)
			sb := viewSwitch(counts, ev.feed.id, ev.spare, ev.restarted, ev.restartAt, false, r.sessions.get)
			t.backSilence = append(t.backSilence, sb.silence...)
			t.backGap = append(t.backGap, sb.mediaGap...)
		}
	}
	return t
}

// writeReceiverCSV writes what each receiver got, minute by minute, as CSV.
func (r *soakRun) writeReceiverCSV(path string) error {
	interval := chunkInterval(r.cfg.bitrate)
	var w strings.Builder
	w.WriteString("feed,receiver,minute,chunks_due,chunks_received,lost_in_transit,share_received,receiver_exits\n")
	for _, s := range r.slots {
		if s.track == nil {
			continue
		}
		got, holes, _, _ := s.track.counts()
		for i := range got {
			from, to := time.Duration(i)*time.Minute, min(time.Duration(i+1)*time.Minute, r.cfg.duration)
			due := float64(to-from) / float64(interval)
			exits := s.exitsBetween(r.start.Add(from), r.start.Add(to))
			fmt.Fprintf(&w, "%s,%d,%d,%.0f,%d,%d,%.5f,%d\n", s.feed.id, s.index+1, i+1, due, got[i], holes[i], min(1, float64(got[i])/due), exits)
		}
	}
	return os.WriteFile(path, []byte(w.String()), 0o644)
}
