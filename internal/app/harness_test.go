package app_test

// The end-to-end harness: a Podium server in this process on 127.0.0.1, and
// real peers around it (ffmpeg, srt-live-transmit, a libsrt probe, ffprobe).

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/podium-broadcast/podium/internal/app"
	"github.com/podium-broadcast/podium/internal/config"
)

var (
	// fixture is a 12 s transport stream: H.264 640x360 25 fps (keyframe every
	// second), AAC and AC-3 audio, and a SCTE-35 PID, about 2.4 Mbit/s.
	fixture []byte
	// srtprobe is the libsrt caller that prints the rejection code it gets.
	srtprobe string
)

const fixtureSeconds = 12

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	for _, tool := range []string{"ffmpeg", "ffprobe", "srt-live-transmit", "gcc"} {
		if _, err := exec.LookPath(tool); err != nil {
			fmt.Fprintf(os.Stderr, "end-to-end tests need %s: run .ci/run, or apt-get install ffmpeg srt-tools gcc libsrt-openssl-dev\n", tool)
			return 1
		}
	}
	dir, err := os.MkdirTemp("", "podium-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	srtprobe = filepath.Join(dir, "srtprobe")
	if out, err := exec.Command("gcc", "-o", srtprobe, "../srtserver/testdata/srtprobe.c", "-lsrt").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build srtprobe (needs libsrt-openssl-dev): %v\n%s", err, out)
		return 1
	}
	if fixture, err = makeFixture(dir); err != nil {
		fmt.Fprintln(os.Stderr, "make fixture:", err)
		return 1
	}
	return m.Run()
}

func makeFixture(dir string) ([]byte, error) {
	path := filepath.Join(dir, "fixture.ts")
	cmd := exec.Command("ffmpeg", "-v", "error", "-y",
		"-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25",
		"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
		"-f", "lavfi", "-i", "sine=frequency=880:sample_rate=48000",
		"-t", strconv.Itoa(fixtureSeconds), "-map", "0:v", "-map", "1:a", "-map", "2:a",
		"-c:v", "libx264", "-preset", "ultrafast", "-g", "25", "-b:v", "2M", "-maxrate", "2M", "-bufsize", "1M",
		"-c:a:0", "aac", "-b:a:0", "128k", "-c:a:1", "ac3", "-b:a:1", "192k",
		"-mpegts_pmt_start_pid", "0x1000", "-mpegts_start_pid", "0x100", "-f", "mpegts", path)
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("ffmpeg: %v: %s", err, out)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	// Whole 1316-byte payloads, so that srt-live-transmit sends every byte before it sees the end.
	data = addSCTE35(data)
	return data[:len(data)/1316*1316], nil
}

// scte35PID carries SCTE-35 splice_null sections in the fixture, once a second.
const scte35PID = 0x1F0

// addSCTE35 declares a SCTE-35 stream in the PMT and inserts a splice_null
// section after every 25th video PES, so that passthrough of data PIDs is tested.
func addSCTE35(in []byte) []byte {
	out := make([]byte, 0, len(in)+len(in)/100)
	var cc byte
	videoPES := 0
	for off := 0; off+188 <= len(in); off += 188 {
		pkt := append([]byte(nil), in[off:off+188]...)
		pid := int(pkt[1]&0x1F)<<8 | int(pkt[2])
		pusi := pkt[1]&0x40 != 0
		if pid == 0x1000 && pusi {
			pkt = addStreamToPMT(pkt, 0x86, scte35PID)
		}
		out = append(out, pkt...)
		if pid == 0x100 && pusi {
			if videoPES%25 == 0 {
				out = append(out, spliceNull(cc)...)
				cc++
			}
			videoPES++
		}
	}
	return out
}

// mpegCRC is the CRC-32/MPEG-2 of PSI sections (not the IEEE CRC of hash/crc32).
func mpegCRC(b []byte) uint32 {
	crc := uint32(0xFFFFFFFF)
	for _, v := range b {
		crc ^= uint32(v) << 24
		for range 8 {
			if crc&0x80000000 != 0 {
				crc = crc<<1 ^ 0x04C11DB7
			} else {
				crc <<= 1
			}
		}
	}
	return crc
}

func addStreamToPMT(pkt []byte, streamType byte, pid int) []byte {
	start := 4 + 1 + int(pkt[4]) // after the pointer field
	if pkt[3]&0x20 != 0 {
		start = 5 + int(pkt[4]) + 1 + int(pkt[5+int(pkt[4])])
	}
	length := int(pkt[start+1]&0x0F)<<8 | int(pkt[start+2])
	end := start + 3 + length - 4 // before the CRC
	section := append([]byte(nil), pkt[start:end]...)
	// A program registration descriptor "CUEI" tells demuxers that stream type 0x86 is SCTE-35.
	infoLen := int(section[10]&0x0F)<<8 | int(section[11])
	cuei := []byte{0x05, 4, 'C', 'U', 'E', 'I'}
	section = append(section[:12+infoLen], append(cuei, section[12+infoLen:]...)...)
	infoLen += len(cuei)
	section[10], section[11] = 0xF0|byte(infoLen>>8), byte(infoLen)
	section = append(section, streamType, byte(0xE0|pid>>8), byte(pid&0xFF), 0xF0, 0)
	length += 5 + len(cuei)
	section[1] = section[1]&0xF0 | byte(length>>8)
	section[2] = byte(length)
	crc := mpegCRC(section)
	section = append(section, byte(crc>>24), byte(crc>>16), byte(crc>>8), byte(crc))
	copy(pkt[start:], section)
	return pkt
}

func spliceNull(cc byte) []byte {
	section := []byte{0xFC, 0x30, 0x11, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xFF, 0xF0, 0x00, 0x00, 0x00, 0x00}
	crc := mpegCRC(section)
	section = append(section, byte(crc>>24), byte(crc>>16), byte(crc>>8), byte(crc))
	pkt := make([]byte, 188)
	for i := range pkt {
		pkt[i] = 0xFF
	}
	pkt[0], pkt[1], pkt[2], pkt[3] = 0x47, 0x40|byte(scte35PID>>8), byte(scte35PID&0xFF), 0x10|cc&0x0F
	pkt[4] = 0 // pointer field
	copy(pkt[5:], section)
	return pkt
}

// podium is a server under test.
type podium struct {
	*app.App
	t       *testing.T
	srtHost string
	srtPort string
	base    string
	logs    *syncBuffer
	// stop stops the server and waits for it (it is also stopped at the end of the test).
	stop func()
}

type options struct {
	grace      time.Duration
	maxLag     time.Duration
	switchHold time.Duration
	// configure, if set, changes the configuration further.
	configure func(*config.Config)
}

func startPodium(t *testing.T, opts options) *podium {
	t.Helper()
	cfg := config.Default
	cfg.DataDir = t.TempDir()
	cfg.HTTPAddr = "127.0.0.1:0"
	cfg.SRTAddr = "127.0.0.1:0"
	cfg.RTMPAddr = "127.0.0.1:0"
	if opts.grace > 0 {
		cfg.PublisherGrace = opts.grace
	}
	if opts.maxLag > 0 {
		cfg.ReaderMaxLag = opts.maxLag
	}
	if opts.switchHold > 0 {
		cfg.SwitchHold = opts.switchHold
	}
	if opts.configure != nil {
		opts.configure(&cfg)
	}
	// t.TempDir's directories follow the umask; Podium refuses a data directory others may enter.
	if err := os.Chmod(cfg.DataDir, 0o700); err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	log := slog.New(slog.NewTextHandler(io.MultiWriter(logs, testLogWriter{t}), &slog.HandlerOptions{Level: slog.LevelInfo}))
	ctx, cancel := context.WithCancel(context.Background())
	a, err := app.New(ctx, cfg, log)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	stop := sync.OnceFunc(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("podium stopped with %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("podium did not stop within 10 s")
		}
	})
	t.Cleanup(stop)
	host, port, _ := net.SplitHostPort(a.SRTAddr())
	return &podium{App: a, t: t, srtHost: host, srtPort: port, base: "http://" + a.HTTPAddr(), logs: logs, stop: stop}
}

type testLogWriter struct{ t *testing.T }

func (w testLogWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// syncBuffer is a bytes.Buffer safe for concurrent use.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]byte(nil), b.buf.Bytes()...)
}

func (b *syncBuffer) Len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Len()
}

func (b *syncBuffer) String() string { return string(b.Bytes()) }

// api calls the REST API and decodes the JSON answer into out (if not nil).
func (p *podium) api(method, path, token string, body any, out any) int {
	p.t.Helper()
	var rd io.Reader
	if body != nil {
		if s, ok := body.(string); ok {
			rd = strings.NewReader(s)
		} else {
			data, _ := json.Marshal(body)
			rd = bytes.NewReader(data)
		}
	}
	req, _ := http.NewRequest(method, p.base+path, rd)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		p.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if out != nil && len(data) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			p.t.Fatalf("%s %s: %d %s: %v", method, path, resp.StatusCode, data, err)
		}
	}
	return resp.StatusCode
}

// mustAPI calls the API and fails the test unless the status is want.
func (p *podium) mustAPI(method, path string, body any, want int, out any) {
	p.t.Helper()
	var raw json.RawMessage
	if got := p.api(method, path, p.AdminToken, body, &raw); got != want {
		p.t.Fatalf("%s %s: status %d, want %d: %s", method, path, got, want, raw)
	}
	if out != nil {
		json.Unmarshal(raw, out)
	}
}

type feedCreds struct {
	ID                      string `json:"id"`
	PublishPassphrase       string `json:"publish_passphrase"`
	BackupPublishPassphrase string `json:"backup_publish_passphrase"`
}

type broadcasterCreds struct {
	ID            string `json:"id"`
	SRTPassphrase string `json:"srt_passphrase"`
	APIKey        string `json:"api_key"`
}

func (p *podium) createFeed(id string) feedCreds {
	var f feedCreds
	p.mustAPI("POST", "/api/v1/feeds", map[string]string{"id": id, "name": "Feed " + id, "kind": "multilateral"}, 201, &f)
	return f
}

func (p *podium) createBroadcaster(id string) broadcasterCreds {
	var b broadcasterCreds
	p.mustAPI("POST", "/api/v1/broadcasters", map[string]any{"id": id, "name": "Broadcaster " + id, "territories": []string{"FR"}}, 201, &b)
	return b
}

func (p *podium) grant(broadcaster, feed string, window ...time.Time) string {
	body := map[string]string{"broadcaster_id": broadcaster, "feed_id": feed}
	if len(window) == 2 {
		body["starts_at"] = window[0].UTC().Format(time.RFC3339)
		body["ends_at"] = window[1].UTC().Format(time.RFC3339)
	}
	var e struct{ ID string }
	p.mustAPI("POST", "/api/v1/entitlements", body, 201, &e)
	return e.ID
}

func (p *podium) publishURL(f feedCreds) string {
	return fmt.Sprintf("srt://%s:%s?streamid=#!::r=%s,m=publish&passphrase=%s", p.srtHost, p.srtPort, f.ID, f.PublishPassphrase)
}

func (p *podium) pullURL(feed string, b broadcasterCreds) string {
	return fmt.Sprintf("srt://%s:%s?streamid=#!::r=%s,u=%s,m=request&passphrase=%s", p.srtHost, p.srtPort, feed, b.ID, b.SRTPassphrase)
}

type delivery struct {
	ID            uint64 `json:"id"`
	BroadcasterID string `json:"broadcaster_id"`
	FeedID        string `json:"feed_id"`
	Protocol      string `json:"protocol"`
	Bytes         uint64 `json:"bytes"`
}

func (p *podium) deliveries() []delivery {
	var out []delivery
	p.mustAPI("GET", "/api/v1/deliveries", nil, 200, &out)
	return out
}

// metric returns the value of one Prometheus sample, such as `podium_feed_readers{feed="x"}`.
func (p *podium) metric(sample string) float64 {
	p.t.Helper()
	resp, err := http.Get(p.base + "/metrics")
	if err != nil {
		p.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, sample+" "); ok {
			f, _ := strconv.ParseFloat(v, 64)
			return f
		}
	}
	return 0
}

// peer is a running external program.
type peer struct {
	t      *testing.T
	name   string
	cmd    *exec.Cmd
	stdout *syncBuffer
	stderr *syncBuffer
	done   chan struct{}
	err    error
}

func startPeer(t *testing.T, stdin io.Reader, name string, args ...string) *peer {
	t.Helper()
	p := newPeer(t, name, args...)
	p.cmd.Stdin = stdin
	p.start()
	return p
}

// startFedPeer starts a program and returns a pipe to its stdin.
func startFedPeer(t *testing.T, name string, args ...string) (*peer, io.WriteCloser) {
	t.Helper()
	p := newPeer(t, name, args...)
	in, err := p.cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	p.start()
	return p, in
}

func newPeer(t *testing.T, name string, args ...string) *peer {
	cmd := exec.Command(name, args...)
	p := &peer{t: t, name: name, cmd: cmd, stdout: &syncBuffer{}, stderr: &syncBuffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.stdout, p.stderr
	return p
}

func (p *peer) start() {
	t, cmd, name := p.t, p.cmd, p.name
	t.Helper()
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.stop()
		if t.Failed() {
			t.Logf("%s stderr:\n%s", name, p.stderr.String())
		}
	})
}

func (p *peer) stop() {
	select {
	case <-p.done:
		return
	default:
	}
	p.cmd.Process.Signal(os.Interrupt)
	select {
	case <-p.done:
	case <-time.After(2 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
	}
}

func (p *peer) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// pull starts srt-live-transmit receiving a feed to its stdout.
func (p *podium) pull(feed string, b broadcasterCreds) *peer {
	return startPeer(p.t, nil, "srt-live-transmit", "-q", "-a:no", p.pullURL(feed, b), "file://con")
}

// publish starts srt-live-transmit sending the fixture, looped and paced in
// real time, to the feed. It returns the peer and what was sent.
func (p *podium) publish(ctx context.Context, f feedCreds, data []byte, loop bool) (*peer, *syncBuffer) {
	pub, pw := startFedPeer(p.t, "srt-live-transmit", "-q", "-a:no", "-chunk:1316", "file://con", p.publishURL(f))
	sent := &syncBuffer{}
	go func() {
		defer pw.Close()
		pace(ctx, data, loop, func(chunk []byte) error {
			if _, err := pw.Write(chunk); err != nil {
				return err
			}
			sent.Write(chunk)
			return nil
		})
	}()
	return pub, sent
}

// pace emits data in 1316-byte chunks at the fixture's average rate.
func pace(ctx context.Context, data []byte, loop bool, emit func([]byte) error) {
	const chunk = 1316
	perChunk := time.Duration(float64(fixtureSeconds*time.Second) * chunk / float64(len(data)))
	start := time.Now()
	n := 0
	for {
		for off := 0; off < len(data); off += chunk {
			if ctx.Err() != nil {
				return
			}
			if err := emit(data[off:min(off+chunk, len(data))]); err != nil {
				return
			}
			n++
			time.Sleep(time.Until(start.Add(time.Duration(n) * perChunk)))
		}
		if !loop {
			return
		}
	}
}

// eventually polls cond every 50 ms until it holds or timeout passes.
// rightsLatency bounds, in tests, how long a change of rights may take to
// reach a running delivery. Podium promises one second (deliveries are swept
// every delivery.SweepPeriod and on every catalog change); the tests log
// the figure and leave room for a loaded machine.
const rightsLatency = 5 * time.Second

func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > timeout {
			t.Fatalf("after %v: %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return time.Since(start)
}

// probe connects with libsrt and returns "connected" or "rejected CODE".
func (p *podium) probe(streamid, passphrase string) string {
	p.t.Helper()
	args := []string{p.srtHost, p.srtPort, streamid}
	if passphrase != "" {
		args = append(args, passphrase)
	}
	out, _ := exec.Command(srtprobe, args...).Output()
	return strings.TrimSpace(string(out))
}

// streams lists "codec_type:codec_name" of every stream ffprobe finds in ts.
func streams(t *testing.T, ts []byte) []string {
	t.Helper()
	cmd := exec.Command("ffprobe", "-v", "error", "-show_entries", "stream=codec_type,codec_name", "-of", "json", "-")
	cmd.Stdin = bytes.NewReader(ts)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("ffprobe: %v", err)
	}
	var probe struct {
		Streams []struct {
			CodecType string `json:"codec_type"`
			CodecName string `json:"codec_name"`
		}
	}
	if err := json.Unmarshal(out, &probe); err != nil {
		t.Fatalf("ffprobe output: %v", err)
	}
	var s []string
	for _, st := range probe.Streams {
		s = append(s, st.CodecType+":"+st.CodecName)
	}
	return s
}
