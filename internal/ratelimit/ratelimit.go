// Package ratelimit slows down credential guessing. A Limiter counts failed
// authentications per source address and, after MaxFailures of them within
// Window, locks the address out for a Window: its attempts are refused at
// once, before any credential is checked, whether right or wrong.
//
// Each protocol server (SRT, RTMP, HTTP) keeps its own Limiter and calls it
// around its own credential check:
//
//	if !limiter.Allow(remote) { refuse as locked out; return }
//	if credential is wrong { limiter.Fail(remote); refuse; return }
//	limiter.Succeed(remote)
//
// HTTP checks the credential first and asks Allow only for a wrong one, so
// that a valid (long random) credential is never refused for sharing an
// address, behind a proxy, with someone guessing.
//
// The package holds no credentials and knows nothing of the protocols. Its
// memory is bounded: at most MaxAddresses addresses are tracked, the one
// whose last failure is oldest being forgotten first.
package ratelimit

import (
	"container/list"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"
)

// Config sets a Limiter's thresholds.
type Config struct {
	// MaxFailures failed authentications within Window lock an address out.
	MaxFailures int
	// Window is the span failures are counted over, and how long a lockout lasts.
	Window time.Duration
	// MaxAddresses bounds the addresses tracked at once.
	MaxAddresses int
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// DefaultConfig locks out an address after 10 failures within a minute, for a minute.
var DefaultConfig = Config{MaxFailures: 10, Window: time.Minute, MaxAddresses: 10000}

// Limiter tracks the failed authentications of one protocol. It is safe for
// concurrent use. A nil *Limiter limits nothing: it allows every address.
type Limiter struct {
	protocol string
	cfg      Config
	metrics  *Metrics
	log      *slog.Logger

	mu      sync.RWMutex
	entries map[string]*list.Element
	recent  *list.List // of *entry, the most recent failure at the front
}

// entry is one address's record.
type entry struct {
	key string
	// failures holds the instants of the failures within the window, oldest first.
	failures    []time.Time
	lockedUntil time.Time
	forgivenAt  time.Time
}

// New returns a limiter for protocol ("srt", "rtmp", "http"), which names
// it in metrics and logs. metrics and log may be nil.
func New(protocol string, cfg Config, metrics *Metrics, log *slog.Logger) *Limiter {
	if cfg.MaxFailures <= 0 {
		cfg.MaxFailures = DefaultConfig.MaxFailures
	}
	if cfg.Window <= 0 {
		cfg.Window = DefaultConfig.Window
	}
	if cfg.MaxAddresses <= 0 {
		cfg.MaxAddresses = DefaultConfig.MaxAddresses
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Limiter{protocol: protocol, cfg: cfg, metrics: metrics, log: log,
		entries: make(map[string]*list.Element), recent: list.New()}
}

// Allow reports whether addr (host:port or host) may try to authenticate
// now: false while it is locked out.
func (l *Limiter) Allow(addr string) bool {
	_, ok := l.Check(addr)
	return ok
}

// Check is Allow that also says, when addr is locked out, how long is left.
func (l *Limiter) Check(addr string) (retryAfter time.Duration, allowed bool) {
	if l == nil {
		return 0, true
	}
	key := Key(addr)
	now := l.cfg.Now()
	l.mu.RLock()
	defer l.mu.RUnlock()
	el, ok := l.entries[key]
	if !ok {
		return 0, true
	}
	e := el.Value.(*entry)
	if now.Before(e.lockedUntil) {
		return e.lockedUntil.Sub(now), false
	}
	return 0, true
}

// Fail records a failed authentication from addr. The failure that reaches
// MaxFailures within Window starts a lockout, logged once.
func (l *Limiter) Fail(addr string) {
	if l == nil {
		return
	}
	key := Key(addr)
	now := l.cfg.Now()
	if l.metrics != nil {
		l.metrics.failures.WithLabelValues(l.protocol).Inc()
	}
	l.mu.Lock()
	e := l.entry(key, now)
	if now.Before(e.lockedUntil) {
		// A check that raced with the lockout: the lockout is not extended.
		l.mu.Unlock()
		return
	}
	e.failures = append(e.pruned(now, l.cfg.Window), now)
	locked := len(e.failures) >= l.cfg.MaxFailures
	until := now.Add(l.cfg.Window)
	if locked {
		e.lockedUntil = until
		e.failures = e.failures[:0]
	}
	l.mu.Unlock()
	if locked {
		if l.metrics != nil {
			l.metrics.lockouts.WithLabelValues(l.protocol).Inc()
		}
		l.log.Warn("authentication lockout", "protocol", l.protocol, "remote", key,
			"failures", l.cfg.MaxFailures, "within", l.cfg.Window, "until", until.UTC().Format(time.RFC3339))
	}
}

// Succeed records a successful authentication from addr: its failures so
// far are forgiven, so that a mistyped passphrase followed by the right one
// starts afresh. Failures are forgiven at most once per Window, so that a
// caller holding one valid credential cannot interleave it with guesses at
// others to stay below the limit.
func (l *Limiter) Succeed(addr string) {
	if l == nil {
		return
	}
	key := Key(addr)
	now := l.cfg.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	el, ok := l.entries[key]
	if !ok {
		return
	}
	e := el.Value.(*entry)
	if len(e.failures) == 0 || (!e.forgivenAt.IsZero() && now.Sub(e.forgivenAt) < l.cfg.Window) {
		return
	}
	e.failures = e.failures[:0]
	e.forgivenAt = now
}

// Tracked returns how many addresses the limiter remembers.
func (l *Limiter) Tracked() int {
	if l == nil {
		return 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.entries)
}

// entry returns key's record, creating it and making room if needed, and
// marks it the most recent. l.mu must be held.
func (l *Limiter) entry(key string, now time.Time) *entry {
	if el, ok := l.entries[key]; ok {
		l.recent.MoveToFront(el)
		return el.Value.(*entry)
	}
	l.evict(now)
	e := &entry{key: key}
	l.entries[key] = l.recent.PushFront(e)
	return e
}

// evict forgets records that no longer matter, from the oldest, and the
// oldest record of all while the table is full. l.mu must be held.
func (l *Limiter) evict(now time.Time) {
	for back := l.recent.Back(); back != nil; back = l.recent.Back() {
		e := back.Value.(*entry)
		stale := !now.Before(e.lockedUntil) && len(e.pruned(now, l.cfg.Window)) == 0 &&
			(e.forgivenAt.IsZero() || now.Sub(e.forgivenAt) >= l.cfg.Window)
		if !stale && len(l.entries) < l.cfg.MaxAddresses {
			return
		}
		l.recent.Remove(back)
		delete(l.entries, e.key)
	}
}

// pruned drops the failures older than window and returns the rest.
func (e *entry) pruned(now time.Time, window time.Duration) []time.Time {
	keep := 0
	for keep < len(e.failures) && now.Sub(e.failures[keep]) >= window {
		keep++
	}
	e.failures = append(e.failures[:0], e.failures[keep:]...)
	return e.failures
}

// Key is the address a failure is counted against: the IP address of
// host:port or host, IPv4-mapped IPv6 as IPv4, and IPv6 by its /64 (a host
// usually holds a whole /64). Anything else is kept as is, cut to 64 bytes.
func Key(addr string) string {
	host := addr
	if h, _, err := net.SplitHostPort(addr); err == nil {
		host = h
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		if len(host) > 64 {
			host = host[:64]
		}
		return host
	}
	ip = ip.Unmap().WithZone("")
	if ip.Is6() {
		prefix, _ := ip.Prefix(64)
		return prefix.String()
	}
	return ip.String()
}
