// Command hostile repeats the load cases of the outside security test
// against a fresh Podium on 127.0.0.1, all at once, and measures meanwhile
// what must not suffer: that suspending an entitlement (PATCH
// /api/v1/entitlements/{id}) still cuts a live SRT delivery, a real
// srt-live-transmit receiver, within a second, and how long a normal API
// GET takes. The load, bounded in count and time:
//
//   - -sse Server-Sent Events streams (GET /api/v1/events) held open;
//   - -handshakes SRT calls with a wrong passphrase within -handshake-window
//     (induction and conclusion, Podium's own SRT caller);
//   - -slow POST /api/v1/session bodies of 100 KB sent at one byte a second;
//   - -queries clip searches in parallel, again and again, with the longest
//     q Podium accepts (found by halving 100,000 words until it answers 200).
//
// The attack comes from 127.0.0.1; the legitimate clients (the revoking
// operator, the receiver, the API GETs) from 127.0.0.5, as they would from
// another network, so that limits and lockouts per address (which the
// attack trips on purpose) do not hide whether Podium as a whole holds.
// The same revoke and GET are measured first without the attack. Results go
// into BENCHMARKS.md ("## Hostile load"). Run from the repository root:
//
//	go run ./bench/hostile [-sse 2000] [-handshakes 200] [-slow 100] [-queries 3] [-duration 1m]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/podium-broadcast/podium/bench/internal/harness"
)

// options are the program's settings, from its flags.
type options struct {
	sse             int
	handshakes      int
	handshakeWindow time.Duration
	slow            int
	queries         int
	duration        time.Duration
	revokes         int
	out             string
}

// Addresses: the attack's and the legitimate clients'.
const (
	attackAddr = "127.0.0.1"
	clientAddr = "127.0.0.5"
)

func parseFlags(args []string) (options, error) {
	var o options
	fs := flag.NewFlagSet("hostile", flag.ContinueOnError)
	fs.IntVar(&o.sse, "sse", 2000, "SSE streams held open (at most 5000)")
	fs.IntVar(&o.handshakes, "handshakes", 200, "SRT handshakes with a wrong passphrase (at most 2000)")
	fs.DurationVar(&o.handshakeWindow, "handshake-window", 2*time.Second, "time over which the handshakes are sent")
	fs.IntVar(&o.slow, "slow", 100, "slow request bodies, one byte a second (at most 1000)")
	fs.IntVar(&o.queries, "queries", 3, "long clip searches in parallel (at most 16)")
	fs.DurationVar(&o.duration, "duration", time.Minute, "how long the attack is held once started (at most 5m)")
	fs.IntVar(&o.revokes, "revokes", 5, "revokes measured without the attack and again under it")
	fs.StringVar(&o.out, "out", "BENCHMARKS.md", "file to write the results into (a relative path is from the repository root)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	switch {
	case fs.NArg() > 0:
		return o, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	case o.sse < 0 || o.sse > 5000:
		return o, errors.New("-sse must be from 0 to 5000")
	case o.handshakes < 0 || o.handshakes > 2000:
		return o, errors.New("-handshakes must be from 0 to 2000")
	case o.handshakeWindow <= 0 || o.handshakeWindow > time.Minute:
		return o, errors.New("-handshake-window must be more than 0 and at most 1m")
	case o.slow < 0 || o.slow > 1000:
		return o, errors.New("-slow must be from 0 to 1000")
	case o.queries < 0 || o.queries > 16:
		return o, errors.New("-queries must be from 0 to 16")
	case o.duration < 5*time.Second || o.duration > 5*time.Minute:
		return o, errors.New("-duration must be from 5s to 5m")
	case o.revokes < 1 || o.revokes > 50:
		return o, errors.New("-revokes must be from 1 to 50")
	}
	return o, nil
}

func main() {
	o, err := parseFlags(os.Args[1:])
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "hostile:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "hostile:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, o options) error {
	began := time.Now()
	root, err := harness.ModuleRoot()
	if err != nil {
		return err
	}
	// The whole run is bounded: setup, the two measurements and the attack.
	ctx, cancel := context.WithTimeout(ctx, o.duration+10*time.Minute)
	defer cancel()
	work, err := os.MkdirTemp("", "podium-hostile-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	procs := harness.NewSupervisor()
	defer procs.StopAll()

	fmt.Println("building podium")
	bin, err := harness.BuildPodium(ctx, root, work)
	if err != nil {
		return err
	}
	src, err := harness.LoadSource(ctx, filepath.Join(root, "bench", ".cache"), 2_000_000)
	if err != nil {
		return err
	}
	p, err := harness.StartPodium(ctx, procs, bin, work)
	if err != nil {
		return err
	}
	env, err := setUp(ctx, procs, p, src)
	if err != nil {
		return err
	}
	rep := &report{opts: o, date: began, machine: harness.DescribeMachine(root)}

	fmt.Println("measuring without the attack")
	if rep.quiet, err = env.measure(ctx, o.revokes, nil); err != nil {
		return err
	}
	fmt.Println("attacking")
	if rep.attack, rep.load, err = env.underAttack(ctx, o); err != nil {
		return err
	}
	rep.alive = !p.Proc.Exited()
	rep.duration = time.Since(began)
	fmt.Print(rep.markdown(), "\n")
	out := o.out
	if !filepath.IsAbs(out) {
		out = filepath.Join(root, out)
	}
	return harness.WriteSection(out, beginMarker, endMarker, rep.markdown())
}
