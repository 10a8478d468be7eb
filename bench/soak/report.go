package main

import (
	"fmt"
	"maps"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/podium-broadcast/podium/bench/internal/harness"
)

// The program rewrites only the part of BENCHMARKS.md between these markers.
const (
	beginMarker = "<!-- soak:begin -->"
	endMarker   = "<!-- soak:end -->"
)

// report is everything one run of the program measured: the soak asked
// for, and the scaled one when that could not run.
type report struct {
	date          time.Time
	duration      time.Duration
	machine       harness.MachineInfo
	opts          options
	runs          []*soakRun
	scaledSkipped string // why no scaled soak ran after a failed full one
}

// write puts the report's section into the file at path, keeping every other section.
func (rep *report) write(path string) error {
	return harness.WriteSection(path, beginMarker, endMarker, rep.markdown())
}

// printer writes formatted text.
type printer func(format string, args ...any)

func (rep *report) markdown() string {
	var w strings.Builder
	p := printer(func(format string, args ...any) { fmt.Fprintf(&w, format, args...) })
	o, m := rep.opts, rep.machine
	p("%s\n## Soak: %s × %s at %s, primary and backup switching\n\n", beginMarker, count(o.feeds, "feed"), count(o.readers, "SRT receiver"), mbps(o.bitrate))
	p("Written by `go run ./bench/soak` (part of `make bench`) on %s, in %s.\n",
		rep.date.UTC().Format("2006-01-02 15:04 MST"), rep.duration.Round(time.Second))
	p("Machine: %d × %s, Linux %s, %s, srt-live-transmit on libsrt %s; Podium at commit %s.\n",
		m.CPUs, m.Model, m.Kernel, m.GoVersion, m.LibSRT, m.Commit)
	for i, r := range rep.runs {
		if len(rep.runs) > 1 {
			p("\n### %s\n", r.heading(i))
		}
		p("\n")
		r.summary(p, o)
	}
	if rep.scaledSkipped != "" {
		p("\nThe soak could not run at the size asked, and no scaled one ran: %s.\n", rep.scaledSkipped)
	}
	rep.method(p)
	for i, r := range rep.runs {
		r.details(p, o, i, len(rep.runs) > 1)
	}
	p("%s", endMarker)
	return w.String()
}

func (r *soakRun) heading(i int) string {
	if i == 0 {
		return fmt.Sprintf("%s × %s, as asked", count(r.cfg.feeds, "feed"), count(r.cfg.readers, "receiver"))
	}
	return fmt.Sprintf("Scaled: %s × %s, for %v (the full size could not run)", count(r.cfg.feeds, "feed"), count(r.cfg.readers, "receiver"), r.cfg.duration)
}

func (r *soakRun) summary(p printer, o options) {
	t := r.totals()
	c := r.cfg
	if r.failure != nil {
		p("**The soak stopped after %v of %v: %v.**\n\n", r.stoppedAt.Round(time.Second), c.duration, oneLine(r.failure.Error()))
	}
	p("%s at %s, each with a primary and a backup publisher and %s: %.2f Gbit/s of SRT delivery offered, with %s (srt-live-transmit) on the same %d cores as Podium. ",
		count(c.feeds, "feed"), mbps(c.bitrate), count(c.readers, "receiver"), t.offeredGbps, count(c.feeds*(c.readers+2), "SRT peer"), cpus())
	if t.cuts > 0 || t.exits > 0 || t.holes > 1-fullShare {
		p("**Not every receiver kept up**: the load is beyond what this machine serves (see the SRT fan-out section for its limit with one feed), and the figures say how Podium coped.\n\n")
	} else {
		p("Every receiver kept up: none was cut or ended, and under %.1f %% of the stream was lost in transit; what they missed beyond that is the switches' gaps.\n\n", (1-fullShare)*100)
	}
	tr := t.trend
	switch {
	case !tr.ok:
		p("- **Memory: too few samples to tell a trend** (%d from %v on).\n", tr.samples, tr.from)
	case tr.flat(o.flat):
		p("- **Memory stayed flat**: ")
	default:
		p("- **Memory did not stay flat**: ")
	}
	if tr.ok {
		p("from %v to %v (%d samples), Podium's RSS moved %+.2f MiB per minute (%.0f–%.0f MiB), its live Go heap (after GC) %+.2f MiB per minute (%.1f–%.1f MiB); least squares, flat meaning under %g MiB per minute either way.\n",
			tr.from, tr.to, tr.samples, tr.rssSlope, mib(tr.rssMin), mib(tr.rssMax), tr.heapSlope, tr.heapMin/(1<<20), tr.heapMax/(1<<20), o.flat)
	}
	p("- **Load: %.2f Gbit/s offered to %s; Podium sent %.2f Gbit/s**, and the receivers got %s of their streams on average",
		t.offeredGbps, count(c.feeds*c.readers, "receiver"), t.deliveredGbps, pct(t.received))
	p(" (%s of what they got lost in transit and not repaired); %.1f readers attached on average. ", pct(t.holes), t.readers)
	p("Podium's SRT counters: on ingest %.0f packets lost and %.0f dropped (too late to play); on delivery %.0f lost and %.0f dropped (not acknowledged within the latency). ",
		t.ingestLost, t.ingestDropped, t.deliveryLost, t.deliveryDropped)
	if t.cuts > 0 || t.exits > 0 {
		p("Podium cut %s for lagging; %s ended", count(int(t.cuts), "receiver"), count(t.exits, "receiver process"))
		if c.rejoin > 0 {
			p(" and joined again %v later", c.rejoin)
		}
		p(".\n")
	} else {
		p("No receiver was cut.\n")
	}
	if t.kills > 0 {
		p("- **Failover: %s killed", count(t.kills, "primary"))
		if len(t.failovers) > 0 {
			p("; the backup was on air %s after the kill** (median of %d; %s–%s), as GET /api/v1/feeds/{id} reported it",
				secs(quantile(t.failovers, 0.5)), len(t.failovers), secs(quantile(t.failovers, 0)), secs(quantile(t.failovers, 1)))
		} else {
			p("**")
		}
		if t.failoverErrors > 0 {
			p("; **%s not within 10 s**", times(t.failoverErrors))
		}
		if t.backupBefore > 0 {
			p("; %s the backup was on air already (the primary had stalled): no failover to time", times(t.backupBefore))
		}
		if len(t.afterKill) > 0 {
			p(". The receivers got the backup's first chunk %s after the kill (median of %d; p90 %s), after %s without data (p90 %s)",
				secs(quantile(t.afterKill, 0.5)), len(t.afterKill), secs(quantile(t.afterKill, 0.9)), secs(quantile(t.failSilence, 0.5)), secs(quantile(t.failSilence, 0.9)))
		}
		p(".\n")
	}
	if len(t.switchBacks) > 0 || t.switchBackErrs > 0 || t.early > 0 {
		p("- **Switch-back")
		if len(t.switchBacks) > 0 {
			p(": the restarted primary was on air %v + %s after its restart** (median of %d, the hold being %v; max + %s); the receivers went %s without data across it (median of %d; max %s)",
				c.hold, secs(quantile(t.switchBacks, 0.5)), len(t.switchBacks), c.hold, secs(quantile(t.switchBacks, 1)),
				secs(quantile(t.backSilence, 0.5)), len(t.backSilence), secs(quantile(t.backSilence, 1)))
		} else {
			p("**")
		}
		if t.switchBackErrs > 0 {
			p("; **%s not at all**", times(t.switchBackErrs))
		}
		if t.early > 0 {
			p("; %s before the hold was over, the backup having stalled", times(t.early))
		}
		if t.restartFailures > 0 {
			p("; %s ended before they were on air, and were started again", count(t.restartFailures, "restarted primary"))
		}
		p(".\n")
	}
	if unplanned := t.backupSwitches - float64(len(t.failovers)+t.failoverErrors); unplanned > 0 {
		p("- **%s to a backup**: a primary fell silent for %v without being killed (its publisher, or this program feeding it, short of CPU)",
			count(int(unplanned), "unplanned switch"), c.stall)
		if len(r.switchReasons) > 0 {
			p("; Podium's switches by reason: %s", closes(r.switchReasons))
		}
		p(".\n")
	}
	if len(r.revived) > 0 {
		p("- **%s ended on their own** and were started again at the next sample: %s.\n", count(len(r.revived), "publisher"), strings.Join(r.revived, "; "))
	}
	p("- **CPU: Podium %.2f cores, %.0f%% of the machine's %d**; the machine %.0f%% busy: the SRT peers (publishers and receivers) %.2f cores, this program %.2f, others %.2f.\n",
		t.podium, t.podium/float64(cpus())*100, cpus(), t.busy*100, t.peers, t.bench, t.other)
}

func (rep *report) method(p printer) {
	o := rep.opts
	p(`
### Method

Podium runs as its own process (%[1]s, built from ./cmd/podium; switch_stall %[2]v, switch_hold
%[3]v, revertive), with %[23]s created over the REST API and %[24]s, each entitled to every
feed: receiver i of every feed pulls as broadcaster i. Each feed has a primary and a backup
publisher, srt-live-transmit (streamid %[6]s and %[7]s, the feed's
publish_passphrase and backup_publish_passphrase), each fed by this program in real time at %[8]s with
the stream of the SRT fan-out bench: a %[9]d s ffmpeg stream (720p50 H.264 at constant rate, AAC,
keyframe every second), looped, in chunks of seven transport packets, the seventh a null packet
stamped with the publisher's session and the chunk's number. Each receiver is srt-live-transmit
pulling to a pipe that this program reads, counting the stamps of every source: the primary's, the
backup's after a failover, the restarted primary's after a switch-back. A receiver that ends (Podium
cut it, or it lost its connection) joins again %[10]v later, as an IRD would. The receivers start one
every %[11]v; the soak's clock starts %[12]v after the last one.

Every %[13]v (%[14]v over the soak), one feed's primary, the feeds in turn, is killed with SIGKILL, so
that Podium sees its data stop and no SRT shutdown, and started again %[15]v later. Failover time is
from the kill to GET /api/v1/feeds/{id} (admin, polled every %[16]v) answering on_air "backup";
switch-back time, from the restart to on_air "primary", less the hold. On the receivers' side: the
time from the kill to each receiver's first chunk of the backup, the silence across each switch
(from the old source's last chunk to the new one's first, as this program read them, every 20 ms),
and how much stream time the switch skipped or, when negative, repeated (the new source starts at
its latest keyframe, up to a GOP back).

A receiver's share of a minute is the chunks it got, of any source, over those a feed carries in a
minute (at most 100 %%); what it did not get was lost in transit, cut off by a switch, or missed while
it was disconnected. A new connection or a switch starts at the latest keyframe, up to a second back,
and the stretch it repeats counts again: with many reconnections the share is an upper bound. Lost
in transit counts only the chunks missing between two of the same source on the same connection:
SRT losses not repaired in time. Every %[17]v this program samples Podium's VmRSS
and CPU (user+system from /proc, in cores), its /metrics (go_gc_heap_live_bytes,
go_memstats_heap_inuse_bytes, go_goroutines, podium_feed_readers, podium_feed_readers_cut_lagging_total,
podium_feed_bytes_out_total), the machine's CPU (/proc/stat), the SRT peers' (their /proc entries,
and those that ended through this program's reaped children's time) and its own. Memory's trend is a
least-squares line through the samples of the last 8 minutes (never the first fifth of the soak,
where buffers grow to their working size), of the RSS and of the live heap (what the last GC kept;
the heap in use saws between it and twice it); Podium's heap profiles at the start of that window
and at its end are kept in bench/.cache, for go tool pprof -base. Everything runs on 127.0.0.1, on
the machine's %[18]d cores, shared by Podium, the SRT peers and this program: with that many peers,
the machine runs out of CPU before Podium does, and the peers' share shows it. The machine is shared
and noisy.

| setting | value |
|---|---|
| feeds × receivers | %[4]d × %[5]d = %[19]d receivers, %.2[20]f Gbit/s offered |
| bitrate of each feed | %[8]s (%.0[21]f chunks of 1316 bytes a second) |
| soak | %[22]v, sampled every %[17]v |
| planned outages | one every %[13]v, %[15]v each, the feeds in turn |
| Podium | switch_stall %[2]v, switch_hold %[3]v, reader_max_lag 1s (default), SRT latency 120 ms (default), AES-128 on every leg |
| receivers that end | join again after %[10]v |
`, "`podium serve`", o.stall, o.hold, o.feeds, o.readers, "`#!::r=FEED,m=publish`", "`#!::r=FEED,m=publish,s=backup`",
		mbps(o.bitrate), harness.SourceSeconds, rejoinText(o.rejoin), receiverSpacing, settle,
		o.switchEvery, len(o.schedule()), o.outage, statusPoll, o.sampleEvery, rep.machine.CPUs,
		o.feeds*o.readers, float64(o.feeds*o.readers*o.bitrate)/1e9, float64(o.bitrate)/(harness.ChunkSize*8), o.duration,
		count(o.feeds, "feed"), count(o.readers, "broadcaster"))
}

func rejoinText(d time.Duration) string {
	if d == 0 {
		return "never (-rejoin 0): it stays away"
	}
	return d.String()
}

func (r *soakRun) details(p printer, o options, i int, several bool) {
	t := r.totals()
	title := func(s string) {
		if several {
			s += ": " + strings.ToLower(r.heading(i)[:1]) + r.heading(i)[1:]
		}
		p("\n### %s\n\n", s)
	}
	title("Minute by minute")
	p("| minute | Podium RSS (MiB) | Go heap live / in use (MiB) | goroutines | readers | cut for lag | receivers ended | stream received, mean / worst | receivers under %.1f %% | lost in transit | delivered (Gbit/s) | Podium CPU (cores) | peers / bench / others (cores) | machine busy |\n", fullShare*100)
	p("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, row := range t.minutes {
		if row.samples == 0 {
			p("| %d | | | | | | %d | %s / %s | %d | %s | | | | |\n", row.minute, row.exits, pct(row.received), pct(row.worst), row.short, pct(row.holes))
			continue
		}
		p("| %d | %.1f | %.1f / %.1f | %.0f | %.1f | %.0f | %d | %s / %s | %d | %s | %.2f | %.2f | %.2f / %.2f / %.2f | %.0f%% |\n",
			row.minute, mib(row.rss), row.heapLive/(1<<20), row.heapInuse/(1<<20), row.goroutines, row.readers, row.cuts, row.exits,
			pct(row.received), pct(row.worst), row.short, pct(row.holes), row.deliveredGbps, row.podiumCores,
			row.peerCores, row.benchCores, row.otherCores, row.machineBusy*100)
	}
	p("\nMemory and goroutines at the minute's last sample; readers (podium_feed_readers, all feeds) the mean of its samples; receivers ended: receiver processes that ended in the minute (each joins again %s).", rejoinText(r.cfg.rejoin))
	if t.pacerLate > 50*time.Millisecond {
		p(" The publishers' pacing fell up to %v behind schedule: this program was short of CPU.", t.pacerLate.Round(time.Millisecond))
	}
	p("\n")
	r.switchTable(p, title)
	r.feedTable(p, t)
	if len(r.closes) > 0 {
		p("\nPodium closed %d deliveries during the soak (from its log, by reason): %s.", sumValues(r.closes), closes(r.closes))
		if r.connectsAfter > 0 {
			p(" It accepted %.0f SRT deliveries during it.", r.connectsAfter-r.connectsBefore)
		}
		p("\n")
	}
	if len(r.switchReasons) > 0 {
		p("\nPodium's switches during the soak (from its log, by reason): %s.\n", closes(r.switchReasons))
	}
	r.sampleTable(p)
}

func (r *soakRun) switchTable(p printer, title func(string)) {
	r.mu.Lock()
	events := slices.Clone(r.events)
	r.mu.Unlock()
	if len(events) == 0 {
		return
	}
	title("Switches")
	counts := r.counts()
	p("| at | feed | backup on air after the kill | receivers: first backup chunk after the kill, median / max | silence, median / max | stream skipped, median | restarts | primary back on air after its restart | receivers: silence, median / max | stream skipped, median |\n")
	p("|---|---|---|---|---|---|---|---|---|---|\n")
	for _, ev := range events {
		if ev.skipped != "" {
			p("| | %s | skipped: %s | | | | | | | |\n", ev.feed.id, ev.skipped)
			continue
		}
		var fo, sb switchView
		failover := secs(ev.failover)
		switch {
		case ev.cutShort && ev.failover == 0:
			failover = "cut short by the soak's end"
		case ev.onAirBefore != primary:
			failover = fmt.Sprintf("%q was on air already", ev.onAirBefore)
		case ev.failoverErr != nil:
			failover = "**not within 10 s**"
		default:
			fo = viewSwitch(counts, ev.feed.id, ev.killed, ev.spare, ev.killAt, true, r.sessions.get)
		}
		back := fmt.Sprintf("%v + %s", r.cfg.hold, secs(ev.switchBack))
		switch {
		case ev.cutShort:
			back = "cut short by the soak's end"
		case ev.restartAt.IsZero():
			back = "not restarted"
		case ev.switchBackErr != nil:
			back = "**no**: " + oneLine(ev.switchBackErr.Error())
		case ev.early:
			back = fmt.Sprintf("%s, before the hold (the backup stalled)", secs(r.cfg.hold+ev.switchBack))
		default:
			sb = viewSwitch(counts, ev.feed.id, ev.spare, ev.restarted, ev.restartAt, false, r.sessions.get)
		}
		p("| %v | %s | %s | %s / %s (%d) | %s / %s | %s | %d | %s | %s / %s (%d) | %s |\n",
			ev.killAt.Sub(r.start).Round(time.Second), ev.feed.id, failover,
			secs(quantile(fo.afterKill, 0.5)), secs(quantile(fo.afterKill, 1)), fo.receivers,
			secs(quantile(fo.silence, 0.5)), secs(quantile(fo.silence, 1)), secs(quantile(fo.mediaGap, 0.5)),
			1+len(ev.restartFailures), back, secs(quantile(sb.silence, 0.5)), secs(quantile(sb.silence, 1)), sb.receivers,
			secs(quantile(sb.mediaGap, 0.5)))
	}
	p("\nIn brackets, the receivers whose stream passed from one source to the other on one connection (the others were\n")
	p("disconnected at the time). Stream skipped: the stream time missing across the switch; negative, repeated.\n")
	p("Restarts: primaries started to end the outage (more than one when a restarted primary ended before it was on air).\n")
	p("The time back on air includes the restarted encoder's connection and its first keyframe (one a second), which\n")
	p("Podium needs before the hold starts.\n")
}

func (r *soakRun) feedTable(p printer, t totals) {
	counts := r.counts()
	interval := chunkInterval(r.cfg.bitrate)
	var due float64
	for _, row := range t.minutes {
		due += float64(row.length) / float64(interval)
	}
	if due == 0 {
		return
	}
	p("\nBy feed, over the soak:\n\n| feed | stream received, mean / worst receiver | receivers ended | lost in transit |\n|---|---|---|---|\n")
	for _, f := range r.feeds {
		var sum, worst, got, holes float64
		worst, n, exits := 1.0, 0, 0
		for _, c := range counts {
			if c.feed != f.id {
				continue
			}
			var g, h float64
			for i := range c.got {
				g += float64(c.got[i])
				h += float64(c.holes[i])
			}
			share := min(1, g/due)
			sum += share
			worst = min(worst, share)
			got += g
			holes += h
			exits += len(c.exits)
			n++
		}
		lost := 0.0
		if got+holes > 0 {
			lost = holes / (got + holes)
		}
		p("| %s | %s / %s | %d | %s |\n", f.id, pct(sum/float64(max(n, 1))), pct(worst), exits, pct(lost))
	}
}

func (r *soakRun) sampleTable(p printer) {
	r.mu.Lock()
	samples := slices.Clone(r.samples)
	r.mu.Unlock()
	if len(samples) == 0 {
		return
	}
	p("\n<details><summary>Every sample (%d)</summary>\n\n", len(samples))
	p("| t | RSS (MiB) | heap live (MiB) | heap in use (MiB) | hub buffers (MiB) | goroutines | readers | deliveries | cut for lag (total) | Podium CPU | peers | peers' CPU | bench CPU | machine busy |\n")
	p("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, s := range samples {
		cpu := fmt.Sprintf("%s | %d | %s | %s | %s", cores(s.podiumCores), s.peers, cores(s.peerCores), cores(s.benchCores), percentCell(s.machineBusy))
		if s.at == 0 {
			// The first sample starts the CPU counts: it has none of its own.
			cpu = fmt.Sprintf(" | %d | | | ", s.peers)
		}
		if !s.ok {
			p("| %v | %.1f | no answer from /metrics | | | | | | | %s |\n", s.at, mib(s.rss), cpu)
			continue
		}
		p("| %v | %.1f | %.1f | %.1f | %.1f | %.0f | %.0f | %.0f | %.0f | %s |\n", s.at, mib(s.rss), s.heapLive/(1<<20), s.heapInuse/(1<<20),
			s.buffered/(1<<20), s.goroutines, s.readers, s.deliveries, s.cuts, cpu)
	}
	p("\n</details>\n")
}

func cores(f float64) string { return fmt.Sprintf("%.2f", f) }

func percentCell(f float64) string { return fmt.Sprintf("%.0f%%", f*100) }

// cpus is the machine's cores, for CPU shares.
func cpus() int { return runtime.NumCPU() }

// count writes n things: "1 feed", "8 feeds", "2 primaries", "3 switches".
func count(n int, thing string) string {
	if n == 1 {
		return "1 " + thing
	}
	switch {
	case strings.HasSuffix(thing, "ary"):
		thing = strings.TrimSuffix(thing, "y") + "ies"
	case strings.HasSuffix(thing, "ch"), strings.HasSuffix(thing, "ss"):
		thing += "es"
	default:
		thing += "s"
	}
	return fmt.Sprintf("%d %s", n, thing)
}

// times writes "once", "twice", "3 times".
func times(n int) string {
	switch n {
	case 1:
		return "once"
	case 2:
		return "twice"
	}
	return fmt.Sprintf("%d times", n)
}

func mbps(bitrate int) string { return fmt.Sprintf("%g Mbit/s", float64(bitrate)/1e6) }

func pct(f float64) string { return fmt.Sprintf("%.2f %%", f*100) }

// secs formats a duration in seconds, to the millisecond.
func secs(d time.Duration) string { return fmt.Sprintf("%.3f s", d.Seconds()) }

func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}

// closes lists close reasons with their counts, the most frequent first.
func closes(reasons map[string]int) string {
	keys := slices.SortedFunc(maps.Keys(reasons), func(a, b string) int { return reasons[b] - reasons[a] })
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%d × %s", reasons[k], k)
	}
	return strings.Join(parts, ", ")
}

func sumValues(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}
