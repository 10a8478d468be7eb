package archive

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/podium-broadcast/podium/internal/catalog"
	"github.com/podium-broadcast/podium/internal/hub"
	"github.com/podium-broadcast/podium/internal/s3test"
	"github.com/podium-broadcast/podium/internal/tsloop"
)

// openRemote opens an archive in dir whose segments go to store.
func openRemote(t testing.TB, dir string, store SegmentStore, spoolMax int64, h *hub.Hub, logs *syncBuffer, feeds ...catalog.Feed) *Archive {
	t.Helper()
	a, err := Open(context.Background(), Config{Dir: dir, Store: store, SpoolMax: spoolMax, SegmentDuration: time.Second},
		h, fixedCatalog{catalog.NewSnapshot(feeds, nil, nil)},
		NewMetrics(prometheus.NewRegistry()), slog.New(slog.NewTextHandler(logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// run runs the archive until the test ends.
func run(t testing.TB, a *Archive) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); a.Run(ctx) }()
	var once atomic.Bool
	stop = func() {
		if once.CompareAndSwap(false, true) {
			cancel()
			<-done
		}
	}
	t.Cleanup(stop)
	return stop
}

// objectPath is where versitygw keeps the object of key.
func objectPath(srv *s3test.Server, key string) string {
	return filepath.Join(srv.Dir, "podium", "archive", filepath.FromSlash(key))
}

// TestRecordingToS3RidesOutAnOutage records a looping feed into versitygw,
// stops the server for longer than the spool holds and starts it again.
// Throughout, every segment the index names can be read, and a live reader
// of the feed is never cut off; while the store is away the spool fills,
// raises its alert and the recording goes on from local disk; once it is
// back, every segment is uploaded in order, the index has no gap and the
// local directory is empty.
func TestRecordingToS3RidesOutAnOutage(t *testing.T) {
	store, srv := newS3Store(t)
	sample, err := os.ReadFile(filepath.Join("..", "demo", "samples", "ath-100m-final.ts"))
	if err != nil {
		t.Fatal(err)
	}
	h := hub.New(hub.DefaultConfig)
	var logs syncBuffer
	dir := t.TempDir()
	feed := catalog.Feed{ID: "s3feed", Recording: catalog.DefaultRecording}
	const spoolMax = 1 << 20
	a := openRemote(t, dir, store, spoolMax, h, &logs, feed)
	stop := run(t, a)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pub, err := h.Feed(feed.ID).Attach("test")
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Detach()
	looper, err := tsloop.New(sample)
	if err != nil {
		t.Fatal(err)
	}
	go looper.Run(ctx, pub.Write)

	// A live reader that must never be cut off.
	reader, err := h.Feed(feed.ID).NewReader()
	if err != nil {
		t.Fatal(err)
	}
	var readerErr atomic.Value
	var readerBytes atomic.Int64
	go func() {
		defer reader.Close(hub.ErrShutdown)
		chunks := make([][]byte, 0, 64)
		for {
			var err error
			chunks, err = reader.Next(ctx, chunks[:0])
			for _, c := range chunks {
				reader.Wrote(len(c))
				readerBytes.Add(int64(len(c)))
			}
			if err != nil {
				if ctx.Err() == nil {
					readerErr.Store(err)
				}
				return
			}
		}
	}()

	// Every segment the index names must be readable, from the store or
	// from its local copy.
	var unreadable atomic.Value
	checked := map[int64]bool{}
	checkIndex := func() {
		segs, _ := a.SegmentTimes(feed.ID, time.Unix(0, 0), time.Now().Add(time.Hour))
		for _, s := range segs {
			if checked[s.Seq] {
				continue
			}
			obj, err := a.OpenSegment(ctx, s.Key)
			if err != nil || obj.Size() != s.Size {
				unreadable.Store(s.Key)
				continue
			}
			obj.Close()
			checked[s.Seq] = true
		}
	}
	watch := func(timeout time.Duration, what string, cond func() bool) {
		t.Helper()
		waitFor(t, timeout, what, func() bool { checkIndex(); return cond() })
	}
	uploads := func() float64 { return testutil.ToFloat64(a.metrics.uploads) }

	watch(30*time.Second, "3 segments uploaded", func() bool { return uploads() >= 3 && a.Status(feed.ID).Segments >= 3 })
	first, _ := a.SegmentTimes(feed.ID, time.Unix(0, 0), time.Now().Add(time.Hour))
	if _, err := os.Stat(objectPath(srv, first[0].Key)); err != nil {
		t.Fatalf("the first segment is indexed but not in the bucket: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, filepath.FromSlash(first[0].Key))); !os.IsNotExist(err) {
		t.Fatalf("the first segment's local copy is still there: %v", err)
	}

	srv.Stop(t)
	indexedBefore := a.Status(feed.ID).Segments
	watch(60*time.Second, "the spool fills", func() bool { _, _, full := a.spool.stats(); return full })
	if !strings.Contains(logs.String(), "ALERT archive spool full") {
		t.Fatalf("no spool alert:\n%s", logs.String())
	}
	watch(30*time.Second, "recording goes on into the index from local disk", func() bool {
		return a.Status(feed.ID).Segments >= indexedBefore+3
	})
	if testutil.ToFloat64(a.metrics.uploadFailures) == 0 {
		t.Error("no failed upload counted while the store was down")
	}

	duringOutage := a.Status(feed.ID).Segments - indexedBefore
	srv.Restart(t)
	uploadedAtRestart := uploads()
	watch(60*time.Second, "the spool drains", func() bool {
		bytes, _, full := a.spool.stats()
		return uploads() > uploadedAtRestart+3 && !full && bytes < 2<<20
	})
	cancel() // stop publishing and reading
	stop()
	if err, _ := readerErr.Load().(error); err != nil {
		t.Fatalf("the live reader was cut off: %v", err)
	}
	if readerBytes.Load() == 0 {
		t.Fatal("the live reader received nothing")
	}
	if key, _ := unreadable.Load().(string); key != "" {
		t.Fatalf("the index named segment %s while it could not be read", key)
	}

	// After Run: the spool is uploaded to the end or waits for the next start.
	a = openRemote(t, dir, store, spoolMax, h, &logs, feed)
	run(t, a)
	waitFor(t, 60*time.Second, "the spool uploaded after a restart", func() bool { _, n, _ := a.spool.stats(); return n == 0 })
	segs, err := a.Segments(feed.ID, time.Unix(0, 0), time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range segs {
		if i > 0 && s.Seq != segs[i-1].Seq+1 {
			t.Fatalf("gap in the index: segment %d follows %d", s.Seq, segs[i-1].Seq)
		}
		if i > 0 && !s.Discontinuity && s.Start.Sub(segs[i-1].End).Abs() > RangeGap {
			t.Fatalf("gap in time before segment %d: %v", s.Seq, s.Start.Sub(segs[i-1].End))
		}
		info, err := os.Stat(objectPath(srv, s.Key))
		if err != nil || info.Size() != s.Size {
			t.Fatalf("segment %d: object %v, size %d of %d", s.Seq, err, info.Size(), s.Size)
		}
	}
	if n := len(a.Ranges(feed.ID, time.Unix(0, 0), time.Now().Add(time.Hour))); n != 1 {
		t.Errorf("%d ranges of recording, want 1", n)
	}
	left := 0
	filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(path, ".ts") {
			left++
		}
		return nil
	})
	if left != 0 {
		t.Errorf("%d segments left on local disk after the spool drained", left)
	}
	t.Logf("%d segments, %d of them indexed from local disk during the outage", len(segs), duringOutage)
}

// TestRestartReconcilesStoreAndIndex leaves the archive as crashes at
// every step of recording, upload and retention leave it, and checks that
// the next start puts it right: the object older than every row and the
// one no row names are deleted, a row whose object is gone is unindexed,
// a spooled segment is uploaded and indexed, a closed file no row knows
// and a half-written one are deleted, a spool row without its file is
// dropped, and what was complete stays.
func TestRestartReconcilesStoreAndIndex(t *testing.T) {
	ctx := context.Background()
	store, srv := newS3Store(t)
	dir := t.TempDir()
	var logs syncBuffer
	h := hub.New(hub.DefaultConfig)
	a := openRemote(t, dir, store, 0, h, &logs)
	t0 := time.Now().Add(-time.Minute).Truncate(time.Second)
	seg := func(seq int64) Segment {
		start := t0.Add(time.Duration(seq) * 4 * time.Second)
		return Segment{Feed: "f", Seq: seq, Start: start, End: start.Add(4 * time.Second), Duration: 4 * time.Second,
			Size: 1880, Key: segmentKey("f", seq, start), Keyframes: []Keyframe{{Offset: 376, PTS: 900}}}
	}
	writeLocal := func(s Segment) string {
		path := filepath.Join(dir, filepath.FromSlash(s.Key))
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, make([]byte, s.Size), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	upload := func(s Segment) {
		path := writeLocal(s)
		if err := store.Put(ctx, s.Key, path); err != nil {
			t.Fatal(err)
		}
		os.Remove(path)
	}
	old := seg(-1000) // deleted by retention, its object not (a crash in between)
	old.Key = segmentKey("f", 0, t0.Add(-48*time.Hour))
	upload(old)
	kept := seg(1) // complete: object and row
	upload(kept)
	a.index.add(ctx, kept)
	lost := seg(2) // a row whose object has gone
	a.index.add(ctx, lost)
	spooled := seg(3) // closed and spooled, not uploaded (SIGKILL during upload)
	writeLocal(spooled)
	a.index.spool(ctx, spooled)
	unknown := seg(4) // renamed, the spool row never written
	unknownPath := writeLocal(unknown)
	orphan := seg(5) // an object no row names
	upload(orphan)
	gone := seg(6) // a spool row whose file is gone
	a.index.spool(ctx, gone)
	uploadedNotIndexed := seg(7) // uploaded, killed before its row moved to the index
	writeLocal(uploadedNotIndexed)
	upload(uploadedNotIndexed)
	writeLocal(uploadedNotIndexed)
	a.index.spool(ctx, uploadedNotIndexed)
	part := filepath.Join(dir, filepath.FromSlash(seg(8).Key)) + ".part"
	os.WriteFile(part, make([]byte, 100), 0o600)
	a.index.close()

	a = openRemote(t, dir, store, 0, h, &logs)
	run(t, a)
	waitFor(t, 60*time.Second, "reconciled and uploaded", func() bool {
		_, n, _ := a.spool.stats()
		return n == 0 && strings.Contains(logs.String(), "archive store reconciled")
	})
	segs, err := a.Segments("f", time.Unix(0, 0), time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	var seqs []int64
	for _, s := range segs {
		seqs = append(seqs, s.Seq)
	}
	if len(seqs) != 3 || seqs[0] != 1 || seqs[1] != 3 || seqs[2] != 7 {
		t.Fatalf("indexed after the restart: %v; want 1, 3, 7", seqs)
	}
	for _, s := range []Segment{kept, spooled, uploadedNotIndexed} {
		if _, err := os.Stat(objectPath(srv, s.Key)); err != nil {
			t.Errorf("segment %d not in the bucket: %v", s.Seq, err)
		}
	}
	for _, s := range []Segment{old, orphan} {
		if _, err := os.Stat(objectPath(srv, s.Key)); !os.IsNotExist(err) {
			t.Errorf("orphan %s still in the bucket: %v", s.Key, err)
		}
	}
	for _, p := range []string{unknownPath, part, filepath.Join(dir, filepath.FromSlash(spooled.Key))} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s still on local disk: %v", p, err)
		}
	}
	if rows, _ := a.index.spooled(ctx); len(rows) != 0 {
		t.Errorf("spool rows left: %+v", rows)
	}
	if st := a.feed("f"); st.lastSeq < 8 {
		t.Errorf("the next segment would reuse a number: last seq %d", st.lastSeq)
	}
}
