package srtserver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/podium-broadcast/podium/internal/catalog"
	"github.com/podium-broadcast/podium/internal/hub"
)

// Publisher is where a caller source writes its feed: the feed's primary or
// backup input (or the hub's publisher itself). Write takes whole or cut
// transport packets; Kicked is closed when Podium drops the publisher, for
// Reason; Detach ends it.
type Publisher interface {
	Write([]byte) error
	Kicked() <-chan struct{}
	Reason() error
	Detach()
}

// AttachFunc makes a connected caller source a publisher of the feed in
// role ("primary" or "backup"); remote names it in the feed's status.
type AttachFunc func(feedID, role, remote string) (Publisher, error)

// Callers keeps the feeds' caller sources connected: for each source in the
// catalog, a goroutine calls the encoder, writes what it sends into the feed
// and calls again with backoff when the connection fails or ends.
type Callers struct {
	cfg     CallConfig
	catalog Catalog
	attach  AttachFunc
	dial    dialFunc
	metrics *Metrics
	log     *slog.Logger
	now     func() time.Time
	kick    chan struct{}
	wg      sync.WaitGroup

	mu      sync.Mutex
	running map[string]*callerSource // by feed id
}

// NewCallers returns the caller sources' keeper; Run runs it.
func NewCallers(cfg CallConfig, c Catalog, attach AttachFunc, m *Metrics, log *slog.Logger) *Callers {
	cs := &Callers{cfg: cfg, catalog: c, attach: attach, dial: dialSRT, metrics: m, log: log, now: time.Now,
		kick: make(chan struct{}, 1), running: make(map[string]*callerSource)}
	m.callers = cs
	return cs
}

// CatalogChanged asks for the sources to be brought in line with the catalog. It never blocks.
func (cs *Callers) CatalogChanged(*catalog.Snapshot) {
	select {
	case cs.kick <- struct{}{}:
	default:
	}
}

// Run keeps the catalog's caller sources connected until ctx ends, then
// disconnects them and returns once every one has stopped.
func (cs *Callers) Run(ctx context.Context) {
	for {
		cs.reconcile(ctx)
		select {
		case <-ctx.Done():
			cs.mu.Lock()
			for _, src := range cs.running {
				src.halt(hub.ErrShutdown)
			}
			cs.mu.Unlock()
			cs.wg.Wait()
			return
		case <-cs.kick:
		}
	}
}

// reconcile stops the sources that left the catalog or changed, and starts
// the new ones; a changed source starts once its old self has let go of the feed.
func (cs *Callers) reconcile(ctx context.Context) {
	snap := cs.catalog.Snapshot()
	cs.mu.Lock()
	defer cs.mu.Unlock()
	previous := make(map[string]<-chan struct{})
	for feedID, src := range cs.running {
		want, ok := snap.CallerSource(feedID)
		if ok && sameCall(want, src.src) {
			continue
		}
		reason := errors.New("caller source removed")
		if ok {
			reason = errors.New("caller source changed")
		}
		src.halt(reason)
		previous[feedID] = src.done
		delete(cs.running, feedID)
		cs.metrics.forgetCaller(feedID)
	}
	for _, want := range snap.CallerSources() {
		if _, ok := cs.running[want.FeedID]; ok {
			continue
		}
		src := &callerSource{callers: cs, src: want, stop: make(chan struct{}), done: make(chan struct{})}
		src.state.set(StateConnecting, cs.now(), nil)
		cs.running[want.FeedID] = src
		prev := previous[want.FeedID]
		cs.wg.Go(func() { src.run(ctx, prev) })
	}
}

// sameCall reports whether two versions of a caller source call the same way.
func sameCall(a, b catalog.CallerSource) bool {
	return a.Role == b.Role && a.Address == b.Address && a.StreamID == b.StreamID &&
		a.Passphrase == b.Passphrase && a.Latency == b.Latency
}

// Status returns the state of the feed's caller source, as the catalog has it now.
func (cs *Callers) Status(feedID string) (CallStatus, bool) {
	want, ok := cs.catalog.Snapshot().CallerSource(feedID)
	if !ok {
		return CallStatus{}, false
	}
	cs.mu.Lock()
	src, running := cs.running[feedID]
	cs.mu.Unlock()
	if !running || !sameCall(want, src.src) {
		// Set a moment ago: the keeper is starting it.
		return CallStatus{State: StateConnecting, Since: cs.now()}, true
	}
	return src.state.get(), true
}

func (cs *Callers) list() []*callerSource {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	out := make([]*callerSource, 0, len(cs.running))
	for _, src := range cs.running {
		out = append(out, src)
	}
	return out
}

// callerSource is one feed's pull from an encoder.
type callerSource struct {
	callers *Callers
	src     catalog.CallerSource
	state   callState

	stopOnce   sync.Once
	stop       chan struct{}
	stopReason error
	done       chan struct{}
}

// halt stops the source with reason: at once if it is connected, else at its next step.
func (s *callerSource) halt(reason error) {
	s.stopOnce.Do(func() {
		s.stopReason = reason
		close(s.stop)
	})
}

func (s *callerSource) stopped(ctx context.Context) bool {
	select {
	case <-s.stop:
		return true
	case <-ctx.Done():
		return true
	default:
		return false
	}
}

// run calls the encoder until the source is halted or ctx ends, after prev
// (the source's previous version, if any) has stopped.
func (s *callerSource) run(ctx context.Context, prev <-chan struct{}) {
	defer close(s.done)
	cs := s.callers
	if prev != nil {
		<-prev
	}
	b := backoff{cfg: cs.cfg}
	for !s.stopped(ctx) {
		s.state.set(StateConnecting, cs.now(), nil)
		var lasted time.Duration
		release, err := cs.cfg.Connections.Acquire("")
		if err == nil {
			var c conn
			c, err = cs.dial(catalog.DialAddress(s.src.Address), s.dialConfig())
			if err == nil && s.stopped(ctx) {
				c.Close()
				release()
				return
			}
			if err == nil {
				start := cs.now()
				err = s.session(ctx, c)
				lasted = cs.now().Sub(start)
			}
			release()
		}
		if s.stopped(ctx) {
			return
		}
		wait := b.delay(lasted)
		s.state.backingOff(cs.now(), err, wait)
		cs.metrics.callerReconnects.WithLabelValues(s.src.FeedID).Inc()
		cs.log.Warn("srt caller source retry", "feed", s.src.FeedID, "source", s.src.Role, "address", s.src.Address,
			"reason", err.Error(), "in", wait)
		select {
		case <-time.After(wait):
		case <-s.stop:
		case <-ctx.Done():
		}
	}
}

func (s *callerSource) dialConfig() dialConfig {
	cfg := dialConfig{StreamID: s.src.StreamID, Passphrase: s.src.Passphrase, Latency: s.src.Latency, Timeout: s.callers.cfg.Timeout}
	if cfg.Latency == 0 {
		cfg.Latency = s.callers.cfg.Latency
	}
	return cfg
}

// session writes what the encoder sends into the feed until the connection
// ends, and returns why it ended.
func (s *callerSource) session(ctx context.Context, c conn) error {
	cs := s.callers
	feedID := s.src.FeedID
	pub, err := cs.attach(feedID, s.src.Role, s.src.Address)
	if err != nil {
		c.Close()
		return fmt.Errorf("feed %s refused the %s source: %w", feedID, s.src.Role, err)
	}
	var bytes atomic.Uint64
	since := cs.now()
	s.state.connected(since, c, bytes.Load, 0)
	cs.metrics.connections.WithLabelValues("caller").Inc()
	cs.log.Info("srt caller source connected", "feed", feedID, "source", s.src.Role, "address", s.src.Address,
		"remote", c.RemoteAddr().String())

	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		select {
		case <-done:
		case <-ctx.Done():
		case <-s.stop:
		case <-pub.Kicked():
		}
		c.Close()
	})
	reason := receiveInto(c, pub, &bytes)
	select {
	case <-s.stop:
		reason = s.stopReason
	default:
		if kicked := pub.Reason(); kicked != nil {
			reason = kicked
		} else if ctx.Err() != nil {
			reason = hub.ErrShutdown
		}
	}
	close(done)
	wg.Wait()
	pub.Detach()

	st := c.Stats()
	s.state.disconnected()
	cs.metrics.addIngest(feedID, st)
	cs.log.Info("srt caller source disconnected", "feed", feedID, "source", s.src.Role, "address", s.src.Address,
		"reason", reason.Error(), "bytes", bytes.Load(), "duration", cs.now().Sub(since).Round(time.Millisecond),
		"packets_lost", st.PktRecvLoss, "packets_dropped", st.PktRecvDrop, "packets_retransmitted", st.PktRetrans)
	return reason
}

// receiveInto copies the messages of c into pub until either fails.
func receiveInto(c conn, pub Publisher, bytes *atomic.Uint64) error {
	buf := make([]byte, maxPayload)
	for {
		n, err := c.Read(buf)
		if err != nil {
			if errors.Is(err, io.EOF) {
				return errPeerClosed
			}
			return err
		}
		bytes.Add(uint64(n))
		if err := pub.Write(buf[:n]); err != nil {
			return err
		}
	}
}
