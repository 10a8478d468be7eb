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
	"github.com/podium-broadcast/podium/internal/s3test"
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

// TestArchiveOnS3SurvivesSIGKILL is TestArchiveSurvivesSIGKILL with the
// archive on S3 (versitygw): `podium demo` is killed while its four feeds'
// segments are being uploaded, and started again. Afterwards the bucket
// and the index agree: every indexed segment is in the bucket whole and
// decodes, every object in the bucket has its row, and nothing is left in
// the local spool after a clean stop.
func TestArchiveOnS3SurvivesSIGKILL(t *testing.T) {
	srv := s3test.Start(t, "podium")
	dir := dataDir(t)
	archiveDir := filepath.Join(dir, "archive")
	bucketDir := filepath.Join(srv.Dir, "podium", "rec")
	env := []string{"AWS_ACCESS_KEY_ID=" + s3test.AccessKey, "AWS_SECRET_ACCESS_KEY=" + s3test.SecretKey, "AWS_REGION=us-east-1"}
	args := []string{"demo", "--data-dir", dir, "--http-addr", "127.0.0.1:0", "--srt-addr", "127.0.0.1:0", "--rtmp-addr", "127.0.0.1:0",
		"--archive-segment", "1s", "--archive", "s3://podium/rec", "--s3-endpoint", srv.Endpoint}
	first := start(t, env, args...)
	go func() {
		for range first.logs {
		}
	}()
	deadline := time.Now().Add(40 * time.Second)
	for len(archiveFiles(t, bucketDir, ".ts")) < 12 {
		if time.Now().After(deadline) {
			t.Fatalf("only %d segments in the bucket after 40 s", len(archiveFiles(t, bucketDir, ".ts")))
		}
		time.Sleep(50 * time.Millisecond)
	}
	// Kill while a closed segment waits for (or is in) its upload, if one
	// is seen within 20 s: uploads to a loopback server take milliseconds.
	for spooled := time.Now().Add(20 * time.Second); len(archiveFiles(t, archiveDir, ".ts")) == 0 && time.Now().Before(spooled); {
		time.Sleep(2 * time.Millisecond)
	}
	first.cmd.Process.Kill()
	first.cmd.Wait()
	killedAt := time.Now()
	t.Logf("at SIGKILL: %d segments in the bucket, %d spooled, %d being written", len(archiveFiles(t, bucketDir, ".ts")),
		len(archiveFiles(t, archiveDir, ".ts")), len(archiveFiles(t, archiveDir, ".ts.part")))

	second := start(t, env, args...)
	reconciled := time.After(30 * time.Second)
	for seen := false; !seen; {
		select {
		case line := <-second.logs:
			seen = strings.Contains(line, "archive store reconciled")
		case <-reconciled:
			t.Fatal("the restarted demo did not reconcile the bucket within 30 s")
		}
	}
	resumed := time.Now().Add(30 * time.Second)
	for before := len(archiveFiles(t, bucketDir, ".ts")); len(archiveFiles(t, bucketDir, ".ts")) < before+8; {
		select {
		case <-second.logs:
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(resumed) {
			t.Fatal("recording to the bucket did not resume after the restart")
		}
	}
	if code, logs := second.stop(t); code != 0 {
		t.Fatalf("restarted demo exit %d\n%s", code, logs)
	}
	if left := append(archiveFiles(t, archiveDir, ".ts"), archiveFiles(t, archiveDir, ".ts.part")...); len(left) > 0 {
		t.Fatalf("segments left on local disk after a clean stop: %v", left)
	}

	store, err := archive.NewS3Store(archive.S3Config{Bucket: "podium", Prefix: "rec", Endpoint: srv.Endpoint,
		AccessKey: s3test.AccessKey, SecretKey: s3test.SecretKey})
	if err != nil {
		t.Fatal(err)
	}
	a, err := archive.Open(context.Background(), archive.Config{Dir: archiveDir, Store: store, SegmentDuration: time.Second, Disabled: true},
		hub.New(hub.DefaultConfig), emptyCatalog{}, archive.NewMetrics(prometheus.NewRegistry()), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	defer a.Run(ctx) // closes the index
	indexed := map[string]bool{}
	for _, feed := range []string{"ath-100m-final", "swm-200fr-heats", "venue-ols-mlf", "bkb-gold-game"} {
		// A segment's start follows on from the one before, so the last can
		// begin a moment after the clock of a test this quick.
		segs, err := a.Segments(feed, killedAt.Add(-time.Hour), time.Now().Add(time.Hour))
		if err != nil {
			t.Fatalf("%s: %v", feed, err)
		}
		var old, resumed int
		for _, s := range segs {
			indexed[s.Key] = true
			if s.End.Before(killedAt) {
				old++
			} else if s.Start.After(killedAt) {
				resumed++
			}
			data, err := readSegment(a, s)
			if err != nil || int64(len(data)) != s.Size {
				t.Fatalf("%s segment %d: %d bytes in the bucket, %d indexed, %v", feed, s.Seq, len(data), s.Size, err)
			}
			if s.Duration < 500*time.Millisecond {
				// The tail a stopping recorder closes can hold too little
				// audio for ffmpeg to set up its decoder: a recorder matter,
				// not the store's.
				continue
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
	for _, path := range archiveFiles(t, bucketDir, ".ts") {
		rel, _ := filepath.Rel(bucketDir, path)
		if !indexed[filepath.ToSlash(rel)] {
			t.Errorf("object %s has no index row", rel)
		}
	}
}
