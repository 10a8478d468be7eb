package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// podium is a Podium server run as its own process, so that its CPU time and
// memory can be read apart from the bench's and the SRT peers'.
type podium struct {
	proc    *child
	base    string // http://host:port
	srtAddr string
	token   string
	logPath string
}

// buildPodium compiles ./cmd/podium as `make build` does.
func buildPodium(ctx context.Context, root, dir string) (string, error) {
	bin := filepath.Join(dir, "podium")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/podium")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/podium: %v\n%s", err, out)
	}
	return bin, nil
}

// startPodium runs `podium serve` on free loopback ports and waits until it answers.
func startPodium(ctx context.Context, procs *supervisor, bin, dir string) (*podium, error) {
	httpPort, err := freePort("tcp")
	if err != nil {
		return nil, err
	}
	srtPort, err := freePort("udp")
	if err != nil {
		return nil, err
	}
	p := &podium{
		base:    "http://127.0.0.1:" + strconv.Itoa(httpPort),
		srtAddr: "127.0.0.1:" + strconv.Itoa(srtPort),
		token:   rand.Text(),
		logPath: filepath.Join(dir, "podium.log"),
	}
	logFile, err := os.Create(p.logPath)
	if err != nil {
		return nil, err
	}
	defer logFile.Close()
	cmd := exec.Command(bin, "serve", "--data-dir", filepath.Join(dir, "data"),
		"--http-addr", "127.0.0.1:"+strconv.Itoa(httpPort), "--srt-addr", p.srtAddr, "--rtmp-addr", "127.0.0.1:0")
	cmd.Env = append(os.Environ(), "PODIUM_ADMIN_TOKEN="+p.token, "PODIUM_LOG_LEVEL=info")
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if p.proc, err = procs.start("podium", cmd); err != nil {
		return nil, err
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(p.base + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p, nil
			}
		}
		if p.proc.exited() || time.Now().After(deadline) {
			return nil, fmt.Errorf("podium did not come up: %s", p.logTail())
		}
		if err := sleep(ctx, 100*time.Millisecond); err != nil {
			return nil, err
		}
	}
}

// freePort returns a loopback port that was free a moment ago.
func freePort(network string) (int, error) {
	if network == "udp" {
		c, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		defer c.Close()
		return c.LocalAddr().(*net.UDPAddr).Port, nil
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// logTail returns the last lines Podium logged.
func (p *podium) logTail() string {
	data, _ := os.ReadFile(p.logPath)
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	return strings.Join(lines[max(0, len(lines)-20):], "\n")
}

// call sends a request to the REST API and decodes the JSON answer into out.
func (p *podium) call(ctx context.Context, method, path string, body, out any) error {
	data, err := json.Marshal(body)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, method, p.base+"/api/v1"+path, bytes.NewReader(data))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+p.token)
	req.Header.Set("Content-Type", "application/json")
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

// createFeed creates a feed and returns its publish passphrase.
func (p *podium) createFeed(ctx context.Context, id string) (string, error) {
	var feed struct {
		PublishPassphrase string `json:"publish_passphrase"`
	}
	err := p.call(ctx, "POST", "/feeds", map[string]string{"id": id, "name": "Fan-out bench " + id, "kind": "multilateral"}, &feed)
	return feed.PublishPassphrase, err
}

// createBroadcaster creates a broadcaster entitled to feed and returns its SRT passphrase.
func (p *podium) createBroadcaster(ctx context.Context, id, feed string) (string, error) {
	var b struct {
		SRTPassphrase string `json:"srt_passphrase"`
	}
	body := map[string]any{"id": id, "name": "Bench receiver " + id, "territories": []string{"FR"}}
	if err := p.call(ctx, "POST", "/broadcasters", body, &b); err != nil {
		return "", err
	}
	err := p.call(ctx, "POST", "/entitlements", map[string]string{"broadcaster_id": id, "feed_id": feed}, nil)
	return b.SRTPassphrase, err
}

func (p *podium) publishURL(feed, passphrase string) string {
	return fmt.Sprintf("srt://%s?streamid=#!::r=%s,m=publish&passphrase=%s", p.srtAddr, feed, passphrase)
}

func (p *podium) pullURL(feed, broadcaster, passphrase string) string {
	return fmt.Sprintf("srt://%s?streamid=#!::r=%s,u=%s,m=request&passphrase=%s", p.srtAddr, feed, broadcaster, passphrase)
}

// samples are the samples of a Prometheus text exposition, keyed by name and labels as written.
type samples map[string]float64

// scrape reads Podium's /metrics.
func (p *podium) scrape(ctx context.Context) (samples, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", p.base+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	out := samples{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		if v, err := strconv.ParseFloat(line[i+1:], 64); err == nil {
			out[line[:i]] = v
		}
	}
	return out, sc.Err()
}

// sum adds the samples of metric name that carry every one of the labels, given as `key="value"`.
func (s samples) sum(name string, labels ...string) float64 {
	total := 0.0
	for key, v := range s {
		rest, ok := strings.CutPrefix(key, name)
		if !ok || (rest != "" && rest[0] != '{') {
			continue
		}
		all := true
		for _, l := range labels {
			all = all && strings.Contains(rest, l)
		}
		if all {
			total += v
		}
	}
	return total
}

// logSize returns how much Podium has logged so far.
func (p *podium) logSize() int64 {
	info, err := os.Stat(p.logPath)
	if err != nil {
		return 0
	}
	return info.Size()
}

// deliveryCloses counts, by reason, the deliveries that Podium logged as
// closed after offset from in its log.
func (p *podium) deliveryCloses(from int64) map[string]int {
	f, err := os.Open(p.logPath)
	if err != nil {
		return nil
	}
	defer f.Close()
	if _, err := f.Seek(from, io.SeekStart); err != nil {
		return nil
	}
	reasons := map[string]int{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if !strings.Contains(line, `msg="srt delivery close"`) {
			continue
		}
		reasons[logValue(line, "reason")]++
	}
	return reasons
}

// logValue returns the value of key in a log/slog text line.
func logValue(line, key string) string {
	_, rest, ok := strings.Cut(line, " "+key+"=")
	if !ok {
		return "?"
	}
	if strings.HasPrefix(rest, `"`) {
		if v, err := strconv.QuotedPrefix(rest); err == nil {
			s, _ := strconv.Unquote(v)
			return s
		}
	}
	v, _, _ := strings.Cut(rest, " ")
	return v
}
