// Command srtfanout measures Podium's SRT fan-out on this machine and writes
// the figures into BENCHMARKS.md:
//
//   - one 20 Mbit/s feed fanned out to N SRT receivers: the largest N at which
//     every receiver loses under 0.1 % of the stream over 30 s, and Podium's
//     CPU and memory per receiver;
//   - beside it, in the same run, the CPU that libsrt's srt-live-transmit
//     needs to relay the same stream 1:1, and Podium with one receiver, three
//     times each, interleaved, quoted as medians.
//
// Podium runs as its own process (built from ./cmd/podium); the publisher
// and the receivers are srt-live-transmit processes on the same machine,
// all on 127.0.0.1. Run it from the repository root:
//
//	go run ./bench/srtfanout [-window 30s] [-budget 14m] [-steps 5,10,20,...]
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
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/podium-broadcast/podium/bench/internal/harness"
)

// options are the bench's settings, from its flags.
type options struct {
	bitrate int
	window  time.Duration
	warmup  time.Duration
	repeats int
	steps   []int
	maxLoss float64
	budget  time.Duration
	out     string
	// storm lists the receiver counts of the reconnection storms: all
	// receivers started at once.
	storm []int
	// rates lists the bitrates, in bit/s, of the single-stream runs.
	rates []int
	// scenarios are the parts of the bench to run.
	scenarios map[string]bool
}

func parseFlags() (options, error) {
	o := options{}
	var steps, storm, rates, scenarios string
	flag.IntVar(&o.bitrate, "bitrate", 20_000_000, "bitrate of the feed, bit/s")
	flag.DurationVar(&o.window, "window", 30*time.Second, "measurement window of each step")
	flag.DurationVar(&o.warmup, "warmup", 5*time.Second, "settling time between the receivers' first data and the window")
	flag.IntVar(&o.repeats, "repeats", 3, "runs of each 1:1 comparison (libsrt relay, Podium with one receiver)")
	flag.StringVar(&steps, "steps", "5,10,15,20,25,30,40,50,60,80,100,120,150", "receiver counts to try, in increasing order, until one fails")
	flag.Float64Var(&o.maxLoss, "max-loss", 0.001, "loss a receiver may have for a step to pass")
	flag.DurationVar(&o.budget, "budget", 14*time.Minute, "total time after which no further step is started")
	flag.StringVar(&o.out, "out", "BENCHMARKS.md", "file to write the results into, relative to the repository root")
	flag.StringVar(&storm, "storm", "10,20,40", "receiver counts of the reconnection storms (all receivers started at once)")
	flag.StringVar(&rates, "rates", "200,400", "bitrates of the single-stream runs, in Mbit/s")
	flag.StringVar(&scenarios, "scenarios", "relay,fanout,storm,rate", "parts to run: relay (1:1 runs), fanout (staggered steps), storm, rate")
	flag.Parse()
	var err error
	if o.steps, err = counts("-steps", steps); err != nil {
		return o, err
	}
	if o.storm, err = counts("-storm", storm); err != nil {
		return o, err
	}
	mbps, err := counts("-rates", rates)
	if err != nil {
		return o, err
	}
	for _, r := range mbps {
		o.rates = append(o.rates, r*1_000_000)
	}
	o.scenarios = make(map[string]bool)
	for _, name := range strings.Split(scenarios, ",") {
		switch name = strings.TrimSpace(name); name {
		case "relay", "fanout", "storm", "rate":
			o.scenarios[name] = true
		default:
			return o, fmt.Errorf("-scenarios: unknown scenario %q (want relay, fanout, storm or rate)", name)
		}
	}
	if o.bitrate < 1_000_000 || o.window < 5*time.Second || o.repeats < 0 {
		return o, errors.New("-bitrate must be at least 1 Mbit/s, -window at least 5 s, -repeats not negative")
	}
	return o, nil
}

// counts parses a comma-separated list of increasing positive numbers.
func counts(name, list string) ([]int, error) {
	var out []int
	for _, s := range strings.Split(list, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 || (len(out) > 0 && n <= out[len(out)-1]) {
			return nil, fmt.Errorf("%s: want increasing positive numbers, got %q", name, list)
		}
		out = append(out, n)
	}
	return out, nil
}

func main() {
	opts, err := parseFlags()
	if err != nil {
		fmt.Fprintln(os.Stderr, "srtfanout:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err = run(ctx, opts)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "srtfanout:", err)
		os.Exit(1)
	}
}

// bench is one run of the benchmark.
type bench struct {
	opts   options
	procs  *harness.Supervisor
	start  time.Time
	src    *harness.Source
	podium *harness.Podium
	feed   string
	// passphrases of the broadcasters created so far, one per receiver.
	passphrases []string
	// profiles names the measurements, by label, during whose window
	// Podium's CPU profile is taken (into cacheDir).
	profiles map[string]string
	cacheDir string
}

// say prints a progress line, with the time since the start.
func (b *bench) say(format string, args ...any) {
	fmt.Printf("[%6s] %s\n", time.Since(b.start).Round(time.Second), fmt.Sprintf(format, args...))
}

func run(ctx context.Context, opts options) error {
	b := &bench{opts: opts, procs: harness.NewSupervisor(), start: time.Now(), feed: "bench-fanout",
		profiles: map[string]string{"fan-out N=20": "fanout-20", "storm N=20": "storm-20", "fan-out, publisher only": "ingest",
			fmt.Sprintf("1:1 run 1/%d, Podium", opts.repeats): "single"}}
	if len(opts.rates) > 0 {
		top := opts.rates[len(opts.rates)-1] / 1_000_000
		b.profiles[fmt.Sprintf("%d Mbit/s, Podium", top)] = fmt.Sprintf("rate-%d", top)
	}
	defer b.procs.StopAll()
	root, err := harness.ModuleRoot()
	if err != nil {
		return err
	}
	for _, tool := range []string{"ffmpeg", "srt-live-transmit", "go"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("needs %s: apt-get install ffmpeg srt-tools (see scripts/install-test-deps.sh)", tool)
		}
	}
	machine := harness.DescribeMachine(root)
	b.cacheDir = filepath.Join(root, "bench", ".cache")
	dir, err := os.MkdirTemp("", "podium-srtfanout-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	b.say("source: %d Mbit/s MPEG-TS (ffmpeg, cached in bench/.cache)", opts.bitrate/1_000_000)
	if b.src, err = harness.LoadSource(ctx, filepath.Join(root, "bench", ".cache"), opts.bitrate); err != nil {
		return err
	}
	b.say("building ./cmd/podium")
	bin, err := harness.BuildPodium(ctx, root, dir)
	if err != nil {
		return err
	}
	rep := &report{date: time.Now(), machine: machine, opts: opts}
	b.say("hub micro-benchmark: go test -bench BenchmarkFanOut ./internal/hub/")
	if rep.hub, err = runHubBenchmark(ctx, root); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		b.say("hub micro-benchmark failed, going on without it: %v", err)
	}
	if b.podium, err = harness.StartPodium(ctx, b.procs, bin, dir, "--max-publish-bitrate", "0"); err != nil {
		return err
	}
	defer b.keepLog(filepath.Join(root, "bench", ".cache", "podium.log"))
	passphrases, err := b.podium.CreateFeed(ctx, b.feed, "Fan-out bench "+b.feed)
	if err != nil {
		return err
	}
	podiumServer := server{name: "podium", pid: b.podium.Proc.PID(), podium: b.podium, readURL: func(i int) string {
		return b.podium.PullURL(b.feed, broadcasterID(i), b.passphrases[i])
	}}
	publishURL := b.podium.PublishURL(b.feed, passphrases.Primary)

	if opts.scenarios["relay"] {
		for i := range opts.repeats {
			label := fmt.Sprintf("1:1 run %d/%d, libsrt relay", i+1, opts.repeats)
			relay, err := b.measureRelay(ctx, label, b.src, opts.bitrate)
			if err != nil {
				return fmt.Errorf("%s: %w", label, err)
			}
			b.sayResult(label, relay)
			rep.relay = append(rep.relay, relay)

			label = fmt.Sprintf("1:1 run %d/%d, Podium", i+1, opts.repeats)
			single, err := b.measurePodium(ctx, label, podiumServer, publishURL, b.src, opts.bitrate, 1)
			if err != nil {
				return fmt.Errorf("%s: %w", label, err)
			}
			b.sayResult(label, single)
			rep.single = append(rep.single, single)
		}
	}
	if opts.scenarios["storm"] {
		if err := b.storms(ctx, rep, podiumServer, publishURL); err != nil {
			return err
		}
	}
	if opts.scenarios["rate"] {
		if err := b.highRates(ctx, rep, root, podiumServer, publishURL); err != nil {
			return err
		}
	}
	if opts.scenarios["fanout"] {
		if err := b.fanOut(ctx, rep, podiumServer, publishURL); err != nil {
			return err
		}
	}
	rep.duration = time.Since(b.start)
	path := filepath.Join(root, opts.out)
	if err := rep.write(path); err != nil {
		return err
	}
	b.say("done: largest N under %.2g%% loss: %d; figures in %s", opts.maxLoss*100, rep.largest, opts.out)
	return nil
}

// fanOut keeps one publisher on Podium, measures it with no receiver, then
// steps the number of receivers up until a step fails, and refines between
// the last step that passed and the one that failed while time allows.
func (b *bench) fanOut(ctx context.Context, rep *report, srv server, publishURL string) error {
	if err := b.ensureBroadcasters(ctx, b.opts.steps[len(b.opts.steps)-1]); err != nil {
		return err
	}
	if err := b.waitFeedOffline(ctx); err != nil {
		return err
	}
	pub, err := harness.StartPublisher(b.procs, b.src, publishURL, b.opts.bitrate)
	if err != nil {
		return err
	}
	defer pub.Stop()
	if err := b.waitFeedLive(ctx, pub); err != nil {
		return err
	}
	if rep.idle, err = b.measure(ctx, "fan-out, publisher only", srv, pub, 0, false); err != nil {
		return err
	}
	b.sayResult("fan-out, publisher only", rep.idle)

	deadline := b.start.Add(b.opts.budget)
	passed, failed := 0, 0
	if len(rep.single) > 0 && median(rep.single, func(r result) float64 { return r.WorstLoss }) < b.opts.maxLoss {
		passed = 1
	}
	// step measures n receivers; a step that fails is run once more, so that
	// one burst of load from elsewhere on the machine does not decide.
	step := func(n int) (bool, error) {
		for attempt := 1; attempt <= 2; attempt++ {
			if time.Now().Add(b.stepTime(n)).After(deadline) {
				rep.stopReason = fmt.Sprintf("the time budget (%v) left no room for N=%d", b.opts.budget, n)
				return false, nil
			}
			label := fmt.Sprintf("fan-out N=%d", n)
			if attempt > 1 {
				label += ", second attempt"
			}
			r, err := b.measure(ctx, label, srv, pub, n, false)
			if err != nil {
				return false, fmt.Errorf("%s: %w", label, err)
			}
			r.Attempt = attempt
			b.sayResult(label, r)
			rep.steps = append(rep.steps, r)
			if err := harness.Sleep(ctx, 2*time.Second); err != nil { // let Podium close the deliveries
				return false, err
			}
			if r.passes(b.opts.maxLoss) {
				passed = max(passed, n)
				return true, nil
			}
		}
		if failed == 0 || n < failed {
			failed = n
		}
		return true, nil
	}
	for _, n := range b.opts.steps {
		ran, err := step(n)
		if err != nil {
			return err
		}
		if !ran || failed > 0 {
			break
		}
	}
	if failed == 0 && rep.stopReason == "" {
		rep.stopReason = fmt.Sprintf("every step passed, up to the last of -steps (%d)", b.opts.steps[len(b.opts.steps)-1])
	}
	for refine := 0; refine < 2 && failed > 0 && failed-passed > max(2, passed/10); refine++ {
		ran, err := step((passed + failed) / 2)
		if err != nil {
			return err
		}
		if !ran {
			break
		}
	}
	if failed > 0 && rep.stopReason == "" {
		rep.stopReason = fmt.Sprintf("N=%d failed twice", failed)
	}
	rep.largest = passed
	return nil
}

// stepTime estimates how long a step with n receivers takes.
func (b *bench) stepTime(n int) time.Duration {
	return time.Duration(n)*500*time.Millisecond + b.opts.warmup + b.opts.window + drainTime + 8*time.Second
}

// measurePodium measures Podium with n receivers and its own publisher.
func (b *bench) measurePodium(ctx context.Context, label string, srv server, publishURL string, src *harness.Source, bitrate, n int) (result, error) {
	if err := b.ensureBroadcasters(ctx, n); err != nil {
		return result{}, err
	}
	if err := b.waitFeedOffline(ctx); err != nil {
		return result{}, err
	}
	pub, err := harness.StartPublisher(b.procs, src, publishURL, bitrate)
	if err != nil {
		return result{}, err
	}
	defer pub.Stop()
	if err := b.waitFeedLive(ctx, pub); err != nil {
		return result{}, err
	}
	return b.measure(ctx, label, srv, pub, n, false)
}

// measureRelay measures srt-live-transmit relaying the feed from one SRT
// listener to another, both encrypted as Podium's legs are.
func (b *bench) measureRelay(ctx context.Context, label string, src *harness.Source, bitrate int) (result, error) {
	in, err := harness.FreePort("udp")
	if err != nil {
		return result{}, err
	}
	out, err := harness.FreePort("udp")
	if err != nil {
		return result{}, err
	}
	inPass, outPass := "relay-in-"+harness.RandomWord(), "relay-out-"+harness.RandomWord()
	relay, err := b.procs.Start("libsrt relay", exec.Command("srt-live-transmit", "-q", "-a:no",
		fmt.Sprintf("srt://127.0.0.1:%d?mode=listener&passphrase=%s", in, inPass),
		fmt.Sprintf("srt://127.0.0.1:%d?mode=listener&passphrase=%s", out, outPass)))
	if err != nil {
		return result{}, err
	}
	defer relay.Stop(3 * time.Second)
	if err := harness.WaitUDPBound(ctx, in, relay); err != nil {
		return result{}, err
	}
	pub, err := harness.StartPublisher(b.procs, src, fmt.Sprintf("srt://127.0.0.1:%d?passphrase=%s", in, inPass), bitrate)
	if err != nil {
		return result{}, err
	}
	defer pub.Stop()
	srv := server{name: "libsrt relay", pid: relay.PID(), readURL: func(int) string {
		return fmt.Sprintf("srt://127.0.0.1:%d?passphrase=%s", out, outPass)
	}}
	return b.measure(ctx, label, srv, pub, 1, false)
}

// ensureBroadcasters creates broadcasters, each entitled to the feed, until there are n.
func (b *bench) ensureBroadcasters(ctx context.Context, n int) error {
	for i := len(b.passphrases); i < n; i++ {
		p, err := b.podium.CreateBroadcaster(ctx, broadcasterID(i), b.feed)
		if err != nil {
			return err
		}
		b.passphrases = append(b.passphrases, p)
	}
	return nil
}

func broadcasterID(i int) string { return fmt.Sprintf("rhb-%03d", i+1) }

// waitFeedLive waits until Podium has the publisher attached.
func (b *bench) waitFeedLive(ctx context.Context, pub *harness.Publisher) error {
	return b.waitFeed(ctx, 1, func() error {
		if pub.Proc.Exited() {
			return errors.New(pub.Proc.Why())
		}
		return nil
	})
}

// waitFeedOffline waits until Podium has let the previous publisher go.
func (b *bench) waitFeedOffline(ctx context.Context) error { return b.waitFeed(ctx, 0, nil) }

func (b *bench) waitFeed(ctx context.Context, live float64, check func() error) error {
	deadline := time.Now().Add(15 * time.Second)
	for {
		m, err := b.podium.Scrape(ctx)
		if err != nil {
			return err
		}
		if m.Sum("podium_feed_live", `feed="`+b.feed+`"`) == live {
			return nil
		}
		if check != nil {
			if err := check(); err != nil {
				return err
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("feed %s: podium_feed_live did not become %v: %s", b.feed, live, b.podium.LogTail())
		}
		if err := harness.Sleep(ctx, 100*time.Millisecond); err != nil {
			return err
		}
	}
}

func (b *bench) sayResult(label string, r result) {
	line := fmt.Sprintf("%s: %s %.3f cores, RSS %.0f MiB; SRT peers %.2f cores, bench %.2f, other %.2f, machine %.0f%% busy",
		label, r.Server, r.ServerCores, float64(r.ServerRSS)/(1<<20), r.PeerCores, r.BenchCores, max(0, r.OtherCores), r.MachineBusy*100)
	if r.Dropped > 0 || r.Retransmitted > 0 {
		line += fmt.Sprintf("; Podium's SRT senders dropped %.0f packets, retransmitted %.0f", r.Dropped, r.Retransmitted)
	}
	if r.Readers > 0 {
		verdict := "pass"
		if !r.passes(b.opts.maxLoss) {
			verdict = "FAIL"
		}
		line += fmt.Sprintf("; joins %v median, %v max; loss %.4f%% (worst receiver %.4f%%, %d/%d connected, %d exited): %s",
			r.JoinMedian.Round(10*time.Millisecond), r.JoinMax.Round(10*time.Millisecond),
			r.Loss*100, r.WorstLoss*100, r.Connected, r.Readers, r.Exited, verdict)
	}
	if len(r.Closes) > 0 {
		line += "; Podium closed deliveries: " + closes(r.Closes)
	}
	if r.Stale > 0 {
		line += fmt.Sprintf("; receivers got %d chunks of an earlier publisher first", r.Stale)
	}
	b.say("%s", line)
}

// keepLog copies Podium's log where it outlives the run, once Podium has stopped.
func (b *bench) keepLog(path string) {
	b.podium.Proc.Stop(5 * time.Second)
	if data, err := os.ReadFile(b.podium.LogPath); err == nil && os.WriteFile(path, data, 0o644) == nil {
		fmt.Printf("Podium's log: %s\n", path)
	}
}

// closes lists close reasons with their counts.
func closes(reasons map[string]int) string {
	var parts []string
	for reason, n := range reasons {
		parts = append(parts, fmt.Sprintf("%d × %s", n, reason))
	}
	slices.Sort(parts)
	return strings.Join(parts, ", ")
}
