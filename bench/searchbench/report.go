package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/podium-broadcast/podium/bench/internal/harness"
)

// The program rewrites only the part of BENCHMARKS.md between these markers.
const (
	beginMarker = "<!-- searchbench:begin -->"
	endMarker   = "<!-- searchbench:end -->"
)

// report is everything one run measured.
type report struct {
	opts     options
	date     time.Time
	duration time.Duration
	machine  harness.MachineInfo
	insert   time.Duration
	open     time.Duration
	dbSize   int64
	results  []measured
}

func (rep *report) markdown() string {
	var w strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&w, format, args...) }
	o, m := rep.opts, rep.machine
	p("%s\n## Clip library search\n\n", beginMarker)
	p("Written by `go run ./bench/searchbench` (part of `make bench`) on %s, in %s.\n",
		rep.date.UTC().Format("2006-01-02 15:04 MST"), rep.duration.Round(time.Second))
	p("Machine: %d × %s, Linux %s, %s; Podium at commit %s.\n\n", m.CPUs, m.Model, m.Kernel, m.GoVersion, m.Commit)
	slowest := rep.results[0]
	for _, r := range rep.results {
		if r.median > slowest.median {
			slowest = r
		}
	}
	p("**Over %s clips, every search answered in a median of at most %s** (%s; 90th percentile %s).\n",
		thousands(o.clips), ms(slowest.median), slowest.name, ms(slowest.p90))
	p("Inserting the library took %s (%s clips/s, batches of 5,000 in one transaction each); the database is %.0f MiB;\n",
		rep.insert.Round(100*time.Millisecond), thousands(int(float64(o.clips)/rep.insert.Seconds())), float64(rep.dbSize)/(1<<20))
	p("opening it again, which loads the clip index, took %s.\n", rep.open.Round(time.Millisecond))
	p(`
### Method

A fresh store (the catalog's SQLite database, as Podium opens it: WAL, one connection) is filled
with %[1]s generated clips (seed %[2]d): 16 sports with their events and venues, 9 phases, %[3]d
feeds, 12 owners (a quarter the operator's), 2,500 athletes drawn with a long tail (a few stars
in many clips; 1 to 4 a clip), 1 or 2 of 20 tags, titles such as "Noah Lyles wins Men's 100m
final", a sentence of description, starts spread over 16 days. Each search is `+"`store.SearchClips`"+`,
what GET /api/v1/clips runs: a page of 50 (newest first), the
total, and the sport, event, athlete and feed facet counts under the same filters.
Each is run 3 times unmeasured, then %[4]d times; the median, the 90th percentile and the slowest
are quoted, and the median CPU time the process spent on a search. For one-word searches the
matches are also counted through the FTS5 index alone and, the baseline, with LIKE '%%word%%' over
the same eight columns, in the same run. The machine is shared and noisy: compare ratios, not absolutes.
`, thousands(o.clips), o.seed, o.feeds, o.runs)
	p("\n| search | clips found | median | p90 | slowest | CPU, median |\n|---|---|---|---|---|---|\n")
	for _, r := range rep.results {
		p("| %s | %s | %s | %s | %s | %s |\n", r.name, thousands(r.total), ms(r.median), ms(r.p90), ms(r.slowest), ms(r.cpu))
	}
	p("\n### Full-text index against a scan\n\n")
	p("| word | matches (FTS5 / LIKE) | count through FTS5, median | count with LIKE, median | LIKE / FTS5 |\n|---|---|---|---|---|\n")
	for _, r := range rep.results {
		if r.like == "" {
			continue
		}
		p("| `%s` | %s / %s | %s | %s | %.1f× |\n", strings.Trim(r.like, "%"), thousands(r.ftsTotal), thousands(r.likeTotal),
			ms(r.ftsMedian), ms(r.likeMedian), r.likeMedian.Seconds()/r.ftsMedian.Seconds())
	}
	p("\nFTS5 matches words by their start, LIKE any run of letters (`final` inside `semifinal`)")
	if rep.sameMatches() {
		p(": on these\nclips both find the same ones.")
	} else {
		p(", hence\nthe different counts.")
	}
	p(" The filters, the order and the facet counts are a walk over the clip index in\n")
	p("memory (every clip, newest first, names interned); a search's time is mostly the FTS5 index\n")
	p("listing the clips its words match, and reading the page's 50 clips.\n")
	p("%s", endMarker)
	return w.String()
}

// sameMatches reports whether FTS5 and LIKE found as many clips for every word.
func (rep *report) sameMatches() bool {
	for _, r := range rep.results {
		if r.like != "" && r.ftsTotal != r.likeTotal {
			return false
		}
	}
	return true
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000) }

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
