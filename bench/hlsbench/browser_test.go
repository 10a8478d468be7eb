package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/podium-broadcast/podium/bench/internal/harness"
)

// testNodeModules is where the tests find playwright-core and hls.js:
// HLSBENCH_NODE_MODULES, or the portal's web/node_modules
// (scripts/install-test-deps.sh installs it).
func testNodeModules() string {
	if dir := os.Getenv("HLSBENCH_NODE_MODULES"); dir != "" {
		return dir
	}
	return "../../web/node_modules"
}

// TestPageClockDecoder checks page/clock.js against the Go decoder's
// reference strips, as RGBA after the video-to-full-range conversion a
// browser makes.
func TestPageClockDecoder(t *testing.T) {
	if _, err := exec.LookPath("node"); err != nil {
		t.Skip("needs node")
	}
	stamps := []uint32{0, 1, 0xABCDEF, stampModulo - 1, 12345678}
	var strips [][]byte
	for _, s := range stamps {
		luma := drawStrip(s)
		rgba := make([]byte, 0, len(luma)*4)
		for _, y := range luma {
			v := byte(min(255, max(0, (int(y)-16)*255/219)))
			rgba = append(rgba, v, v, v, 255)
		}
		strips = append(strips, rgba)
	}
	bad := append([]byte(nil), strips[2]...)
	for i := range bad {
		if (i/4)%stripWidth/clockBlock == 3 && i%4 != 3 {
			bad[i] ^= 0xFF
		}
	}
	strips = append(strips, bad)
	input, _ := json.Marshal(strips)
	script := `
const fs = require('fs');
require(process.argv[1]);
const strips = JSON.parse(fs.readFileSync(0, 'utf8'));
const out = strips.map((b64) => podiumClock.decodeStrip(Buffer.from(b64, 'base64'), podiumClock.WIDTH));
out.push(podiumClock.stampAge(16777216 * 1000 + 5, 16777216 - 10), podiumClock.WIDTH, podiumClock.HEIGHT);
console.log(JSON.stringify(out));`
	clockJS, _ := filepath.Abs("page/clock.js")
	cmd := exec.Command("node", "-e", script, clockJS)
	cmd.Stdin = bytes.NewReader(input)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("node: %v\n%s", err, out)
	}
	var got []int64
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	want := []int64{0, 1, 0xABCDEF, stampModulo - 1, 12345678, -1, 15, stripWidth, stripHeight}
	if len(got) != len(want) {
		t.Fatalf("clock.js gave %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("clock.js gave %v, want %v", got, want)
			break
		}
	}
}

// TestPlayerPage plays a live HLS stream that ffmpeg makes from the live
// source in Chromium with the player page, and checks that the page reads
// the clock of the frames it shows.
func TestPlayerPage(t *testing.T) {
	nodeModules := testNodeModules()
	if err := checkBrowserDeps(nodeModules); err != nil {
		t.Skip(err)
	}
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		t.Skip("needs ffmpeg")
	}
	procs := harness.NewSupervisor()
	defer procs.StopAll()
	dir := t.TempDir()
	hlsDir := filepath.Join(dir, "hls")
	os.MkdirAll(hlsDir, 0o755)
	args := liveSourceArgs("-", true, 0)
	args = append(args[:len(args)-3], "-f", "hls", "-hls_time", "1", "-hls_list_size", "6", "-hls_flags", "delete_segments",
		"-hls_segment_type", "fmp4", filepath.Join(hlsDir, "live.m3u8"))
	if _, err := procs.Start("ffmpeg hls", exec.Command("ffmpeg", args...)); err != nil {
		t.Fatal(err)
	}
	srv, err := startPageServer(nodeModules)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.close()
	srv.mux.Handle("/hls/", http.StripPrefix("/hls/", http.FileServer(http.Dir(hlsDir))))
	deadline := time.Now().Add(15 * time.Second)
	for {
		if _, err := os.Stat(filepath.Join(hlsDir, "live.m3u8")); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("ffmpeg wrote no playlist")
		}
		time.Sleep(100 * time.Millisecond)
	}
	r, err := runBrowser(context.Background(), procs, dir, nodeModules, srv.playerURL(srv.base+"/hls/live.m3u8", map[string]any{"lowLatencyMode": true}), 8*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("hls.js %s: %d frames read, %d undecoded, %d errors, %d waiting, dropped %d/%d; %s",
		r.HLSVersion, len(r.Frames), r.Undecoded, len(r.Errors), r.Waiting, r.DroppedFrames, r.TotalFrames, r.UserAgent)
	if len(r.Frames) < 50 {
		t.Fatalf("the page read the clock of %d frames (%d unreadable), errors %s", len(r.Frames), r.Undecoded, r.Errors)
	}
	if r.Undecoded > len(r.Frames)/10 {
		t.Errorf("%d of %d frames unreadable", r.Undecoded, r.Undecoded+len(r.Frames))
	}
	for _, f := range r.Frames {
		if age := time.Duration(f[1]) * time.Millisecond; age <= 0 || age > 20*time.Second {
			t.Fatalf("a frame was shown %v after its capture", age)
		}
	}
	t.Logf("latency of ffmpeg's own HLS (1 s segments): last frame %.0f ms", r.Frames[len(r.Frames)-1][1])
}
