package harness

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

// Podium is a Podium server run as its own process, so that its CPU time and
// memory can be read apart from the bench's and the SRT peers'.
type Podium struct {
	Proc    *Child
	Base    string // http://host:port
	SRTAddr string
	Token   string // the admin token
	LogPath string
	Pprof   string // http://host:port of its net/http/pprof (the hidden --pprof-addr)
}

// BuildPodium compiles ./cmd/podium as `make build` does.
func BuildPodium(ctx context.Context, root, dir string) (string, error) {
	bin := filepath.Join(dir, "podium")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/podium")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/podium: %v\n%s", err, out)
	}
	return bin, nil
}

// StartPodium runs `podium serve` on free loopback ports, with args added to
// its command line, and waits until it answers.
func StartPodium(ctx context.Context, procs *Supervisor, bin, dir string, args ...string) (*Podium, error) {
	httpPort, err := FreePort("tcp")
	if err != nil {
		return nil, err
	}
	srtPort, err := FreePort("udp")
	if err != nil {
		return nil, err
	}
	pprofPort, err := FreePort("tcp")
	if err != nil {
		return nil, err
	}
	p := &Podium{
		Base:    "http://127.0.0.1:" + strconv.Itoa(httpPort),
		SRTAddr: "127.0.0.1:" + strconv.Itoa(srtPort),
		Token:   rand.Text(),
		LogPath: filepath.Join(dir, "podium.log"),
		Pprof:   "http://127.0.0.1:" + strconv.Itoa(pprofPort),
	}
	logFile, err := os.Create(p.LogPath)
	if err != nil {
		return nil, err
	}
	defer logFile.Close()
	cmd := exec.Command(bin, append([]string{"serve", "--data-dir", filepath.Join(dir, "data"),
		"--http-addr", "127.0.0.1:" + strconv.Itoa(httpPort), "--srt-addr", p.SRTAddr, "--rtmp-addr", "127.0.0.1:0",
		"--pprof-addr", strings.TrimPrefix(p.Pprof, "http://")}, args...)...)
	cmd.Env = append(os.Environ(), "PODIUM_ADMIN_TOKEN="+p.Token, "PODIUM_LOG_LEVEL=info")
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if p.Proc, err = procs.Start("podium", cmd); err != nil {
		return nil, err
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(p.Base + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p, nil
			}
		}
		if p.Proc.Exited() || time.Now().After(deadline) {
			return nil, fmt.Errorf("podium did not come up: %s", p.LogTail())
		}
		if err := Sleep(ctx, 100*time.Millisecond); err != nil {
			return nil, err
		}
	}
}

// FreePort returns a loopback port that was free a moment ago.
func FreePort(network string) (int, error) {
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

// LogTail returns the last lines Podium logged.
func (p *Podium) LogTail() string {
	data, _ := os.ReadFile(p.LogPath)
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	return strings.Join(lines[max(0, len(lines)-20):], "\n")
}

// Call sends a request to the REST API and decodes the JSON answer into out.
func (p *Podium) Call(ctx context.Context, method, path string, body, out any) error {
	data, err := json.Marshal(body)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, method, p.Base+"/api/v1"+path, bytes.NewReader(data))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+p.Token)
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

// FeedPassphrases are a feed's publish passphrases, one per source.
type FeedPassphrases struct {
	Primary string `json:"publish_passphrase"`
	Backup  string `json:"backup_publish_passphrase"`
}

// CreateFeed creates a multilateral feed and returns its publish passphrases.
func (p *Podium) CreateFeed(ctx context.Context, id, name string) (FeedPassphrases, error) {
	var feed FeedPassphrases
	err := p.Call(ctx, "POST", "/feeds", map[string]string{"id": id, "name": name, "kind": "multilateral"}, &feed)
	return feed, err
}

// CreateBroadcaster creates a broadcaster entitled to feeds and returns its SRT passphrase.
func (p *Podium) CreateBroadcaster(ctx context.Context, id string, feeds ...string) (string, error) {
	var b struct {
		SRTPassphrase string `json:"srt_passphrase"`
	}
	body := map[string]any{"id": id, "name": "Bench receiver " + id, "territories": []string{"FR"}}
	if err := p.Call(ctx, "POST", "/broadcasters", body, &b); err != nil {
		return "", err
	}
	for _, feed := range feeds {
		if err := p.Call(ctx, "POST", "/entitlements", map[string]string{"broadcaster_id": id, "feed_id": feed}, nil); err != nil {
			return "", err
		}
	}
	return b.SRTPassphrase, nil
}

// PublishURL is the SRT URL a feed's primary source publishes to.
func (p *Podium) PublishURL(feed, passphrase string) string {
	return fmt.Sprintf("srt://%s?streamid=#!::r=%s,m=publish&passphrase=%s", p.SRTAddr, feed, passphrase)
}

// BackupPublishURL is the SRT URL a feed's backup source publishes to.
func (p *Podium) BackupPublishURL(feed, passphrase string) string {
	return fmt.Sprintf("srt://%s?streamid=#!::r=%s,m=publish,s=backup&passphrase=%s", p.SRTAddr, feed, passphrase)
}

// PullURL is the SRT URL a broadcaster pulls a feed from.
func (p *Podium) PullURL(feed, broadcaster, passphrase string) string {
	return fmt.Sprintf("srt://%s?streamid=#!::r=%s,u=%s,m=request&passphrase=%s", p.SRTAddr, feed, broadcaster, passphrase)
}

// HeapProfile writes Podium's heap profile, taken after a garbage
// collection, to path (read it with go tool pprof).
func (p *Podium) HeapProfile(ctx context.Context, path string) error {
	return p.profile(ctx, "/debug/pprof/heap?gc=1", path)
}

// CPUProfile records Podium's CPU profile for d and writes it to path.
func (p *Podium) CPUProfile(ctx context.Context, d time.Duration, path string) error {
	return p.profile(ctx, fmt.Sprintf("/debug/pprof/profile?seconds=%d", max(1, int(d.Seconds()))), path)
}

// TopFunctions summarises a CPU profile: the functions with the most time
// of their own, as `go tool pprof -top` lists them.
func TopFunctions(ctx context.Context, profile string, n int) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "tool", "pprof", "-top", "-nodecount", strconv.Itoa(n), profile).Output()
	if err != nil {
		return "", fmt.Errorf("go tool pprof: %w", err)
	}
	return string(out), nil
}

func (p *Podium) profile(ctx context.Context, path, file string) error {
	req, err := http.NewRequestWithContext(ctx, "GET", p.Pprof+path, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("profile %s: %w", path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("profile %s: %s", path, resp.Status)
	}
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("profile %s: %w", path, err)
	}
	return os.WriteFile(file, data, 0o644)
}

// Samples are the samples of a Prometheus text exposition, keyed by name and labels as written.
type Samples map[string]float64

// Scrape reads Podium's /metrics.
func (p *Podium) Scrape(ctx context.Context) (Samples, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", p.Base+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	out := Samples{}
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

// Sum adds the samples of metric name that carry every one of the labels, given as `key="value"`.
func (s Samples) Sum(name string, labels ...string) float64 {
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

// LogSize returns how much Podium has logged so far.
func (p *Podium) LogSize() int64 {
	info, err := os.Stat(p.LogPath)
	if err != nil {
		return 0
	}
	return info.Size()
}

// DeliveryCloses counts, by reason, the deliveries that Podium logged as
// closed after offset from in its log.
func (p *Podium) DeliveryCloses(from int64) map[string]int {
	return p.CountLog(from, "srt delivery close", "reason")
}

// CountLog counts, by the value of key, the lines with message msg that
// Podium logged after offset from in its log.
func (p *Podium) CountLog(from int64, msg, key string) map[string]int {
	f, err := os.Open(p.LogPath)
	if err != nil {
		return nil
	}
	defer f.Close()
	if _, err := f.Seek(from, io.SeekStart); err != nil {
		return nil
	}
	return countLog(f, msg, key)
}

func countLog(r io.Reader, msg, key string) map[string]int {
	counts := map[string]int{}
	want := "msg=" + strconv.Quote(msg)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.Contains(line, want) {
			continue
		}
		counts[logValue(line, key)]++
	}
	return counts
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
