package main

import (
	"slices"
	"time"

	"github.com/podium-broadcast/podium/bench/internal/harness"
)

// chunkInterval is the time between two chunks of a feed at bitrate.
func chunkInterval(bitrate int) time.Duration {
	return time.Duration(float64(time.Second) * harness.ChunkSize * 8 / float64(bitrate))
}

// slotCounts is what one receiver slot got over the soak.
type slotCounts struct {
	feed        string
	got, holes  []uint64        // per minute
	exits       []time.Duration // receiver exits, since the soak's start
	connections int
	changes     []sourceChange
}

// minuteRow is one minute of the soak.
type minuteRow struct {
	minute int           // from 1
	length time.Duration // a minute, or less for the last of a run that is not whole minutes
	// At the minute's last sample.
	rss        uint64
	heapLive   float64
	heapInuse  float64
	goroutines float64
	buffered   float64
	// Over the minute.
	readers       float64 // mean of the samples
	cuts          float64 // receivers Podium cut for lagging
	exits         int     // receivers that ended (and joined again after -rejoin)
	received      float64 // mean share of the stream the receivers got
	worst         float64 // the share the unluckiest receiver got
	short         int     // receivers that got less than 99.9 %
	holes         float64 // chunks lost in transit, as a share of those due
	deliveredGbps float64 // what Podium sent, all receivers
	podiumCores   float64
	peerCores     float64
	benchCores    float64
	otherCores    float64
	machineBusy   float64
	samples       int
}

// fullShare is the share of a stream a receiver must get for the minute to count as whole.
const fullShare = 0.999

// buildMinutes puts the samples and the receivers' counts together minute
// by minute. A sample at t reports the CPU of the sampling period before t,
// so it belongs to the minute that period ends in.
func buildMinutes(samples []sample, slots []slotCounts, duration, interval time.Duration) []minuteRow {
	n := int((duration + time.Minute - 1) / time.Minute)
	rows := make([]minuteRow, 0, n)
	prev, hasPrev := sample{}, false
	if len(samples) > 0 && samples[0].at == 0 {
		prev, hasPrev = samples[0], true
	}
	next := 0
	for i := range n {
		from, to := time.Duration(i)*time.Minute, min(time.Duration(i+1)*time.Minute, duration)
		row := minuteRow{minute: i + 1, length: to - from}
		var in []sample
		for next < len(samples) && samples[next].at <= to {
			if samples[next].at > from {
				in = append(in, samples[next])
			}
			next++
		}
		if len(in) > 0 {
			row.fromSamples(in, prev, hasPrev)
			prev, hasPrev = in[len(in)-1], true
		}
		row.fromSlots(slots, i, from, to, interval)
		rows = append(rows, row)
	}
	return rows
}

func (row *minuteRow) fromSamples(in []sample, prev sample, hasPrev bool) {
	last := in[len(in)-1]
	row.rss, row.heapLive, row.heapInuse = last.rss, last.heapLive, last.heapInuse
	row.goroutines, row.buffered = last.goroutines, last.buffered
	row.samples = len(in)
	for _, s := range in {
		row.readers += s.readers
		row.podiumCores += s.podiumCores
		row.peerCores += s.peerCores
		row.benchCores += s.benchCores
		row.otherCores += max(0, s.otherCores)
		row.machineBusy += s.machineBusy
	}
	k := float64(len(in))
	row.readers /= k
	row.podiumCores /= k
	row.peerCores /= k
	row.benchCores /= k
	row.otherCores /= k
	row.machineBusy /= k
	if hasPrev && prev.ok && last.ok {
		row.cuts = last.cuts - prev.cuts
		if secs := (last.at - prev.at).Seconds(); secs > 0 {
			row.deliveredGbps = (last.bytesOut - prev.bytesOut) * 8 / secs / 1e9
		}
	}
}

func (row *minuteRow) fromSlots(slots []slotCounts, i int, from, to, interval time.Duration) {
	if len(slots) == 0 {
		return
	}
	due := float64(to-from) / float64(interval)
	row.worst = 1
	var holes, got float64
	for _, s := range slots {
		share := min(1, float64(s.got[i])/due)
		row.received += share
		row.worst = min(row.worst, share)
		if share < fullShare {
			row.short++
		}
		holes += float64(s.holes[i])
		got += float64(s.got[i])
		for _, e := range s.exits {
			if e >= from && e < to {
				row.exits++
			}
		}
	}
	row.received /= float64(len(slots))
	if got+holes > 0 {
		row.holes = holes / (got + holes)
	}
}

// memoryTrend is how Podium's memory moved over the end of the soak.
type memoryTrend struct {
	from, to            time.Duration // the samples fitted
	samples             int
	rssSlope, heapSlope float64 // MiB per minute
	ok                  bool    // enough samples to fit
	rssMin, rssMax      uint64
	heapMin, heapMax    float64
}

// trend fits Podium's RSS and live Go heap against time, in MiB per
// minute, over the samples from slopeWindow(duration) on. The live heap is
// what the last GC kept: the heap in use saws between it and twice it
// (GOGC=100), and a line through a sawtooth sampled every 10 s tilts either
// way by several MiB per minute.
func trend(samples []sample, duration time.Duration) memoryTrend {
	t := memoryTrend{from: slopeWindow(duration)}
	var xs, rss, heap []float64
	for _, s := range samples {
		if s.at < t.from || !s.ok {
			continue
		}
		if len(xs) == 0 {
			t.rssMin, t.heapMin = s.rss, s.heapLive
		}
		xs = append(xs, s.at.Minutes())
		rss = append(rss, mib(s.rss))
		heap = append(heap, s.heapLive/(1<<20))
		t.rssMin, t.rssMax = min(t.rssMin, s.rss), max(t.rssMax, s.rss)
		t.heapMin, t.heapMax = min(t.heapMin, s.heapLive), max(t.heapMax, s.heapLive)
		t.to = s.at
	}
	t.samples = len(xs)
	var ok1, ok2 bool
	t.rssSlope, ok1 = slope(xs, rss)
	t.heapSlope, ok2 = slope(xs, heap)
	t.ok = ok1 && ok2 && len(xs) >= 3
	return t
}

// flat reports whether both trends are under limit MiB per minute, either way.
func (t memoryTrend) flat(limit float64) bool {
	return t.ok && abs(t.rssSlope) < limit && abs(t.heapSlope) < limit
}

func abs(f float64) float64 { return max(f, -f) }

// switchView is how the receivers of a feed lived through one switch.
type switchView struct {
	receivers int             // receivers whose stream passed from the old source to the new
	silence   []time.Duration // per receiver: nothing received, from the old's last chunk to the new's first
	// afterKill is, per receiver, from the kill to its first chunk of the backup (failovers only).
	afterKill []time.Duration
	// mediaGap is, per receiver, the stream time missing across the switch:
	// when the new source's first chunk was sent, less when the old's last
	// was, less one chunk. Negative: the new source started back in time (at
	// its latest keyframe), so that the receiver got a stretch of both.
	mediaGap []time.Duration
}

// viewSwitch gathers the receivers' side of a switch from session from to
// session to, the first after instant after; killed says whether the old
// source was killed at that instant.
func viewSwitch(slots []slotCounts, feed string, from, to uint32, after time.Time, killed bool, sess func(uint32) (sessionInfo, bool)) switchView {
	var v switchView
	old, ok1 := sess(from)
	next, ok2 := sess(to)
	for _, s := range slots {
		if s.feed != feed {
			continue
		}
		c, ok := findChange(s.changes, from, to, after)
		if !ok {
			continue
		}
		v.receivers++
		v.silence = append(v.silence, c.silence())
		if killed {
			v.afterKill = append(v.afterKill, c.firstAt.Sub(after))
		}
		if ok1 && ok2 {
			v.mediaGap = append(v.mediaGap, next.due(c.to.Seq).Sub(old.due(c.from.Seq))-old.interval)
		}
	}
	for _, d := range [][]time.Duration{v.silence, v.afterKill, v.mediaGap} {
		slices.Sort(d)
	}
	return v
}
