package archive

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/podium-broadcast/podium/internal/catalog"
	"github.com/podium-broadcast/podium/internal/hub"
	"github.com/podium-broadcast/podium/internal/tsloop"
)

type fixedCatalog struct{ snap *catalog.Snapshot }

func (c fixedCatalog) Snapshot() *catalog.Snapshot { return c.snap }

func openTest(t testing.TB, dir string, feeds ...catalog.Feed) *Archive {
	t.Helper()
	a, err := Open(context.Background(), Config{Dir: dir, SegmentDuration: time.Second},
		hub.New(hub.DefaultConfig), fixedCatalog{catalog.NewSnapshot(feeds, nil, nil)},
		NewMetrics(prometheus.NewRegistry()), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.index.close() })
	return a
}

// writeSegment puts a segment file of size bytes in place and, if indexed, in the index.
func writeSegment(t *testing.T, a *Archive, feed string, seq int64, start time.Time, size int, indexed bool) Segment {
	t.Helper()
	dir := filepath.Join(a.cfg.Dir, feed, start.UTC().Format("2006/01/02/15"))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	s := Segment{Feed: feed, Seq: seq, Start: start, End: start.Add(4 * time.Second), Duration: 4 * time.Second,
		Size: int64(size), Key: feed + "/" + start.UTC().Format("2006/01/02/15") + "/" + filepathSeq(seq), Keyframes: []Keyframe{{Offset: 376, PTS: 900}, {Offset: 9400, PTS: 90900}}}
	if err := os.WriteFile(segmentPath(a, s), make([]byte, size), 0o600); err != nil {
		t.Fatal(err)
	}
	if indexed {
		if err := a.index.add(context.Background(), s); err != nil {
			t.Fatal(err)
		}
		a.feed(feed).add(s)
	}
	return s
}

// segmentPath is where a local archive keeps s.
func segmentPath(a *Archive, s Segment) string {
	return filepath.Join(a.cfg.Dir, filepath.FromSlash(s.Key))
}

func filepathSeq(seq int64) string { return strings.Repeat("0", 9) + string(rune('0'+seq)) + ".ts" }

// TestOpenClearsWhatACrashLeft: a half-written segment, a segment renamed
// but not indexed, and an index row whose file is gone are all removed, and
// what is complete stays, keyframes and all.
func TestOpenClearsWhatACrashLeft(t *testing.T) {
	dir := t.TempDir()
	a := openTest(t, dir)
	t0 := time.Date(2028, 7, 14, 20, 0, 0, 0, time.UTC)
	kept := writeSegment(t, a, "f", 1, t0, 1880, true)
	unindexed := writeSegment(t, a, "f", 2, t0.Add(4*time.Second), 1880, false)
	gone := writeSegment(t, a, "f", 3, t0.Add(8*time.Second), 1880, true)
	os.Remove(segmentPath(a, gone))
	part := filepath.Join(filepath.Dir(segmentPath(a, kept)), "0000000004.ts.part")
	os.WriteFile(part, make([]byte, 100), 0o600)
	a.index.close()

	a = openTest(t, dir)
	segs, err := a.Segments("f", t0.Add(-time.Hour), t0.Add(time.Hour))
	if err != nil || len(segs) != 1 || segs[0].Seq != 1 {
		t.Fatalf("after recovery: %+v, %v; want segment 1 only", segs, err)
	}
	if got := segs[0]; len(got.Keyframes) != 2 || got.Keyframes[1] != kept.Keyframes[1] || !got.Start.Equal(t0) || got.Duration != 4*time.Second {
		t.Errorf("segment read back as %+v", got)
	}
	for _, p := range []string{segmentPath(a, unindexed), part} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s still there", p)
		}
	}
	if _, err := os.Stat(segmentPath(a, kept)); err != nil {
		t.Error(err)
	}
	if st := a.feed("f"); st.lastSeq != 4 {
		t.Errorf("next segment would reuse a number: last seq %d", st.lastSeq)
	}
}

// TestRetentionDeletesOldestByAgeAndSize applies a feed's age limit, then a size limit.
func TestRetentionDeletesOldestByAgeAndSize(t *testing.T) {
	now := time.Now()
	a := openTest(t, t.TempDir())
	var segs []Segment
	for i := range 6 {
		segs = append(segs, writeSegment(t, a, "f", int64(i+1), now.Add(-time.Duration(6-i)*time.Hour), 1000, true))
	}
	a.feed("f").policy = catalog.RecordingPolicy{Enabled: true, MaxAge: 150 * time.Minute}
	a.applyRetention(context.Background())
	left, _ := a.Segments("f", now.Add(-24*time.Hour), now)
	if len(left) != 2 || left[0].Seq != 5 {
		t.Fatalf("after the age limit: %d segments from %d; want 5 and 6", len(left), left[0].Seq)
	}
	if _, err := os.Stat(segmentPath(a, segs[0])); !os.IsNotExist(err) {
		t.Error("the oldest file was not deleted")
	}
	a.feed("f").policy = catalog.RecordingPolicy{Enabled: true, MaxBytes: 1500}
	a.applyRetention(context.Background())
	left, _ = a.Segments("f", now.Add(-24*time.Hour), now)
	if st := a.Status("f"); len(left) != 1 || left[0].Seq != 6 || st.Bytes != 1000 || st.Segments != 1 || !st.From.Equal(left[0].Start) {
		t.Fatalf("after the size limit: %+v, status %+v", left, st)
	}
	if r := a.Ranges("f", now.Add(-24*time.Hour), now); len(r) != 1 || !r[0].From.Equal(left[0].Start) || !r[0].To.Equal(left[0].End) {
		t.Errorf("ranges after retention: %v; want the last segment's", r)
	}
}

func TestPTSDiffWraps(t *testing.T) {
	for _, tc := range []struct{ a, b, want int64 }{{100, 50, 50}, {50, 100, -50}, {10, 1<<33 - 10, 20}, {1<<33 - 10, 10, -20}} {
		if got := PTSDiff(tc.a, tc.b); got != tc.want {
			t.Errorf("PTSDiff(%d, %d) = %d; want %d", tc.a, tc.b, got, tc.want)
		}
	}
}

func TestKeyframesRoundTrip(t *testing.T) {
	kfs := []Keyframe{{376, 1 << 32}, {188 * 1000, 5}, {188 * 5000, 1<<33 - 1}}
	got, err := decodeKeyframes(encodeKeyframes(kfs))
	if err != nil || len(got) != 3 || got[0] != kfs[0] || got[2] != kfs[2] {
		t.Fatalf("%v, %v", got, err)
	}
	if _, err := decodeKeyframes([]byte{0x80}); err == nil {
		t.Error("a truncated list decoded")
	}
}

// TestRecordingStopsWhenTheDiskIsFull records onto a 1 MiB tmpfs: the write
// that finds no space stops recording with the alert while the feed's
// readers go on, and recording resumes by itself once there is room.
func TestRecordingStopsWhenTheDiskIsFull(t *testing.T) {
	dir := t.TempDir()
	if err := exec.Command("mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", dir).Run(); err != nil {
		t.Skipf("cannot mount a small tmpfs (needs root): %v", err)
	}
	t.Cleanup(func() { exec.Command("umount", dir).Run() })
	sample, err := os.ReadFile(filepath.Join("..", "demo", "samples", "ath-100m-final.ts"))
	if err != nil {
		t.Fatal(err)
	}
	h := hub.New(hub.DefaultConfig)
	var logs syncBuffer
	feed := catalog.Feed{ID: "full", Recording: catalog.DefaultRecording}
	a, err := Open(context.Background(), Config{Dir: dir, SegmentDuration: time.Second},
		h, fixedCatalog{catalog.NewSnapshot([]catalog.Feed{feed}, nil, nil)},
		NewMetrics(prometheus.NewRegistry()), slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); a.Run(ctx) }()
	defer func() { cancel(); <-done }()

	pub, err := h.Feed("full").Attach("test")
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Detach()
	looper, err := tsloop.New(sample)
	if err != nil {
		t.Fatal(err)
	}
	go looper.Run(ctx, pub.Write)
	waitFor(t, 20*time.Second, "disk full", func() bool { return a.Status("full").State == StateDiskFull })
	if !strings.Contains(logs.String(), "ALERT archive disk full") || !a.DiskFull() {
		t.Fatalf("no alert:\n%s", logs.String())
	}
	reader, err := h.Feed("full").NewReader()
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Close(hub.ErrShutdown)
	before := reader.BytesOut()
	waitFor(t, 5*time.Second, "the reader still receives", func() bool {
		chunks, err := reader.Next(ctx, make([][]byte, 0, 64))
		for _, c := range chunks {
			reader.Wrote(len(c))
		}
		return err == nil && reader.BytesOut() > before+100_000
	})

	segs, _ := a.Segments("full", time.Unix(0, 0), time.Now().Add(time.Hour))
	for _, s := range segs {
		a.deleteSegment(context.Background(), a.feed("full"), s)
	}
	written := a.Status("full").Segments
	waitFor(t, 15*time.Second, "recording resumes", func() bool {
		return a.Status("full").State == StateRecording && a.Status("full").Segments > written
	})
}

func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(timeout); !cond(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, timeout)
		}
	}
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestOpenChecksOnlyTheNewestHours: a file left in an hour long closed is
// not looked at (a start must not walk the whole archive); one in the
// newest hours is.
func TestOpenChecksOnlyTheNewestHours(t *testing.T) {
	dir := t.TempDir()
	a := openTest(t, dir)
	t0 := time.Date(2028, 7, 14, 10, 0, 0, 0, time.UTC)
	writeSegment(t, a, "f", 1, t0, 1880, true)
	old := writeSegment(t, a, "f", 2, t0.Add(4*time.Second), 1880, false)
	writeSegment(t, a, "f", 3, t0.Add(5*time.Hour), 1880, true)
	writeSegment(t, a, "f", 4, t0.Add(6*time.Hour), 1880, true)
	recent := writeSegment(t, a, "f", 5, t0.Add(6*time.Hour+4*time.Second), 1880, false)
	a.index.close()

	a = openTest(t, dir)
	if _, err := os.Stat(segmentPath(a, old)); err != nil {
		t.Errorf("a file of an old hour was touched: %v", err)
	}
	if _, err := os.Stat(segmentPath(a, recent)); !os.IsNotExist(err) {
		t.Error("an unindexed file of the newest hour is still there")
	}
	if st := a.Status("f"); st.Segments != 3 || !st.From.Equal(t0) {
		t.Errorf("status after start: %+v; want the 3 indexed segments from %v", st, t0)
	}
	ranges := a.Ranges("f", time.Unix(0, 0), t0.Add(24*time.Hour))
	if len(ranges) != 3 || !ranges[0].From.Equal(t0) || !ranges[2].To.Equal(t0.Add(6*time.Hour+4*time.Second)) {
		t.Errorf("ranges after start: %v", ranges)
	}
	if clipped := a.Ranges("f", t0.Add(2*time.Second), t0.Add(5*time.Hour+time.Second)); len(clipped) != 2 ||
		!clipped[0].From.Equal(t0.Add(2*time.Second)) || !clipped[1].To.Equal(t0.Add(5*time.Hour+time.Second)) {
		t.Errorf("ranges clipped to a window: %v", clipped)
	}
}
