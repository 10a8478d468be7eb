// Command soak runs Podium for a long stretch under the load of a real
// event, with its redundancy at work, and writes what happened into
// BENCHMARKS.md:
//
//   - -feeds feeds at -bitrate, each with a primary and a backup encoder
//     (srt-live-transmit fed in real time with a stamped transport stream)
//     and -readers receivers pulling it over SRT, for -duration;
//   - every -switch-every, one feed's primary (the feeds in turn) is killed
//     with SIGKILL and started again -outage later: failovers and
//     switch-backs under load, each timed from the REST API and from the
//     receivers;
//   - every -sample: Podium's RSS and CPU (from /proc), its Go heap,
//     goroutines, readers and receivers cut for lag (from /metrics), the
//     machine's CPU and the SRT peers' and the bench's own;
//   - each receiver's stream, minute by minute: what it got, counted by the
//     stamps of every source, and what it lost.
//
// Memory is reported minute by minute with its trend (least squares over the
// last eight minutes) and whether it stayed flat. When the soak cannot run at
// the size asked, a scaled one (-scaled-readers per feed) runs in the time
// left and is reported beside it. Everything runs on 127.0.0.1 and stops by
// itself. Run it from the repository root:
//
//	go run ./bench/soak [-feeds 8] [-readers 20] [-bitrate 10M] [-duration 10m]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/podium-broadcast/podium/bench/internal/harness"
)

// options are the program's settings, from its flags.
type options struct {
	config
	scaledReaders int
	flat          float64 // MiB per minute under which memory counts as flat
	out           string
}

// setupAllowance bounds the time a run takes beyond its soak's duration:
// building Podium, encoding the source the first time, starting the
// publishers and the receivers, and stopping everything.
const setupAllowance = 5 * time.Minute

func parseFlags(args []string) (options, error) {
	o := options{}
	fs := flag.NewFlagSet("soak", flag.ContinueOnError)
	bitrate := fs.String("bitrate", "10M", "bitrate of each feed, bit/s (k, M, G suffixes)")
	fs.IntVar(&o.feeds, "feeds", 8, "feeds, each with a primary and a backup publisher")
	fs.IntVar(&o.readers, "readers", 20, "SRT receivers per feed")
	fs.DurationVar(&o.duration, "duration", 10*time.Minute, "length of the soak, once every receiver has started")
	fs.DurationVar(&o.switchEvery, "switch-every", time.Minute, "time between two planned primary kills (the feeds in turn)")
	fs.DurationVar(&o.outage, "outage", 15*time.Second, "how long a killed primary stays away before it is started again")
	fs.DurationVar(&o.hold, "hold", 5*time.Second, "Podium's switch_hold: how long a returning primary must be healthy before it goes back on air")
	fs.DurationVar(&o.stall, "stall", 500*time.Millisecond, "Podium's switch_stall: silence of the on-air source before the other takes over")
	fs.DurationVar(&o.rejoin, "rejoin", 5*time.Second, "pause before a receiver that ended (cut by Podium) connects again; 0: never")
	fs.DurationVar(&o.sampleEvery, "sample", 10*time.Second, "time between two samples of Podium's memory, CPU and metrics")
	fs.IntVar(&o.scaledReaders, "scaled-readers", 2, "receivers per feed of the scaled soak run when the full one cannot run; 0: none")
	fs.Float64Var(&o.flat, "flat", 1, "memory trend, MiB per minute, under which memory counts as flat")
	fs.StringVar(&o.out, "out", "BENCHMARKS.md", "file to write the results into (a relative path is from the repository root)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	var err error
	if o.bitrate, err = parseBitrate(*bitrate); err != nil {
		return o, fmt.Errorf("-bitrate: %w", err)
	}
	switch {
	case o.bitrate < 1_000_000:
		return o, errors.New("-bitrate must be at least 1M")
	case o.feeds < 1 || o.readers < 1:
		return o, errors.New("-feeds and -readers must be at least 1")
	case o.duration < time.Minute:
		return o, errors.New("-duration must be at least 1m")
	case o.sampleEvery < time.Second || o.sampleEvery > o.duration/4:
		return o, errors.New("-sample must be at least 1s and at most a quarter of -duration")
	case o.switchEvery <= 0 || o.outage < time.Second || o.hold <= 0 || o.stall <= 0:
		return o, errors.New("-switch-every, -outage, -hold and -stall must be positive (-outage at least 1s)")
	case time.Duration(o.feeds)*o.switchEvery < o.eventTime():
		// A feed's next outage must not begin before its last one ended.
		return o, fmt.Errorf("-switch-every × -feeds must be at least -outage + -hold + 10s (%v)", o.eventTime())
	case o.rejoin < 0 || o.scaledReaders < 0:
		return o, errors.New("-rejoin and -scaled-readers must not be negative")
	}
	return o, nil
}

func main() {
	opts, err := parseFlags(os.Args[1:])
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err = run(ctx, opts)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, opts options) error {
	began := time.Now()
	// Whatever happens, the run ends by this deadline: a hung step cannot
	// keep 180 processes going.
	ctx, cancel := context.WithDeadline(ctx, began.Add(opts.duration+setupAllowance))
	defer cancel()
	env := &environment{procs: harness.NewSupervisor()}
	env.say = func(format string, args ...any) {
		fmt.Printf("[%6s] %s\n", time.Since(began).Round(time.Second), fmt.Sprintf(format, args...))
	}
	defer env.procs.StopAll()
	var err error
	if env.root, err = harness.ModuleRoot(); err != nil {
		return err
	}
	for _, tool := range []string{"ffmpeg", "srt-live-transmit", "go"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("needs %s: apt-get install ffmpeg srt-tools (see scripts/install-test-deps.sh)", tool)
		}
	}
	rep := &report{date: began, machine: harness.DescribeMachine(env.root), opts: opts}
	dir, err := os.MkdirTemp("", "podium-soak-build-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	env.say("source: %.1f Mbit/s MPEG-TS (ffmpeg, cached in bench/.cache)", float64(opts.bitrate)/1e6)
	if env.src, err = harness.LoadSource(ctx, filepath.Join(env.root, "bench", ".cache"), opts.bitrate); err != nil {
		return err
	}
	env.say("building ./cmd/podium")
	if env.bin, err = harness.BuildPodium(ctx, env.root, dir); err != nil {
		return err
	}

	full := runSoak(ctx, env, opts.config, fmt.Sprintf("%d×%d", opts.feeds, opts.readers), "soak")
	rep.runs = append(rep.runs, full)
	if ctx.Err() != nil && !errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return ctx.Err() // interrupted: nothing to write
	}
	if full.unusable() && opts.scaledReaders > 0 && opts.scaledReaders < opts.readers {
		scaled := opts.config
		scaled.readers = opts.scaledReaders
		left := time.Until(began.Add(opts.duration+setupAllowance)) - 2*time.Minute
		scaled.duration = min(opts.duration, left.Truncate(time.Minute))
		if scaled.duration < time.Minute {
			rep.scaledSkipped = fmt.Sprintf("no time was left for a scaled run (%v)", left.Round(time.Second))
		} else {
			env.say("the %s soak could not run (%v): running a scaled one, %d receivers per feed, for %v",
				full.label, full.failure, scaled.readers, scaled.duration)
			rep.runs = append(rep.runs, runSoak(ctx, env, scaled, fmt.Sprintf("scaled %d×%d", scaled.feeds, scaled.readers), "soak-scaled"))
		}
	}
	for _, r := range rep.runs {
		csv := filepath.Join(env.root, "bench", ".cache", r.name+"-receivers.csv")
		if err := r.writeReceiverCSV(csv); err != nil {
			return err
		}
		env.say("%s: each receiver, minute by minute: %s", r.label, csv)
		if n := len(r.heapProfiles); n >= 2 {
			env.say("%s: what Podium's heap gained over the trend's window: go tool pprof -base %s %s", r.label, r.heapProfiles[0], r.heapProfiles[n-1])
		}
	}
	rep.duration = time.Since(began)
	path := opts.out
	if !filepath.IsAbs(path) {
		path = filepath.Join(env.root, path)
	}
	if err := rep.write(path); err != nil {
		return err
	}
	env.say("done: figures in %s", opts.out)
	return nil
}
