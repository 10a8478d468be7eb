package clips

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/ac3"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h265"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/mp4/codecs"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/mpegts"
	tscodecs "github.com/bluenviron/mediacommon/v2/pkg/formats/mpegts/codecs"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/pmp4"

	"github.com/podium-broadcast/podium/internal/archive"
)

// ErrNotMP4 is returned for a copy clip in MP4 of a stream with a video or
// audio codec that the remuxer cannot put in MP4 without re-encoding.
var ErrNotMP4 = errors.New("codec cannot be remuxed to MP4")

const (
	aacFrameSamples = 1024
	ac3FrameSamples = 1536
	// maxStep bounds the time between two samples of a track; a longer or
	// backward step is a discontinuity (a gap in recording, a new timeline)
	// and is closed up.
	maxStep = 10 * archive.PTSClock
	// demuxShare is the part of a remux's progress spent reading the stream.
	demuxShare = 0.8
)

// mp4Track collects one track's samples while the transport stream is read.
type mp4Track struct {
	pid   uint16
	lang  string
	codec codecs.Codec // for video, nil until the first parameter sets
	scale int64        // samples' time scale
	// frame is the audio samples per access unit; 0 for video.
	frame   int64
	samples []mp4Sample
}

// mp4Sample is one access unit, its payload in the spool file.
type mp4Sample struct {
	dts  int64 // in the track's scale, from the remuxer's reference
	cts  int32 // PTS-DTS in the track's scale
	off  int64
	size uint32
	sync bool
}

// remuxer turns the transport stream of a span into an MP4 presentation.
// Payloads go to a spool file rather than memory: a minute of a 20 Mbit/s
// feed is 150 MB.
type remuxer struct {
	spool    *bufio.Writer
	spoolOff int64
	tracks   []*mp4Track
	ref      int64 // the first timestamp seen, 90 kHz: timestamps are kept relative to it
	haveRef  bool
	skipped  []string // data tracks left out of the MP4
}

// writeMP4 remuxes the span to an MP4 file at dst, using spoolPath as
// scratch space. It returns the presentation's duration and the data tracks
// (subtitles, metadata) that MP4 could not carry.
func writeMP4(ctx context.Context, sp span, dst *os.File, spoolPath string, progress func(float64)) (time.Duration, []string, error) {
	spool, err := os.OpenFile(spoolPath, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return 0, nil, err
	}
	defer os.Remove(spoolPath)
	defer spool.Close()

	in := newSpanReader(ctx, sp, func(done int64) { progress(demuxShare * float64(done) / float64(sp.size)) })
	defer in.Close()
	rm := &remuxer{spool: bufio.NewWriterSize(spool, 1<<20)}
	if err := rm.read(in); err != nil {
		return 0, nil, err
	}
	if err := rm.spool.Flush(); err != nil {
		return 0, nil, fmt.Errorf("spool: %w", err)
	}
	pres, dur, err := rm.presentation(spool)
	if err != nil {
		return 0, nil, err
	}
	out := bufio.NewWriterSize(&progressWriter{w: dst, total: rm.spoolOff, progress: progress}, 1<<20)
	if err := pres.Marshal(out); err != nil {
		return 0, nil, fmt.Errorf("write mp4: %w", err)
	}
	if err := out.Flush(); err != nil {
		return 0, nil, fmt.Errorf("write mp4: %w", err)
	}
	langs := make([]string, len(rm.tracks))
	for i, t := range rm.tracks {
		langs[i] = t.lang
	}
	if err := setLanguages(dst, langs); err != nil {
		return 0, nil, fmt.Errorf("mp4 languages: %w", err)
	}
	return dur, rm.skipped, nil
}

// read demuxes the whole stream, sending every access unit to the spool.
func (rm *remuxer) read(in io.Reader) error {
	r := &mpegts.Reader{R: in}
	if err := r.Initialize(); err != nil {
		return fmt.Errorf("read transport stream: %w", err)
	}
	for _, t := range r.Tracks() {
		if err := rm.addTrack(r, t); err != nil {
			return err
		}
	}
	if len(rm.tracks) == 0 {
		return fmt.Errorf("%w: the stream has no video or audio track", ErrNotMP4)
	}
	for {
		err := r.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read transport stream: %w", err)
		}
	}
}

func (rm *remuxer) addTrack(r *mpegts.Reader, t *mpegts.Track) error {
	mt := &mp4Track{pid: t.PID, lang: t.Language}
	switch c := t.Codec.(type) {
	case *tscodecs.H264:
		mt.scale = archive.PTSClock
		r.OnDataH264(t, func(pts, dts int64, au [][]byte) error { return rm.h264(mt, pts, dts, au) })
	case *tscodecs.H265:
		mt.scale = archive.PTSClock
		r.OnDataH265(t, func(pts, dts int64, au [][]byte) error { return rm.h265(mt, pts, dts, au) })
	case *tscodecs.MPEG4Audio:
		mt.codec = &codecs.MPEG4Audio{Config: c.Config}
		mt.scale, mt.frame = int64(c.Config.SampleRate), aacFrameSamples
		r.OnDataMPEG4Audio(t, func(pts int64, aus [][]byte) error { return rm.audio(mt, pts, aus) })
	case *tscodecs.AC3:
		mt.scale, mt.frame = int64(c.SampleRate), ac3FrameSamples
		// The reader's AC-3 callback drops a PES holding more than one
		// syncframe, and muxers (ffmpeg's among them) pack several per PES;
		// so the PES payload is taken whole, through the raw-frame
		// callback, and split here.
		r.OnDataMPEG4Video(t, func(pts int64, pes []byte) error { return rm.ac3(mt, pts, pes) })
	case *tscodecs.KLV, *tscodecs.DVBSubtitle, *tscodecs.Unsupported:
		rm.skipped = append(rm.skipped, fmt.Sprintf("PID %d (%s)", t.PID, codecName(t.Codec)))
		return nil
	default:
		return fmt.Errorf("%w: track on PID %d is %s; cut it as ts, or as exact", ErrNotMP4, t.PID, codecName(t.Codec))
	}
	rm.tracks = append(rm.tracks, mt)
	return nil
}

func codecName(c tscodecs.Codec) string {
	switch c.(type) {
	case *tscodecs.MPEG1Audio:
		return "MPEG-1 audio"
	case *tscodecs.EAC3:
		return "E-AC-3"
	case *tscodecs.Opus:
		return "Opus"
	case *tscodecs.MPEG4AudioLATM:
		return "AAC LATM"
	case *tscodecs.MPEG1Video:
		return "MPEG-1/2 video"
	case *tscodecs.MPEG4Video:
		return "MPEG-4 video"
	case *tscodecs.KLV:
		return "KLV metadata"
	case *tscodecs.DVBSubtitle:
		return "DVB subtitles"
	}
	return "an unsupported stream type"
}

// rel returns a 90 kHz timestamp relative to the first one seen, across the 33-bit wrap.
func (rm *remuxer) rel(t int64) int64 {
	if !rm.haveRef {
		rm.ref, rm.haveRef = t, true
	}
	return archive.PTSDiff(t, rm.ref)
}

func (rm *remuxer) h264(mt *mp4Track, pts, dts int64, au [][]byte) error {
	var sps, pps []byte
	nalus := au[:0:0]
	for _, n := range au {
		switch h264.NALUType(n[0] & 0x1F) {
		case h264.NALUTypeAccessUnitDelimiter, h264.NALUTypeFillerData:
			continue
		case h264.NALUTypeSPS:
			sps = n
		case h264.NALUTypePPS:
			pps = n
		}
		nalus = append(nalus, n)
	}
	if mt.codec == nil {
		if sps == nil || pps == nil || !h264.IsRandomAccess(nalus) {
			return nil // nothing decodable before the first keyframe with its parameter sets
		}
		mt.codec = &codecs.H264{SPS: sps, PPS: pps}
	}
	return rm.video(mt, pts, dts, nalus, h264.IsRandomAccess(nalus))
}

func (rm *remuxer) h265(mt *mp4Track, pts, dts int64, au [][]byte) error {
	var vps, sps, pps []byte
	nalus := au[:0:0]
	for _, n := range au {
		switch h265.NALUType(n[0] >> 1 & 0x3F) {
		case h265.NALUType_AUD_NUT:
			continue
		case h265.NALUType_VPS_NUT:
			vps = n
		case h265.NALUType_SPS_NUT:
			sps = n
		case h265.NALUType_PPS_NUT:
			pps = n
		}
		nalus = append(nalus, n)
	}
	if mt.codec == nil {
		if vps == nil || sps == nil || pps == nil || !h265.IsRandomAccess(nalus) {
			return nil
		}
		mt.codec = &codecs.H265{VPS: vps, SPS: sps, PPS: pps}
	}
	return rm.video(mt, pts, dts, nalus, h265.IsRandomAccess(nalus))
}

func (rm *remuxer) video(mt *mp4Track, pts, dts int64, nalus [][]byte, sync bool) error {
	if len(nalus) == 0 {
		return nil
	}
	// MP4 carries NAL units with a length prefix (AVCC); H.265 uses the same framing.
	payload, err := h264.AVCC(nalus).Marshal()
	if err != nil {
		return fmt.Errorf("PID %d: %w", mt.pid, err)
	}
	d := rm.rel(dts)
	return rm.sample(mt, mp4Sample{dts: d, cts: int32(rm.rel(pts) - d), sync: sync}, payload)
}

func (rm *remuxer) audio(mt *mp4Track, pts int64, aus [][]byte) error {
	base := rm.rel(pts) * mt.scale / archive.PTSClock
	for i, au := range aus {
		if err := rm.sample(mt, mp4Sample{dts: base + int64(i)*mt.frame, sync: true}, au); err != nil {
			return err
		}
	}
	return nil
}

func (rm *remuxer) ac3(mt *mp4Track, pts int64, pes []byte) error {
	var frames [][]byte
	for len(pes) > 0 {
		var si ac3.SyncInfo
		if err := si.Unmarshal(pes); err != nil {
			break // not a syncframe: the rest of this PES is lost, as a decoder would lose it
		}
		size := si.FrameSize()
		if size > len(pes) {
			break
		}
		if mt.codec == nil {
			var bsi ac3.BSI
			if err := bsi.Unmarshal(pes[5:]); err != nil {
				return fmt.Errorf("PID %d: AC-3: %w", mt.pid, err)
			}
			mt.codec = &codecs.AC3{SampleRate: si.SampleRate(), ChannelCount: bsi.ChannelCount(),
				Bsid: bsi.Bsid, Bsmod: bsi.Bsmod, Acmod: bsi.Acmod, LfeOn: bsi.LfeOn, BitRateCode: si.Frmsizecod >> 1}
		}
		frames = append(frames, pes[:size])
		pes = pes[size:]
	}
	return rm.audio(mt, pts, frames)
}

func (rm *remuxer) sample(mt *mp4Track, s mp4Sample, payload []byte) error {
	if _, err := rm.spool.Write(payload); err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	s.off, s.size = rm.spoolOff, uint32(len(payload))
	rm.spoolOff += int64(len(payload))
	mt.samples = append(mt.samples, s)
	return nil
}

// presentation lays the collected tracks out with the first picture at time
// zero; payloads are read back from the spool as the MP4 is written. It
// returns the presentation's duration (the video's, if there is video).
func (rm *remuxer) presentation(spool *os.File) (*pmp4.Presentation, time.Duration, error) {
	// Time zero is the first picture, or without video the earliest sound.
	var zero int64 // 90 kHz, relative to rm.ref
	video := false
	for _, t := range rm.tracks {
		if len(t.samples) > 0 && t.frame == 0 {
			s := t.samples[0]
			zero, video = s.dts+int64(s.cts), true
			break
		}
	}
	for i, t := range rm.tracks {
		if video || len(t.samples) == 0 {
			break
		}
		if at := t.samples[0].dts * archive.PTSClock / t.scale; i == 0 || at < zero {
			zero = at
		}
	}
	var buf []byte
	read := func(off int64, size uint32) ([]byte, error) {
		if cap(buf) < int(size) {
			buf = make([]byte, size)
		}
		b := buf[:size]
		_, err := spool.ReadAt(b, off)
		return b, err
	}
	pres := &pmp4.Presentation{}
	var dur time.Duration
	for i, t := range rm.tracks {
		if len(t.samples) == 0 || t.codec == nil {
			return nil, 0, fmt.Errorf("track on PID %d has no media in the clip's range", t.pid)
		}
		pt := &pmp4.Track{ID: i + 1, TimeScale: uint32(t.scale), Codec: t.codec,
			TimeOffset: int32(t.samples[0].dts - zero*t.scale/archive.PTSClock)}
		pt.Samples = make([]*pmp4.Sample, len(t.samples))
		var elapsed int64
		for j, s := range t.samples {
			step := t.step(j)
			elapsed += step
			pt.Samples[j] = &pmp4.Sample{
				Duration: uint32(step), PTSOffset: s.cts, IsNonSyncSample: !s.sync, PayloadSize: s.size,
				GetPayload: func() ([]byte, error) { return read(s.off, s.size) },
			}
		}
		if t.frame == 0 {
			// From the first picture to the end of the last: the decode
			// times' span, as the first picture's PTS-DTS delay is the last's too.
			dur = time.Duration(elapsed) * time.Second / time.Duration(t.scale)
		} else if !video {
			dur = max(dur, time.Duration(elapsed+int64(pt.TimeOffset))*time.Second/time.Duration(t.scale))
		}
		pres.Tracks = append(pres.Tracks, pt)
	}
	return pres, dur, nil
}

// step returns sample j's duration: the time to the next sample, or for the
// last one (and across a discontinuity) the nominal or previous duration.
func (t *mp4Track) step(j int) int64 {
	nominal := t.frame
	if nominal == 0 {
		nominal = t.scale / 50
		if j > 0 {
			if d := t.samples[j].dts - t.samples[j-1].dts; d > 0 && d <= maxStep*t.scale/archive.PTSClock {
				nominal = d
			}
		}
	}
	if j+1 < len(t.samples) {
		if d := t.samples[j+1].dts - t.samples[j].dts; d > 0 && d <= maxStep*t.scale/archive.PTSClock {
			return d
		}
	}
	return nominal
}

// progressWriter reports the share of an MP4 written after the demux.
type progressWriter struct {
	w        io.Writer
	total    int64
	written  int64
	progress func(float64)
}

func (p *progressWriter) Write(b []byte) (int, error) {
	n, err := p.w.Write(b)
	p.written += int64(n)
	if p.total > 0 {
		p.progress(demuxShare + (1-demuxShare)*min(1, float64(p.written)/float64(p.total)))
	}
	return n, err
}
