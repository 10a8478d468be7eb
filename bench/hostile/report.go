package main

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/podium-broadcast/podium/bench/internal/harness"
)

// The program rewrites only the part of BENCHMARKS.md between these markers.
const (
	beginMarker = "<!-- hostile:begin -->"
	endMarker   = "<!-- hostile:end -->"
)

// report is everything one run measured.
type report struct {
	opts     options
	date     time.Time
	duration time.Duration
	machine  harness.MachineInfo
	quiet    measurement
	attack   measurement
	load     *load
	alive    bool
}

// cutWithin is what "rights are live" promises.
const cutWithin = time.Second

func (rep *report) markdown() string {
	var w strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&w, format, args...) }
	o, m, l := rep.opts, rep.machine, rep.load
	p("%s\n## Hostile load\n\n", beginMarker)
	p("Written by `go run ./bench/hostile` (`make hostile`) on %s, in %s.\n",
		rep.date.UTC().Format("2006-01-02 15:04 MST"), rep.duration.Round(time.Second))
	p("Machine: %d × %s, Linux %s, %s; Podium at commit %s.\n\n", m.CPUs, m.Model, m.Kernel, m.GoVersion, m.Commit)
	cuts, worst := rep.attack.cuts()
	verdict := "**Under the attack, every revoke cut the live SRT delivery within 1 s**"
	if len(cuts) < len(rep.attack.revokes) || worst > cutWithin || len(cuts) == 0 {
		verdict = fmt.Sprintf("**Under the attack, %d of %d revokes cut the live SRT delivery within 1 s**",
			rep.attack.within(cutWithin), len(rep.attack.revokes))
	}
	p("%s (median %s, slowest %s; without the attack: median %s, slowest %s).\n", verdict,
		ms(median(cuts)), ms(worst), ms(median(rep.quiet.cutsOnly())), ms(maxOf(rep.quiet.cutsOnly())))
	p("An API GET took a median of %s (slowest %s, %d failed) under the attack, %s (slowest %s) without.\n",
		ms(median(rep.attack.gets)), ms(maxOf(rep.attack.gets)), rep.attack.getFailed, ms(median(rep.quiet.gets)), ms(maxOf(rep.quiet.gets)))
	if rep.alive {
		p("Podium stayed up; its resident memory peaked at %.0f MiB.\n", float64(l.peakRSS)/(1<<20))
	} else {
		p("**Podium exited during the run.**\n")
	}
	p(`
### Method

A fresh Podium (`+"`podium serve`"+`, default settings) carries one 2 Mbit/s feed from an
srt-live-transmit publisher. For %[1]s the attack, from 127.0.0.1, holds at once: %[2]d
Server-Sent Events streams (GET /api/v1/events with the admin token, opened 50 at a time); SRT
calls with a wrong passphrase, %[3]d every %[4]s (Podium's own SRT caller: induction and
conclusion); %[5]d POST /api/v1/session with a 100 KB body sent at one byte a second; %[6]d clip
searches in parallel, one after the other, with the longest q the API accepts. The
legitimate side comes from 127.0.0.5, as from another network, so that the limits and lockouts
per address that the attack trips do not hide how Podium as a whole holds: from 3 s into the
attack, %[7]d times, an srt-live-transmit receiver pulls the feed, and once 100 KB have arrived the
entitlement is suspended (PATCH /api/v1/entitlements/{id}); the cut is the time from sending the
PATCH to the receiver's exit (srt-live-transmit -a:no ends when Podium closes the connection),
then the entitlement is made active again. Meanwhile GET /api/v1/feeds every 250 ms. The same
revokes and GETs are measured before the attack. The machine is shared and noisy.
`, o.duration, o.sse, o.handshakes, o.handshakeWindow, o.slow, o.queries, o.revokes)

	p("\n### Revokes\n\nTimes from starting the receiver to 100 KB received, from sending the PATCH to its answer, and from sending it to the receiver's exit.\n")
	p("\n| phase | revoke | receiver connected | PATCH answered | delivery cut |\n|---|---|---|---|---|\n")
	for _, phase := range []struct {
		name string
		m    measurement
	}{{"without attack", rep.quiet}, {"under attack", rep.attack}} {
		for i, r := range phase.m.revokes {
			cut := ms(r.cut)
			if r.err != "" {
				cut = "not measured: " + strings.TrimSpace(r.err)
			}
			if r.late {
				cut += " (ended after the attack)"
			}
			p("| %s | %d | %s | %s | %s |\n", phase.name, i+1, ms(r.connect), ms(r.patch), cut)
		}
	}

	p("\n### What the attack got\n\n| load case | sent | Podium's answers |\n|---|---|---|\n")
	p("| SSE streams | %d | %d open (%d still open at the end), %d refused (%s), %d not answered |\n",
		o.sse, l.sseOpen, l.sseHeld, l.sseRefused, counts(l.sseStatuses), l.sseFailed)
	p("| SRT calls, wrong passphrase | %d (%d every %s) | %s; answered in a median of %s (slowest %s) |\n",
		l.handshakes, o.handshakes, o.handshakeWindow, counts(l.handshakeReject), ms(median(l.handshakeAnswer)), ms(maxOf(l.handshakeAnswer)))
	closed := "none closed by Podium"
	if len(l.slowClosedAfter) > 0 {
		closed = fmt.Sprintf("%d closed by Podium after a median of %s (first %s, last %s)", len(l.slowClosedAfter),
			seconds(median(l.slowClosedAfter)), seconds(minOf(l.slowClosedAfter)), seconds(maxOf(l.slowClosedAfter)))
	}
	p("| slow bodies | %d | %s; %s |\n", l.slowOpened, closed, counts(l.slowAnswers))
	p("| long searches | %d | q of %s words (probes: %s); %s; each took a median of %s (slowest %s) |\n",
		len(l.queryTimes), thousands(l.queryWords), strings.Join(l.queryProbes, ", "), counts(l.queryStatuses),
		ms(median(l.queryTimes)), ms(maxOf(l.queryTimes)))
	p("%s", endMarker)
	return w.String()
}

// cuts returns the revokes' cut times and the slowest; a revoke not cut counts as slowest.
func (m measurement) cuts() ([]time.Duration, time.Duration) {
	cuts := m.cutsOnly()
	worst := maxOf(cuts)
	if len(cuts) < len(m.revokes) {
		worst = 1 << 62
	}
	return cuts, worst
}

func (m measurement) cutsOnly() []time.Duration {
	var cuts []time.Duration
	for _, r := range m.revokes {
		if r.err == "" {
			cuts = append(cuts, r.cut)
		}
	}
	return cuts
}

func (m measurement) within(d time.Duration) int {
	n := 0
	for _, c := range m.cutsOnly() {
		if c <= d {
			n++
		}
	}
	return n
}

func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Sorted(slices.Values(ds))
	return s[len(s)/2]
}

func maxOf(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	return slices.Max(ds)
}

func minOf(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	return slices.Min(ds)
}

// counts writes a tally as "a: 3, b: 1", the largest first.
func counts[K comparable](tally map[K]int) string {
	if len(tally) == 0 {
		return "none"
	}
	keys := slices.SortedFunc(maps.Keys(tally), func(a, b K) int { return tally[b] - tally[a] })
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%v: %d", k, tally[k])
	}
	return strings.Join(parts, ", ")
}

func ms(d time.Duration) string {
	if d >= 1<<62 {
		return "not cut"
	}
	if d >= 10*time.Second {
		return seconds(d)
	}
	return fmt.Sprintf("%.0f ms", float64(d.Microseconds())/1000)
}

func seconds(d time.Duration) string { return fmt.Sprintf("%.1f s", d.Seconds()) }

// thousands writes n with commas between groups of three digits.
func thousands(n int) string {
	s := fmt.Sprint(n)
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	return b.String()
}
