package rtmpserver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/bluenviron/gortmplib"
	"github.com/bluenviron/gortmplib/pkg/amf0"
	rtmpcodecs "github.com/bluenviron/gortmplib/pkg/codecs"
	"github.com/bluenviron/gortmplib/pkg/message"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h265"

	"github.com/podium-broadcast/podium/internal/hub"
	"github.com/podium-broadcast/podium/internal/ingest"
)

// trackAnalysis is how much media gortmplib reads to find a publisher's
// tracks before it hands over the first frame.
const trackAnalysis = 2 * time.Second

// lingerAfterRefusal is how long a refused connection stays open for the
// client to read why, before it is closed.
const lingerAfterRefusal = time.Second

var errPeerClosed = errors.New("publisher closed the connection")

// NetStream status codes sent with a refusal, as RTMP clients know them.
const (
	statusBadName    = "NetStream.Publish.BadName"
	statusDenied     = "NetStream.Publish.Denied"
	statusPublishErr = "NetStream.Publish.Failed"
	statusPlayFailed = "NetStream.Play.Failed"
)

// rejection is a refused request: the reason counted and logged, the
// status and description sent to the client.
type rejection struct {
	reason string // podium_rtmp_rejections_total's label
	status string
	detail string
}

func (r *rejection) Error() string { return r.detail }

func reject(reason, status, format string, args ...any) *rejection {
	return &rejection{reason: reason, status: status, detail: fmt.Sprintf(format, args...)}
}

// session is one RTMP connection, from handshake to close.
type session struct {
	server *Server
	nc     net.Conn
	sc     *gortmplib.ServerConn
	remote string
	since  time.Time
	// Known once the publish command has been read.
	stream     string // APP/FEED, without the key
	feed, role string
	release    func() // gives back the connection slot of an accepted publisher
	tsBytes    uint64
}

func (s *Server) serveConn(ctx context.Context, nc net.Conn) {
	ss := &session{server: s, nc: nc, remote: nc.RemoteAddr().String(), since: time.Now()}
	s.log.Info("rtmp connection open", "remote", ss.remote)
	reason := ss.runSafely(ctx)
	var received uint64
	if ss.sc != nil {
		received = ss.sc.BytesReceived()
	}
	s.log.Info("rtmp connection close", "feed", ss.feed, "source", ss.role, "remote", ss.remote,
		"reason", truncateReason(reason), "bytes", received, "ts_bytes", ss.tsBytes,
		"duration", time.Since(ss.since).Round(time.Millisecond))
}

// runSafely runs the session; a panic on what a peer sent (a bug of the
// RTMP library or of the remuxer) ends this connection only, as net/http
// does for a handler.
func (ss *session) runSafely(ctx context.Context) (reason error) {
	defer func() {
		if r := recover(); r != nil {
			ss.server.log.Error("rtmp session panic", "remote", ss.remote, "panic", r, "stack", string(debug.Stack()))
			reason = fmt.Errorf("internal error: %v", r)
		}
	}()
	return ss.run(ctx)
}

// run serves the connection and returns why it ended.
func (ss *session) run(ctx context.Context) error {
	s := ss.server
	ss.nc.SetDeadline(time.Now().Add(s.cfg.Timeout))
	limited := newPreAuthConn(ss.nc)
	ss.sc = &gortmplib.ServerConn{RW: limited}
	if err := ss.sc.Initialize(); err != nil {
		return ss.cut(ctx, fmt.Errorf("handshake: %w", err))
	}
	if err := ss.sc.AcceptConn(); err != nil {
		return ss.cut(ctx, fmt.Errorf("before publish: %w", err))
	}
	pub, err := ss.authorize()
	if err != nil {
		var rej *rejection
		if errors.As(err, &rej) {
			ss.refuse(rej)
		}
		return err
	}
	defer ss.release()
	defer pub.Detach()
	limited.Accept()
	err = ss.publish(ctx, pub)
	var rej *rejection
	if errors.As(err, &rej) {
		ss.refuse(rej)
		return err
	}
	return ss.ended(ctx, pub, err)
}

// authorize checks the publish request against the catalog and makes the
// connection the feed's source.
func (ss *session) authorize() (Publisher, error) {
	s := ss.server
	ss.stream = truncate(strings.TrimPrefix(ss.sc.URL.Path, "/"))
	// A locked-out address is refused before its key is looked at.
	if retry, ok := s.cfg.Auth.Check(ss.remote); !ok {
		return nil, reject("locked", statusDenied, "address locked out after too many failed authentications; retry in %v", retry.Round(time.Second))
	}
	if !ss.sc.Publish {
		return nil, reject("bad mode", statusPlayFailed,
			"play is refused: Podium takes RTMP publishers only; receive feeds over SRT or HLS")
	}
	name, err := parseStreamName(ss.sc.URL)
	if err != nil {
		return nil, reject("bad request", statusBadName, "%v", err)
	}
	if name.App != App {
		return nil, reject("not found", statusBadName, "application %q does not exist: publish to rtmp://HOST:PORT/%s", truncate(name.App), App)
	}
	feed, ok := s.catalog.Snapshot().Feed(name.Feed)
	if !ok {
		return nil, reject("not found", statusBadName, "feed %q does not exist", truncate(name.Feed))
	}
	role, ok := role(feed, name.Key)
	switch {
	case !ok && name.Key == "":
		s.cfg.Auth.Fail(ss.remote)
		return nil, reject("unauthorized", statusDenied, "no key: the stream key is %s?key=PUBLISH_PASSPHRASE", feed.ID)
	case !ok:
		s.cfg.Auth.Fail(ss.remote)
		return nil, reject("unauthorized", statusDenied, "wrong key: it is neither feed %s's publish passphrase nor its backup one", feed.ID)
	}
	s.cfg.Auth.Succeed(ss.remote)
	ss.feed, ss.role = feed.ID, role
	release, err := s.cfg.Connections.Acquire("")
	if err != nil {
		return nil, reject("overload", statusDenied, "publisher of feed %s: %v", feed.ID, err)
	}
	pub, err := s.attach(feed.ID, role, ss.remote)
	if errors.Is(err, ingest.ErrRoleTaken) || errors.Is(err, hub.ErrPublisherActive) {
		release()
		return nil, reject("conflict", statusBadName, "feed %s already has a live %s source", feed.ID, role)
	}
	if err != nil {
		release()
		return nil, reject("not found", statusBadName, "feed %s: %v", feed.ID, err)
	}
	ss.release = release
	return pub, nil
}

// publish carries the stream into the feed until the connection ends.
func (ss *session) publish(ctx context.Context, pub Publisher) error {
	s := ss.server
	if err := ss.sc.AcceptAction(); err != nil {
		return err
	}
	s.metrics.publishes.Inc()
	s.metrics.publishers.Inc()
	defer s.metrics.publishers.Dec()

	// A kicked publisher or a shutdown closes the connection, which ends the reads.
	done := make(chan struct{})
	var wg sync.WaitGroup
	defer wg.Wait()
	defer close(done)
	wg.Go(func() {
		select {
		case <-done:
			return
		case <-ctx.Done():
		case <-pub.Kicked():
		}
		ss.nc.Close()
	})

	ss.nc.SetDeadline(time.Now().Add(s.cfg.Timeout + trackAnalysis))
	edge := &liveEdge{Conn: ss.sc}
	r := &gortmplib.Reader{Conn: edge}
	if err := r.Initialize(); err != nil {
		return fmt.Errorf("reading the stream's tracks: %w", err)
	}
	tracks := r.Tracks()
	m, err := newRemuxer(tracks, pub)
	var unsupported errUnsupported
	if errors.As(err, &unsupported) {
		return reject("unsupported media", statusPublishErr, "%v", err)
	}
	if err != nil {
		return err
	}
	m.listen(r, tracks)
	edge.onLive = m.goLive
	s.log.Info("rtmp publish start", "feed", ss.feed, "source", ss.role, "remote", ss.remote,
		"tracks", describe(tracks), "encoder", truncate(ss.sc.FlashVer))
	defer func() { ss.tsBytes = m.written }()
	for {
		ss.nc.SetDeadline(time.Now().Add(s.cfg.Timeout))
		if err := r.Read(); err != nil {
			return err
		}
		if m.err != nil {
			return m.err
		}
	}
}

// liveEdge tells when gortmplib's reader, having read ahead to learn the
// tracks, has handed over again what it read: its next read from the
// connection is live. onLive is set once the tracks are known.
type liveEdge struct {
	gortmplib.Conn
	onLive func()
}

func (c *liveEdge) Read() (message.Message, error) {
	if c.onLive != nil {
		c.onLive()
		c.onLive = nil
	}
	return c.Conn.Read()
}

// ended says why a connection ended, err being what the last read or write returned.
func (ss *session) ended(ctx context.Context, pub Publisher, err error) error {
	switch {
	case pub != nil && pub.Reason() != nil:
		return pub.Reason()
	case ctx.Err() != nil:
		return hub.ErrShutdown
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		return errPeerClosed
	case errors.Is(err, os.ErrDeadlineExceeded):
		return fmt.Errorf("nothing received for %v", ss.server.cfg.Timeout)
	}
	return err
}

// cut ends a connection that failed before its publish: what the
// pre-authentication guard refused is counted and logged as a rejection,
// without an answer (the peer's chunk stream is not to be trusted).
func (ss *session) cut(ctx context.Context, err error) error {
	var rej *rejection
	if errors.As(err, &rej) {
		ss.count(rej)
		return err
	}
	return ss.ended(ctx, nil, err)
}

// count counts and logs a rejection.
func (ss *session) count(rej *rejection) {
	s := ss.server
	level := slog.LevelWarn
	if rej.reason == "locked" {
		// The lockout itself is logged once, by the limiter.
		level = slog.LevelDebug
	}
	s.log.Log(context.Background(), level, "rtmp connection rejected", "remote", ss.remote, "stream", ss.stream,
		"rejection", rej.reason, "reason", rej.detail)
	s.metrics.rejections.WithLabelValues(rej.reason).Inc()
}

// refuse counts and logs a rejection and tells the client why, then gives
// it a moment to read that before the connection closes.
func (ss *session) refuse(rej *rejection) {
	ss.count(rej)
	ss.nc.SetDeadline(time.Now().Add(lingerAfterRefusal))
	// Transaction 0, as the RTMP specification has it for onStatus.
	ss.sc.Write(&message.CommandAMF0{
		ChunkStreamID:   5,
		MessageStreamID: 0x1000000,
		Name:            "onStatus",
		Arguments: []any{nil, amf0.Object{
			{Key: "level", Value: "error"},
			{Key: "code", Value: rej.status},
			{Key: "description", Value: rej.detail},
		}},
	})
	// Closing a socket with unread data resets it, and the client may lose
	// the status: stop sending, and read until the client closes.
	if tc, ok := ss.nc.(interface{ CloseWrite() error }); ok {
		tc.CloseWrite()
	}
	io.Copy(io.Discard, io.LimitReader(ss.nc, 1<<20))
}

// describe lists a publisher's tracks for a log line: "H.264 1280x720 50 fps, AAC 48000 Hz config 2".
func describe(tracks []*gortmplib.Track) string {
	parts := make([]string, 0, len(tracks))
	for _, t := range tracks {
		switch c := t.Codec.(type) {
		case *rtmpcodecs.H264:
			var sps h264.SPS
			if sps.Unmarshal(c.SPS) != nil {
				parts = append(parts, "H.264")
				continue
			}
			parts = append(parts, fmt.Sprintf("H.264 %dx%d %.4g fps", sps.Width(), sps.Height(), sps.FPS()))
		case *rtmpcodecs.H265:
			var sps h265.SPS
			if sps.Unmarshal(c.SPS) != nil {
				parts = append(parts, "H.265")
				continue
			}
			parts = append(parts, fmt.Sprintf("H.265 %dx%d %.4g fps", sps.Width(), sps.Height(), sps.FPS()))
		case *rtmpcodecs.MPEG4Audio:
			parts = append(parts, fmt.Sprintf("AAC %d Hz channel config %d", c.Config.SampleRate, c.Config.ChannelConfig))
		default:
			parts = append(parts, codecName(t.Codec))
		}
	}
	return strings.Join(parts, ", ")
}

// truncateReason keeps a close reason to one readable line: some
// handshake errors quote what the peer sent.
func truncateReason(err error) string {
	const max = 200
	s := err.Error()
	if len(s) > max {
		return s[:max] + "…"
	}
	return s
}
