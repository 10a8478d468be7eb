package rtmpserver

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/bluenviron/gortmplib"
	rtmpcodecs "github.com/bluenviron/gortmplib/pkg/codecs"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h265"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/mpegts"
	tscodecs "github.com/bluenviron/mediacommon/v2/pkg/formats/mpegts/codecs"
)

// errUnsupported is a publisher's stream that Podium cannot carry.
type errUnsupported struct{ what string }

func (e errUnsupported) Error() string {
	return e.what + " is not supported: send one H.264 or H.265 video track and AAC audio"
}

// remuxer turns one publisher's RTMP tracks into an MPEG transport stream
// and writes it into the feed one access unit at a time, as whole packets.
//
// The stream is what receivers and the hub's keyframe detection expect:
// PAT and PMT before every keyframe (and every 40 PES), PCR on the video PID,
// one PES per access unit with the random access indicator on keyframes,
// H.264/H.265 parameter sets in front of every keyframe (RTMP sends them
// once, in the sequence header), and continuous 90 kHz timestamps. Nothing
// is written before the first video keyframe, so every reader starts with
// a picture.
//
// gortmplib reads the first two seconds of a publish to learn its tracks,
// then hands them over again at once. Written as they come, they would put
// every receiver already waiting for the feed two seconds behind for good;
// so until the remuxer is told it is live, it keeps only the access units
// from the latest keyframe, and writes those: one GOP at once, as a new
// reader gets from the hub.
type remuxer struct {
	out    Publisher
	writer *mpegts.Writer
	buf    bytes.Buffer // the packets of the access unit being written
	clock  timeline
	video  *videoTrack // nil for a stream without video
	audio  map[*gortmplib.Track]*mpegts.Track
	// started is set at the first video keyframe (or at once without video).
	started bool
	live    bool
	held    []func() error // the writes from the latest keyframe, until live
	written uint64
	err     error // the first write error; the session ends on it
}

// newRemuxer prepares the transport stream for tracks. It fails if a track
// is neither H.264, H.265 nor AAC, or if there is none.
func newRemuxer(tracks []*gortmplib.Track, out Publisher) (*remuxer, error) {
	if len(tracks) == 0 {
		return nil, errUnsupported{what: "a stream without audio or video"}
	}
	m := &remuxer{out: out, audio: make(map[*gortmplib.Track]*mpegts.Track)}
	var video []*mpegts.Track
	var audio []*mpegts.Track
	for _, t := range tracks {
		switch c := t.Codec.(type) {
		case *rtmpcodecs.H264, *rtmpcodecs.H265:
			if m.video != nil {
				return nil, errUnsupported{what: "a second video track"}
			}
			m.video = newVideoTrack(c)
			video = append(video, m.video.ts)
		case *rtmpcodecs.MPEG4Audio:
			if c.Config == nil {
				return nil, errUnsupported{what: "AAC without its configuration"}
			}
			ts := &mpegts.Track{Codec: &tscodecs.MPEG4Audio{Config: *c.Config}}
			m.audio[t] = ts
			audio = append(audio, ts)
		default:
			return nil, errUnsupported{what: "codec " + codecName(t.Codec)}
		}
	}
	// Video first: it takes the first PID, and it carries the PCR because
	// it is written first.
	m.writer = &mpegts.Writer{W: &m.buf, Tracks: append(video, audio...)}
	if err := m.writer.Initialize(); err != nil {
		return nil, err
	}
	m.started = m.video == nil
	return m, nil
}

// codecName names an RTMP codec for a log line: "MPEG1Audio" for *codecs.MPEG1Audio.
func codecName(c rtmpcodecs.Codec) string {
	name := fmt.Sprintf("%T", c)
	return name[strings.LastIndex(name, ".")+1:]
}

// listen registers the remuxer's callbacks for every track of r.
func (m *remuxer) listen(r *gortmplib.Reader, tracks []*gortmplib.Track) {
	for _, t := range tracks {
		switch t.Codec.(type) {
		case *rtmpcodecs.H264:
			r.OnDataH264(t, m.onVideo)
		case *rtmpcodecs.H265:
			r.OnDataH265(t, m.onVideo)
		case *rtmpcodecs.MPEG4Audio:
			ts := m.audio[t]
			r.OnDataMPEG4Audio(t, func(pts time.Duration, au []byte) { m.onAAC(ts, pts, au) })
		}
	}
}

func (m *remuxer) onVideo(pts, dts time.Duration, au [][]byte) {
	v := m.video
	au = withoutEmpty(au)
	v.learn(au)
	if m.err != nil || !v.hasPicture(au) {
		return
	}
	key := v.isKeyframe(au)
	if !m.started {
		if !key {
			return
		}
		m.started = true
	}
	if key {
		au = v.withParameterSets(au)
	}
	d := m.clock.ticks(dts)
	p := d + offsetTicks(pts-dts)
	m.emit(key, func() error {
		if v.h265 {
			return m.writer.WriteH265(v.ts, p, d, au)
		}
		return m.writer.WriteH264(v.ts, p, d, au)
	})
}

func (m *remuxer) onAAC(track *mpegts.Track, pts time.Duration, au []byte) {
	if m.err != nil || !m.started || len(au) == 0 {
		return
	}
	p := m.clock.ticks(pts)
	m.emit(m.video == nil, func() error { return m.writer.WriteMPEG4Audio(track, p, [][]byte{au}) })
}

// emit writes an access unit, or holds it until the remuxer is live; a
// keyframe (any audio frame, without video) drops what was held before it.
func (m *remuxer) emit(keyframe bool, mux func() error) {
	if m.live {
		m.write(mux)
		return
	}
	if keyframe {
		m.held = m.held[:0]
	}
	m.held = append(m.held, mux)
}

// goLive writes what was held: the stream is live from now on.
func (m *remuxer) goLive() {
	m.live = true
	for _, mux := range m.held {
		if m.err == nil {
			m.write(mux)
		}
	}
	m.held = nil
}

// write runs one access unit through the writer and hands its packets to the feed.
func (m *remuxer) write(mux func() error) {
	m.buf.Reset()
	if err := mux(); err != nil {
		m.err = fmt.Errorf("remux: %w", err)
		return
	}
	if err := m.out.Write(m.buf.Bytes()); err != nil {
		m.err = err
		return
	}
	m.written += uint64(m.buf.Len())
}

// videoTrack is the video of a stream, H.264 or H.265, with its latest
// parameter sets.
type videoTrack struct {
	ts   *mpegts.Track
	h265 bool
	// params are the latest parameter sets, by NALU type: H.264 SPS and PPS;
	// H.265 VPS, SPS and PPS.
	params map[byte][]byte
	order  []byte // the parameter set types, in the order they go in front of a keyframe
}

func newVideoTrack(c rtmpcodecs.Codec) *videoTrack {
	switch c := c.(type) {
	case *rtmpcodecs.H265:
		v := &videoTrack{ts: &mpegts.Track{Codec: &tscodecs.H265{}}, h265: true, params: make(map[byte][]byte),
			order: []byte{byte(h265.NALUType_VPS_NUT), byte(h265.NALUType_SPS_NUT), byte(h265.NALUType_PPS_NUT)}}
		v.learn([][]byte{c.VPS, c.SPS, c.PPS})
		return v
	case *rtmpcodecs.H264:
		v := &videoTrack{ts: &mpegts.Track{Codec: &tscodecs.H264{}}, params: make(map[byte][]byte),
			order: []byte{byte(h264.NALUTypeSPS), byte(h264.NALUTypePPS)}}
		v.learn([][]byte{c.SPS, c.PPS})
		return v
	}
	panic(fmt.Sprintf("rtmpserver: %T is not a video codec", c))
}

func (v *videoTrack) naluType(nalu []byte) byte {
	if v.h265 {
		return nalu[0] >> 1 & 0x3F
	}
	return nalu[0] & 0x1F
}

// learn keeps the parameter sets of au (a sequence header, or a keyframe
// that carries its own).
func (v *videoTrack) learn(au [][]byte) {
	for _, nalu := range au {
		if len(nalu) == 0 {
			continue
		}
		t := v.naluType(nalu)
		if old, ok := v.params[t]; v.isParameterSet(t) && (!ok || !bytes.Equal(old, nalu)) {
			v.params[t] = bytes.Clone(nalu)
		}
	}
}

func (v *videoTrack) isParameterSet(t byte) bool {
	for _, p := range v.order {
		if t == p {
			return true
		}
	}
	return false
}

// hasPicture reports whether au, whose NALUs are not empty, holds a coded
// picture (a VCL NALU), not only parameter sets.
func (v *videoTrack) hasPicture(au [][]byte) bool {
	for _, nalu := range au {
		t := v.naluType(nalu)
		if (v.h265 && t < 32) || (!v.h265 && t >= 1 && t <= 5) {
			return true
		}
	}
	return false
}

func (v *videoTrack) isKeyframe(au [][]byte) bool {
	if v.h265 {
		return h265.IsRandomAccess(au)
	}
	return h264.IsRandomAccess(au)
}

// withParameterSets returns the keyframe au (NALUs not empty) with the
// latest parameter sets in front (after an access unit delimiter), unless it
// carries them all.
func (v *videoTrack) withParameterSets(au [][]byte) [][]byte {
	missing := false
	for _, t := range v.order {
		found := false
		for _, nalu := range au {
			found = found || v.naluType(nalu) == t
		}
		missing = missing || !found
	}
	if !missing {
		return au
	}
	aud := byte(h264.NALUTypeAccessUnitDelimiter)
	if v.h265 {
		aud = byte(h265.NALUType_AUD_NUT)
	}
	out := make([][]byte, 0, len(au)+len(v.order))
	rest := au
	if v.naluType(au[0]) == aud {
		out, rest = append(out, au[0]), au[1:]
	}
	for _, t := range v.order {
		if p, ok := v.params[t]; ok {
			out = append(out, p)
		}
	}
	for _, nalu := range rest {
		if !v.isParameterSet(v.naluType(nalu)) {
			out = append(out, nalu)
		}
	}
	return out
}

// withoutEmpty drops empty NALUs, which the writer cannot take.
func withoutEmpty(au [][]byte) [][]byte {
	for _, nalu := range au {
		if len(nalu) == 0 {
			return slices.DeleteFunc(slices.Clone(au), func(n []byte) bool { return len(n) == 0 })
		}
	}
	return au
}
