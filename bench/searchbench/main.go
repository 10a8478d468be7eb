// Command searchbench measures the clip library's search on this machine and
// writes the figures into BENCHMARKS.md: a library of 100,000 generated
// clips (16 sports, 2,500 athletes, 24 feeds, 16 days) in a fresh store,
// then each kind of search the portal and the CLI make (full text, facet
// filters, time ranges, a broadcaster's rights, deep pages, combinations)
// repeated, with medians and 90th percentiles. Each search is what GET
// /api/v1/clips runs: a page of 50, the total and the four facet counts.
// Beside the full-text searches, in the same run, the same words found with
// LIKE over the same rows: the scan the FTS5 index saves.
//
// Run it from the repository root:
//
//	go run ./bench/searchbench [-clips 100000] [-runs 30]
package main

import (
	"context"
	"database/sql"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"time"

	_ "modernc.org/sqlite" // the baseline opens the library's database itself

	"github.com/podium-broadcast/podium/bench/internal/harness"
	"github.com/podium-broadcast/podium/internal/store"
)

type options struct {
	clips, runs, feeds int
	seed               uint64
	out                string
}

func main() {
	var o options
	flag.IntVar(&o.clips, "clips", 100_000, "clips in the library")
	flag.IntVar(&o.runs, "runs", 30, "times each search is measured (after 3 unmeasured)")
	flag.IntVar(&o.feeds, "feeds", 24, "feeds the clips are cut from")
	flag.Uint64Var(&o.seed, "seed", 2028, "seed of the generated library")
	flag.StringVar(&o.out, "out", "BENCHMARKS.md", "file whose searchbench section is written")
	flag.Parse()
	if err := run(context.Background(), o); err != nil {
		fmt.Fprintln(os.Stderr, "searchbench:", err)
		os.Exit(1)
	}
}

// search is one kind of search measured.
type search struct {
	name  string
	query store.ClipQuery
	// like, for a one-word full-text search, is the baseline's LIKE
	// pattern; match the same word as an FTS5 query.
	like, match string
}

// measured is a search's figures.
type measured struct {
	search
	total                int
	median, p90, slowest time.Duration
	// cpu is the process's median CPU time per search: the cost of a
	// search, less disturbed than its latency by other work on the machine.
	cpu time.Duration
	// For a full-text search: counting its matches through the FTS5 index
	// and, the baseline, with LIKE.
	ftsMedian, likeMedian time.Duration
	ftsTotal, likeTotal   int
}

func run(ctx context.Context, o options) error {
	began := time.Now()
	dir, err := os.MkdirTemp("", "searchbench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	st, err := store.Open(ctx, dir)
	if err != nil {
		return err
	}
	defer func() { st.Close() }()
	fmt.Fprintf(os.Stderr, "searchbench: inserting %d clips\n", o.clips)
	gen := newGenerator(o.seed, o.feeds)
	insertStart := time.Now()
	const batch = 5000
	for i := 0; i < o.clips; i += batch {
		clips := make([]store.Clip, 0, batch)
		for j := i; j < min(i+batch, o.clips); j++ {
			clips = append(clips, gen.clip(j))
		}
		if err := st.CreateClips(ctx, clips...); err != nil {
			return fmt.Errorf("insert clips: %w", err)
		}
	}
	insertTime := time.Since(insertStart)
	// Opening a store reads the library's search index into memory: time it.
	if err := st.Close(); err != nil {
		return err
	}
	openStart := time.Now()
	if st, err = store.Open(ctx, dir); err != nil {
		return err
	}
	openTime := time.Since(openStart)
	dbSize := int64(0)
	for _, name := range []string{"catalog.db", "catalog.db-wal"} {
		if info, err := os.Stat(filepath.Join(dir, name)); err == nil {
			dbSize += info.Size()
		}
	}

	baseline, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "catalog.db")+"?mode=ro&_pragma=busy_timeout(5000)")
	if err != nil {
		return err
	}
	defer baseline.Close()

	rep := report{opts: o, date: time.Now(), machine: harness.DescribeMachine("."), insert: insertTime, open: openTime, dbSize: dbSize}
	for _, s := range searches(gen) {
		fmt.Fprintf(os.Stderr, "searchbench: %s\n", s.name)
		m, err := measure(ctx, st, baseline, s, o.runs)
		if err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
		rep.results = append(rep.results, m)
	}
	rep.duration = time.Since(began)
	if err := harness.WriteSection(o.out, beginMarker, endMarker, rep.markdown()); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "searchbench: wrote %s in %v\n", o.out, rep.duration.Round(time.Second))
	return nil
}

// searches are the kinds of search measured, on values the generated library holds.
func searches(gen *generator) []search {
	day := gen.start.Add(5 * 24 * time.Hour)
	star, lastName := gen.athletes[0], lastNames[0]
	rights := &store.ClipRights{Owner: "nbc", Feeds: gen.feeds[:8]}
	return []search{
		{name: "everything, newest first", query: store.ClipQuery{}},
		{name: "q: one common word (`final`)", query: store.ClipQuery{Text: "final"}, like: "%final%", match: `"final"*`},
		{name: "q: an athlete's surname (`" + lastName + "`)", query: store.ClipQuery{Text: lastName}, like: "%" + lastName + "%", match: `"` + lastName + `"*`},
		{name: "q: two words (`gold relay`)", query: store.ClipQuery{Text: "gold relay"}},
		{name: "q: a prefix (`celeb`)", query: store.ClipQuery{Text: "celeb"}, like: "%celeb%", match: `"celeb"*`},
		{name: "facet: sport", query: store.ClipQuery{Sport: "Swimming"}},
		{name: "facet: sport and event", query: store.ClipQuery{Sport: "Athletics", Event: "Men's 100m"}},
		{name: "facet: athlete", query: store.ClipQuery{Athlete: star}},
		{name: "facet: feed", query: store.ClipQuery{FeedID: gen.feeds[3]}},
		{name: "time range: one day", query: store.ClipQuery{From: day, To: day.Add(24 * time.Hour)}},
		{name: "combined: q + sport + one day", query: store.ClipQuery{Text: "medal", Sport: "Athletics", From: day, To: day.Add(24 * time.Hour)}},
		{name: "combined: q + athlete + feed", query: store.ClipQuery{Text: "final", Athlete: star, FeedID: gen.feeds[0]}},
		{name: "broadcaster: rights (8 of 24 feeds + own)", query: store.ClipQuery{Rights: rights}},
		{name: "broadcaster: rights + q + sport", query: store.ClipQuery{Rights: rights, Text: "record", Sport: "Swimming"}},
		{name: "deep page (offset 5,000)", query: store.ClipQuery{Offset: 5000}},
	}
}

// measure runs the search 3 times unmeasured, then runs times measured,
// and its LIKE baseline as often.
func measure(ctx context.Context, st *store.Store, baseline *sql.DB, s search, runs int) (measured, error) {
	m := measured{search: s}
	if m.query.Limit == 0 {
		m.query.Limit = 50
	}
	var times, cpu []time.Duration
	for i := range runs + 3 {
		t0, c0 := time.Now(), cpuTime()
		page, err := st.SearchClips(ctx, m.query)
		if err != nil {
			return m, err
		}
		if i >= 3 {
			times, cpu = append(times, time.Since(t0)), append(cpu, cpuTime()-c0)
		}
		m.total = page.Total
	}
	m.median, m.p90, m.slowest = quantiles(times)
	m.cpu, _, _ = quantiles(cpu)
	if s.like == "" {
		return m, nil
	}
	var err error
	if m.ftsMedian, m.ftsTotal, err = timeCount(ctx, baseline, runs, `SELECT count(*) FROM clips_fts WHERE clips_fts MATCH ?`, s.match); err != nil {
		return m, fmt.Errorf("FTS5 count: %w", err)
	}
	m.likeMedian, m.likeTotal, err = timeCount(ctx, baseline, runs, `SELECT count(*) FROM clips WHERE title LIKE ?1 OR description LIKE ?1
		OR tags LIKE ?1 OR athletes LIKE ?1 OR sport LIKE ?1 OR event LIKE ?1 OR phase LIKE ?1 OR venue LIKE ?1`, s.like)
	if err != nil {
		return m, fmt.Errorf("LIKE count: %w", err)
	}
	return m, nil
}

// timeCount runs a counting query 3 times unmeasured and runs times
// measured; it returns the median time and the count.
func timeCount(ctx context.Context, db *sql.DB, runs int, query, arg string) (time.Duration, int, error) {
	var times []time.Duration
	n := 0
	for i := range runs + 3 {
		t0 := time.Now()
		if err := db.QueryRowContext(ctx, query, arg).Scan(&n); err != nil {
			return 0, 0, err
		}
		if i >= 3 {
			times = append(times, time.Since(t0))
		}
	}
	median, _, _ := quantiles(times)
	return median, n, nil
}

// cpuTime is the user and system time this process has used.
func cpuTime() time.Duration {
	var usage syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &usage); err != nil {
		return 0
	}
	return time.Duration(usage.Utime.Nano() + usage.Stime.Nano())
}

// quantiles returns the median, the 90th percentile (nearest rank) and the maximum.
func quantiles(times []time.Duration) (median, p90, slowest time.Duration) {
	sorted := slices.Clone(times)
	slices.Sort(sorted)
	n := len(sorted)
	if n == 0 {
		return 0, 0, 0
	}
	median = sorted[n/2]
	if n%2 == 0 {
		median = (sorted[n/2-1] + sorted[n/2]) / 2
	}
	rank := (9*n + 9) / 10 // ceil(0.9 n)
	return median, sorted[rank-1], sorted[n-1]
}
