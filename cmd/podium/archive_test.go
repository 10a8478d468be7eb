package main

import (
	"bytes"
	"context"
	"io"
	"io/fs"
	"log/slog"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/podium-broadcast/podium/internal/archive"
	"github.com/podium-broadcast/podium/internal/catalog"
	"github.com/podium-broadcast/podium/internal/hub"
)

type emptyCatalog struct{}

func (emptyCatalog) Snapshot() *catalog.Snapshot { return catalog.NewSnapshot(nil, nil, nil) }

func archiveFiles(t *testing.T, dir, suffix string) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(path, suffix) {
			out = append(out, path)
		}
		return nil
	})
	return out
}

// TestArchiveSurvivesSIGKILL kills `podium demo` while it records its four
// feeds, starts it again on the same data directory, and checks that the
// archive is consistent: no half-written segment is left or indexed, every
// indexed segment is on disk whole and decodes, what was complete before
// the kill is still there, and recording went on after the restart.
func TestArchiveSurvivesSIGKILL(t *testing.T) {
	dir := dataDir(t)
	archiveDir := filepath.Join(dir, "archive")
	args := []string{"demo", "--data-dir", dir, "--http-addr", "127.0.0.1:0", "--srt-addr", "127.0.0.1:0", "--rtmp-addr", "127.0.0.1:0",
		"--archive-segment", "1s"}
	first := start(t, nil, args...)
	deadline := time.Now().Add(20 * time.Second)
	for len(archiveFiles(t, archiveDir, ".ts")) < 12 {
		if time.Now().After(deadline) {
			t.Fatalf("only %d segments after 20 s", len(archiveFiles(t, archiveDir, ".ts")))
		}
		time.Sleep(100 * time.Millisecond)
	}
	first.cmd.Process.Kill()
	first.cmd.Wait()
	killedAt := time.Now()
	before := len(archiveFiles(t, archiveDir, ".ts"))
	parts := len(archiveFiles(t, archiveDir, ".ts.part"))
	t.Logf("at SIGKILL: %d complete segments, %d being written", before, parts)

	second := start(t, nil, args...)
	time.Sleep(3 * time.Second)
	if code, logs := second.stop(t); code != 0 {
		t.Fatalf("restarted demo exit %d\n%s", code, logs)
	}
	if left := archiveFiles(t, archiveDir, ".ts.part"); len(left) > 0 {
		t.Fatalf("incomplete segments left after a clean stop: %v", left)
	}
	var warnings bytes.Buffer
	a, err := archive.Open(context.Background(), archive.Config{Dir: archiveDir, SegmentDuration: time.Second, Disabled: true},
		hub.New(hub.DefaultConfig), emptyCatalog{}, archive.NewMetrics(prometheus.NewRegistry()),
		slog.New(slog.NewTextHandler(&warnings, &slog.HandlerOptions{Level: slog.LevelWarn})))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	defer a.Run(ctx) // closes the index
	if warnings.Len() > 0 {
		t.Errorf("the archive needed repair after a clean stop:\n%s", warnings.String())
	}
	for _, feed := range []string{"ath-100m-final", "swm-200fr-heats", "venue-ols-mlf", "bkb-gold-game"} {
		segs, err := a.Segments(feed, killedAt.Add(-time.Hour), time.Now())
		if err != nil {
			t.Fatalf("%s: %v", feed, err)
		}
		var old, resumed int
		for _, s := range segs {
			if s.End.Before(killedAt) {
				old++
			} else if s.Start.After(killedAt) {
				resumed++
				if resumed == 1 && !s.Discontinuity {
					t.Errorf("%s: the first segment after the restart is not marked discontinuous", feed)
				}
			}
			data, err := readSegment(a, s)
			if err != nil || int64(len(data)) != s.Size {
				t.Fatalf("%s segment %d: %d bytes on disk, %d indexed, %v", feed, s.Seq, len(data), s.Size, err)
			}
			decode := exec.Command("ffmpeg", "-v", "error", "-i", "-", "-map", "0", "-f", "null", "-")
			decode.Stdin = bytes.NewReader(data)
			if out, err := decode.CombinedOutput(); err != nil || len(bytes.TrimSpace(out)) > 0 {
				t.Errorf("%s segment %d does not decode cleanly: %v\n%s", feed, s.Seq, err, out)
			}
		}
		if old < 2 || resumed < 1 {
			t.Errorf("%s: %d segments from before the kill, %d after the restart", feed, old, resumed)
		}
	}
}

// readSegment reads a whole segment through the archive's store.
func readSegment(a *archive.Archive, s archive.Segment) ([]byte, error) {
	obj, err := a.OpenSegment(context.Background(), s.Key)
	if err != nil {
		return nil, err
	}
	defer obj.Close()
	return io.ReadAll(io.NewSectionReader(obj, 0, obj.Size()))
}
