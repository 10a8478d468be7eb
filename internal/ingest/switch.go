// Package ingest puts contribution into the hub: each feed may have a
// primary and a backup source (SRT, RTMP, or an SRT caller pull), and
// exactly one of them is on air. When the primary stalls longer than a
// threshold or disconnects, the backup goes on air; when the primary has
// been healthy for a hold time, it comes back (if switching is revertive).
// Readers never notice a switch: they stay attached to the hub, and the
// output stays one decodable stream (see splicer).
package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/podium-broadcast/podium/internal/hub"
)

// Reasons a source is refused or dropped.
var (
	ErrRoleTaken = errors.New("this source (primary or backup) of the feed is already connected")
	ErrBadRole   = errors.New(`source role must be "primary" or "backup"`)
	ErrDetached  = errors.New("source detached")
)

// Config shapes switching.
type Config struct {
	// Stall is how long the on-air source may send nothing before the other takes over.
	Stall time.Duration
	// Hold is how long the primary must stay healthy before it goes back on air.
	Hold time.Duration
	// Revertive says whether the primary goes back on air at all once healthy.
	Revertive bool
}

// DefaultConfig is the switching configuration unless told otherwise.
var DefaultConfig = Config{Stall: 500 * time.Millisecond, Hold: 5 * time.Second, Revertive: true}

// checkPeriod is how often the switcher looks at its sources.
const checkPeriod = 20 * time.Millisecond

// Switcher holds the sources of every feed.
type Switcher struct {
	cfg     Config
	hub     *hub.Hub
	log     *slog.Logger
	metrics *Metrics
	now     func() time.Time

	mu    sync.Mutex
	feeds map[string]*feedSwitch
}

// New returns a switcher writing into h; Run must be running for failover.
func New(cfg Config, h *hub.Hub, m *Metrics, log *slog.Logger) *Switcher {
	return &Switcher{cfg: cfg, hub: h, metrics: m, log: log, now: time.Now, feeds: make(map[string]*feedSwitch)}
}

// feedSwitch is one feed's sources and its output into the hub.
type feedSwitch struct {
	sw *Switcher
	id string

	mu      sync.Mutex
	sources map[string]*Source
	onAir   *Source
	forced  string // "" for automatic, or the role pinned on air
	pub     *hub.Publisher
	hold    holder
	splice  splicer
	out     []byte
	// switches counts switches by reason, for the feed's status.
	switches   uint64
	lastSwitch time.Time
	// offlineSince is when the feed's last source left; a source that comes
	// after the hub's grace period (its readers gone) starts a new layout.
	offlineSince time.Time
	// health lists what makes the output not cleanly decodable (none: it
	// is); backSteps is the splicer's count the metric has been told of.
	health    []string
	backSteps uint64
}

// Attach connects a source of the feed in role ("primary" or "backup").
func (w *Switcher) Attach(feedID, role, remote string) (*Source, error) {
	if role != Primary && role != Backup {
		return nil, ErrBadRole
	}
	w.mu.Lock()
	f, ok := w.feeds[feedID]
	if !ok {
		f = &feedSwitch{sw: w, id: feedID, sources: make(map[string]*Source)}
		w.feeds[feedID] = f
	}
	w.mu.Unlock()

	f.mu.Lock()
	defer f.mu.Unlock()
	if _, taken := f.sources[role]; taken {
		return nil, ErrRoleTaken
	}
	if f.pub == nil {
		pub, err := w.hub.Feed(feedID).Attach(remote)
		if err != nil {
			return nil, err
		}
		f.pub = pub
		if !f.offlineSince.IsZero() && w.now().Sub(f.offlineSince) >= w.hub.Grace() {
			f.splice.newLayout = true
		}
	}
	s := &Source{feed: f, role: role, remote: remote, since: w.now(), kicked: make(chan struct{})}
	s.lastData.Store(w.now().UnixNano())
	f.sources[role] = s
	w.log.Info("feed source attached", "feed", feedID, "source", role, "remote", remote)
	return s, nil
}

// detach removes s; if it was on air the other source, if healthy, takes over now.
func (f *feedSwitch) detach(s *Source) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if s.detached {
		return
	}
	s.detached = true
	if f.sources[s.role] == s {
		delete(f.sources, s.role)
	}
	f.sw.log.Info("feed source detached", "feed", f.id, "source", s.role, "remote", s.remote, "bytes", s.BytesIn())
	if f.onAir == s {
		f.onAir = nil
		if other := f.other(s.role); other != nil && other.healthy(f.sw.now(), f.sw.cfg.Stall) {
			f.switchTo(other, s.role+" disconnected")
		} else {
			// The stream ends here. Its last frame may be cut short (an
			// encoder killed mid-frame): it is dropped, so that a decoder
			// never sees a truncated frame when the next source comes.
			f.hold.reset()
		}
	}
	if len(f.sources) == 0 && f.pub != nil {
		f.pub.Detach()
		f.pub = nil
		f.offlineSince = f.sw.now()
	}
}

func (f *feedSwitch) other(role string) *Source {
	if role == Primary {
		return f.sources[Backup]
	}
	return f.sources[Primary]
}

// eligible says whether s may go on air when nothing is.
func (f *feedSwitch) eligible(s *Source) bool {
	return f.forced == "" || f.forced == s.role || f.sources[f.forced] == nil
}

// switchTo puts s on air, starting from its latest access point. f.mu is held.
func (f *feedSwitch) switchTo(s *Source, reason string) error {
	from := "none"
	if f.onAir != nil {
		from = f.onAir.role
	}
	f.onAir = s
	// What the old source left incomplete is dropped; the new one starts
	// at its latest access point, every PES whole.
	f.hold.reset()
	f.splice.now = f.sw.now().UnixNano()
	f.out = f.splice.begin(s, f.hold.push(s.gop), f.out[:0])
	err := f.send(f.out)
	// Sending the GOP in one piece grew the output and the holder to its
	// size (a few MB at 10 Mbit/s), where the flow between switches needs a
	// frame: they are let go, so that a feed's memory does not ratchet up
	// with its first switch and stay there.
	f.out = nil
	f.hold.shrink()
	now := f.sw.now()
	f.switches++
	f.lastSwitch = now
	f.sw.metrics.switches.WithLabelValues(f.id, s.role).Inc()
	f.sw.log.Info("feed source on air", "feed", f.id, "source", s.role, "from", from, "reason", reason,
		"remote", s.remote, "shift_ms", f.splice.shift/90)
	if ch := f.splice.change; ch.kind != "" {
		f.sw.log.Info("feed layout changed", "feed", f.id, "source", s.role, "change", ch.kind,
			"tracks", ch.tracks, "gone", ch.gone, "pmt_version", ch.version)
	}
	return err
}

// send hands output to the hub.
func (f *feedSwitch) send(out []byte) error {
	f.out = out
	if f.pub == nil || len(out) == 0 {
		return nil
	}
	return f.pub.Write(out)
}

// Force pins role on air ("primary" or "backup"), or returns to automatic
// switching ("auto"). Pinning a source that is not connected or has no
// keyframe yet fails.
func (w *Switcher) Force(feedID, role string) error {
	if role != "auto" && role != Primary && role != Backup {
		return fmt.Errorf(`source must be "primary", "backup" or "auto", not %q`, role)
	}
	w.mu.Lock()
	f, ok := w.feeds[feedID]
	w.mu.Unlock()
	if !ok {
		if role == "auto" {
			return nil
		}
		return fmt.Errorf("feed %s has no %s source connected", feedID, role)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if role == "auto" {
		f.forced = ""
		w.log.Info("feed source switching automatic", "feed", feedID)
		return nil
	}
	s := f.sources[role]
	if s == nil || !s.hasRAP {
		return fmt.Errorf("feed %s has no %s source with a keyframe to put on air", feedID, role)
	}
	f.forced = role
	if f.onAir != s {
		return f.switchTo(s, "forced by the operator")
	}
	return nil
}

// Run switches sources on stalls and recoveries until ctx ends.
func (w *Switcher) Run(ctx context.Context) {
	tick := time.NewTicker(checkPeriod)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			w.check()
		}
	}
}

func (w *Switcher) check() {
	w.mu.Lock()
	feeds := make([]*feedSwitch, 0, len(w.feeds))
	for _, f := range w.feeds {
		feeds = append(feeds, f)
	}
	w.mu.Unlock()
	now := w.now()
	for _, f := range feeds {
		f.check(now)
	}
}

// check applies the switching rules to one feed at instant now.
func (f *feedSwitch) check(now time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	cfg := f.sw.cfg
	if f.pub != nil {
		if reason := f.pub.Reason(); reason != nil {
			for _, s := range f.sources {
				s.kick(reason)
			}
			return
		}
	}
	f.checkHealth(now)
	for _, s := range f.sources {
		if s.healthy(now, cfg.Stall) {
			if s.healthySince.IsZero() {
				s.healthySince = now
			}
		} else {
			s.healthySince = time.Time{}
		}
	}
	primary, backup := f.sources[Primary], f.sources[Backup]
	if f.forced != "" && f.sources[f.forced] != nil {
		return
	}
	switch {
	case f.onAir == nil:
		for _, s := range []*Source{primary, backup} {
			if s != nil && !s.healthySince.IsZero() {
				f.switchTo(s, "no source was on air")
				return
			}
		}
	case !f.onAir.healthy(now, cfg.Stall):
		if other := f.other(f.onAir.role); other != nil && !other.healthySince.IsZero() {
			f.switchTo(other, fmt.Sprintf("%s stalled for %v", f.onAir.role, cfg.Stall))
		}
	case f.onAir == backup && cfg.Revertive && primary != nil && !primary.healthySince.IsZero() && now.Sub(primary.healthySince) >= cfg.Hold:
		f.switchTo(primary, fmt.Sprintf("primary healthy for %v", cfg.Hold))
	}
}

// checkHealth updates the output's health, its metrics and its log. f.mu is held.
func (f *feedSwitch) checkHealth(now time.Time) {
	var reasons []string
	if f.onAir != nil {
		reasons = f.splice.health(now.UnixNano())
	}
	m := f.sw.metrics
	if n := f.splice.backSteps; n > f.backSteps {
		m.backSteps.WithLabelValues(f.id).Add(float64(n - f.backSteps))
		f.backSteps = n
	}
	if slices.Equal(reasons, f.health) {
		return
	}
	f.health = reasons
	if len(reasons) > 0 {
		m.degraded.WithLabelValues(f.id).Set(1)
		f.sw.log.Warn("feed output degraded", "feed", f.id, "reasons", strings.Join(reasons, "; "))
	} else {
		m.degraded.WithLabelValues(f.id).Set(0)
		f.sw.log.Info("feed output healthy again", "feed", f.id)
	}
}

// SourceStatus is one source's state.
type SourceStatus struct {
	Role       string
	RemoteAddr string
	Since      time.Time
	BytesIn    uint64
	LastData   time.Time
	Healthy    bool
	OnAir      bool
}

// Status is a feed's sources and switching state.
type Status struct {
	OnAir      string // "primary", "backup" or ""
	Mode       string // "auto", or the pinned role
	Revertive  bool
	Switches   uint64
	LastSwitch time.Time
	Sources    []SourceStatus
	// Health lists what makes the feed's output not cleanly decodable:
	// timestamps going back, announced tracks without data. None: healthy.
	Health []string
}

// Status returns the feed's switching state; ok is false when no source ever attached.
func (w *Switcher) Status(feedID string) (Status, bool) {
	w.mu.Lock()
	f, ok := w.feeds[feedID]
	w.mu.Unlock()
	if !ok {
		return Status{}, false
	}
	now := w.now()
	f.mu.Lock()
	defer f.mu.Unlock()
	f.checkHealth(now)
	st := Status{Mode: "auto", Revertive: w.cfg.Revertive, Switches: f.switches, LastSwitch: f.lastSwitch, Health: slices.Clone(f.health)}
	if f.forced != "" {
		st.Mode = f.forced
	}
	if f.onAir != nil {
		st.OnAir = f.onAir.role
	}
	for _, s := range f.sources {
		st.Sources = append(st.Sources, SourceStatus{Role: s.role, RemoteAddr: s.remote, Since: s.since, BytesIn: s.BytesIn(),
			LastData: time.Unix(0, s.lastData.Load()), Healthy: s.healthy(now, w.cfg.Stall), OnAir: f.onAir == s})
	}
	sort.Slice(st.Sources, func(i, j int) bool { return st.Sources[i].Role > st.Sources[j].Role })
	return st, true
}

// Forget drops a deleted feed's switching state and disconnects its sources.
func (w *Switcher) Forget(feedID string) {
	w.mu.Lock()
	f, ok := w.feeds[feedID]
	delete(w.feeds, feedID)
	w.mu.Unlock()
	if !ok {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, s := range f.sources {
		s.kick(hub.ErrFeedRemoved)
	}
}
