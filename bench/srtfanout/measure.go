package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync/atomic"
	"time"

	"github.com/podium-broadcast/podium/bench/internal/harness"
)

// server is what a measurement delivers through: Podium, or the libsrt relay.
type server struct {
	name string
	pid  int
	// readURL returns the SRT URL of receiver i.
	readURL func(i int) string
	// podium is set when the server is Podium, for its metrics.
	podium *harness.Podium
}

// result is one measurement: a feed through a server to some receivers, over one window.
type result struct {
	Server    string
	Bitrate   int // of the stream, bit/s
	Readers   int
	Attempt   int     // 1, or 2 when a failed step was run again
	Seconds   float64 // length of the window
	Chunks    uint64  // chunks published in the window
	Connected int     // receivers that received anything
	Exited    int     // receivers whose process ended before the window did
	// Loss is the share of the window's chunks that the receivers, all
	// together, did not get; WorstLoss is that of the unluckiest receiver.
	Loss, WorstLoss float64
	MissedByAll     int // chunks no receiver got
	// Stale counts the chunks of earlier publishers of the feed that the
	// receivers got (from the hub's ring) before the current publisher's.
	Stale       uint64
	ServerCores float64
	ServerRSS   uint64  // median over the window
	PeerCores   float64 // publisher and receivers (srt-live-transmit processes)
	BenchCores  float64 // this program: pacing and counting
	MachineBusy float64 // share of all the machine's CPU time
	OtherCores  float64 // the machine's busy time not spent by the processes above
	PacerLate   time.Duration
	// JoinMedian and JoinMax are how long receivers took from their start to the live edge.
	JoinMedian, JoinMax time.Duration
	// In a storm: StartSpread is the time between the first receiver's start
	// and the last's, LiveWithin1s the receivers at the live edge within 1 s
	// of their start.
	StartSpread  time.Duration
	LiveWithin1s int
	// From Podium's metrics, over the window.
	Retransmitted float64 // SRT packets retransmitted to receivers
	// Dropped counts the packets Podium's SRT senders gave up on: not
	// acknowledged within the latency, whether or not they had arrived.
	Dropped    float64
	Goroutines float64 // at the end of the window
	// Closes counts, by reason, the deliveries Podium closed during the step
	// (before the bench stopped its receivers).
	Closes map[string]int
	// Profile is the top of Podium's CPU profile over the window, when one was taken.
	Profile string
}

// passes reports whether every receiver got the window with less than maxLoss lost.
func (r result) passes(maxLoss float64) bool {
	return r.Readers > 0 && r.Connected == r.Readers && r.Exited == 0 && r.WorstLoss < maxLoss
}

// deliveredGbps is the rate that reached the receivers.
func (r result) deliveredGbps() float64 {
	return float64(r.Readers) * float64(r.Bitrate) * (1 - r.Loss) / 1e9
}

// snapshot is the CPU counters at one instant.
type snapshot struct {
	at                        time.Time
	server, bench             uint64
	peers                     map[int]uint64
	machineBusy, machineTotal uint64
	metrics                   harness.Samples
}

func (b *bench) snapshot(ctx context.Context, srv server, peers []*harness.Child) (snapshot, error) {
	s := snapshot{at: time.Now(), peers: make(map[int]uint64, len(peers))}
	var err error
	if s.server, err = harness.CPUTicks(srv.pid); err != nil {
		return s, fmt.Errorf("%s: %w", srv.name, err)
	}
	s.bench, _ = harness.CPUTicks(os.Getpid())
	for _, c := range peers {
		if t, err := harness.CPUTicks(c.PID()); err == nil {
			s.peers[c.PID()] = t
		}
	}
	if s.machineBusy, s.machineTotal, err = harness.MachineTicks(); err != nil {
		return s, err
	}
	if srv.podium != nil {
		s.metrics, err = srv.podium.Scrape(ctx)
	}
	return s, err
}

// drainTime is how long after the window a chunk may still arrive: well
// beyond the SRT latency (120 ms) and Podium's lag bound (1 s).
const drainTime = 2 * time.Second

// joinTimeout bounds how long a receiver may take to catch up with the live
// edge before the next one is started.
const joinTimeout = 2 * time.Second

// measure starts n receivers through srv, lets them settle, and measures one
// window of the publisher's stream. The receivers are stopped on return.
// In a storm the receivers are started all at once and the window opens
// as they start: their joining is what is measured.
func (b *bench) measure(ctx context.Context, label string, srv server, pub *harness.Publisher, n int, storm bool) (result, error) {
	res := result{Server: srv.name, Readers: n, Bitrate: pub.Bitrate}
	var logFrom int64
	if srv.podium != nil {
		logFrom = srv.podium.LogSize()
	}
	var window atomic.Pointer[tally]
	var tl *tally
	open := func(from time.Time) {
		first := pub.SeqAt(from) + 1
		tl = newTally(first, first+uint64(b.opts.window/pub.Interval))
		window.Store(tl)
		res.Chunks = tl.end - tl.first
	}
	var receivers []*receiver
	var err error
	if storm {
		open(time.Now())
		b.say("%s: starting %d receivers at once, measuring %v from their start", label, n, b.opts.window)
		receivers, err = b.stormJoin(ctx, label, srv, pub, n, &window, &res)
	} else {
		receivers, err = b.join(ctx, label, srv, pub, n, &window, &res)
		open(time.Now().Add(b.opts.warmup))
		b.say("%s: warming up %v, then measuring %v", label, b.opts.warmup, b.opts.window)
	}
	defer stopReceivers(receivers)
	if err != nil {
		return res, err
	}
	peers := []*harness.Child{pub.Proc}
	for _, r := range receivers {
		peers = append(peers, r.Proc)
	}
	if err := b.sampleWindow(ctx, label, srv, pub, tl, peers, &res); err != nil {
		return res, err
	}
	if err := harness.Sleep(ctx, drainTime); err != nil {
		return res, err
	}
	res.count(receivers, tl)
	if srv.podium != nil {
		res.Closes = srv.podium.DeliveryCloses(logFrom)
	}
	for _, r := range receivers {
		if r.Proc.Exited() {
			b.say("%s: %s", label, r.Proc.Why())
			break
		}
	}
	return res, nil
}

// join starts n receivers, each when the previous one has caught up with the
// live edge: a receiver begins at the latest keyframe, up to a second behind,
// and gets that second in a burst. Receivers joining all at once would be
// another test (a reconnection storm); this one is after the steady state.
// It returns the receivers started, even on error.
func (b *bench) join(ctx context.Context, label string, srv server, pub *harness.Publisher, n int, window *atomic.Pointer[tally], res *result) ([]*receiver, error) {
	if n == 0 {
		return nil, nil
	}
	b.say("%s: starting %d receivers, each once the previous one is live", label, n)
	receivers := make([]*receiver, 0, n)
	var joins []time.Duration
	for i := range n {
		r, err := startReceiver(b.procs, fmt.Sprintf("receiver %d", i+1), srv.readURL(i), pub.Session, window)
		if err != nil {
			return receivers, err
		}
		receivers = append(receivers, r)
		started := time.Now()
		for !r.live(pub) && !r.Proc.Exited() && time.Since(started) < joinTimeout {
			if err := harness.Sleep(ctx, 10*time.Millisecond); err != nil {
				return receivers, err
			}
		}
		if r.live(pub) {
			joins = append(joins, time.Since(started))
		}
	}
	for _, r := range receivers {
		select {
		case <-r.connected:
			res.Connected++
		default:
		}
	}
	if len(joins) > 0 {
		slices.Sort(joins)
		res.JoinMedian, res.JoinMax = joins[len(joins)/2], joins[len(joins)-1]
	}
	if res.Connected < n || len(joins) < n {
		b.say("%s: %d of %d receivers got data, %d caught up with the live edge within %v", label, res.Connected, n, len(joins), joinTimeout)
	}
	return receivers, nil
}

// sampleWindow reads the CPU counters at the start and the end of the
// window, and the server's memory once a second in between.
func (b *bench) sampleWindow(ctx context.Context, label string, srv server, pub *harness.Publisher, tl *tally, peers []*harness.Child, res *result) error {
	if err := harness.SleepUntil(ctx, pub.TimeOf(tl.first)); err != nil {
		return err
	}
	before, err := b.snapshot(ctx, srv, peers)
	if err != nil {
		return err
	}
	if name, ok := b.profiles[label]; ok && srv.podium != nil {
		path := filepath.Join(b.cacheDir, "cpu-"+name+".pprof")
		profiled := make(chan error, 1)
		go func() { profiled <- srv.podium.CPUProfile(ctx, b.opts.window-time.Second, path) }()
		defer func() {
			if err := <-profiled; err != nil {
				b.say("%s: CPU profile: %v", label, err)
				return
			}
			if top, err := harness.TopFunctions(ctx, path, 14); err == nil {
				res.Profile = top
			}
		}()
	}
	pub.TakeMaxLate()
	var rss []uint64
	end := pub.TimeOf(tl.end)
	for t := time.Second; ; t += time.Second {
		at := before.at.Add(t)
		if end.Before(at) {
			at = end
		}
		if err := harness.SleepUntil(ctx, at); err != nil {
			return err
		}
		if v, err := harness.RSSBytes(srv.pid); err == nil {
			rss = append(rss, v)
		}
		if at.Equal(end) {
			break
		}
		if t%(10*time.Second) == 0 {
			b.say("%s: measuring, %v of %v", label, t, b.opts.window)
		}
	}
	after, err := b.snapshot(ctx, srv, peers)
	if err != nil {
		return err
	}
	res.PacerLate = pub.TakeMaxLate()
	res.usage(before, after, rss)
	return nil
}

// usage fills in the CPU and memory figures from two snapshots and the memory samples.
func (r *result) usage(before, after snapshot, rss []uint64) {
	elapsed := after.at.Sub(before.at).Seconds()
	r.Seconds = elapsed
	cores := func(from, to uint64) float64 { return float64(to-from) / harness.UserHZ / elapsed }
	r.ServerCores = cores(before.server, after.server)
	r.BenchCores = cores(before.bench, after.bench)
	for pid, t := range after.peers {
		if t0, ok := before.peers[pid]; ok {
			r.PeerCores += cores(t0, t)
		}
	}
	r.MachineBusy = float64(after.machineBusy-before.machineBusy) / float64(after.machineTotal-before.machineTotal)
	r.OtherCores = r.MachineBusy*float64(runtime.NumCPU()) - r.ServerCores - r.PeerCores - r.BenchCores
	if len(rss) > 0 {
		slices.Sort(rss)
		r.ServerRSS = rss[len(rss)/2]
	}
	if after.metrics != nil {
		delta := func(name string, labels ...string) float64 {
			return after.metrics.Sum(name, labels...) - before.metrics.Sum(name, labels...)
		}
		r.Retransmitted = delta("podium_srt_packets_retransmitted_total", `direction="delivery"`)
		r.Dropped = delta("podium_srt_packets_dropped_total", `direction="delivery"`)
		r.Goroutines = after.metrics.Sum("go_goroutines")
	}
}

// count fills in the loss figures from what the receivers got of the window.
// A receiver owes the chunks of the window from the first it got on: one that
// started at the next keyframe, after the window opened, owes none before it.
func (r *result) count(receivers []*receiver, tl *tally) {
	for _, rc := range receivers {
		r.Stale += rc.stale.Load()
	}
	if len(receivers) == 0 {
		return
	}
	var got, due uint64
	for _, rc := range receivers {
		if rc.Proc.Exited() {
			r.Exited++
		}
		owed := r.Chunks
		if first := rc.first.Load(); first > tl.first+1 && first <= tl.end {
			owed = tl.end - (first - 1)
		}
		got += rc.got.Load()
		due += owed
		r.WorstLoss = max(r.WorstLoss, 1-float64(rc.got.Load())/float64(owed))
	}
	r.Loss = 1 - float64(got)/float64(due)
	r.MissedByAll = tl.missedByAll()
}
