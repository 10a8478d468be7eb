package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"time"
)

// The program rewrites only the part of BENCHMARKS.md between these markers.
const (
	beginMarker = "<!-- hls:begin -->"
	endMarker   = "<!-- hls:end -->"
)

// machineInfo describes where the figures were measured.
type machineInfo struct {
	cpus                                           int
	model, kernel, goVersion, commit               string
	nginx, wrk, chromium, ffmpeg, node, hlsJS, pwc string
}

func describeMachine(root, nodeModules string) machineInfo {
	m := machineInfo{cpus: runtime.NumCPU(), goVersion: runtime.Version(), model: "unknown CPU", kernel: "unknown", commit: "unknown"}
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.Lines(string(data)) {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.model = strings.TrimSpace(v)
				break
			}
		}
	}
	if data, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.kernel = strings.TrimSpace(string(data))
	}
	// firstLine returns the first line of a command's output holding want.
	firstLine := func(want string, name string, args ...string) string {
		out, _ := exec.Command(name, args...).CombinedOutput()
		for line := range strings.Lines(string(out)) {
			if strings.Contains(line, want) {
				return strings.TrimSpace(line)
			}
		}
		return "unknown"
	}
	m.nginx = strings.TrimPrefix(firstLine("nginx/", nginxPath, "-v"), "nginx version: ")
	m.wrk, _, _ = strings.Cut(firstLine("wrk ", "wrk", "-v"), " Copyright")
	m.chromium = firstLine("Chromium", chromiumPath, "--version")
	m.ffmpeg, _, _ = strings.Cut(firstLine("ffmpeg version", "ffmpeg", "-version"), " Copyright")
	m.node = "node " + firstLine("v", "node", "--version")
	m.hlsJS = packageVersion(nodeModules, "hls.js")
	m.pwc = packageVersion(nodeModules, "playwright-core")
	if out, err := exec.Command("git", "-C", root, "rev-parse", "--short", "HEAD").Output(); err == nil {
		m.commit = strings.TrimSpace(string(out))
		if out, err := exec.Command("git", "-C", root, "status", "--porcelain", "--untracked-files=no").Output(); err == nil && len(out) > 0 {
			m.commit += " with uncommitted changes"
		}
	}
	return m
}

// packageVersion reads the version of a node package.
func packageVersion(nodeModules, name string) string {
	data, err := os.ReadFile(nodeModules + "/" + name + "/package.json")
	if err != nil {
		return "unknown"
	}
	_, rest, ok := strings.Cut(string(data), `"version"`)
	if !ok {
		return "unknown"
	}
	_, rest, _ = strings.Cut(rest, `"`)
	v, _, _ := strings.Cut(rest, `"`)
	return v
}

// report is everything one run measured.
type report struct {
	date       time.Time
	duration   time.Duration
	machine    machineInfo
	opts       options
	throughput *throughputResult
	latency    *latencyResult
}

// write puts the report's section into the file at path, replacing the
// previous one and keeping every other section; a file without the
// markers gets the section at its end.
func (rep *report) write(path string) error {
	doc, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	section := rep.markdown()
	text := string(doc)
	begin, end := strings.Index(text, beginMarker), strings.Index(text, endMarker)
	if begin >= 0 && end > begin {
		text = text[:begin] + section + text[end+len(endMarker):]
	} else {
		text = strings.TrimRight(text, "\n") + "\n\n" + section + "\n"
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(text), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func (rep *report) markdown() string {
	var w strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&w, format, args...) }
	m := rep.machine
	p("%s\n## LL-HLS delivery\n\n", beginMarker)
	p("Written by `go run ./bench/hlsbench` (part of `make bench`) on %s, in %s.\n",
		rep.date.UTC().Format("2006-01-02 15:04 MST"), rep.duration.Round(time.Second))
	p("Machine: %d × %s, Linux %s, %s; %s, %s, %s, %s, %s with hls.js %s (playwright-core %s); Podium at commit %s.\n\n",
		m.cpus, m.model, m.kernel, m.goVersion, m.nginx, m.wrk, m.chromium, m.ffmpeg, m.node, m.hlsJS, m.pwc, m.commit)
	rep.summary(p)
	if rep.throughput != nil {
		rep.throughputSection(p)
	}
	if rep.latency != nil {
		rep.latencySection(p)
	}
	p("%s", endMarker)
	return w.String()
}

func (rep *report) summary(p func(string, ...any)) {
	if t := rep.throughput; t != nil {
		for _, pr := range t.pairings {
			pod, ngx := pr.medianRun(pr.podium), pr.medianRun(pr.nginx)
			p("- **%s** (%s): Podium %s req/s (p99 %s), nginx serving the same bytes from disk %s req/s (p99 %s): "+
				"**Podium at %.2f× nginx's rate** (median of the paired runs, %s), %.2f× its requests per CPU core-second.\n",
				pr.target, size(pr.bytes), rate(pod.RequestsPerS), ms(pod.P99), rate(ngx.RequestsPerS), ms(ngx.P99),
				pr.pairedRatio(rateOf), pr.ratioRange(), pr.pairedRatio(perCore))
		}
	}
	if l := rep.latency; l != nil {
		h, s := spreadOf(l.hls), spreadOf(l.srt)
		p("- **Glass-to-glass, LL-HLS in Chromium with hls.js: median %s** (p10 %s, p90 %s); the same source pulled over SRT "+
			"and decoded by ffmpeg, at the same time: median %s (p10 %s, p90 %s). LL-HLS adds %s to the SRT path.\n",
			ms(h.p50), ms(h.p10), ms(h.p90), ms(s.p50), ms(s.p10), ms(s.p90), ms(h.p50-s.p50))
	}
}

func (rep *report) throughputSection(p func(string, ...any)) {
	t := rep.throughput
	o := rep.opts
	p(`
### Requests per second: Podium against nginx

Podium runs in the bench's process (internal/app, as the end-to-end tests run it), on 127.0.0.1,
with one feed looping the demo sample %[1]s (720p50 H.264, AAC, AC-3; internal/tsloop, into
the hub) and one broadcaster entitled to it. The bench asks GET /api/v1/feeds/{id}/playback for
the broadcaster's hls_url, waits until the playlist has a complete segment and part, then copies
the multivariant playlist, the video media playlist, the init section, the newest complete segment
and the newest part, as Podium served them, to the same URL paths under a directory that
Debian's nginx serves (one worker, sendfile, no access log, keep-alive without a request limit:
the usual static-file setup). Load: `+"`%[2]s`"+` on one URL at a time, Podium then nginx,
%[3]d times each, interleaved; before each pair the bench copies Podium's current media playlist
and newest complete segment to nginx, so that both serve the same bytes. Podium's media playlist
is asked without _HLS_msn (no blocking reload); every request carries the HMAC token in the path,
which Podium checks, with the entitlement in its in-memory catalog snapshot: that is part of what
is measured. CPU is the server's user+system time from /proc over the run, in cores: Podium's
process (which also runs the bench's publisher loop, a few millicores) or nginx's master and
worker. wrk, the server and this program share the machine's %[4]d cores; the machine is shared
and noisy: compare ratios, not absolutes. Podium's Go runtime may use both cores; nginx's single
worker, one: requests per core-second compare the work per request.

| target | run | Podium req/s | nginx req/s | Podium / nginx | Podium p50 / p99 | nginx p50 / p99 | Podium CPU (cores) | nginx CPU (cores) | Podium / nginx req per core-s | machine busy (others, cores), Podium / nginx |
|---|---|---|---|---|---|---|---|---|---|---|
`, "`"+sample+"`", o.load, o.repeats, rep.machine.cpus)
	for _, pr := range t.pairings {
		for i := range min(len(pr.podium), len(pr.nginx)) {
			a, b := pr.podium[i], pr.nginx[i]
			p("| %s | %d | %s | %s | %.2f× | %s / %s | %s / %s | %.2f | %.2f | %.2f× | %.0f%% (%.2f) / %.0f%% (%.2f) |\n",
				pr.target, i+1, rate(a.wrk.RequestsPerS), rate(b.wrk.RequestsPerS), a.wrk.RequestsPerS/b.wrk.RequestsPerS,
				ms(a.wrk.P50), ms(a.wrk.P99), ms(b.wrk.P50), ms(b.wrk.P99), a.cores, b.cores,
				perCore(a)/perCore(b), a.busy*100, a.others, b.busy*100, b.others)
		}
		pod, ngx := pr.medianRun(pr.podium), pr.medianRun(pr.nginx)
		podCores, ngxCores := medianOf(pr.podium, func(r serverRun) float64 { return r.cores }), medianOf(pr.nginx, func(r serverRun) float64 { return r.cores })
		p("| **%s, median** | | **%s** | **%s** | **%.2f×** | %s / %s | %s / %s | %.2f | %.2f | %.2f× | |\n",
			pr.target, rate(pod.RequestsPerS), rate(ngx.RequestsPerS), pr.pairedRatio(rateOf),
			ms(pod.P50), ms(pod.P99), ms(ngx.P50), ms(ngx.P99), podCores, ngxCores, pr.pairedRatio(perCore))
	}
	p("\nMedians are per column; the ratios' medians are those of the paired runs' ratios (a burst of load from\n")
	p("elsewhere hits one pair, not the others). Bodies: ")
	for i, pr := range t.pairings {
		if i > 0 {
			p("; ")
		}
		p("%s %s", pr.target, size(pr.bytes))
	}
	p(". The playlist: target duration %gs, part target %gs, server control `%s`.\n", t.media.targetDuration, t.media.partTarget, t.media.serverControl)
	if bad := t.failures(); bad != "" {
		p("Errors under load: %s.\n", bad)
	}
}

func (rep *report) latencySection(p func(string, ...any)) {
	l := rep.latency
	o := rep.opts
	br := l.browser
	p(`
### Glass-to-glass latency: LL-HLS in Chromium, SRT pull as the baseline

The source is ffmpeg publishing to Podium over SRT (caller, encrypted, 120 ms latency) a live
test picture, %[1]s at %[2]d fps, x264 `+"`veryfast`, `zerolatency`"+`, a keyframe every second,
%[3]s bit/s, with a 1 kHz AAC tone. `+"`-re`"+` paces it to the wall clock; each frame is stamped, when
ffmpeg's filter graph takes it in, with the wall clock in ms (modulo 2^24) as a strip of 32 black
and white 32×32 blocks in the top-left corner (24 bits of the stamp and a check byte; the frame's
timestamp is set to RTCTIME, geq draws one pixel per bit from it and scale blows them up), and
with a human-readable clock (drawtext) below it. A frame's latency is the wall clock when it is shown minus its stamp; the
bench, ffmpeg and Chromium read the same clock.

- **LL-HLS**: Debian's Chromium, headless, software rendering (`+"`%[4]s`"+`), driven by
  playwright-core, opens a page served by the bench that plays the broadcaster's hls_url with
  hls.js %[5]s. The page and the stream share an origin, as the portal and its streams do:
  the bench's page server serves /hls/ with Podium's own HLS handler (app.HLS). hls.js configuration `+"`%[6]s`"+` (the portal player's; everything else hls.js's defaults). For each frame
  presented (requestVideoFrameCallback), the page draws the strip to a canvas and reads it; the
  frame's time is the callback's expectedDisplayTime on the wall clock.
- **SRT baseline**: at the same time, ffmpeg pulls the feed from Podium over SRT as the
  broadcaster (120 ms latency), decodes it with no buffering (`+"`-fflags nobuffer -flags low_delay`"+`,
  one thread) and writes each picture's strip as raw luma to a pipe; the bench reads it and takes
  the time it arrives. No display: this is the SRT path's latency up to a decoded picture.

Both start together; frames shown within the %[7]v after a %[8]v warm-up count.

| path | frames read | p10 | median | p90 | min | max |
|---|---|---|---|---|---|---|
`, sourceSize, sourceFPS, sourceBitrate, strings.Join(chromiumArgs, " "), br.HLSVersion, hlsConfigJSON(), o.window, o.warmup)
	h, s := spreadOf(l.hls), spreadOf(l.srt)
	p("| LL-HLS, Chromium + hls.js | %d | %s | **%s** | %s | %s | %s |\n", h.n, ms(h.p10), ms(h.p50), ms(h.p90), ms(h.min), ms(h.max))
	p("| SRT pull, ffmpeg decode | %d | %s | **%s** | %s | %s | %s |\n", s.n, ms(s.p10), ms(s.p50), ms(s.p90), ms(s.min), ms(s.max))
	p("\nLL-HLS minus SRT, medians: %s.", ms(h.p50-s.p50))
	if pl := br.Playlist; pl != nil {
		p(" The media playlist as hls.js read it: target duration %gs, part target %gs, PART-HOLD-BACK %gs, blocking reload %v.",
			pl.TargetDuration, pl.PartTarget, pl.PartHoldBack, pl.CanBlockReload)
	}
	p(" hls.js's own estimate over the window: latency %s (target %s), playback rate %.2f (median).", ms(l.hlsJSLatency), ms(l.hlsJSTarget), l.playbackRate)
	p(" Chromium, from the start: %d frames with an unreadable strip, %s (`waiting` events, the first as the stream starts), %d of %d frames dropped",
		br.Undecoded, plural(br.Waiting, "stall"), br.DroppedFrames, br.TotalFrames)
	if len(br.Errors) > 0 {
		p(", hls.js errors: %s", errorsList(br))
	} else {
		p(", no hls.js error")
	}
	p(". SRT baseline: %d pictures in the window, %d unreadable.\n", l.srtFrames, l.srtUnreadable)
	if c := l.cpu; c.cpus > 0 {
		p("\nCPU during the window, in cores: Chromium (all its processes, with node) %.2f, the ffmpeg source %.2f, "+
			"the SRT pull's ffmpeg %.2f, Podium (this process, with the bench) %.2f; the machine was %.0f%% busy, "+
			"%.2f cores of it other tenants'.\n", c.children[browserProc], c.children[sourceProc], c.children[pullProc], c.self, c.busy*100, c.others())
	}
}

// hlsConfigJSON is the hls.js configuration, as the page gets it.
func hlsConfigJSON() string {
	data, _ := json.Marshal(hlsConfig)
	return string(data)
}

// errorsList counts hls.js's errors by kind.
func errorsList(br browserResult) string {
	counts := map[string]int{}
	for _, raw := range br.Errors {
		var e struct {
			Fatal   bool   `json:"fatal"`
			Details string `json:"details"`
			Status  int    `json:"status"`
		}
		if json.Unmarshal(raw, &e) != nil {
			e.Details = string(raw)
		}
		key := e.Details
		if e.Status != 0 {
			key += fmt.Sprintf(" (HTTP %d)", e.Status)
		}
		if e.Fatal {
			key += ", fatal"
		}
		counts[key]++
	}
	var out []string
	for key, n := range counts {
		out = append(out, fmt.Sprintf("%d × %s", n, key))
	}
	slices.Sort(out)
	return strings.Join(out, ", ")
}

// medianRun returns the wrk figures of a set of runs, each the median across them.
func (pr *pairing) medianRun(runs []serverRun) wrkResult {
	f := func(g func(serverRun) float64) float64 { return medianOf(runs, g) }
	d := func(g func(serverRun) time.Duration) time.Duration {
		return time.Duration(f(func(r serverRun) float64 { return float64(g(r)) }))
	}
	return wrkResult{
		RequestsPerS: f(func(r serverRun) float64 { return r.wrk.RequestsPerS }),
		P50:          d(func(r serverRun) time.Duration { return r.wrk.P50 }),
		P99:          d(func(r serverRun) time.Duration { return r.wrk.P99 }),
	}
}

// pairedRatio is the median over the paired runs of Podium's figure over nginx's.
func (pr *pairing) pairedRatio(f func(serverRun) float64) float64 {
	var ratios []float64
	for i := range min(len(pr.podium), len(pr.nginx)) {
		if d := f(pr.nginx[i]); d > 0 {
			ratios = append(ratios, f(pr.podium[i])/d)
		}
	}
	return median(ratios)
}

func rateOf(r serverRun) float64 { return r.wrk.RequestsPerS }

// ratioRange is the lowest and highest Podium/nginx ratio of the paired runs.
func (pr *pairing) ratioRange() string {
	lo, hi := 0.0, 0.0
	for i := range min(len(pr.podium), len(pr.nginx)) {
		r := pr.podium[i].wrk.RequestsPerS / pr.nginx[i].wrk.RequestsPerS
		if i == 0 || r < lo {
			lo = r
		}
		if i == 0 || r > hi {
			hi = r
		}
	}
	return fmt.Sprintf("%.2f–%.2f×", lo, hi)
}

// failures lists the runs in which a server answered other than 2xx/3xx or wrk had socket errors.
func (t *throughputResult) failures() string {
	var out []string
	for _, pr := range t.pairings {
		for name, runs := range map[string][]serverRun{"Podium": pr.podium, "nginx": pr.nginx} {
			for i, r := range runs {
				if r.wrk.Non2xx > 0 || r.wrk.SocketErrors > 0 {
					out = append(out, fmt.Sprintf("%s %s run %d: %d answers not 2xx/3xx, %d socket errors",
						name, pr.target, i+1, r.wrk.Non2xx, r.wrk.SocketErrors))
				}
			}
		}
	}
	return strings.Join(out, "; ")
}

func perCore(r serverRun) float64 {
	if r.cores == 0 {
		return 0
	}
	return r.wrk.RequestsPerS / r.cores
}

func medianOf(runs []serverRun, f func(serverRun) float64) float64 {
	v := make([]float64, len(runs))
	for i, r := range runs {
		v[i] = f(r)
	}
	return median(v)
}

func rate(r float64) string { return fmt.Sprintf("%.0f", r) }

// ms prints a duration in milliseconds, with a decimal below 10 ms.
func ms(d time.Duration) string {
	v := float64(d) / float64(time.Millisecond)
	if v < 10 && v > -10 {
		return fmt.Sprintf("%.2f ms", v)
	}
	return fmt.Sprintf("%.0f ms", v)
}

func size(n int) string {
	if n < 10<<10 {
		return fmt.Sprintf("%d B", n)
	}
	return fmt.Sprintf("%.0f KiB", float64(n)/1024)
}

// plural writes n and a noun, with an s unless n is 1.
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
