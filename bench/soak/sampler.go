package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/podium-broadcast/podium/bench/internal/harness"
)

// sample is Podium's and the machine's state at one instant of the soak,
// with the CPU used since the previous sample.
type sample struct {
	at  time.Duration // since the soak's start
	rss uint64        // Podium's VmRSS
	// From Podium's /metrics; ok is false when it did not answer in time.
	ok                         bool
	heapInuse, goroutines      float64
	heapLive                   float64 // the Go heap that survived the last GC
	readers, deliveries        float64
	cuts                       float64 // receivers cut for lagging, since Podium started
	bytesOut                   float64 // transport stream bytes out, all feeds, since Podium started
	switchesPrimary, switchesB float64 // switches putting the primary, the backup on air
	buffered                   float64 // the hub's buffers, all feeds
	// SRT packets lost (then retransmitted or not) and dropped (given up
	// on), since Podium started, on ingest and on delivery.
	ingestLost, ingestDropped, deliveryLost, deliveryDropped float64
	// CPU since the previous sample, in cores.
	podiumCores, peerCores, benchCores, otherCores float64
	machineBusy                                    float64 // share of the machine's CPU time
	peers                                          int     // srt-live-transmit processes running
	pacerLate                                      time.Duration
}

// cpuCounters are the CPU counters at one instant, in 1/UserHZ s.
type cpuCounters struct {
	at                        time.Time
	podium, bench, peers      uint64
	machineBusy, machineTotal uint64
	peerCount                 int
}

// readCPU reads the counters. The peers' time is that of the running
// srt-live-transmit processes plus that of those that have ended (which the
// kernel adds to the bench's reaped children's time when it waits for them).
func (r *soakRun) readCPU() (cpuCounters, error) {
	c := cpuCounters{at: time.Now()}
	var err error
	if c.podium, err = harness.CPUTicks(r.podium.Proc.PID()); err != nil {
		return c, fmt.Errorf("podium: %w", err)
	}
	c.bench, _ = harness.CPUTicks(os.Getpid())
	for _, child := range r.procs.Running() {
		if child == r.podium.Proc {
			continue
		}
		if t, err := harness.CPUTicks(child.PID()); err == nil {
			c.peers += t
			c.peerCount++
		}
	}
	reaped, _ := harness.ReapedChildrenTicks(os.Getpid())
	c.peers += reaped
	c.machineBusy, c.machineTotal, err = harness.MachineTicks()
	return c, err
}

// takeSample reads Podium's memory and metrics and the CPU used since prev.
func (r *soakRun) takeSample(ctx context.Context, prev cpuCounters) (sample, cpuCounters, error) {
	s := sample{at: time.Since(r.start).Round(100 * time.Millisecond)}
	if r.podium.Proc.Exited() {
		return s, prev, fmt.Errorf("at %v, %s (its log is kept in bench/.cache/%s-podium.log)", s.at, r.podium.Proc.Why(), r.name)
	}
	s.rss, _ = harness.RSSBytes(r.podium.Proc.PID())
	scrapeCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	m, err := r.podium.Scrape(scrapeCtx)
	cancel()
	if err == nil {
		s.ok = true
		s.heapInuse = m.Sum("go_memstats_heap_inuse_bytes")
		s.heapLive = m.Sum("go_gc_heap_live_bytes")
		s.goroutines = m.Sum("go_goroutines")
		s.readers = m.Sum("podium_feed_readers")
		s.deliveries = m.Sum("podium_deliveries")
		s.cuts = m.Sum("podium_feed_readers_cut_lagging_total")
		s.bytesOut = m.Sum("podium_feed_bytes_out_total")
		s.switchesPrimary = m.Sum("podium_feed_source_switches_total", `source="primary"`)
		s.switchesB = m.Sum("podium_feed_source_switches_total", `source="backup"`)
		s.buffered = m.Sum("podium_feed_buffered_bytes")
		s.ingestLost = m.Sum("podium_srt_packets_lost_total", `direction="ingest"`)
		s.ingestDropped = m.Sum("podium_srt_packets_dropped_total", `direction="ingest"`)
		s.deliveryLost = m.Sum("podium_srt_packets_lost_total", `direction="delivery"`)
		s.deliveryDropped = m.Sum("podium_srt_packets_dropped_total", `direction="delivery"`)
	} else if ctx.Err() != nil {
		return s, prev, ctx.Err()
	}
	cur, err := r.readCPU()
	if err != nil {
		return s, prev, err
	}
	for _, f := range r.feeds {
		s.pacerLate = max(s.pacerLate, f.pacerLate())
	}
	s.peers = cur.peerCount
	if !prev.at.IsZero() {
		elapsed := cur.at.Sub(prev.at).Seconds()
		cores := func(from, to uint64) float64 { return float64(to-from) / harness.UserHZ / elapsed }
		s.podiumCores = cores(prev.podium, cur.podium)
		s.benchCores = cores(prev.bench, cur.bench)
		s.peerCores = cores(prev.peers, cur.peers)
		if total := cur.machineTotal - prev.machineTotal; total > 0 {
			s.machineBusy = float64(cur.machineBusy-prev.machineBusy) / float64(total)
		}
		s.otherCores = s.machineBusy*float64(runtime.NumCPU()) - s.podiumCores - s.peerCores - s.benchCores
	}
	return s, cur, nil
}

// sampleUntilEnd samples every sampleEvery from the soak's start to its end
// (both included), printing a progress line for each.
func (r *soakRun) sampleUntilEnd(ctx context.Context) error {
	var prev cpuCounters
	for t := time.Duration(0); t <= r.cfg.duration; t += r.cfg.sampleEvery {
		if err := harness.SleepUntil(ctx, r.start.Add(t)); err != nil {
			return err
		}
		s, cur, err := r.takeSample(ctx, prev)
		if err != nil {
			return err
		}
		prev = cur
		r.addSample(s)
		r.say("%s", s.describe(r.cfg))
		if t == slopeWindow(r.cfg.duration) || t+r.cfg.sampleEvery > r.cfg.duration {
			r.writeHeapProfile(ctx, t)
		}
		for _, f := range r.feeds {
			for _, why := range r.revive(f) {
				r.say("%s: publisher ended, started again: %s", r.label, why)
				r.mu.Lock()
				r.revived = append(r.revived, why)
				r.mu.Unlock()
			}
		}
	}
	return nil
}

// writeHeapProfile keeps Podium's heap profile at t on the soak's clock in
// bench/.cache: the one at the start of the trend's window and the one at
// the end, compared with go tool pprof -base, show what memory went to.
func (r *soakRun) writeHeapProfile(ctx context.Context, t time.Duration) {
	path := filepath.Join(r.root, "bench", ".cache", fmt.Sprintf("%s-heap-%v.pb.gz", r.name, t))
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := r.podium.HeapProfile(ctx, path); err != nil {
		r.say("%s: %v", r.label, err)
		return
	}
	r.mu.Lock()
	r.heapProfiles = append(r.heapProfiles, path)
	r.mu.Unlock()
	r.say("%s: Podium's heap profile at %v: %s", r.label, t, path)
}

func (s sample) describe(cfg config) string {
	line := fmt.Sprintf("t=%v: Podium RSS %.0f MiB, %.2f cores", s.at, mib(s.rss), s.podiumCores)
	if s.ok {
		line += fmt.Sprintf(", heap in use %.1f MiB (live %.1f), %.0f goroutines, %.0f/%d readers, %.0f cut for lag so far",
			s.heapInuse/(1<<20), s.heapLive/(1<<20), s.goroutines, s.readers, cfg.feeds*cfg.readers, s.cuts)
	} else {
		line += ", /metrics did not answer in 5 s"
	}
	return line + fmt.Sprintf("; machine %.0f%% busy, %d SRT peers %.2f cores, bench %.2f", s.machineBusy*100, s.peers, s.peerCores, s.benchCores)
}

func mib(b uint64) float64 { return float64(b) / (1 << 20) }
