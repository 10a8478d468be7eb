package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/podium-broadcast/podium/internal/app"
	"github.com/podium-broadcast/podium/internal/config"
	"github.com/podium-broadcast/podium/internal/tsloop"
)

// podium is a Podium server in this process, as the end-to-end tests run
// it: its CPU time is this process's.
type podium struct {
	app     *app.App
	base    string // http://127.0.0.1:port
	logPath string
	stop    context.CancelFunc
	done    chan error
}

// startPodium runs Podium on loopback ports with its data directory in dir.
func startPodium(ctx context.Context, dir string) (*podium, error) {
	cfg := config.Default
	cfg.DataDir = filepath.Join(dir, "data")
	cfg.HTTPAddr = "127.0.0.1:0"
	cfg.SRTAddr = "127.0.0.1:0"
	cfg.RTMPAddr = "127.0.0.1:0"
	logPath := filepath.Join(dir, "podium.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	log := slog.New(slog.NewTextHandler(logFile, &slog.HandlerOptions{Level: slog.LevelInfo}))
	runCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	a, err := app.New(runCtx, cfg, log)
	if err != nil {
		stop()
		logFile.Close()
		return nil, fmt.Errorf("start podium: %w", err)
	}
	p := &podium{app: a, base: "http://" + a.HTTPAddr(), logPath: logPath, stop: stop, done: make(chan error, 1)}
	go func() {
		p.done <- a.Run(runCtx)
		logFile.Close()
	}()
	return p, nil
}

// close stops Podium and waits for it.
func (p *podium) close() error {
	p.stop()
	select {
	case err := <-p.done:
		return err
	case <-time.After(10 * time.Second):
		return fmt.Errorf("podium did not stop within 10 s")
	}
}

// call sends a request to the REST API with token and decodes the JSON answer into out.
func (p *podium) call(ctx context.Context, token, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, p.base+"/api/v1"+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s /api/v1%s: %s: %s", method, path, resp.Status, answer)
	}
	if out != nil {
		if err := json.Unmarshal(answer, out); err != nil {
			return fmt.Errorf("%s /api/v1%s: %w", method, path, err)
		}
	}
	return nil
}

// viewer is a broadcaster entitled to one feed, as created over the REST API.
type viewer struct {
	feed              string
	publishPassphrase string
	broadcaster       string
	apiKey            string
	srtPassphrase     string
}

// setUpFeed creates a feed, a broadcaster and an entitlement of the one to the other.
func (p *podium) setUpFeed(ctx context.Context, feed, broadcaster string) (viewer, error) {
	v := viewer{feed: feed, broadcaster: broadcaster}
	admin := p.app.AdminToken
	var f struct {
		PublishPassphrase string `json:"publish_passphrase"`
	}
	if err := p.call(ctx, admin, "POST", "/feeds", map[string]string{"id": feed, "name": "HLS bench " + feed, "kind": "multilateral"}, &f); err != nil {
		return v, err
	}
	var b struct {
		APIKey        string `json:"api_key"`
		SRTPassphrase string `json:"srt_passphrase"`
	}
	if err := p.call(ctx, admin, "POST", "/broadcasters", map[string]any{"id": broadcaster, "name": "HLS bench viewer", "territories": []string{"FR"}}, &b); err != nil {
		return v, err
	}
	if err := p.call(ctx, admin, "POST", "/entitlements", map[string]string{"broadcaster_id": broadcaster, "feed_id": feed}, nil); err != nil {
		return v, err
	}
	v.publishPassphrase, v.apiKey, v.srtPassphrase = f.PublishPassphrase, b.APIKey, b.SRTPassphrase
	return v, nil
}

// playbackURL asks Podium for the broadcaster's HLS URL of the feed, as the portal's player does.
func (p *podium) playbackURL(ctx context.Context, v viewer) (string, error) {
	var pb struct {
		HLSURL string `json:"hls_url"`
	}
	if err := p.call(ctx, v.apiKey, "GET", "/feeds/"+v.feed+"/playback", nil, &pb); err != nil {
		return "", err
	}
	if pb.HLSURL == "" {
		return "", fmt.Errorf("GET /api/v1/feeds/%s/playback: no hls_url", v.feed)
	}
	return pb.HLSURL, nil
}

func (p *podium) publishURL(v viewer) string {
	return fmt.Sprintf("srt://%s?streamid=#!::r=%s,m=publish&passphrase=%s&pkt_size=1316", p.app.SRTAddr(), v.feed, v.publishPassphrase)
}

func (p *podium) pullURL(v viewer) string {
	return fmt.Sprintf("srt://%s?streamid=#!::r=%s,u=%s,m=request&passphrase=%s", p.app.SRTAddr(), v.feed, v.broadcaster, v.srtPassphrase)
}

// loop publishes a transport stream into the feed's hub, looped in real
// time by internal/tsloop as the demo feeds are, until ctx ends.
func (p *podium) loop(ctx context.Context, feed string, stream []byte) error {
	l, err := tsloop.New(stream)
	if err != nil {
		return err
	}
	pub, err := p.app.Hub.Feed(feed).Attach("hlsbench-loop")
	if err != nil {
		return err
	}
	go func() {
		defer pub.Detach()
		l.Run(ctx, pub.Write)
	}()
	return nil
}
