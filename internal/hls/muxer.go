package hls

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bluenviron/gohlslib/v2"
	"github.com/bluenviron/gohlslib/v2/pkg/codecs"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/mpegts"
	tscodecs "github.com/bluenviron/mediacommon/v2/pkg/formats/mpegts/codecs"

	"github.com/podium-broadcast/podium/internal/hub"
	"github.com/podium-broadcast/podium/internal/ts"
)

// ErrNoTracks means a feed carries nothing HLS can carry to a browser.
var ErrNoTracks = errors.New("no H.264, H.265 or AAC track in the feed")

// errLayoutChanged ends a muxer whose feed's PMT lists other streams than
// the one it started on (a backup with other tracks on air, a new
// publisher): the next request starts a muxer on the new layout.
var errLayoutChanged = errors.New("the feed's PMT changed its streams")

// A track's timestamps that step back more than maxBackStep or forward more
// than maxForwardStep are a new timeline, which the muxer rebases to
// continue the old one rebaseStep later (see timeline).
const (
	maxBackStep    = 90000     // 1 s
	maxForwardStep = 5 * 90000 // 5 s
	rebaseStep     = 3600      // 40 ms
)

// feedMuxer turns one feed's transport stream, read from the hub like any
// other reader, into LL-HLS: it demuxes the TS and remuxes the video
// (passthrough, no transcoding) and every AAC track into fMP4 parts and
// segments. It runs until the hub reader ends, a write fails or it is closed.
type feedMuxer struct {
	feedID string
	log    *slog.Logger
	reader *hub.Reader
	muxer  *gohlslib.Muxer
	gaps   gapTracker
	// ready is closed once the muxer has a segment to serve, or has ended.
	ready chan struct{}
	done  chan struct{}
	err   error // why it ended; set before done closes

	lastUse atomic.Int64 // unix nanoseconds of the last request
	closing sync.Once
	cancel  context.CancelFunc
}

// startMuxer attaches to the feed and runs its muxer on wg. The muxer stops
// when ctx ends or close is called.
func startMuxer(ctx context.Context, wg *sync.WaitGroup, f *hub.Feed, cfg Config, log *slog.Logger) (*feedMuxer, error) {
	reader, err := f.NewInternalReader()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	m := &feedMuxer{feedID: f.ID(), log: log, reader: reader, ready: make(chan struct{}), done: make(chan struct{}), cancel: cancel}
	m.touch()
	wg.Go(func() {
		defer close(m.done)
		defer cancel()
		m.err = m.run(ctx, cfg)
		if ctx.Err() == nil {
			log.Info("hls muxer stopped", "feed", m.feedID, "reason", m.err)
		}
		reader.Close(m.err)
	})
	return m, nil
}

func (m *feedMuxer) touch() { m.lastUse.Store(time.Now().UnixNano()) }

func (m *feedMuxer) idleSince() time.Time { return time.Unix(0, m.lastUse.Load()) }

// close stops the muxer; requests waiting on it get an error answer.
func (m *feedMuxer) close() {
	m.closing.Do(func() {
		m.cancel()
		m.reader.Close(hub.ErrShutdown)
	})
}

func (m *feedMuxer) run(ctx context.Context, cfg Config) error {
	ts := &mpegts.Reader{R: &hubStream{ctx: ctx, reader: m.reader}}
	if err := ts.Initialize(); err != nil {
		close(m.ready)
		return fmt.Errorf("read the feed's PMT: %w", err)
	}
	tracks, err := m.mapTracks(ts)
	if err != nil {
		close(m.ready)
		return err
	}
	mux := &gohlslib.Muxer{
		Variant:            gohlslib.MuxerVariantLowLatency,
		SegmentCount:       cfg.SegmentCount,
		SegmentMinDuration: cfg.SegmentMinDuration,
		PartMinDuration:    cfg.PartMinDuration,
		OnEncodeError: func(err error) {
			m.log.Warn("hls encode error", "feed", m.feedID, "err", err)
		},
	}
	for _, t := range tracks {
		mux.Tracks = append(mux.Tracks, t.out)
	}
	if err := mux.Start(); err != nil {
		close(m.ready)
		return fmt.Errorf("start HLS muxer: %w", err)
	}
	m.muxer = mux
	// The muxer's own playlist handler waits for the first segment: ask it
	// once in the background to learn when requests will not block. It
	// returns at the latest when the muxer closes, below.
	probed := make(chan struct{})
	defer func() { <-probed }()
	defer mux.Close()
	go func() {
		defer close(probed)
		mux.Handle(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/index.m3u8", nil))
		close(m.ready)
	}()

	var td mpegts.TimeDecoder
	var anchor time.Time
	var anchorPTS int64
	wallClock := func(pts int64) time.Time {
		if anchor.IsZero() {
			anchor, anchorPTS = time.Now(), pts
		}
		return anchor.Add(time.Duration(pts-anchorPTS) * time.Second / 90000)
	}
	var tl timeline
	for _, t := range tracks {
		tt := tl.track()
		// decode unwraps a track's timestamp onto the muxer's timeline.
		decode := func(raw int64) int64 {
			pts, jump, rebased := tt.place(td.Decode(raw))
			if rebased {
				m.log.Info("hls timeline rebased", "feed", m.feedID, "pid", t.in.PID, "jump", time.Duration(jump)*time.Second/90000)
			}
			return pts
		}
		switch c := t.out.Codec.(type) {
		case *codecs.H264:
			ts.OnDataH264(t.in, func(rawPTS, _ int64, au [][]byte) error {
				pts := decode(rawPTS)
				return mux.WriteH264(t.out, wallClock(pts), pts, au)
			})
		case *codecs.H265:
			ts.OnDataH265(t.in, func(rawPTS, _ int64, au [][]byte) error {
				pts := decode(rawPTS)
				return mux.WriteH265(t.out, wallClock(pts), pts, au)
			})
		case *codecs.MPEG4Audio:
			rate := int64(c.Config.SampleRate)
			ts.OnDataMPEG4Audio(t.in, func(rawPTS int64, aus [][]byte) error {
				pts := decode(rawPTS)
				return mux.WriteMPEG4Audio(t.out, wallClock(pts), pts*rate/90000, aus)
			})
		}
	}
	ts.OnDecodeError(func(err error) {
		m.log.Debug("hls demux error", "feed", m.feedID, "err", err)
	})
	for {
		if err := ts.Read(); err != nil {
			return err
		}
	}
}

type trackPair struct {
	in  *mpegts.Track
	out *gohlslib.Track
}

// mapTracks picks the tracks HLS carries: the first H.264 or H.265 video
// and every AAC track, each a selectable audio rendition named by its
// language. Other tracks (AC-3, SCTE-35, KLV, subtitles) stay on the SRT path.
func (m *feedMuxer) mapTracks(ts *mpegts.Reader) ([]trackPair, error) {
	var out []trackPair
	video, audio := false, 0
	names := map[string]int{}
	for _, in := range ts.Tracks() {
		switch c := in.Codec.(type) {
		case *tscodecs.H264:
			if !video {
				video = true
				out = append(out, trackPair{in, &gohlslib.Track{Codec: &codecs.H264{}, ClockRate: 90000}})
				continue
			}
		case *tscodecs.H265:
			if !video {
				video = true
				out = append(out, trackPair{in, &gohlslib.Track{Codec: &codecs.H265{}, ClockRate: 90000}})
				continue
			}
		case *tscodecs.MPEG4Audio:
			audio++
			name := in.Language
			if name == "" {
				name = "Audio " + strconv.Itoa(audio)
			}
			if names[name]++; names[name] > 1 {
				name += " " + strconv.Itoa(names[name])
			}
			out = append(out, trackPair{in, &gohlslib.Track{
				Codec:     &codecs.MPEG4Audio{Config: c.Config},
				ClockRate: c.Config.SampleRate,
				Name:      name,
				Language:  in.Language,
				IsDefault: audio == 1,
			}})
			continue
		}
		m.log.Debug("hls leaves a track out", "feed", m.feedID, "pid", in.PID, "codec", fmt.Sprintf("%T", in.Codec))
	}
	if len(out) == 0 {
		return nil, ErrNoTracks
	}
	return out, nil
}

// hubStream reads a hub reader's chunks as one byte stream. It follows the
// PMT and ends with errLayoutChanged at a chunk where it lists other streams
// than the first one did.
type hubStream struct {
	ctx     context.Context
	reader  *hub.Reader
	chunks  [][]byte
	queue   [][]byte
	cur     []byte
	scanner ts.Scanner
	layout  []ts.Stream
}

func (s *hubStream) Read(p []byte) (int, error) {
	for len(s.cur) == 0 {
		if len(s.queue) == 0 {
			var err error
			s.chunks, err = s.reader.Next(s.ctx, s.chunks[:0])
			if err != nil {
				if errors.Is(err, context.Canceled) {
					return 0, io.EOF
				}
				return 0, err
			}
			s.queue = s.chunks
		}
		s.cur, s.queue = s.queue[0], s.queue[1:]
		s.reader.Wrote(len(s.cur))
		if err := s.follow(s.cur); err != nil {
			return 0, err
		}
	}
	n := copy(p, s.cur)
	s.cur = s.cur[n:]
	return n, nil
}

// follow scans a chunk for a change of the program's streams.
func (s *hubStream) follow(chunk []byte) error {
	if _, err := s.scanner.Scan(chunk); err != nil {
		return err
	}
	streams := s.scanner.Streams()
	switch {
	case len(streams) == 0:
	case s.layout == nil:
		s.layout = append(make([]ts.Stream, 0, len(streams)), streams...)
	case !slices.Equal(streams, s.layout):
		return errLayoutChanged
	}
	return nil
}
