package limits

import (
	"errors"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

func rejections(m *Metrics, limit string) float64 {
	var d dto.Metric
	m.rejections.WithLabelValues(limit).Write(&d)
	return d.GetCounter().GetValue()
}

func TestConnectionLimits(t *testing.T) {
	m := NewMetrics(prometheus.NewRegistry())
	c := NewConnectionLimiter(4, 2, m)
	var releases []func()
	take := func(b string) error {
		release, err := c.Acquire(b)
		if err == nil {
			releases = append(releases, release)
		}
		return err
	}
	for _, b := range []string{"nbc", "nbc"} {
		if err := take(b); err != nil {
			t.Fatal(err)
		}
	}
	var exceeded *ExceededError
	if err := take("nbc"); !errors.As(err, &exceeded) || exceeded.Limit != ConnectionsPerBroadcaster || exceeded.BroadcasterID != "nbc" {
		t.Fatalf("third connection of nbc: %v", err)
	}
	if err := take("ebu"); err != nil {
		t.Fatalf("another broadcaster refused: %v", err)
	}
	if err := take(""); err != nil {
		t.Fatalf("a publisher refused: %v", err)
	}
	if err := take(""); !errors.As(err, &exceeded) || exceeded.Limit != Connections {
		t.Fatalf("fifth connection: %v", err)
	}
	// A release is counted once, however often it is called.
	releases[0]()
	releases[0]()
	if total, nbc := c.InUse("nbc"); total != 3 || nbc != 1 {
		t.Fatalf("in use after a release: %d in all, %d of nbc", total, nbc)
	}
	if err := take("nbc"); err != nil {
		t.Fatalf("slot not given back: %v", err)
	}
	if got := rejections(m, ConnectionsPerBroadcaster); got != 1 {
		t.Fatalf("per-broadcaster rejections = %v", got)
	}
	if got := rejections(m, Connections); got != 1 {
		t.Fatalf("total rejections = %v", got)
	}
}

func TestNoLimits(t *testing.T) {
	var none *ConnectionLimiter
	if release, err := none.Acquire("nbc"); err != nil {
		t.Fatal(err)
	} else {
		release()
	}
	unlimited := NewConnectionLimiter(0, 0, nil)
	for range 100 {
		if _, err := unlimited.Acquire("nbc"); err != nil {
			t.Fatal(err)
		}
	}
}

func TestConcurrentAcquireNeverExceeds(t *testing.T) {
	c := NewConnectionLimiter(10, 0, nil)
	var wg sync.WaitGroup
	var mu sync.Mutex
	held := 0
	for range 8 {
		wg.Go(func() {
			for range 200 {
				release, err := c.Acquire("")
				if err != nil {
					continue
				}
				mu.Lock()
				held++
				if held > 10 {
					t.Error("more than 10 held")
				}
				mu.Unlock()
				mu.Lock()
				held--
				mu.Unlock()
				release()
			}
		})
	}
	wg.Wait()
	if total, _ := c.InUse(""); total != 0 {
		t.Fatalf("%d still in use", total)
	}
}

// TestViewerLimiterIsApart: HLS viewers fill their own limits, named in
// refusals and metrics as such, and take nothing from the connection limits.
func TestViewerLimiterIsApart(t *testing.T) {
	m := NewMetrics(prometheus.NewRegistry())
	conns, viewers := NewConnectionLimiter(10, 1, m), NewViewerLimiter(3, 2, m)
	for range 2 {
		if _, err := viewers.Acquire("nbc"); err != nil {
			t.Fatal(err)
		}
	}
	var exceeded *ExceededError
	if _, err := viewers.Acquire("nbc"); !errors.As(err, &exceeded) || exceeded.Limit != HLSViewersPerBroadcaster || !exceeded.PerBroadcaster() {
		t.Fatalf("third viewer of nbc: %v", err)
	}
	if _, err := conns.Acquire("nbc"); err != nil {
		t.Fatalf("nbc's SRT pull with its viewers at their limit: %v", err)
	}
	viewers.Acquire("ebu")
	if _, err := viewers.Acquire("nhk"); !errors.As(err, &exceeded) || exceeded.Limit != HLSViewers || exceeded.PerBroadcaster() {
		t.Fatalf("viewer over the total: %v", err)
	}
	if got := rejections(m, HLSViewersPerBroadcaster); got != 1 {
		t.Fatalf("hls_viewers_per_broadcaster rejections = %v", got)
	}
	if got := rejections(m, ConnectionsPerBroadcaster); got != 0 {
		t.Fatalf("connections_per_broadcaster rejections = %v", got)
	}
}
