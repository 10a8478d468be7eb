package ratelimit

import (
	"bytes"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// clock is a manual clock for tests.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func newLimiter(cfg Config) (*Limiter, *clock, *Metrics, *bytes.Buffer) {
	c := &clock{now: time.Date(2028, 7, 14, 20, 0, 0, 0, time.UTC)}
	cfg.Now = c.Now
	m := NewMetrics(prometheus.NewRegistry())
	logs := &bytes.Buffer{}
	return New("srt", cfg, m, slog.New(slog.NewTextHandler(logs, nil))), c, m, logs
}

func count(c prometheus.Counter) float64 {
	var m dto.Metric
	c.Write(&m)
	return m.GetCounter().GetValue()
}

func TestLockoutAfterMaxFailuresWithinWindow(t *testing.T) {
	l, c, m, logs := newLimiter(Config{MaxFailures: 3, Window: time.Minute, MaxAddresses: 100})
	const addr = "192.0.2.7:40000"
	for i := range 2 {
		l.Fail(addr)
		if !l.Allow(addr) {
			t.Fatalf("locked out after %d failures, want 3", i+1)
		}
		c.Advance(10 * time.Second)
	}
	// Another port of the same host is the same address; another host is not.
	l.Fail("192.0.2.7:40001")
	if l.Allow(addr) {
		t.Fatal("not locked out after 3 failures within the window")
	}
	if !l.Allow("192.0.2.8:40000") {
		t.Fatal("another host is locked out too")
	}
	retry, ok := l.Check(addr)
	if ok || retry != time.Minute {
		t.Fatalf("check = %v %v, want locked for 1m", retry, ok)
	}
	// Further failures reported during the lockout do not extend it.
	c.Advance(30 * time.Second)
	l.Fail(addr)
	if retry, _ := l.Check(addr); retry != 30*time.Second {
		t.Fatalf("lockout extended: %v left", retry)
	}
	c.Advance(30 * time.Second)
	if !l.Allow(addr) {
		t.Fatal("still locked out after the window")
	}
	// The count starts afresh after a lockout.
	l.Fail(addr)
	l.Fail(addr)
	if !l.Allow(addr) {
		t.Fatal("locked out again after 2 failures")
	}
	if got := count(m.lockouts.WithLabelValues("srt")); got != 1 {
		t.Fatalf("lockouts = %v, want 1", got)
	}
	if got := count(m.failures.WithLabelValues("srt")); got != 6 {
		t.Fatalf("failures = %v, want 6", got)
	}
	if n := strings.Count(logs.String(), "authentication lockout"); n != 1 {
		t.Fatalf("lockout logged %d times, want once:\n%s", n, logs)
	}
	if !strings.Contains(logs.String(), "remote=192.0.2.7") || !strings.Contains(logs.String(), "protocol=srt") {
		t.Fatalf("lockout log lacks the address or protocol: %s", logs)
	}
}

func TestFailuresOutsideTheWindowDoNotCount(t *testing.T) {
	l, c, _, _ := newLimiter(Config{MaxFailures: 3, Window: time.Minute, MaxAddresses: 100})
	for range 10 {
		l.Fail("192.0.2.7")
		c.Advance(31 * time.Second) // never three within a minute
	}
	if !l.Allow("192.0.2.7") {
		t.Fatal("locked out by failures spread beyond the window")
	}
}

func TestSuccessForgivesAtMostOncePerWindow(t *testing.T) {
	l, c, _, _ := newLimiter(Config{MaxFailures: 3, Window: time.Minute, MaxAddresses: 100})
	const addr = "192.0.2.7"
	l.Fail(addr)
	l.Fail(addr)
	l.Succeed(addr) // a mistyped passphrase, then the right one
	l.Fail(addr)
	l.Fail(addr)
	if !l.Allow(addr) {
		t.Fatal("failures before a success still counted")
	}
	l.Succeed(addr) // too soon: a guesser interleaving a valid credential
	l.Fail(addr)
	if l.Allow(addr) {
		t.Fatal("a second success within the window forgave the failures")
	}
	c.Advance(time.Minute)
	l.Fail(addr)
	l.Fail(addr)
	l.Succeed(addr)
	l.Fail(addr)
	if !l.Allow(addr) {
		t.Fatal("a success a window later did not forgive")
	}
}

func TestMemoryIsBounded(t *testing.T) {
	l, c, _, _ := newLimiter(Config{MaxFailures: 3, Window: time.Minute, MaxAddresses: 50})
	for i := range 1000 {
		l.Fail(fmt.Sprintf("10.0.%d.%d:1", i/256, i%256))
	}
	if n := l.Tracked(); n > 50 {
		t.Fatalf("tracks %d addresses, bound 50", n)
	}
	// The most recent addresses are the ones kept.
	last := "10.0.3.231"
	l.Fail(last)
	l.Fail(last)
	if l.Allow(last) {
		t.Fatal("the most recent address was forgotten")
	}
	// Records that no longer matter are dropped as new ones come.
	c.Advance(2 * time.Minute)
	l.Fail("192.0.2.1")
	if n := l.Tracked(); n != 1 {
		t.Fatalf("tracks %d addresses after every record expired, want 1", n)
	}
	// Successes of unknown addresses take no memory.
	for i := range 100 {
		l.Succeed(fmt.Sprintf("10.1.0.%d", i))
		l.Allow(fmt.Sprintf("10.1.0.%d", i))
	}
	if n := l.Tracked(); n != 1 {
		t.Fatalf("tracks %d addresses after successes, want 1", n)
	}
}

func TestKey(t *testing.T) {
	tests := []struct{ in, want string }{
		{"127.0.0.1:6000", "127.0.0.1"},
		{"127.0.0.1", "127.0.0.1"},
		{"[::ffff:192.0.2.1]:80", "192.0.2.1"},
		{"[2001:db8:1:2:3:4:5:6]:443", "2001:db8:1:2::/64"},
		{"2001:db8:1:2::99", "2001:db8:1:2::/64"},
		{"[fe80::1%eth0]:80", "fe80::/64"},
		{"not an address", "not an address"},
		{strings.Repeat("x", 100), strings.Repeat("x", 64)},
	}
	for _, tc := range tests {
		if got := Key(tc.in); got != tc.want {
			t.Errorf("Key(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestNilLimiterAllowsEverything(t *testing.T) {
	var l *Limiter
	for range 100 {
		l.Fail("192.0.2.7")
	}
	l.Succeed("192.0.2.7")
	if !l.Allow("192.0.2.7") || l.Tracked() != 0 {
		t.Fatal("a nil limiter refused")
	}
}

func TestConcurrentUse(t *testing.T) {
	l, _, _, _ := newLimiter(Config{MaxFailures: 5, Window: time.Minute, MaxAddresses: 20})
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 500 {
				addr := fmt.Sprintf("10.%d.0.%d", g, i%40)
				l.Allow(addr)
				l.Fail(addr)
				l.Succeed(addr)
			}
		})
	}
	wg.Wait()
	if n := l.Tracked(); n > 20 {
		t.Fatalf("tracks %d addresses, bound 20", n)
	}
}

func FuzzKey(f *testing.F) {
	for _, s := range []string{"127.0.0.1:1", "[::1]:2", "fe80::1%eth0", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, addr string) {
		k := Key(addr)
		if len(k) > 64 {
			t.Fatalf("key of %d bytes", len(k))
		}
		if ip, err := netip.ParseAddr(k); err == nil && Key(k) != k {
			t.Fatalf("Key(%q) = %q, not stable: %q", addr, ip, Key(k))
		}
	})
}
