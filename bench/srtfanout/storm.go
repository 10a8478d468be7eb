package main

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"sync/atomic"
	"time"

	"github.com/podium-broadcast/podium/bench/internal/harness"
)

// stormLiveBy is how soon after its start a receiver of a storm should be
// at the live edge.
const stormLiveBy = time.Second

// storms measures reconnection storms: for each count of -storm, that many
// receivers started within a few milliseconds of each other on one feed, as
// every broadcaster reconnects after a network blip. The window opens as
// they start, so whatever the join costs them is counted.
func (b *bench) storms(ctx context.Context, rep *report, srv server, publishURL string) error {
	for _, n := range b.opts.storm {
		label := fmt.Sprintf("storm N=%d", n)
		if err := b.ensureBroadcasters(ctx, n); err != nil {
			return err
		}
		if err := b.waitFeedOffline(ctx); err != nil {
			return err
		}
		pub, err := harness.StartPublisher(b.procs, b.src, publishURL, b.opts.bitrate)
		if err != nil {
			return err
		}
		err = b.waitFeedLive(ctx, pub)
		if err == nil {
			// A receiver starts at the latest keyframe: let the ring hold a
			// full second of the stream, as it does on a feed long on air.
			err = harness.Sleep(ctx, 3*time.Second)
		}
		var r result
		if err == nil {
			r, err = b.measure(ctx, label, srv, pub, n, true)
		}
		pub.Stop()
		if err != nil {
			return fmt.Errorf("%s: %w", label, err)
		}
		b.sayResult(label, r)
		rep.storms = append(rep.storms, r)
		if err := harness.Sleep(ctx, 2*time.Second); err != nil { // let Podium close the deliveries
			return err
		}
	}
	return nil
}

// stormJoin starts n receivers at once and waits until each has caught up
// with the live edge, or has had 5 s to. It returns the receivers started,
// even on error.
func (b *bench) stormJoin(ctx context.Context, label string, srv server, pub *harness.Publisher, n int, window *atomic.Pointer[tally], res *result) ([]*receiver, error) {
	receivers := make([]*receiver, 0, n)
	starts := make([]time.Time, 0, n)
	for i := range n {
		r, err := startReceiver(b.procs, fmt.Sprintf("receiver %d", i+1), srv.readURL(i), pub.Session, window)
		if err != nil {
			return receivers, err
		}
		receivers = append(receivers, r)
		starts = append(starts, time.Now())
	}
	res.StartSpread = starts[n-1].Sub(starts[0])
	joins := make([]time.Duration, n) // 0: not yet at the live edge
	for waiting := n; waiting > 0 && time.Since(starts[0]) < 5*time.Second; {
		for i, r := range receivers {
			if joins[i] == 0 && r.live(pub) {
				joins[i] = time.Since(starts[i])
				waiting--
			}
		}
		if err := harness.Sleep(ctx, 5*time.Millisecond); err != nil {
			return receivers, err
		}
	}
	var live []time.Duration
	for _, j := range joins {
		if j > 0 {
			live = append(live, j)
			if j <= stormLiveBy {
				res.LiveWithin1s++
			}
		}
	}
	for _, r := range receivers {
		select {
		case <-r.connected:
			res.Connected++
		default:
		}
	}
	if len(live) > 0 {
		slices.Sort(live)
		res.JoinMedian, res.JoinMax = live[len(live)/2], live[len(live)-1]
	}
	if len(live) < n {
		b.say("%s: %d of %d receivers got data, %d caught up with the live edge within 5 s", label, res.Connected, n, len(live))
		res.JoinMax = 0 // some never joined
	}
	return receivers, nil
}

// highRates measures one contribution stream at each rate of -rates, in
// and out through Podium to one receiver, beside libsrt's relay at the
// same rate in the same run.
func (b *bench) highRates(ctx context.Context, rep *report, root string, srv server, publishURL string) error {
	for _, rate := range b.opts.rates {
		mbps := rate / 1_000_000
		b.say("source: %d Mbit/s MPEG-TS (ffmpeg, cached in bench/.cache)", mbps)
		src, err := harness.LoadSource(ctx, filepath.Join(root, "bench", ".cache"), rate)
		if err != nil {
			return err
		}
		label := fmt.Sprintf("%d Mbit/s, libsrt relay", mbps)
		relay, err := b.measureRelay(ctx, label, src, rate)
		if err != nil {
			return fmt.Errorf("%s: %w", label, err)
		}
		b.sayResult(label, relay)
		label = fmt.Sprintf("%d Mbit/s, Podium", mbps)
		podium, err := b.measurePodium(ctx, label, srv, publishURL, src, rate, 1)
		if err != nil {
			return fmt.Errorf("%s: %w", label, err)
		}
		b.sayResult(label, podium)
		rep.rates = append(rep.rates, ratePair{relay: relay, podium: podium})
	}
	return nil
}

// ratePair is one single-stream rate, through the relay and through Podium.
type ratePair struct{ relay, podium result }
