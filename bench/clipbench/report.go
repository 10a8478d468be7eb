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
	beginMarker = "<!-- clipbench:begin -->"
	endMarker   = "<!-- clipbench:end -->"
)

// report is everything one run measured.
type report struct {
	date         time.Time
	duration     time.Duration
	machine      harness.MachineInfo
	opts         options
	segments     int
	segmentBytes int64
	formats      []formatResult
}

func (rep *report) markdown() string {
	var w strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&w, format, args...) }
	o, m := rep.opts, rep.machine
	p("%s\n## Clip export (copy mode)\n\n", beginMarker)
	p("Written by `go run ./bench/clipbench` (part of `make bench`) on %s, in %s.\n",
		rep.date.UTC().Format("2006-01-02 15:04 MST"), rep.duration.Round(time.Second))
	p("Machine: %d × %s, Linux %s, %s; Podium at commit %s.\n\n", m.CPUs, m.Model, m.Kernel, m.GoVersion, m.Commit)

	var lead []string
	for _, f := range rep.formats {
		e, x := median(f.engine, wallOf), median(f.ffmpeg, wallOf)
		lead = append(lead, fmt.Sprintf("%s in %s (%.2f× the time of `ffmpeg -c copy`, %s)",
			strings.ToUpper(f.format), ms(e), float64(e)/float64(x), ms(x)))
	}
	p("**A %g s copy clip of a %d Mbit/s feed: %s** (medians of %d runs each).\n\n",
		o.clipLen.Seconds(), o.bitrate/1_000_000, strings.Join(lead, "; "), o.runs)

	p("| Format | Exporter | Wall time, median (range) | CPU time, median | Clip size | Clip duration (ffprobe) |\n")
	p("|---|---|---|---|---|---|\n")
	for _, f := range rep.formats {
		for _, ex := range []struct {
			name string
			runs []export
		}{{"Podium clip engine", f.engine}, {"`ffmpeg -c copy`", f.ffmpeg}} {
			lo, hi := slices.MinFunc(ex.runs, byWall).wall, slices.MaxFunc(ex.runs, byWall).wall
			p("| %s | %s | %s (%s–%s) | %s | %.1f MB | %.2f s |\n", strings.ToUpper(f.format), ex.name,
				ms(median(ex.runs, wallOf)), ms(lo), ms(hi), ms(median(ex.runs, cpuOf)),
				float64(ex.runs[0].size)/1e6, ex.runs[0].duration.Seconds())
		}
	}
	p(`
### Method

The feed is made at bench time: ffmpeg encodes %[1]g s of 720p50 (testsrc2) as H.264 (x264
ultrafast, constant %[2]d Mbit/s with filler, a keyframe every second) with an AAC and an AC-3
track, muxed at a constant %[2]d Mbit/s, then cut into archive segments of 4 s laid out as the
recorder lays them out (internal/clips/clipstest). The clip runs from 5.5 s for %[3]g s; the %[4]d
segments covering it (%.1[5]f MB) are in the page cache for every run. Each run exports it once
with the clip engine (a fresh engine, one worker, timed from Submit to the ready update, so
including the JPEG thumbnail (an ffmpeg process decoding one keyframe) and the fsync before the
rename, which ffmpeg does not do) and once with `+"`ffmpeg -ss START -i concat:SEG1|SEG2|... -t %[6]s -map 0 -c copy`"+`
over the same segment files, alternating, %[7]d runs each per format; the clip is deleted after each
run. Both cut at the keyframe at or before the start; the engine ends at the first keyframe at or
after the end, ffmpeg at the end; the engine's TS keeps every packet as recorded, the muxer's null
padding included, where ffmpeg's remux drops it, hence the larger file. CPU time is the process's user+system time (for the engine, the
bench process's own plus its thumbnail child's). The machine is shared and noisy: compare ratios,
not absolutes.
%[8]s
`, o.feedLen.Seconds(), o.bitrate/1_000_000, o.clipLen.Seconds(), rep.segments, float64(rep.segmentBytes)/1e6,
		seconds(o.clipLen), o.runs, endMarker)
	return w.String()
}

func wallOf(r export) time.Duration { return r.wall }
func cpuOf(r export) time.Duration  { return r.cpu }
func byWall(a, b export) int        { return int(a.wall - b.wall) }

func median(runs []export, of func(export) time.Duration) time.Duration {
	v := make([]time.Duration, len(runs))
	for i, r := range runs {
		v[i] = of(r)
	}
	slices.Sort(v)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

func ms(d time.Duration) string { return d.Round(time.Millisecond).String() }
