// Command hlsbench measures Podium's LL-HLS delivery on this machine and
// writes the figures into BENCHMARKS.md:
//
//   - requests per second and latency under wrk for Podium's media playlist
//     and segment, against nginx serving the same bytes from disk, three
//     times each, interleaved, quoted as medians and ratios;
//   - the glass-to-glass latency of LL-HLS in Chromium with hls.js, against
//     an SRT pull of the same live source decoded by ffmpeg, at the same time.
//
// Podium runs in this process (internal/app), on 127.0.0.1 ports, with a
// data directory in a temporary directory; nginx, wrk, ffmpeg and Chromium
// are Debian's, run as children. Nothing is downloaded. Run it from the
// repository root:
//
//	go run ./bench/hlsbench [-wrk-duration 10s] [-repeats 3] [-window 20s]
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/podium-broadcast/podium/bench/internal/harness"
)

const nginxPath = "/usr/sbin/nginx"

// sample is the looped feed that wrk's requests are for: a demo sample.
const sample = "internal/demo/samples/ath-100m-final.ts"

// options are the bench's settings, from its flags.
type options struct {
	load        wrkLoad
	repeats     int
	warmup      time.Duration
	window      time.Duration
	nodeModules string
	measure     []string
	out         string
	rawOut      string
}

func parseFlags() (options, error) {
	o := options{}
	var measure string
	flag.IntVar(&o.load.threads, "wrk-threads", 1, "wrk threads")
	flag.IntVar(&o.load.connections, "wrk-connections", 32, "wrk connections, kept open")
	flag.DurationVar(&o.load.duration, "wrk-duration", 10*time.Second, "length of each wrk run")
	flag.IntVar(&o.repeats, "repeats", 3, "wrk runs per server and target, interleaved")
	flag.DurationVar(&o.warmup, "warmup", 10*time.Second, "playing time before the latency window")
	flag.DurationVar(&o.window, "window", 20*time.Second, "latency measurement window")
	flag.StringVar(&o.nodeModules, "node-modules", "web/node_modules", "node_modules holding playwright-core and hls.js, relative to the repository root")
	flag.Func("hlsjs", "hls.js configuration, JSON (default: the portal's, "+hlsConfigJSON()+")", func(s string) error {
		hlsConfig = map[string]any{}
		return json.Unmarshal([]byte(s), &hlsConfig)
	})
	flag.StringVar(&measure, "measure", "throughput,latency", "what to measure: throughput, latency or both")
	flag.StringVar(&o.rawOut, "raw", "", "file to write the player page's raw measurements into (JSON), for a closer look")
	flag.StringVar(&o.out, "out", "BENCHMARKS.md", "file to write the results into, relative to the repository root; empty: none")
	flag.Parse()
	o.measure = strings.Split(measure, ",")
	for _, m := range o.measure {
		if m != "throughput" && m != "latency" {
			return o, fmt.Errorf("-measure: %q is neither throughput nor latency", m)
		}
	}
	if o.load.threads < 1 || o.load.connections < o.load.threads || o.load.duration < time.Second || o.repeats < 1 {
		return o, errors.New("-wrk-threads, -repeats at least 1, -wrk-connections at least the threads, -wrk-duration at least 1 s")
	}
	if o.window < 5*time.Second || o.warmup < 0 {
		return o, errors.New("-window must be at least 5 s, -warmup not negative")
	}
	return o, nil
}

func main() {
	opts, err := parseFlags()
	if err != nil {
		fmt.Fprintln(os.Stderr, "hlsbench:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err = run(ctx, opts)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "hlsbench:", err)
		os.Exit(1)
	}
}

// bench is one run of the benchmark.
type bench struct {
	opts   options
	procs  *harness.Supervisor
	start  time.Time
	dir    string
	podium *podium
}

// say prints a progress line, with the time since the start.
func (b *bench) say(format string, args ...any) {
	fmt.Printf("[%6s] %s\n", time.Since(b.start).Round(time.Second), fmt.Sprintf(format, args...))
}

func (b *bench) measures(what string) bool { return slices.Contains(b.opts.measure, what) }

func run(ctx context.Context, opts options) error {
	b := &bench{opts: opts, procs: harness.NewSupervisor(), start: time.Now()}
	defer b.procs.StopAll()
	root, err := moduleRoot()
	if err != nil {
		return err
	}
	if !filepath.IsAbs(opts.nodeModules) {
		b.opts.nodeModules = filepath.Join(root, opts.nodeModules)
	}
	if err := b.checkTools(); err != nil {
		return err
	}
	stream, err := os.ReadFile(filepath.Join(root, sample))
	if err != nil {
		return err
	}
	rep := &report{date: time.Now(), machine: describeMachine(root, b.opts.nodeModules), opts: b.opts}
	if b.dir, err = os.MkdirTemp("", "podium-hlsbench-"); err != nil {
		return err
	}
	defer os.RemoveAll(b.dir)
	if b.podium, err = startPodium(ctx, b.dir); err != nil {
		return err
	}
	defer b.keepLog(filepath.Join(root, "bench", ".cache", "hlsbench-podium.log"))

	if b.measures("throughput") {
		v, err := b.podium.setUpFeed(ctx, "bench-loop", "hls-load")
		if err != nil {
			return err
		}
		loopCtx, stopLoop := context.WithCancel(ctx)
		if err := b.podium.loop(loopCtx, v.feed, stream); err != nil {
			stopLoop()
			return err
		}
		b.say("publishing %s in a loop to feed %s", sample, v.feed)
		tp, err := b.measureThroughput(ctx, v)
		stopLoop()
		if err != nil {
			return fmt.Errorf("throughput: %w", err)
		}
		rep.throughput = &tp
	}
	if b.measures("latency") {
		v, err := b.podium.setUpFeed(ctx, "bench-live", "hls-viewer")
		if err != nil {
			return err
		}
		b.say("latency: ffmpeg publishing a clocked 720p50 source over SRT to feed %s", v.feed)
		lat, err := b.measureLatency(ctx, v)
		if err != nil {
			return fmt.Errorf("latency: %w", err)
		}
		rep.latency = &lat
		h, s := spreadOf(lat.hls), spreadOf(lat.srt)
		b.say("latency: LL-HLS in Chromium median %v (p10 %v, p90 %v, %d frames); SRT pull median %v (p10 %v, p90 %v, %d frames)",
			h.p50, h.p10, h.p90, h.n, s.p50, s.p10, s.p90, s.n)
	}
	rep.duration = time.Since(b.start)
	if opts.out == "" {
		return nil
	}
	out := opts.out
	if !filepath.IsAbs(out) {
		out = filepath.Join(root, out)
	}
	if err := rep.write(out); err != nil {
		return err
	}
	b.say("done in %v; figures in %s", rep.duration.Round(time.Second), opts.out)
	return nil
}

// checkTools fails, naming the install command, when a program the bench runs is missing.
func (b *bench) checkTools() error {
	if b.measures("throughput") {
		if _, err := os.Stat(nginxPath); err != nil {
			return fmt.Errorf("needs nginx at %s: apt-get install nginx", nginxPath)
		}
		if _, err := exec.LookPath("wrk"); err != nil {
			return errors.New("needs wrk: apt-get install wrk")
		}
	}
	if b.measures("latency") {
		if _, err := exec.LookPath("ffmpeg"); err != nil {
			return errors.New("needs ffmpeg (with libx264 and SRT): apt-get install ffmpeg")
		}
		if _, err := os.Stat(clockFont); err != nil {
			return fmt.Errorf("needs the font %s: apt-get install fonts-dejavu-core", clockFont)
		}
		if err := checkBrowserDeps(b.opts.nodeModules); err != nil {
			return err
		}
	}
	return nil
}

// waitLive waits until the feed has its publisher.
func (b *bench) waitLive(ctx context.Context, feed string, pub *harness.Child) error {
	deadline := time.Now().Add(15 * time.Second)
	for {
		if f, ok := b.podium.app.Hub.Lookup(feed); ok && f.Live() {
			return nil
		}
		if pub.Exited() {
			return errors.New(pub.Why())
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("feed %s did not go live within 15 s", feed)
		}
		if err := sleep(ctx, 50*time.Millisecond); err != nil {
			return err
		}
	}
}

// waitPlaylist waits until Podium serves the multivariant playlist at
// hlsURL and a video media playlist with an init section, a complete
// segment and a complete part, and returns the media playlist's URL.
func (b *bench) waitPlaylist(ctx context.Context, hlsURL string) (string, error) {
	deadline := time.Now().Add(30 * time.Second)
	var last error
	for {
		mediaURL, err := readyPlaylist(ctx, hlsURL)
		if err == nil {
			return mediaURL, nil
		}
		last = err
		if time.Now().After(deadline) {
			return "", fmt.Errorf("no playable LL-HLS playlist within 30 s: %w", last)
		}
		if err := sleep(ctx, 200*time.Millisecond); err != nil {
			return "", err
		}
	}
}

func readyPlaylist(ctx context.Context, hlsURL string) (string, error) {
	text, err := fetch(ctx, hlsURL)
	if err != nil {
		return "", err
	}
	mv, err := parseMultivariant(string(text))
	if err != nil {
		return "", err
	}
	mediaURL, err := resolve(hlsURL, mv.variants[0])
	if err != nil {
		return "", err
	}
	text, err = fetch(ctx, mediaURL)
	if err != nil {
		return "", err
	}
	m, err := parseMedia(string(text))
	if err != nil {
		return "", err
	}
	if len(m.segments) == 0 || len(m.parts) == 0 {
		return "", fmt.Errorf("media playlist has %d complete segments and %d parts", len(m.segments), len(m.parts))
	}
	return mediaURL, nil
}

// keepLog stops Podium and copies its log where it outlives the run.
func (b *bench) keepLog(path string) {
	if err := b.podium.close(); err != nil {
		fmt.Fprintln(os.Stderr, "hlsbench: podium:", err)
	}
	data, err := os.ReadFile(b.podium.logPath)
	if err != nil {
		return
	}
	if os.MkdirAll(filepath.Dir(path), 0o755) == nil && os.WriteFile(path, data, 0o644) == nil {
		fmt.Printf("Podium's log: %s\n", path)
	}
}

// moduleRoot finds the repository root: the directory of go.mod, from the working directory up.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("run from inside the Podium repository (no go.mod found)")
		}
		dir = parent
	}
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
