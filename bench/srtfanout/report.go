package main

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/podium-broadcast/podium/bench/internal/harness"
)

// The program rewrites only the part of BENCHMARKS.md between these markers.
const (
	beginMarker = "<!-- srtfanout:begin -->"
	endMarker   = "<!-- srtfanout:end -->"
)

// report is everything one run measured.
type report struct {
	date     time.Time
	duration time.Duration
	machine  harness.MachineInfo
	opts     options
	// relay and single are the 1:1 runs, interleaved: relay[i] ran just before single[i].
	relay, single []result
	idle          result // Podium with its publisher and no receiver
	steps         []result
	storms        []result   // reconnection storms, by receiver count
	rates         []ratePair // single streams at high rates
	largest       int
	stopReason    string
	hub           []hubResult // the hub's Go micro-benchmark
}

// write puts the report's section into the file at path, replacing the
// previous one and keeping every other section.
func (rep *report) write(path string) error {
	return harness.WriteSection(path, beginMarker, endMarker, rep.markdown())
}

func (rep *report) markdown() string {
	var w strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&w, format, args...) }
	o, m := rep.opts, rep.machine
	mbps := o.bitrate / 1_000_000
	p("%s\n## SRT fan-out\n\n", beginMarker)
	p("Written by `go run ./bench/srtfanout` (part of `make bench`) on %s, in %s.\n",
		rep.date.UTC().Format("2006-01-02 15:04 MST"), rep.duration.Round(time.Second))
	p("Machine: %d × %s, Linux %s, %s, srt-live-transmit on libsrt %s; Podium at commit %s.\n\n",
		m.CPUs, m.Model, m.Kernel, m.GoVersion, m.LibSRT, m.Commit)

	rep.summary(p)
	p(`
### Method

Podium runs as its own process (%[1]s, built from ./cmd/podium), with one feed and one
broadcaster entitled to it per receiver, created over the REST API. The publisher is
srt-live-transmit fed by this program in real time at %[2]d Mbit/s: a %[3]d s ffmpeg stream (720p50
H.264 at constant rate, AAC, keyframe every second), looped, in chunks of seven transport
packets, the seventh a null packet stamped with the chunk's number. Each receiver is
srt-live-transmit pulling to a pipe that this program reads; a receiver's loss is the share of
the window's chunks whose stamp never came out of it, so SRT losses repaired in time do not
count, and drops, late packets and cut connections do. Both SRT legs are encrypted (AES-128
passphrases) with the default 120 ms latency, for Podium and the relay alike.

A step starts its receivers one at a time, each once the previous one has caught up with the
live edge (a receiver starts at the latest keyframe, up to a second back, and gets that second
in a burst), lets %[4]v pass, then measures %[5]v: the steady state, not a reconnection storm.
CPU is the process's user+system time from /proc, in cores (CPU-seconds per second); RSS is
VmRSS, the median of one sample a second. The baseline is libsrt's srt-live-transmit relaying
the same stream 1:1 (SRT listener in, SRT listener out), run %[6]d times, each run just before
one of Podium with a single receiver; medians are quoted. The fan-out steps share one publisher
and go up until a step fails twice in a row (a receiver loses %.2[7]g%% or more, or is cut; a
failed step is run once more, so that a burst of load from elsewhere does not decide); then, time
permitting, one or two steps bisect the gap. Per-receiver figures are beyond the publisher-only
step: (value at N − value with no receiver) / N. The publisher, the receivers and this program
share the machine's %[8]d cores with Podium: the peers' CPU and the machine's busy share are
listed so that saturation shows. The machine is shared and noisy: compare ratios, not absolutes.
`, "`podium serve`", mbps, harness.SourceSeconds, o.warmup, o.window, o.repeats, o.maxLoss*100, m.CPUs)

	if len(rep.relay) > 0 && len(rep.single) > 0 {
		rep.singleTable(p)
	}
	if len(rep.steps) > 0 {
		rep.fanOutTable(p)
	}
	if len(rep.storms) > 0 {
		rep.stormTable(p)
	}
	if len(rep.rates) > 0 {
		rep.rateTable(p)
	}
	if len(rep.hub) > 0 {
		rep.hubTable(p)
	}
	rep.profiles(p)
	p("%s", endMarker)
	return w.String()
}

func (rep *report) summary(p func(string, ...any)) {
	o := rep.opts
	mbps := o.bitrate / 1_000_000
	relayCores := median(rep.relay, func(r result) float64 { return r.ServerCores })
	singleCores := median(rep.single, func(r result) float64 { return r.ServerCores })
	if len(rep.steps) == 0 {
		// no staggered fan-out in this run
	} else if rep.largest > 0 {
		p("**One %d Mbit/s feed reached %d SRT receivers with every receiver under %.2g%% loss over %v** (%s).\n",
			mbps, rep.largest, o.maxLoss*100, o.window, rep.stopReason)
	} else {
		p("**No receiver count passed: even the first step lost %.2g%% or more** (%s).\n", o.maxLoss*100, rep.stopReason)
	}
	if top, ok := rep.step(rep.largest); ok && rep.largest > 1 {
		p("At N=%d Podium used %.2f cores, %.1f millicores per receiver beyond the publisher-only %.3f cores,\n",
			top.Readers, top.ServerCores, rep.perReaderCores(top)*1000, rep.idle.ServerCores)
		p("%.2f core-seconds per delivered Gbit/s, and %s of memory per receiver (RSS %.0f MiB);\n",
			top.ServerCores/top.deliveredGbps(), kib(rep.perReaderRSS(top)), float64(top.ServerRSS)/(1<<20))
		p("the machine was %.0f%% busy, the SRT peers taking %.2f cores.\n", top.MachineBusy*100, top.PeerCores)
	}
	if relayCores > 0 {
		ratios := make([]float64, 0, len(rep.single))
		for i := range min(len(rep.single), len(rep.relay)) {
			if rep.relay[i].ServerCores > 0 {
				ratios = append(ratios, rep.single[i].ServerCores/rep.relay[i].ServerCores)
			}
		}
		slices.Sort(ratios)
		p("Relaying the same stream 1:1, libsrt's srt-live-transmit used %.3f cores (median of %d); Podium with one\n",
			relayCores, len(rep.relay))
		p("receiver used %.3f cores: **%.2f× the relay** (paired runs %.2f–%.2f×), its ingest alone (publisher, no\n",
			singleCores, singleCores/relayCores, ratios[0], ratios[len(ratios)-1])
		p("receiver) %.3f cores, %.2f× the relay's whole 1:1 relay. Per delivered Gbit/s: relay %.2f\n",
			rep.idle.ServerCores, rep.idle.ServerCores/relayCores, relayCores/(float64(o.bitrate)/1e9))
		p("core-s, Podium %.2f at one receiver", singleCores/(float64(o.bitrate)/1e9))
		if top, ok := rep.step(rep.largest); ok && rep.largest > 1 {
			p(" and %.2f at %d", top.ServerCores/top.deliveredGbps(), top.Readers)
		}
		p(".\n")
	}
}

func (rep *report) hubTable(p func(string, ...any)) {
	p("\n### The hub alone\n\n")
	p("`go test -bench BenchmarkFanOut -benchmem ./internal/hub/`, in the same run: one publisher writing\n")
	p("1316-byte chunks, N reader goroutines taking each of them, no network.\n\n")
	p("| readers | ns per chunk | ns per chunk per reader | B/op | allocs/op |\n|---|---|---|---|---|\n")
	for _, h := range rep.hub {
		perReader := ""
		if h.readers > 0 {
			perReader = fmt.Sprintf("%.1f", h.nsPerReader)
		}
		p("| %d | %.0f | %s | %.0f | %.0f |\n", h.readers, h.nsPerChunk, perReader, h.bytesPerOp, h.allocsPerOp)
	}
	top, ok := rep.step(rep.largest)
	last := rep.hub[len(rep.hub)-1]
	if ok && rep.largest > 1 && last.readers > 0 {
		chunksPerSecond := float64(rep.opts.bitrate) / (harness.ChunkSize * 8)
		srtNs := rep.perReaderCores(top) / chunksPerSecond * 1e9
		p("\nOver SRT, each receiver costs Podium %.1f µs of CPU per chunk (at N=%d); the hub's part of that,\n", srtNs/1000, top.Readers)
		p("%.0f ns with %d readers, is %.2f%%: the fan-out's cost is the SRT connections'.\n", last.nsPerReader, last.readers, last.nsPerReader/srtNs*100)
	}
}

func (rep *report) singleTable(p func(string, ...any)) {
	p("\n### 1:1: libsrt relay and Podium with one receiver\n\n")
	p("| run | relay CPU (cores) | Podium CPU (cores) | Podium / relay | relay RSS (MiB) | Podium RSS (MiB) | relay loss | Podium loss | machine busy (relay / Podium) |\n")
	p("|---|---|---|---|---|---|---|---|---|\n")
	for i := range min(len(rep.relay), len(rep.single)) {
		r, s := rep.relay[i], rep.single[i]
		p("| %d | %.3f | %.3f | %.2f× | %.1f | %.1f | %s | %s | %.0f%% / %.0f%% |\n", i+1, r.ServerCores, s.ServerCores,
			s.ServerCores/r.ServerCores, mib(r.ServerRSS), mib(s.ServerRSS), percent(r.WorstLoss), percent(s.WorstLoss),
			r.MachineBusy*100, s.MachineBusy*100)
	}
	relay := func(f func(result) float64) float64 { return median(rep.relay, f) }
	single := func(f func(result) float64) float64 { return median(rep.single, f) }
	cores := func(r result) float64 { return r.ServerCores }
	rss := func(r result) float64 { return float64(r.ServerRSS) / (1 << 20) }
	busy := func(r result) float64 { return r.MachineBusy * 100 }
	p("| **median** | **%.3f** | **%.3f** | **%.2f×** | %.1f | %.1f | | | %.0f%% / %.0f%% |\n",
		relay(cores), single(cores), single(cores)/relay(cores), relay(rss), single(rss), relay(busy), single(busy))
	stale, most := 0, uint64(0)
	for _, r := range rep.single {
		if r.Stale > 0 {
			stale++
			most = max(most, r.Stale)
		}
	}
	if stale > 0 {
		chunksPerSecond := float64(rep.opts.bitrate) / (harness.ChunkSize * 8)
		p("\nIn %d of the %d Podium runs the receiver, started just after the publisher connected, first got up\n", stale, len(rep.single))
		p("to %d chunks (%.1f s) of the previous run's publisher, from its last keyframe on: stale pictures that\n",
			most, float64(most)/chunksPerSecond)
		p("Podium kept in the feed's ring while the feed was offline (during the relay's run).\n")
	}
}

func (rep *report) fanOutTable(p func(string, ...any)) {
	p("\n### Fan-out: one feed, N receivers\n\n")
	p("| N | loss, all receivers | worst receiver | Podium CPU (cores) | per receiver (millicores) | core-s per delivered Gbit/s | Podium RSS (MiB) | RSS per receiver | SRT drops / retransmits | goroutines | join, median / max | SRT peers' CPU (cores) | machine busy (others) | |\n")
	p("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	idle := rep.idle
	p("| 0 | | | %.3f | | | %.1f | | | %.0f | | %.2f | %.0f%% (%.2f cores) | publisher only |\n",
		idle.ServerCores, mib(idle.ServerRSS), idle.Goroutines, idle.PeerCores, idle.MachineBusy*100, max(0, idle.OtherCores))
	steps := slices.Clone(rep.steps)
	slices.SortStableFunc(steps, func(a, b result) int { return a.Readers - b.Readers })
	for _, r := range steps {
		verdict := "pass"
		if !r.passes(rep.opts.maxLoss) {
			verdict = "**fail**"
			if r.Exited > 0 || r.Connected < r.Readers {
				verdict += fmt.Sprintf(" (%d of %d connected, %d ended early)", r.Connected, r.Readers, r.Exited)
			}
		}
		if r.Attempt > 1 {
			verdict += ", second attempt"
		}
		if len(r.Closes) > 0 {
			verdict += "; Podium closed " + closes(r.Closes)
		}
		if r.MissedByAll > 0 {
			verdict += fmt.Sprintf("; %d chunks missed by all", r.MissedByAll)
		}
		packets := float64(r.Chunks * uint64(r.Readers))
		p("| %d | %s | %s | %.3f | %.1f | %.2f | %.1f | %s | %s / %s | %.0f | %v / %v | %.2f | %.0f%% (%.2f cores) | %s |\n",
			r.Readers, percent(r.Loss), percent(r.WorstLoss), r.ServerCores, rep.perReaderCores(r)*1000,
			r.ServerCores/r.deliveredGbps(), mib(r.ServerRSS), kib(rep.perReaderRSS(r)),
			percent(r.Dropped/packets), percent(r.Retransmitted/packets), r.Goroutines,
			r.JoinMedian.Round(10*time.Millisecond), r.JoinMax.Round(10*time.Millisecond), r.PeerCores,
			r.MachineBusy*100, max(0, r.OtherCores), verdict)
	}
	p("\nSRT drops: packets Podium's senders gave up on for want of an acknowledgement in time (whether or\n")
	p("not they had arrived); retransmits: packets sent again on a receiver's request; both as a share of\n")
	p("the packets due. Join: from a receiver's start to its catching up with the live edge (within %v of\n", liveEdge)
	p("the publisher). Others: the machine's busy time beyond Podium, the SRT peers and this program\n")
	p("(other tenants, and kernel work not charged to a process).\n")
	if late := slices.MaxFunc(append(steps, rep.idle), func(a, b result) int { return int(a.PacerLate - b.PacerLate) }); late.PacerLate > 50*time.Millisecond {
		p("The publisher's pacing fell up to %v behind schedule (at N=%d): the bench itself was short of CPU.\n",
			late.PacerLate.Round(time.Millisecond), late.Readers)
	}
}

// step returns the fan-out step with n receivers (the last, if measured twice).
func (rep *report) step(n int) (result, bool) {
	for i := len(rep.steps) - 1; i >= 0; i-- {
		if rep.steps[i].Readers == n {
			return rep.steps[i], true
		}
	}
	return result{}, false
}

func (rep *report) perReaderCores(r result) float64 {
	return (r.ServerCores - rep.idle.ServerCores) / float64(r.Readers)
}

func (rep *report) perReaderRSS(r result) float64 {
	return (float64(r.ServerRSS) - float64(rep.idle.ServerRSS)) / float64(r.Readers)
}

func median(rs []result, f func(result) float64) float64 {
	if len(rs) == 0 {
		return 0
	}
	v := make([]float64, len(rs))
	for i, r := range rs {
		v[i] = f(r)
	}
	slices.Sort(v)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

func percent(f float64) string { return fmt.Sprintf("%.3f %%", f*100) }

func mib(b uint64) float64 { return float64(b) / (1 << 20) }

func kib(b float64) string { return fmt.Sprintf("%.0f KiB", b/1024) }

func (rep *report) stormTable(p func(string, ...any)) {
	o := rep.opts
	p("\n### Reconnection storm: N receivers joining at once\n\n")
	p("After a network blip every broadcaster reconnects within the same second. Here N receivers are\n")
	p("started one after the other as fast as processes start (the spread is listed), on a %d Mbit/s feed\n", o.bitrate/1_000_000)
	p("that has been on air for 3 s, so each begins at the latest keyframe, up to a second back. The\n")
	p("window of %v opens as the first receiver starts: a chunk published after that which does not come\n", o.window)
	p("out of a receiver is lost for it, whether SRT dropped it as too late, the receiver's buffer\n")
	p("overflowed or the connection was cut. Target: under 0.1 %% at every receiver, every receiver at the\n")
	p("live edge (within %v of the publisher) within %v of its start.\n\n", liveEdge, stormLiveBy)
	p("| N | start spread | loss, all receivers | worst receiver | at the live edge within 1 s | join, median / max | Podium SRT drops / retransmits | Podium CPU (cores) | Podium RSS (MiB) | machine busy | |\n")
	p("|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, r := range rep.storms {
		verdict := "pass"
		if !r.passes(o.maxLoss) || r.LiveWithin1s < r.Readers {
			verdict = "**fail**"
		}
		if len(r.Closes) > 0 {
			verdict += "; Podium closed " + closes(r.Closes)
		}
		packets := float64(r.Chunks * uint64(r.Readers))
		joinMax := "never (some)"
		if r.JoinMax > 0 {
			joinMax = r.JoinMax.Round(10 * time.Millisecond).String()
		}
		p("| %d | %v | %s | %s | %d of %d | %v / %s | %s / %s | %.3f | %.1f | %.0f%% | %s |\n",
			r.Readers, r.StartSpread.Round(time.Millisecond), percent(r.Loss), percent(r.WorstLoss), r.LiveWithin1s, r.Readers,
			r.JoinMedian.Round(10*time.Millisecond), joinMax, percent(r.Dropped/packets), percent(r.Retransmitted/packets),
			r.ServerCores, mib(r.ServerRSS), r.MachineBusy*100, verdict)
	}
}

func (rep *report) rateTable(p func(string, ...any)) {
	p("\n### One stream at contribution rates\n\n")
	p("One publisher into Podium (`max_publish_bitrate` off) and one receiver out, beside libsrt's\n")
	p("srt-live-transmit relaying the same stream 1:1 at the same rate, just before, in the same run; both\n")
	p("legs encrypted, 120 ms latency. The source is the same kind of stream as above, encoded at the\n")
	p("rate. Loss as above, over %v after %v of warm-up. Target: under 0.1 %% at 400 Mbit/s.\n\n", rep.opts.window, rep.opts.warmup)
	p("| rate (Mbit/s) | relay loss | Podium loss | relay CPU (cores) | Podium CPU (cores) | Podium / relay | relay RSS (MiB) | Podium RSS (MiB) | Podium SRT drops / retransmits | machine busy (relay / Podium) |\n")
	p("|---|---|---|---|---|---|---|---|---|---|\n")
	for _, rp := range rep.rates {
		r, s := rp.relay, rp.podium
		packets := float64(s.Chunks)
		p("| %d | %s | %s | %.3f | %.3f | %.2f× | %.1f | %.1f | %s / %s | %.0f%% / %.0f%% |\n",
			s.Bitrate/1_000_000, percent(r.WorstLoss), percent(s.WorstLoss), r.ServerCores, s.ServerCores,
			s.ServerCores/r.ServerCores, mib(r.ServerRSS), mib(s.ServerRSS),
			percent(s.Dropped/packets), percent(s.Retransmitted/packets), r.MachineBusy*100, s.MachineBusy*100)
	}
	if last := rep.rates[len(rep.rates)-1].podium; last.PacerLate > 50*time.Millisecond {
		p("\nThe publisher's pacing fell up to %v behind schedule at %d Mbit/s: the bench itself was short of CPU.\n",
			last.PacerLate.Round(time.Millisecond), last.Bitrate/1_000_000)
	}
}

// profiles lists the top of the CPU profiles taken during the run.
func (rep *report) profiles(p func(string, ...any)) {
	var all []result
	all = append(all, rep.single...)
	all = append(all, rep.idle)
	all = append(all, rep.steps...)
	all = append(all, rep.storms...)
	for _, rp := range rep.rates {
		all = append(all, rp.podium)
	}
	first := true
	for _, r := range all {
		if r.Profile == "" {
			continue
		}
		if first {
			p("\n### Where Podium's time goes\n\n")
			p("Podium's CPU profile over the window (`/debug/pprof/profile`, the profiles are kept in\n")
			p("bench/.cache), the functions with the most time of their own:\n")
			first = false
		}
		what := fmt.Sprintf("%d receivers", r.Readers)
		if r.Readers == 0 {
			what = "publisher only (ingest, recording)"
		}
		if r.StartSpread > 0 {
			what += " joining at once"
		}
		p("\n%d Mbit/s, %s:\n\n```\n%s```\n", r.Bitrate/1_000_000, what, trimProfile(r.Profile))
	}
}

// trimProfile keeps pprof's table, without the file and build header.
func trimProfile(top string) string {
	lines := strings.Split(top, "\n")
	for i, l := range lines {
		if strings.Contains(l, "flat%") {
			return strings.Join(lines[i:], "\n")
		}
	}
	return top
}
