package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"runtime"
	"sync"
	"time"

	"github.com/podium-broadcast/podium/bench/internal/harness"
	"github.com/podium-broadcast/podium/internal/hls"
)

// Names of the latency measurement's processes.
const (
	sourceProc  = "ffmpeg live source"
	pullProc    = "ffmpeg SRT pull"
	browserProc = "chromium (playwright)"
)

// hlsConfig is the hls.js configuration of the latency measurement: the
// portal's player's (internal/web/static/assets/player.js), everything else
// hls.js's defaults.
var hlsConfig = map[string]any{"lowLatencyMode": true, "backBufferLength": 10}

// latencyResult is one glass-to-glass measurement: the same live source
// watched at once in Chromium over LL-HLS and through an SRT pull decoded by ffmpeg.
type latencyResult struct {
	from, to time.Time // the window measured, after the warm-up
	hls      []time.Duration
	srt      []time.Duration
	browser  browserResult
	// srtFrames and srtUnreadable count the SRT baseline's pictures in the window.
	srtFrames, srtUnreadable int
	// hlsJSLatency is hls.js's own estimate (hls.latency), median over the window.
	hlsJSLatency, hlsJSTarget time.Duration
	playbackRate              float64
	// cpu is what the machine's CPU did during the window.
	cpu cpuUse
}

// srtBaseline collects the ages of the stamps of the pictures that an
// ffmpeg pulling the feed over SRT decodes, until ctx ends.
type srtBaseline struct {
	mu       sync.Mutex
	readings []stampReading
	done     chan error
}

func startSRTBaseline(ctx context.Context, procs *harness.Supervisor, pullURL string) *srtBaseline {
	b := &srtBaseline{done: make(chan error, 1)}
	go func() {
		b.done <- decodeStrips(ctx, procs, pullProc, pullURL, func(r stampReading) {
			b.mu.Lock()
			b.readings = append(b.readings, r)
			b.mu.Unlock()
		})
	}()
	return b
}

// wait waits for the pull to end (after its ctx has) and returns the stamps' ages in [from, to).
func (b *srtBaseline) wait(from, to time.Time) (ages []time.Duration, frames, unreadable int, err error) {
	err = <-b.done
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, r := range b.readings {
		if r.at.Before(from) || !r.at.Before(to) {
			continue
		}
		frames++
		if !r.ok {
			unreadable++
			continue
		}
		ages = append(ages, stampAge(r.at, r.stamp))
	}
	return ages, frames, unreadable, err
}

// measureLatency publishes the clocked live source to the feed over SRT
// with ffmpeg, then watches it for warmup+window in Chromium over LL-HLS
// and, at the same time, through an SRT pull decoded by ffmpeg, and
// returns the latencies of the frames shown within the window.
func (b *bench) measureLatency(ctx context.Context, v viewer) (latencyResult, error) {
	var res latencyResult
	pub, err := b.procs.Start(sourceProc, exec.Command("ffmpeg", liveSourceArgs(b.podium.publishURL(v), true, 0)...))
	if err != nil {
		return res, err
	}
	defer pub.Stop(3 * time.Second)
	if err := b.waitLive(ctx, v.feed, pub); err != nil {
		return res, err
	}
	hlsURL, err := b.podium.playbackURL(ctx, v)
	if err != nil {
		return res, err
	}
	if _, err := b.waitPlaylist(ctx, hlsURL); err != nil {
		return res, err
	}
	pageSrv, err := startPageServer(b.opts.nodeModules)
	if err != nil {
		return res, err
	}
	defer pageSrv.close()
	// The portal plays hls_url from Podium's own origin: the page's server
	// serves /hls/ with Podium's own HLS handler, so that page and stream
	// share an origin as they do there.
	pageSrv.mux.Handle(hls.Prefix, b.podium.app.HLS)
	if hlsURL, err = rebase(hlsURL, pageSrv.base); err != nil {
		return res, err
	}

	pullCtx, stopPull := context.WithCancel(ctx)
	defer stopPull()
	start := time.Now()
	baseline := startSRTBaseline(pullCtx, b.procs, b.podium.pullURL(v))
	res.from, res.to = start.Add(b.opts.warmup), start.Add(b.opts.warmup+b.opts.window)
	b.say("latency: Chromium + hls.js and the SRT pull, %v warm-up then %v measured", b.opts.warmup, b.opts.window)
	cpu := make(chan cpuUse, 1)
	go func() {
		if sleep(pullCtx, time.Until(res.from)) != nil {
			return
		}
		first := takeCPUSnapshot(b.procs)
		if sleep(pullCtx, time.Until(res.to)) != nil {
			return
		}
		cpu <- cpuBetween(first, takeCPUSnapshot(b.procs), runtime.NumCPU())
	}()
	res.browser, err = runBrowser(ctx, b.procs, b.dir, b.opts.nodeModules, pageSrv.playerURL(hlsURL, hlsConfig), time.Until(res.to))
	stopPull()
	var pullErr error
	res.srt, res.srtFrames, res.srtUnreadable, pullErr = baseline.wait(res.from, res.to)
	if err != nil {
		return res, fmt.Errorf("chromium: %w", err)
	}
	if b.opts.rawOut != "" {
		raw, _ := json.Marshal(map[string]any{"start": start.UnixMilli(), "from": res.from.UnixMilli(), "to": res.to.UnixMilli(), "browser": res.browser})
		if err := os.WriteFile(b.opts.rawOut, raw, 0o644); err != nil {
			return res, err
		}
	}
	if pullErr != nil {
		return res, fmt.Errorf("SRT baseline: %w", pullErr)
	}
	if pub.Exited() {
		return res, errors.New(pub.Why())
	}
	select {
	case res.cpu = <-cpu:
	default:
	}
	var jsLatency, jsTarget, rate []float64
	fromMs, toMs := float64(res.from.UnixMilli()), float64(res.to.UnixMilli())
	for _, f := range res.browser.Frames {
		if f[0] < fromMs || f[0] >= toMs {
			continue
		}
		res.hls = append(res.hls, time.Duration(f[1])*time.Millisecond)
		jsLatency, jsTarget, rate = append(jsLatency, f[2]), append(jsTarget, f[3]), append(rate, f[4])
	}
	for _, st := range res.browser.Stalls {
		b.say("stall at +%.1fs: %.2fs buffered, hls.latency %.2fs", (st[0]-float64(start.UnixMilli()))/1000, st[1], st[2])
	}
	res.hlsJSLatency = time.Duration(median(jsLatency) * float64(time.Second))
	res.hlsJSTarget = time.Duration(median(jsTarget) * float64(time.Second))
	res.playbackRate = median(rate)
	if len(res.hls) == 0 {
		return res, fmt.Errorf("chromium showed no readable frame in the window (%d frames in all, %d unreadable, errors %s)",
			len(res.browser.Frames), res.browser.Undecoded, res.browser.Errors)
	}
	if len(res.srt) == 0 {
		return res, fmt.Errorf("the SRT pull decoded no readable frame in the window (%d pictures)", res.srtFrames)
	}
	return res, nil
}

// rebase returns rawURL with the scheme and host of base.
func rebase(rawURL, base string) (string, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "", err
	}
	b, err := url.Parse(base)
	if err != nil {
		return "", err
	}
	u.Scheme, u.Host = b.Scheme, b.Host
	return u.String(), nil
}
