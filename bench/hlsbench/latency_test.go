package main

import (
	"context"
	"os/exec"
	"testing"
	"time"

	"github.com/podium-broadcast/podium/bench/internal/harness"
)

// TestSRTBaseline publishes the clocked live source to an in-process Podium
// over SRT and measures it through an SRT pull, as the bench's baseline does.
func TestSRTBaseline(t *testing.T) {
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		t.Skip("needs ffmpeg")
	}
	ctx := context.Background()
	p, err := startPodium(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer p.close()
	v, err := p.setUpFeed(ctx, "latency", "viewer")
	if err != nil {
		t.Fatal(err)
	}
	procs := harness.NewSupervisor()
	defer procs.StopAll()
	pub, err := procs.Start("ffmpeg live source", exec.Command("ffmpeg", liveSourceArgs(p.publishURL(v), true, 0)...))
	if err != nil {
		t.Fatal(err)
	}
	b := &bench{procs: procs, start: time.Now(), podium: p}
	if err := b.waitLive(ctx, v.feed, pub); err != nil {
		t.Fatal(err)
	}
	pullCtx, stop := context.WithTimeout(ctx, 8*time.Second)
	defer stop()
	start := time.Now()
	baseline := startSRTBaseline(pullCtx, procs, p.pullURL(v))
	<-pullCtx.Done()
	ages, frames, unreadable, err := baseline.wait(start.Add(3*time.Second), start.Add(8*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	s := spreadOf(ages)
	t.Logf("SRT pull: %d pictures, %d unreadable; latency p10 %v, median %v, p90 %v", frames, unreadable, s.p10, s.p50, s.p90)
	if frames < sourceFPS || unreadable > 0 { // a second of pictures: a loaded machine's encoder may fall behind
		t.Errorf("%d pictures in 5 s, %d unreadable", frames, unreadable)
	}
	if s.p50 < 100*time.Millisecond || s.p90 > 3*time.Second {
		t.Errorf("latency median %v, p90 %v: not an SRT path's", s.p50, s.p90)
	}
}
