package srtserver

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/podium-broadcast/podium/internal/catalog"
	"github.com/podium-broadcast/podium/internal/delivery"
	"github.com/podium-broadcast/podium/internal/hub"
)

// PushProtocol names push deliveries in the register of deliveries.
const PushProtocol = "srt-push"

var errDestinationRemoved = errors.New("destination removed")

// Pushes keeps the broadcasters' push deliveries running. For each
// destination whose broadcaster may receive its feed now, a goroutine waits
// for the feed to be live, calls the receiver and delivers the feed to it as
// a pull session would (from a keyframe with PAT and PMT, a lagging receiver
// cut), and calls again with backoff while the broadcaster stays entitled.
// Each connection is a delivery in the register, so the rights sweep closes
// it like any other; the keeper stops calling once rights are gone and
// starts again when they return.
type Pushes struct {
	cfg    CallConfig
	server *Server
	dial   dialFunc
	now    func() time.Time
	kick   chan struct{}
	wg     sync.WaitGroup

	mu     sync.Mutex
	pushes map[string]*push // every destination of the catalog, by id
}

// NewPushes returns the push deliveries' keeper, delivering the feeds of
// server's hub through its sessions; Run runs it.
func NewPushes(cfg CallConfig, server *Server) *Pushes {
	ps := &Pushes{cfg: cfg, server: server, dial: dialSRT, now: time.Now, kick: make(chan struct{}, 1),
		pushes: make(map[string]*push)}
	server.metrics.pushes = ps
	return ps
}

// CatalogChanged asks for the pushes to be brought in line with the catalog at once. It never blocks.
func (ps *Pushes) CatalogChanged(*catalog.Snapshot) {
	select {
	case ps.kick <- struct{}{}:
	default:
	}
}

// Run keeps pushes in line with the catalog and the clock (entitlement
// windows open and close) until ctx ends, then ends them and returns once
// every one has stopped.
func (ps *Pushes) Run(ctx context.Context) {
	tick := time.NewTicker(delivery.SweepPeriod)
	defer tick.Stop()
	for {
		ps.reconcile(ctx)
		select {
		case <-ctx.Done():
			ps.mu.Lock()
			for _, p := range ps.pushes {
				p.halt(hub.ErrShutdown)
			}
			ps.mu.Unlock()
			ps.wg.Wait()
			return
		case <-ps.kick:
		case <-tick.C:
		}
	}
}

func (ps *Pushes) reconcile(ctx context.Context) {
	snap := ps.server.catalog.Snapshot()
	now := ps.now()
	ps.mu.Lock()
	defer ps.mu.Unlock()
	seen := make(map[string]bool)
	for _, d := range snap.Destinations("") {
		seen[d.ID] = true
		p := ps.pushes[d.ID]
		if p == nil {
			p = &push{pushes: ps, dest: d}
			ps.pushes[d.ID] = p
		}
		refusal := snap.Refusal(d.BroadcasterID, d.FeedID, now)
		if refusal != "" {
			p.halt(&delivery.RefusedError{Reason: refusal})
			p.state.set(StateNotEntitled, now, errors.New(refusal))
			continue
		}
		if !p.running() {
			r := &pushRun{stop: make(chan struct{}), done: make(chan struct{})}
			p.run = r
			p.state.set(StateConnecting, now, nil)
			ps.wg.Go(func() { p.loop(ctx, r) })
		}
	}
	for id, p := range ps.pushes {
		if !seen[id] {
			p.halt(errDestinationRemoved)
			delete(ps.pushes, id)
			ps.server.metrics.forgetPush(p.dest)
		}
	}
}

// Status returns the state of the destination's push; false for a
// destination the keeper has not seen yet.
func (ps *Pushes) Status(destinationID string) (CallStatus, bool) {
	ps.mu.Lock()
	p, ok := ps.pushes[destinationID]
	ps.mu.Unlock()
	if !ok {
		return CallStatus{}, false
	}
	return p.state.get(), true
}

func (ps *Pushes) list() []*push {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	out := make([]*push, 0, len(ps.pushes))
	for _, p := range ps.pushes {
		out = append(out, p)
	}
	return out
}

// push is one destination. It has a run while its broadcaster is entitled.
type push struct {
	pushes *Pushes
	dest   catalog.Destination
	state  callState
	run    *pushRun // guarded by pushes.mu
}

// pushRun is the goroutine that calls one destination while entitled.
type pushRun struct {
	mu         sync.Mutex
	stopped    bool
	stopReason error
	stop       chan struct{}
	session    *pullSession
	done       chan struct{}
}

// running reports whether the push has a run that has not finished. Called with pushes.mu held.
func (p *push) running() bool {
	if p.run == nil {
		return false
	}
	select {
	case <-p.run.done:
		return false
	default:
		return true
	}
}

// halt stops the push's run, if any, ending its delivery with reason. Called with pushes.mu held.
func (p *push) halt(reason error) {
	if p.run != nil {
		p.run.halt(reason)
		p.run = nil
	}
}

func (r *pushRun) halt(reason error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.stopped {
		return
	}
	r.stopped, r.stopReason = true, reason
	close(r.stop)
	if r.session != nil {
		r.session.Close(reason)
	}
}

// track makes s the run's live session, unless the run was halted (false).
func (r *pushRun) track(s *pullSession) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.stopped {
		return false
	}
	r.session = s
	return true
}

func (r *pushRun) untrack() {
	r.mu.Lock()
	r.session = nil
	r.mu.Unlock()
}

// wait sleeps for d, and reports false if the run is halted or ctx ends meanwhile.
func (r *pushRun) wait(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.stop:
		return false
	case <-ctx.Done():
		return false
	}
}

func (r *pushRun) halted(ctx context.Context) bool {
	select {
	case <-r.stop:
		return true
	case <-ctx.Done():
		return true
	default:
		return false
	}
}

// loop delivers the feed to the destination until the run is halted, ctx
// ends, or the broadcaster loses the right to the feed.
func (p *push) loop(ctx context.Context, r *pushRun) {
	defer close(r.done)
	ps := p.pushes
	log := ps.server.log.With("broadcaster", p.dest.BroadcasterID, "feed", p.dest.FeedID, "destination", p.dest.ID,
		"address", p.dest.Address)
	b := backoff{cfg: ps.cfg}
	for !r.halted(ctx) {
		if !p.feedLive() {
			p.state.set(StateWaiting, ps.now(), nil)
			if !r.wait(ctx, delivery.SweepPeriod) {
				return
			}
			continue
		}
		p.state.set(StateConnecting, ps.now(), nil)
		var lasted time.Duration
		release, err := ps.cfg.Connections.Acquire(p.dest.BroadcasterID)
		if err == nil {
			var c conn
			c, err = ps.dial(catalog.DialAddress(p.dest.Address), p.dialConfig())
			if err == nil {
				start := ps.now()
				err = p.deliver(ctx, r, c, release)
				lasted = ps.now().Sub(start)
			}
			release()
		}
		if r.halted(ctx) || errors.Is(err, delivery.ErrNotEntitled) {
			return
		}
		wait := b.delay(lasted)
		p.state.backingOff(ps.now(), err, wait)
		ps.server.metrics.pushReconnects.WithLabelValues(p.dest.BroadcasterID, p.dest.ID).Inc()
		log.Warn("srt push retry", "reason", err.Error(), "in", wait)
		if !r.wait(ctx, wait) {
			return
		}
	}
}

func (p *push) feedLive() bool {
	f, ok := p.pushes.server.hub.Lookup(p.dest.FeedID)
	return ok && f.Live()
}

func (p *push) dialConfig() dialConfig {
	cfg := dialConfig{StreamID: p.dest.StreamID, Passphrase: p.dest.Passphrase, Latency: p.dest.Latency, Timeout: p.pushes.cfg.Timeout}
	if cfg.Latency == 0 {
		cfg.Latency = p.pushes.cfg.Latency
	}
	return cfg
}

// deliver sends the feed over c, which holds a slot under the connection
// limits that release gives back, until the delivery ends, and returns why.
func (p *push) deliver(ctx context.Context, r *pushRun, c conn, release func()) error {
	s := p.pushes.server
	feed := s.hub.Feed(p.dest.FeedID)
	reader, catchUp, err := s.newDeliveryReader(feed)
	if err != nil {
		c.Close()
		return err
	}
	c.SetInputRate(feed.Bitrate())
	now := p.pushes.now()
	session := &pullSession{server: s, conn: c, reader: reader, catchUp: catchUp, mode: "push", lastProgress: now, release: release,
		delivery: &delivery.Delivery{BroadcasterID: p.dest.BroadcasterID, FeedID: p.dest.FeedID, Protocol: PushProtocol,
			RemoteAddr: c.RemoteAddr().String(), Since: now}}
	if !r.track(session) {
		reader.Close(errDestinationRemoved)
		catchUp.done()
		c.Close()
		return errStopped
	}
	defer r.untrack()
	s.track(session)
	p.state.connected(now, c, session.delivery.Bytes, session.delivery.ID)
	return session.run(ctx)
}
