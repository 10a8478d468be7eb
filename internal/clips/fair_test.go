package clips

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// gatedEngine runs an engine whose ffmpeg is the real one behind a gate:
// a run whose output is a clip named held-… starts only once open is
// called, so those exact clips stay running for as long as the test needs.
func gatedEngine(t *testing.T, workers int) (e *Engine, ups *updates, open func()) {
	t.Helper()
	needFFmpeg(t)
	src := fullArchive(t)
	dir := t.TempDir()
	gate := filepath.Join(dir, "gate")
	wrapper := filepath.Join(dir, "ffmpeg")
	script := "#!/bin/sh\nfor a in \"$@\"; do case \"$a\" in */held-*) while [ ! -e '" + gate + "' ]; do sleep 0.05; done;; esac; done\nexec ffmpeg \"$@\"\n"
	if err := os.WriteFile(wrapper, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	open = func() {
		if err := os.WriteFile(gate, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ups = newUpdates()
	e = New(Config{Dir: filepath.Join(dir, "clips"), Workers: workers, FFmpeg: wrapper}, src, ups.add, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx) }()
	t.Cleanup(func() {
		open()
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return e, ups, open
}

func running(up Update) bool { return up.Status == StatusRunning }

// TestCopyClipDoesNotWaitBehindEncodes: broadcaster A's two long exact
// clips occupy both workers; broadcaster B's short copy clip is ready while
// they are still running.
func TestCopyClipDoesNotWaitBehindEncodes(t *testing.T) {
	e, ups, open := gatedEngine(t, 2)
	for _, id := range []string{"held-a1", "held-a2"} {
		if err := e.Submit(Spec{ClipID: id, FeedID: feed, Owner: "a", Mode: ModeExact,
			Start: t0.Add(time.Second), End: t0.Add(6 * time.Second)}); err != nil {
			t.Fatal(err)
		}
	}
	ups.wait(t, "held-a1", time.Minute, running)
	ups.wait(t, "held-a2", time.Minute, running)
	if err := e.Submit(Spec{ClipID: "b-copy", FeedID: feed, Owner: "b", Start: t0.Add(2 * time.Second), End: t0.Add(3 * time.Second)}); err != nil {
		t.Fatal(err)
	}
	if up := ups.final(t, "b-copy", 2*time.Minute); up.Status != StatusReady {
		t.Fatalf("B's copy clip: %+v", up)
	}
	for _, id := range []string{"held-a1", "held-a2"} {
		if ups := ups.of(id); ups[len(ups)-1].Status != StatusRunning {
			t.Fatalf("clip %s ended before B's copy clip (the gate was closed): %+v", id, ups)
		}
	}
	open()
	for _, id := range []string{"held-a1", "held-a2"} {
		if up := ups.final(t, id, 5*time.Minute); up.Status != StatusReady {
			t.Fatalf("clip %s: %+v", id, up)
		}
	}
}

// TestBroadcastersTakeTurns: with one worker busy on A's clip and A's two
// more waiting, B's clip submitted after them is cut before A's last one.
func TestBroadcastersTakeTurns(t *testing.T) {
	e, ups, open := gatedEngine(t, 1)
	exact := func(id, owner string) {
		t.Helper()
		if err := e.Submit(Spec{ClipID: id, FeedID: feed, Owner: owner, Mode: ModeExact,
			Start: t0.Add(2 * time.Second), End: t0.Add(3 * time.Second)}); err != nil {
			t.Fatal(err)
		}
	}
	exact("held-a1", "a")
	ups.wait(t, "held-a1", time.Minute, running)
	exact("a2", "a")
	exact("a3", "a")
	// Both of A's are in the queue before B's arrives.
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(10 * time.Millisecond) {
		e.mu.Lock()
		queued := e.ready[laneEncode].len()
		e.mu.Unlock()
		if queued == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of A's clips queued after a minute, want 2", queued)
		}
	}
	exact("b1", "b")
	open()

	var order []string
	for _, id := range []string{"held-a1", "a2", "a3", "b1"} {
		up := ups.final(t, id, 5*time.Minute)
		if up.Status != StatusReady {
			t.Fatalf("clip %s: %+v", id, up)
		}
	}
	ups.mu.Lock()
	for _, up := range ups.all {
		if up.Status == StatusReady {
			order = append(order, up.ClipID)
		}
	}
	ups.mu.Unlock()
	if len(order) != 4 || order[3] == "b1" {
		t.Fatalf("clips ready in the order %v: B's clip waited for all of A's", order)
	}
	t.Logf("ready in the order %v", order)
}
