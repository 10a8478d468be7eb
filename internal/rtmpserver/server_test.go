package rtmpserver

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bluenviron/gortmplib"
	"github.com/bluenviron/gortmplib/pkg/amf0"
	"github.com/bluenviron/gortmplib/pkg/bytecounter"
	rtmpcodecs "github.com/bluenviron/gortmplib/pkg/codecs"
	"github.com/bluenviron/gortmplib/pkg/handshake"
	"github.com/bluenviron/gortmplib/pkg/message"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/podium-broadcast/podium/internal/catalog"
	"github.com/podium-broadcast/podium/internal/hub"
	"github.com/podium-broadcast/podium/internal/ingest"
	"github.com/podium-broadcast/podium/internal/limits"
	"github.com/podium-broadcast/podium/internal/ratelimit"
	"github.com/podium-broadcast/podium/internal/ts"
)

// testFeed is the feed the test servers know.
var testFeed = catalog.Feed{ID: "ath-100m-final", Name: "Athletics", Kind: catalog.KindMultilateral,
	PublishPassphrase: "PRIMARYPASSPHRASE234", BackupPublishPassphrase: "BACKUPPASSPHRASE2345"}

type staticCatalog struct{ snap *catalog.Snapshot }

func (c staticCatalog) Snapshot() *catalog.Snapshot { return c.snap }

// sources stands for the feeds' inputs: at most one publisher per feed and role.
type sources struct {
	mu   sync.Mutex
	live map[string]*recorder
	all  []*recorder
}

func (s *sources) attach(feedID, role, _ string) (Publisher, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	key := feedID + "/" + role
	if r, ok := s.live[key]; ok {
		select {
		case <-r.detached:
		default:
			return nil, hub.ErrPublisherActive
		}
	}
	r := newRecorder()
	r.role = role
	s.live[key] = r
	s.all = append(s.all, r)
	return r, nil
}

func (s *sources) attached() []*recorder {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*recorder(nil), s.all...)
}

type testServer struct {
	*Server
	sources *sources
	reg     *prometheus.Registry
	logs    *syncBuffer
}

func startServer(t *testing.T) *testServer {
	t.Helper()
	return startServerWith(t, Config{Timeout: 5 * time.Second})
}

// startServerWith starts a server with cfg on 127.0.0.1.
func startServerWith(t *testing.T, cfg Config) *testServer {
	t.Helper()
	cfg.Addr = "127.0.0.1:0"
	ts := &testServer{sources: &sources{live: make(map[string]*recorder)}, reg: prometheus.NewRegistry(), logs: &syncBuffer{}}
	log := slog.New(slog.NewTextHandler(io.MultiWriter(ts.logs, testLog{t}), nil))
	ts.Server = New(cfg,
		staticCatalog{catalog.NewSnapshot([]catalog.Feed{testFeed}, nil, nil)}, ts.sources.attach, NewMetrics(ts.reg), log)
	if err := ts.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ts.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Serve: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Error("Serve did not return within 5 s of shutdown")
		}
	})
	return ts
}

// url is the address a client connects to: the server URL, and the stream
// key after # as gortmplib's client takes it.
func (ts *testServer) url(app, streamKey string) string {
	return fmt.Sprintf("rtmp://%s/%s#%s", ts.Addr(), app, streamKey)
}

// rejections reads podium_rtmp_rejections_total{reason}.
func (ts *testServer) rejections(t *testing.T, reason string) float64 {
	t.Helper()
	families, err := ts.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != "podium_rtmp_rejections_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			if m.GetLabel()[0].GetValue() == reason {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

type testLog struct{ t *testing.T }

func (w testLog) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func dial(rawURL string, publish bool) (*gortmplib.Client, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, err
	}
	c := &gortmplib.Client{URL: u, Publish: publish}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return c, c.Initialize(ctx)
}

// TestH265PublishIsRemuxed: ffmpeg 5.1's FLV muxer cannot carry H.265
// (Enhanced RTMP came in ffmpeg 6.1), so an Enhanced RTMP publisher is
// played by gortmplib's client, with frames x265 encoded. ffprobe and
// ffmpeg read what reaches the feed.
func TestH265PublishIsRemuxed(t *testing.T) {
	// 4 s of 320x240 at 25 fps, an IDR then a CRA every second.
	sample := makeSample(t, true, 4, "testsrc2=size=320x240:rate=25", "-c:v", "libx265", "-preset", "ultrafast",
		"-x265-params", "bframes=0:keyint=25:min-keyint=25:aud=1:log-level=error")
	srv := startServer(t)
	c, err := dial(srv.url(App, testFeed.ID+"?key="+testFeed.PublishPassphrase), true)
	if err != nil {
		t.Fatal(err)
	}
	if err := sample.publish(c); err != nil {
		t.Fatal(err)
	}
	c.Close()

	rec := srv.waitDetached(t)
	if rec.role != ingest.Primary {
		t.Errorf("published as %q, want primary", rec.role)
	}
	stream := rec.stream()
	probe := exec.Command("ffprobe", "-v", "error", "-count_frames", "-show_entries", "stream=codec_name,nb_read_frames,start_time", "-of", "json", "-")
	probe.Stdin = bytes.NewReader(stream)
	out, err := probe.Output()
	if err != nil {
		t.Fatalf("ffprobe: %v", err)
	}
	var found struct {
		Streams []struct {
			CodecName    string `json:"codec_name"`
			StartTime    string `json:"start_time"`
			NbReadFrames string `json:"nb_read_frames"`
		}
	}
	json.Unmarshal(out, &found)
	// The sample goes in at once, so the two seconds gortmplib reads ahead
	// to learn the tracks end on the keyframe at 2 s: the stream starts
	// there (10 s on Podium's clock, plus 2), and has every picture from
	// there, 50 (2 s at 25 fps), and the AAC frames from the first picture on.
	if s := found.Streams; len(s) != 2 || s[0].CodecName != "hevc" || s[0].StartTime != "12.000000" || s[0].NbReadFrames != "50" ||
		s[1].CodecName != "aac" || !strings.HasPrefix(s[1].StartTime, "12.0") {
		t.Fatalf("ffprobe found %s, want hevc with 50 frames and aac, both starting at 12 s", out)
	}
	decode := exec.Command("ffmpeg", "-v", "error", "-i", "-", "-f", "null", "-")
	decode.Stdin = bytes.NewReader(stream)
	if msgs, err := decode.CombinedOutput(); err != nil || len(msgs) > 0 {
		t.Fatalf("decoding: %v: %s", err, msgs)
	}
	var sc ts.Scanner
	keyframes := 0
	for _, w := range rec.written() {
		rap, err := sc.Scan(w)
		if err != nil {
			t.Fatal(err)
		}
		if rap >= 0 {
			keyframes++
		}
	}
	if keyframes != 2 {
		t.Errorf("the hub's scanner found %d keyframes, want 2 (at 2 and 3 s)", keyframes)
	}
	if !strings.Contains(srv.logs.String(), `tracks="H.265 320x240 25 fps, AAC 48000 Hz channel config 1"`) {
		t.Error("the publish was not logged with its tracks")
	}
}

// waitLog waits up to 30 s for a log line that holds every part.
func (ts *testServer) waitLog(t *testing.T, parts ...string) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		for line := range strings.Lines(ts.logs.String()) {
			found := true
			for _, p := range parts {
				found = found && strings.Contains(line, p)
			}
			if found {
				return
			}
		}
	}
	t.Fatalf("no log line with %q within 30 s", parts)
}

// waitDetached waits for the one publisher to end and returns it.
func (ts *testServer) waitDetached(t *testing.T) *recorder {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		if all := ts.sources.attached(); len(all) == 1 {
			select {
			case <-all[0].detached:
				return all[0]
			case <-deadline:
				t.Fatal("publisher not detached within 10 s")
			}
		}
		select {
		case <-deadline:
			t.Fatal("no publisher attached within 10 s")
		case <-time.After(10 * time.Millisecond):
		}
	}
}

func TestRefusals(t *testing.T) {
	srv := startServer(t)
	key := func(k string) string { return testFeed.ID + "?key=" + k }
	tests := []struct {
		name, app, streamKey string
		play                 bool
		reason, status       string
	}{
		{"wrong key", App, key("NOTTHEPASSPHRASE"), false, "unauthorized", statusDenied},
		{"no key", App, testFeed.ID, false, "unauthorized", statusDenied},
		{"unknown feed", App, "swm-200fr-heats?key=" + testFeed.PublishPassphrase, false, "not found", statusBadName},
		{"other app", "stream", key(testFeed.PublishPassphrase), false, "not found", statusBadName},
		{"no feed", App, "?key=" + testFeed.PublishPassphrase, false, "bad request", statusBadName},
		{"play", App, key(testFeed.PublishPassphrase), true, "bad mode", statusPlayFailed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := srv.rejections(t, tc.reason)
			c, err := dial(srv.url(tc.app, tc.streamKey), !tc.play)
			if err == nil {
				c.Close()
				t.Fatal("accepted")
			}
			if !strings.Contains(err.Error(), tc.status) {
				t.Errorf("client error %q does not carry %s", err, tc.status)
			}
			if got := srv.rejections(t, tc.reason) - before; got != 1 {
				t.Errorf("podium_rtmp_rejections_total{reason=%q} rose by %v, want 1", tc.reason, got)
			}
		})
	}
	if n := len(srv.sources.attached()); n != 0 {
		t.Fatalf("%d refused publishers reached the feed", n)
	}
	if strings.Contains(srv.logs.String(), testFeed.PublishPassphrase) {
		t.Fatal("a publish passphrase was logged")
	}
}

// TestSecondPublisherIsRefused: while a publisher is live, another with the
// same key is refused and the first goes on; the backup key opens the
// backup source.
func TestSecondPublisherIsRefused(t *testing.T) {
	srv := startServer(t)
	first, err := dial(srv.url(App, testFeed.ID+"?key="+testFeed.PublishPassphrase), true)
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	if _, err := dial(srv.url(App, testFeed.ID+"?key="+testFeed.PublishPassphrase), true); err == nil || !strings.Contains(err.Error(), "already has a live primary source") {
		t.Fatalf("second primary: %v, want a refusal", err)
	}
	if srv.rejections(t, "conflict") != 1 {
		t.Error("conflict not counted")
	}
	backup, err := dial(srv.url(App, testFeed.ID+"?key="+testFeed.BackupPublishPassphrase), true)
	if err != nil {
		t.Fatalf("backup: %v", err)
	}
	defer backup.Close()
	all := srv.sources.attached()
	if len(all) != 2 || all[0].role != ingest.Primary || all[1].role != ingest.Backup {
		t.Fatalf("sources attached: %d, want the primary then the backup", len(all))
	}
	select {
	case <-all[0].detached:
		t.Fatal("the first publisher was detached")
	default:
	}
}

// TestKickedPublisherIsDisconnected: when Podium drops a source (feed
// deleted), its connection closes.
func TestKickedPublisherIsDisconnected(t *testing.T) {
	srv := startServer(t)
	c, err := dial(srv.url(App, testFeed.ID+"?key="+testFeed.PublishPassphrase), true)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	all := srv.sources.attached()
	all[0].kick(hub.ErrFeedRemoved)
	c.NetConn().SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.Copy(io.Discard, c.NetConn()); err != nil {
		t.Fatalf("connection not closed: %v", err)
	}
	srv.waitLog(t, `msg="rtmp connection close" feed=ath-100m-final source=primary`, `reason="feed deleted"`)
}

// TestSilentPeerIsCut: a connection that sends nothing is closed after the timeout.
func TestSilentPeerIsCut(t *testing.T) {
	srv := startServerWith(t, Config{Timeout: 200 * time.Millisecond})
	nc, err := net.Dial("tcp", srv.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.Copy(io.Discard, nc); err != nil {
		t.Fatalf("silent connection not closed by the server: %v", err)
	}
}

// TestUnsupportedCodecIsRefused: a publish whose tracks Podium cannot carry
// (G.711 here) is closed once its tracks are known, counted and logged, and
// nothing reaches the feed.
func TestUnsupportedCodecIsRefused(t *testing.T) {
	srv := startServer(t)
	c, err := dial(srv.url(App, testFeed.ID+"?key="+testFeed.PublishPassphrase), true)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	track := &gortmplib.Track{Codec: &rtmpcodecs.G711{ChannelCount: 1}}
	w := &gortmplib.Writer{Conn: c, Tracks: []*gortmplib.Track{track}}
	if err := w.Initialize(); err != nil {
		t.Fatal(err)
	}
	for i := range 150 {
		if err := w.WriteG711(track, time.Duration(i)*20*time.Millisecond, make([]byte, 160)); err != nil {
			t.Fatal(err)
		}
	}
	rec := srv.waitDetached(t)
	if len(rec.written()) != 0 {
		t.Fatal("an unsupported stream reached the feed")
	}
	if srv.rejections(t, "unsupported media") != 1 || !strings.Contains(srv.logs.String(), "codec G711 is not supported") {
		t.Fatal("the refusal was not counted and logged")
	}
}

// TestTalkativePeerWithoutKeyIsCut: a peer that sends commands but never a
// publish is cut after 64 KiB.
func TestTalkativePeerWithoutKeyIsCut(t *testing.T) {
	srv := startServer(t)
	nc, err := net.Dial("tcp", srv.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	bc := bytecounter.NewReadWriter(nc)
	if _, _, err := handshake.DoClient(bc, false, false); err != nil {
		t.Fatal(err)
	}
	go io.Copy(io.Discard, nc) // the server's answers, unread
	mrw := message.NewReadWriter(bc, bc, false)
	connect := &message.CommandAMF0{ChunkStreamID: 3, Name: "connect", CommandID: 1, Arguments: []any{
		amf0.Object{{Key: "app", Value: App}, {Key: "tcUrl", Value: "rtmp://127.0.0.1/" + App}}}}
	if err := mrw.Write(connect); err != nil {
		t.Fatal(err)
	}
	for i := range 200 {
		err := mrw.Write(&message.CommandAMF0{ChunkStreamID: 3, Name: "FCPublish", CommandID: 2 + i, Arguments: []any{nil, strings.Repeat("x", 1000)}})
		if err != nil {
			break
		}
	}
	srv.waitLog(t, `msg="rtmp connection close"`, `reason="before publish: sent more than 64 KiB before publishing"`)
}

// TestWrongKeysLockTheAddressOut: after too many wrong keys from an
// address, even the right one is refused for a while.
func TestWrongKeysLockTheAddressOut(t *testing.T) {
	clock := time.Now()
	var mu sync.Mutex
	now := func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
	srv := startServerWith(t, Config{Timeout: 5 * time.Second,
		Auth: ratelimit.New("rtmp", ratelimit.Config{MaxFailures: 3, Window: time.Minute, MaxAddresses: 10, Now: now}, nil, nil)})
	right := srv.url(App, testFeed.ID+"?key="+testFeed.PublishPassphrase)
	for range 3 {
		if _, err := dial(srv.url(App, testFeed.ID+"?key=GUESS"), true); err == nil {
			t.Fatal("a wrong key was accepted")
		}
	}
	if _, err := dial(right, true); err == nil || !strings.Contains(err.Error(), "locked out") {
		t.Fatalf("right key during the lockout: %v, want a refusal", err)
	}
	if srv.rejections(t, "unauthorized") != 3 || srv.rejections(t, "locked") != 1 || len(srv.sources.attached()) != 0 {
		t.Fatal("the refusals were not counted, or a locked-out publisher reached the feed")
	}
	mu.Lock()
	clock = clock.Add(time.Minute)
	mu.Unlock()
	c, err := dial(right, true)
	if err != nil {
		t.Fatalf("right key after the lockout: %v", err)
	}
	c.Close()
}

// TestConnectionLimitRefusesPublishers: an RTMP publisher takes a slot of
// max_connections; over it, the next is refused.
func TestConnectionLimitRefusesPublishers(t *testing.T) {
	srv := startServerWith(t, Config{Timeout: 5 * time.Second, Connections: limits.NewConnectionLimiter(1, 0, nil)})
	first, err := dial(srv.url(App, testFeed.ID+"?key="+testFeed.PublishPassphrase), true)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dial(srv.url(App, testFeed.ID+"?key="+testFeed.BackupPublishPassphrase), true); err == nil || srv.rejections(t, "overload") != 1 {
		t.Fatalf("a publisher over the limit: %v, want an overload refusal", err)
	}
	first.Close()
	srv.waitLog(t, `msg="rtmp connection close" feed=ath-100m-final source=primary`)
	backup, err := dial(srv.url(App, testFeed.ID+"?key="+testFeed.BackupPublishPassphrase), true)
	if err != nil {
		t.Fatalf("the slot was not given back: %v", err)
	}
	backup.Close()
}
