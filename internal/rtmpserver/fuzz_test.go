package rtmpserver

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/bluenviron/gortmplib"
	rtmpcodecs "github.com/bluenviron/gortmplib/pkg/codecs"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/podium-broadcast/podium/internal/catalog"
)

// discardPublisher is a feed source that drops what it is given.
type discardPublisher struct{ kicked chan struct{} }

func (discardPublisher) Write([]byte) error        { return nil }
func (p discardPublisher) Kicked() <-chan struct{} { return p.kicked }
func (discardPublisher) Reason() error             { return nil }
func (discardPublisher) Detach()                   {}

func attachDiscard(string, string, string) (Publisher, error) {
	return discardPublisher{kicked: make(chan struct{})}, nil
}

// newBareServer is a server without a listener, whose errors (panics
// recovered from sessions) are logged into errs.
func newBareServer(timeout time.Duration, errs io.Writer) *Server {
	log := slog.New(slog.NewTextHandler(errs, &slog.HandlerOptions{Level: slog.LevelError}))
	return New(Config{Timeout: timeout}, staticCatalog{catalog.NewSnapshot([]catalog.Feed{testFeed}, nil, nil)},
		attachDiscard, NewMetrics(prometheus.NewRegistry()), log)
}

// loopback returns both ends of a TCP connection on 127.0.0.1: unlike
// net.Pipe's, a TCP client can stop sending (CloseWrite) and still read.
func loopback() (client *net.TCPConn, server net.Conn, err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, nil, err
	}
	defer ln.Close()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		return nil, nil, err
	}
	server, err = ln.Accept()
	if err != nil {
		c.Close()
		return nil, nil, err
	}
	return c.(*net.TCPConn), server, nil
}

// serveBytes runs one server session whose peer sends data, then stops
// sending and reads until the server closes; it reports whether the session
// ended within limit.
func serveBytes(tb testing.TB, srv *Server, data []byte, limit time.Duration) bool {
	client, server, err := loopback()
	if err != nil {
		tb.Fatal(err)
	}
	defer client.Close()
	go func() {
		client.Write(data)
		client.CloseWrite()
	}()
	go io.Copy(io.Discard, client)
	done := make(chan struct{})
	go func() {
		srv.serveConn(context.Background(), server)
		server.Close()
		close(done)
	}()
	select {
	case <-done:
		return true
	case <-time.After(limit):
		return false
	}
}

// recordingConn keeps what a client sends.
type recordingConn struct {
	net.Conn
	mu   sync.Mutex
	sent bytes.Buffer
}

func (c *recordingConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	c.sent.Write(p)
	c.mu.Unlock()
	return c.Conn.Write(p)
}

func (c *recordingConn) bytes() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return bytes.Clone(c.sent.Bytes())
}

// recordSession returns what gortmplib's client sends to a server to play
// or to publish streamKey, send giving a publisher's media.
func recordSession(tb testing.TB, streamKey string, publish bool, send func(*gortmplib.Client) error) []byte {
	tb.Helper()
	srv := newBareServer(5*time.Second, io.Discard)
	client, server, err := loopback()
	if err != nil {
		tb.Fatal(err)
	}
	rec := &recordingConn{Conn: client}
	done := make(chan struct{})
	go func() {
		srv.serveConn(context.Background(), server)
		server.Close()
		close(done)
	}()
	u, _ := url.Parse("rtmp://127.0.0.1:1935/" + App + "#" + streamKey)
	c := &gortmplib.Client{URL: u, Publish: publish,
		DialContext: func(context.Context, string, string) (net.Conn, error) { return rec, nil }}
	if err := c.Initialize(context.Background()); err == nil && send != nil {
		if err := send(c); err != nil {
			tb.Fatal(err)
		}
	}
	client.CloseWrite()
	<-done
	client.Close()
	return rec.bytes()
}

// tinyMedia publishes 3 s of tiny H.264 and AAC frames.
func tinyMedia(c *gortmplib.Client) error {
	video := &gortmplib.Track{Codec: &rtmpcodecs.H264{SPS: testSPS, PPS: testPPS}}
	audio := &gortmplib.Track{Codec: &rtmpcodecs.MPEG4Audio{Config: testAAC}}
	w := &gortmplib.Writer{Conn: c, Tracks: []*gortmplib.Track{video, audio}}
	if err := w.Initialize(); err != nil {
		return err
	}
	for i := range 75 {
		at := time.Duration(i) * 40 * time.Millisecond
		au := [][]byte{testNonIDR}
		if i%25 == 0 {
			au = [][]byte{testIDR}
		}
		w.WriteH264(video, at, at, au)
		w.WriteMPEG4Audio(audio, at, []byte{0x21, 0x10, 0x04})
		w.WriteMPEG4Audio(audio, at+20*time.Millisecond, []byte{0x21, 0x10, 0x05})
	}
	return nil
}

// FuzzServerConn feeds arbitrary bytes to the server side of an RTMP
// connection (handshake, chunk stream, commands, media): the session must
// end when the peer is done, without a panic. The seeds are real sessions
// of gortmplib's client: a publish that reaches the remuxer, a wrong key, a
// play, the start of an encrypted (RTMPE) handshake, and chunk size and
// message length attacks.
func FuzzServerConn(f *testing.F) {
	f.Add(recordSession(f, testFeed.ID+"?key="+testFeed.PublishPassphrase, true, tinyMedia))
	f.Add(recordSession(f, testFeed.ID+"?key=WRONGKEY", true, nil))
	f.Add(recordSession(f, testFeed.ID, false, nil))
	f.Add(append([]byte{6}, make([]byte, 1536)...))
	plain := append([]byte{3}, make([]byte, handshakeLen-1)...)
	f.Add(append(append(plain, setChunkSize(10<<20)...), hugeCommand...))
	f.Add(append(append(plain, setChunkSize(65536)...), hugeCommand...))
	f.Fuzz(func(t *testing.T, data []byte) {
		var errs syncBuffer
		srv := newBareServer(time.Second, &errs)
		if !serveBytes(t, srv, data, 10*time.Second) {
			t.Fatal("the session did not end within 10 s of its peer closing")
		}
		if s := errs.String(); s != "" {
			t.Fatalf("session error: %s", s)
		}
	})
}

// TestRecordedPublishReachesTheRemuxer checks that FuzzServerConn's main
// seed is a whole publish, so that fuzzing starts deep in the session.
func TestRecordedPublishReachesTheRemuxer(t *testing.T) {
	seed := recordSession(t, testFeed.ID+"?key="+testFeed.PublishPassphrase, true, tinyMedia)
	var logs syncBuffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	rec := newRecorder()
	srv := New(Config{Timeout: time.Second}, staticCatalog{catalog.NewSnapshot([]catalog.Feed{testFeed}, nil, nil)},
		func(string, string, string) (Publisher, error) { return rec, nil }, NewMetrics(prometheus.NewRegistry()), log)
	if !serveBytes(t, srv, seed, 10*time.Second) {
		t.Fatal("the replayed session did not end")
	}
	// From the keyframe at 2 s, where the read-ahead ends: 25 pictures and 50 AAC frames.
	if starts := pesStarts(t, rec.stream()); len(starts) != 75 {
		t.Fatalf("the replayed publish gave %d PES, want every frame from the keyframe at 2 s (75):\n%s", len(starts), logs.String())
	}
}
