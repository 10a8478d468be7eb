package main

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/podium-broadcast/podium/bench/internal/harness"
)

// page is the player page that Chromium runs: hls.js plays the stream, and
// each presented frame's clock is read back from a canvas (see page/player.js).
//
//go:embed page
var page embed.FS

const chromiumPath = "/usr/bin/chromium"

// chromiumArgs keep Chromium from doing anything but play: no sandbox (the
// bench may run as root), no GPU, no background traffic or updates, no
// QUIC, and autoplay without a user gesture.
var chromiumArgs = []string{"--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
	"--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
	"--autoplay-policy=no-user-gesture-required"}

// nodeDeps are the node packages the browser measurement needs, as the
// portal's web/package.json pins them.
var nodeDeps = []string{"playwright-core", "hls.js"}

// checkBrowserDeps reports what is missing for the browser measurement, with how to install it.
func checkBrowserDeps(nodeModules string) error {
	if _, err := os.Stat(chromiumPath); err != nil {
		return fmt.Errorf("needs Chromium at %s: apt-get install chromium", chromiumPath)
	}
	if _, err := exec.LookPath("node"); err != nil {
		return errors.New("needs node: apt-get install nodejs npm")
	}
	for _, dep := range nodeDeps {
		if _, err := os.Stat(filepath.Join(nodeModules, dep, "package.json")); err != nil {
			return fmt.Errorf("needs %s in %s: scripts/install-test-deps.sh (or npm ci --prefix web --ignore-scripts), "+
				"or give -node-modules", dep, nodeModules)
		}
	}
	return nil
}

// pageServer serves the player page and hls.js on a loopback port.
type pageServer struct {
	srv  *http.Server
	mux  *http.ServeMux
	base string
}

func startPageServer(nodeModules string) (*pageServer, error) {
	files, err := fs.Sub(page, "page")
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("/", http.FileServerFS(files))
	mux.HandleFunc("/hls.js", func(w http.ResponseWriter, r *http.Request) {
		http.ServeFile(w, r, filepath.Join(nodeModules, "hls.js", "dist", "hls.min.js"))
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &pageServer{srv: &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}, mux: mux, base: "http://" + ln.Addr().String()}
	go s.srv.Serve(ln)
	return s, nil
}

func (s *pageServer) close() { s.srv.Close() }

// playerURL is the page playing src with the given hls.js configuration.
func (s *pageServer) playerURL(src string, hlsConfig map[string]any) string {
	config, _ := json.Marshal(hlsConfig)
	return s.base + "/index.html?" + url.Values{"src": {src}, "config": {string(config)}}.Encode()
}

// browserResult is what the page measured (window.bench in page/player.js).
type browserResult struct {
	// Frames holds, per presented frame whose clock was read: when it was
	// to be shown (wall clock, ms), the age of its stamp then (ms),
	// hls.latency and hls.targetLatency (s), and the playback rate.
	Frames        [][5]float64      `json:"frames"`
	Undecoded     int               `json:"undecoded"`
	Waiting       int               `json:"waiting"`
	Stalls        [][3]float64      `json:"stalls"`
	Errors        []json.RawMessage `json:"errors"`
	Playlist      *playlistInfo     `json:"playlist"`
	HLSVersion    string            `json:"hlsVersion"`
	DroppedFrames int               `json:"droppedFrames"`
	TotalFrames   int               `json:"totalFrames"`
	UserAgent     string            `json:"userAgent"`
}

// playlistInfo is what hls.js read from the media playlist.
type playlistInfo struct {
	Live           bool    `json:"live"`
	TargetDuration float64 `json:"targetDuration"`
	PartTarget     float64 `json:"partTarget"`
	PartHoldBack   float64 `json:"partHoldBack"`
	HoldBack       float64 `json:"holdBack"`
	CanBlockReload bool    `json:"canBlockReload"`
}

// runBrowser opens pageURL in Chromium for the given time and returns what the page measured.
func runBrowser(ctx context.Context, procs *harness.Supervisor, dir, nodeModules, pageURL string, d time.Duration) (browserResult, error) {
	var r browserResult
	script, err := page.ReadFile("page/run.cjs")
	if err != nil {
		return r, err
	}
	scriptPath := filepath.Join(dir, "run.cjs")
	if err := os.WriteFile(scriptPath, script, 0o644); err != nil {
		return r, err
	}
	playwright, err := filepath.Abs(filepath.Join(nodeModules, "playwright-core"))
	if err != nil {
		return r, err
	}
	opts, _ := json.Marshal(map[string]any{"playwright": playwright, "chromium": chromiumPath,
		"args": chromiumArgs, "url": pageURL, "seconds": d.Seconds()})
	cmd := exec.Command("node", scriptPath)
	cmd.Env = append(os.Environ(), "HLSBENCH_OPTIONS="+string(opts))
	var out strings.Builder
	cmd.Stdout = &out
	proc, err := procs.Start(browserProc, cmd)
	if err != nil {
		return r, err
	}
	select {
	case <-proc.Done():
	case <-ctx.Done():
		proc.Stop(5 * time.Second)
		return r, ctx.Err()
	}
	if proc.Err() != nil {
		return r, errors.New(proc.Why())
	}
	if err := json.Unmarshal([]byte(out.String()), &r); err != nil {
		return r, fmt.Errorf("the page's results: %w: %.300s", err, out.String())
	}
	return r, nil
}
