package clips

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/podium-broadcast/podium/internal/archive"
	"github.com/podium-broadcast/podium/internal/catalog"
	"github.com/podium-broadcast/podium/internal/hub"
	"github.com/podium-broadcast/podium/internal/ts"
)

// The archive is the engine's source in production.
var _ Source = (*archive.Archive)(nil)

type fixedCatalog struct{ snap *catalog.Snapshot }

func (c fixedCatalog) Snapshot() *catalog.Snapshot { return c.snap }

// TestClipsFromTheRecorder publishes the fixture's first 10 s through the
// hub in real time, lets the archive's recorder write it, and cuts clips in
// each mode from the real archive, one of them marked out before its end
// was recorded.
func TestClipsFromTheRecorder(t *testing.T) {
	if testing.Short() {
		t.Skip("publishes 10 s in real time")
	}
	fixtureSegments(t)
	const feedID = "recorded"
	ctx, cancel := context.WithCancel(context.Background())
	var tasks sync.WaitGroup
	defer func() {
		cancel()
		tasks.Wait()
	}()
	h := hub.New(hub.DefaultConfig)
	feeds := []catalog.Feed{{ID: feedID, Name: feedID, Recording: catalog.DefaultRecording}}
	arch, err := archive.Open(ctx, archive.Config{Dir: t.TempDir(), SegmentDuration: 2 * time.Second}, h,
		fixedCatalog{catalog.NewSnapshot(feeds, nil, nil)}, archive.NewMetrics(prometheus.NewRegistry()),
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	tasks.Go(func() { h.Run(ctx) })
	tasks.Go(func() { arch.Run(ctx) })
	// A feed's recorder starts with its first publisher.
	pub, err := h.Feed(feedID).Attach("test")
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(30 * time.Second); !arch.Recording(feedID); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the recorder did not start within 30 s of the publisher")
		}
	}
	published := make(chan error, 1)
	began := time.Now()
	tasks.Go(func() { published <- publish(ctx, pub, filepath.Join(fixture.dir, "source.ts"), 10*time.Second) })

	// Marked in and out while the first segment is being written.
	e, ups, _ := startEngine(t, arch, 2)
	start := began.Add(2500 * time.Millisecond)
	end := start.Add(4 * time.Second)
	cases := []struct{ mode, format string }{{ModeCopy, FormatTS}, {ModeCopy, FormatMP4}, {ModeExact, FormatMP4}}
	for _, c := range cases {
		if err := e.Submit(Spec{ClipID: "rec-" + c.mode + "-" + c.format, FeedID: feedID, Start: start, End: end, Mode: c.mode, Format: c.format}); err != nil {
			t.Fatal(err)
		}
	}
	if err := <-published; err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		t.Run(c.mode+"-"+c.format, func(t *testing.T) {
			id := "rec-" + c.mode + "-" + c.format
			up := ups.final(t, id, 3*time.Minute)
			if up.Status != StatusReady {
				t.Fatalf("clip %s: %+v", id, up)
			}
			for _, u := range ups.of(id) {
				if u.Status == StatusRunning && time.Since(began) < 6*time.Second {
					t.Fatalf("clip %s ran before its end was recorded", id)
				}
			}
			p := ffprobe(t, up.Path, c.mode != ModeCopy)
			checkAudio(t, p, true)
			want := end.Sub(start)
			if c.mode == ModeCopy {
				if got := secs(t, p.Format.Duration); got < want-fixtureFrame || got > want+2*fixtureGOP {
					t.Errorf("duration %s for a %s range: not within a GOP either side", got, want)
				}
			} else if frames, _ := strconv.Atoi(p.Streams[0].ReadFrames); frames < int(want/fixtureFrame)-1 || frames > int(want/fixtureFrame)+1 {
				t.Errorf("%d video frames, want %d (±1)", frames, want/fixtureFrame)
			}
			checkThumbnail(t, up)
		})
	}
}

// publish writes the first d of the transport stream at path to the hub as
// a live encoder would: seven packets at a time, paced by the video's PTS.
func publish(ctx context.Context, pub *hub.Publisher, path string, d time.Duration) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var scanner ts.Scanner
	begun := time.Now()
	first := int64(-1)
	const chunk = 7 * ts.PacketSize
	for off := 0; off+chunk <= len(data); off += chunk {
		c := data[off : off+chunk]
		if _, err := scanner.Scan(c); err != nil {
			return err
		}
		video, _, ok := scanner.VideoPID()
		for p := 0; ok && p < chunk; p += ts.PacketSize {
			pkt := c[p : p+ts.PacketSize]
			if ts.PID(pkt) != video {
				continue
			}
			if _, dts, ok := ts.PESTimestamps(pkt); ok {
				if first < 0 {
					first = dts
				}
				at := time.Duration(archive.PTSDiff(dts, first)) * time.Second / archive.PTSClock
				if at >= d {
					return nil
				}
				select {
				case <-ctx.Done():
					return ctx.Err()
				case <-time.After(time.Until(begun.Add(at))):
				}
			}
		}
		if err := pub.Write(c); err != nil {
			return err
		}
	}
	return errors.New("the source is shorter than the time to publish")
}
