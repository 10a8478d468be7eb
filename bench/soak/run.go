package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/podium-broadcast/podium/bench/internal/harness"
)

// config is one soak's shape.
type config struct {
	feeds, readers int
	bitrate        int // bit/s of each feed
	duration       time.Duration
	switchEvery    time.Duration // between two planned primary kills
	outage         time.Duration // how long a killed primary stays away
	hold           time.Duration // Podium's switch_hold
	stall          time.Duration // Podium's switch_stall
	rejoin         time.Duration // before a receiver that ended starts again; 0: never
	sampleEvery    time.Duration
}

// environment is what every soak of a run shares.
type environment struct {
	root  string
	bin   string // podium, built from ./cmd/podium
	src   *harness.Source
	procs *harness.Supervisor
	say   func(format string, args ...any)
}

// soakRun is one soak: its Podium, feeds and receivers, and what it measured.
type soakRun struct {
	cfg   config
	label string // what the progress lines call it
	name  string // what its files are called: soak, or soak-scaled
	*environment
	podium   *harness.Podium
	sessions sessions
	feeds    []*feed
	slots    []*slot
	start    time.Time // the soak's clock starts when every receiver has started

	mu      sync.Mutex
	samples []sample
	events  []*switchEvent

	// connectsBefore and connectsAfter count the SRT deliveries Podium
	// accepted, at the soak's start and end; closes counts by reason the
	// deliveries Podium closed during the soak.
	connectsBefore, connectsAfter float64
	closes                        map[string]int
	// switchReasons counts by reason the switches Podium logged during the soak.
	switchReasons map[string]int
	// heapProfiles are the heap profiles of Podium kept in bench/.cache.
	heapProfiles []string
	// revived lists the publishers that ended on their own and were started again.
	revived []string
	// failure says why the soak did not run to its end, and stoppedAt when,
	// on the soak's clock.
	failure   error
	stoppedAt time.Duration
}

const (
	// receiverSpacing is the pause between two receivers' starts: a ramp,
	// not a storm of 160 handshakes at once.
	receiverSpacing = 50 * time.Millisecond
	// settle is the pause between the last receiver's start and the soak's.
	settle = 5 * time.Second
)

func (r *soakRun) addSample(s sample) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.samples = append(r.samples, s)
}

// runSoak runs one soak; its failure, if any, is in the result.
func runSoak(ctx context.Context, env *environment, cfg config, label, name string) *soakRun {
	r := &soakRun{cfg: cfg, label: label, name: name, environment: env, sessions: sessions{byID: map[uint32]sessionInfo{}}}
	r.failure = r.run(ctx)
	if r.failure != nil {
		if r.stoppedAt == 0 && !r.start.IsZero() {
			r.stoppedAt = max(0, time.Since(r.start))
		}
		r.say("%s: stopped: %v", label, r.failure)
	}
	return r
}

func (r *soakRun) run(ctx context.Context) error {
	dir, err := os.MkdirTemp("", "podium-soak-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	r.say("%s: starting Podium (switch_stall %v, switch_hold %v)", r.label, r.cfg.stall, r.cfg.hold)
	r.podium, err = harness.StartPodium(ctx, r.procs, r.bin, dir,
		"--switch-stall", r.cfg.stall.String(), "--switch-hold", r.cfg.hold.String(), "--switch-revertive=true")
	if err != nil {
		return err
	}
	defer r.stopPodium(filepath.Join(r.root, "bench", ".cache", r.name+"-podium.log"))
	if err := r.createCatalog(ctx); err != nil {
		return err
	}
	r.say("%s: starting %d feeds' primary and backup publishers at %.1f Mbit/s", r.label, r.cfg.feeds, float64(r.cfg.bitrate)/1e6)
	defer func() {
		for _, f := range r.feeds {
			f.stopSources()
		}
	}()
	if err := r.startFeeds(ctx); err != nil {
		return err
	}

	slotCtx, stopSlots := context.WithCancel(ctx)
	var slots sync.WaitGroup
	defer func() {
		stopSlots()
		slots.Wait()
	}()
	n := len(r.slots)
	r.start = time.Now().Add(time.Duration(n)*receiverSpacing + settle)
	r.say("%s: starting %d receivers, one every %v; the soak starts in %v", r.label, n, receiverSpacing, time.Until(r.start).Round(time.Second))
	for i, s := range r.slots {
		s.track = newTracker(r.start, time.Minute, int((r.cfg.duration+time.Minute-1)/time.Minute))
		slots.Go(func() { s.run(slotCtx, r.procs, r.cfg.rejoin) })
		if i < n-1 {
			if err := harness.Sleep(ctx, receiverSpacing); err != nil {
				return err
			}
		}
	}
	if err := harness.SleepUntil(ctx, r.start); err != nil {
		return err
	}
	logFrom := r.podium.LogSize()
	r.connectsBefore = r.srtConnects(ctx)

	// Planned outages run beside the sampling, each in its own goroutine;
	// they are timed to end before the soak does, and cut short if not.
	eventCtx, stopEvents := context.WithDeadline(ctx, r.start.Add(r.cfg.duration+5*time.Second))
	defer stopEvents()
	var events sync.WaitGroup
	events.Go(func() { r.scheduleEvents(eventCtx, &events) })
	r.say("%s: soak started: %v, %d planned primary outages", r.label, r.cfg.duration, len(r.cfg.schedule()))
	err = r.sampleUntilEnd(ctx)
	if err != nil {
		r.stoppedAt = time.Since(r.start)
	}
	stopEvents()
	events.Wait()
	// Podium's log tells what happened even when the soak was cut short.
	r.closes = r.podium.DeliveryCloses(logFrom)
	r.switchReasons = r.podium.CountLog(logFrom, "feed source on air", "reason")
	if err != nil {
		return err
	}
	r.connectsAfter = r.srtConnects(ctx)
	return nil
}

// createCatalog creates the feeds, and one broadcaster per receiver of a
// feed, each entitled to every feed: receiver i of every feed is
// broadcaster i, as a rights holder pulls several feeds.
func (r *soakRun) createCatalog(ctx context.Context) error {
	ids := make([]string, r.cfg.feeds)
	for i := range ids {
		ids[i] = fmt.Sprintf("soak-%02d", i+1)
		pass, err := r.podium.CreateFeed(ctx, ids[i], fmt.Sprintf("Soak feed %d", i+1))
		if err != nil {
			return err
		}
		r.feeds = append(r.feeds, &feed{id: ids[i], passphrases: pass})
	}
	passphrases := make([]string, r.cfg.readers)
	for j := range passphrases {
		var err error
		if passphrases[j], err = r.podium.CreateBroadcaster(ctx, fmt.Sprintf("rhb-%03d", j+1), ids...); err != nil {
			return err
		}
	}
	for _, f := range r.feeds {
		for j, pass := range passphrases {
			r.slots = append(r.slots, &slot{feed: f, index: j, url: r.podium.PullURL(f.id, fmt.Sprintf("rhb-%03d", j+1), pass)})
		}
	}
	return nil
}

// startFeeds starts every feed's sources, the feeds in parallel.
func (r *soakRun) startFeeds(ctx context.Context) error {
	errs := make([]error, len(r.feeds))
	var wg sync.WaitGroup
	for i, f := range r.feeds {
		wg.Go(func() {
			if err := r.startSources(ctx, f); err != nil {
				errs[i] = fmt.Errorf("feed %s: %w", f.id, err)
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// scheduleEvents runs the planned outages at their times.
func (r *soakRun) scheduleEvents(ctx context.Context, events *sync.WaitGroup) {
	for i, at := range r.cfg.schedule() {
		if harness.SleepUntil(ctx, r.start.Add(at)) != nil {
			return
		}
		ev := &switchEvent{feed: r.feeds[i%len(r.feeds)]}
		r.mu.Lock()
		r.events = append(r.events, ev)
		r.mu.Unlock()
		events.Go(func() {
			r.runEvent(ctx, ev)
			if ev.skipped != "" {
				r.say("%s: outage of %s skipped: %s", r.label, ev.feed.id, ev.skipped)
				return
			}
			r.say("%s: %s", r.label, ev.describe(r.cfg.hold))
		})
	}
}

// srtConnects returns the SRT deliveries Podium has accepted so far.
func (r *soakRun) srtConnects(ctx context.Context) float64 {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	m, err := r.podium.Scrape(ctx)
	if err != nil {
		return 0
	}
	return m.Sum("podium_srt_connections_total", `mode="request"`)
}

// stopPodium stops Podium and keeps its log where it outlives the run.
func (r *soakRun) stopPodium(keep string) {
	r.podium.Proc.Stop(5 * time.Second)
	if data, err := os.ReadFile(r.podium.LogPath); err == nil && os.WriteFile(keep, data, 0o644) == nil {
		r.say("%s: Podium's log: %s", r.label, keep)
	}
}
