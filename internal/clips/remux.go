package clips

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/ac3"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h265"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/mp4/codecs"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/mpegts"
	tscodecs "github.com/bluenviron/mediacommon/v2/pkg/formats/mpegts/codecs"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/pmp4"

	"github.com/podium-broadcast/podium/internal/archive"
	"github.com/podium-broadcast/podium/internal/ts"
)

// ErrNotMP4 is returned for a copy clip in MP4 that the remuxer cannot
// write: a video or audio codec it cannot put in MP4 without re-encoding,
// or more media than the MP4 writer reaches.
var ErrNotMP4 = errors.New("cannot copy into MP4")

const (
	aacFrameSamples = 1024
	ac3FrameSamples = 1536
	// maxStep bounds the time between two samples of a track; a longer or
	// backward step is a discontinuity (a gap in recording, a new timeline)
	// and is closed up.
	maxStep = 10 * archive.PTSClock
	// maxPending bounds the payloads demuxed ahead of the MP4 writer: the
	// transport stream's order and the MP4's (by time) differ by no more
	// than the muxer's audio/video skew, a second or so.
	maxPending = 256 << 20
	// maxMP4Data bounds a copy clip's media in MP4: the writer's chunk
	// offsets are 32-bit (about 28 minutes at 20 Mbit/s), and the index
	// comes before the media.
	maxMP4Data = 4<<30 - 64<<20
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
	// onPES takes the elementary stream data of each PES packet.
	onPES func(pts, dts int64, es []byte) error
	// pes assembles the PES being received; pesStarted once one has begun.
	pes        []byte
	pesStarted bool
	// started is set at the first access unit a decoder can start from.
	started bool
	// pending holds payloads demuxed in the second pass and not yet
	// written; delivered counts those written.
	pending   [][]byte
	delivered int
}

// mp4Sample is one access unit.
type mp4Sample struct {
	dts  int64 // in the track's scale, from the remuxer's reference
	cts  int32 // PTS-DTS in the track's scale
	size uint32
	sync bool
}

// remuxer turns the transport stream of a span into an MP4 presentation in
// two passes over the segment files, which the page cache holds: the first
// learns every sample's size and time, so that the MP4's index can come
// first, and the second feeds the payloads to the MP4 writer as it asks for
// them. Nothing the size of the clip is held in memory or spooled to disk.
type remuxer struct {
	tracks  []*mp4Track
	byPID   map[int]*mp4Track
	ref     int64 // the first timestamp seen, 90 kHz: timestamps are kept relative to it
	haveRef bool
	skipped []string // data tracks left out of the MP4
	// second is set during the second pass, whose demuxer is dm.
	second  bool
	dm      *demuxer
	pending int64 // bytes in the tracks' pending payloads
	// served is the payload last given to the MP4 writer, which has written
	// it by the time it asks for the next; free holds such buffers for reuse.
	served []byte
	free   [][]byte
}

// writeMP4 remuxes the span to an MP4 file at dst. It returns the
// presentation's duration and the data tracks (subtitles, metadata) that
// MP4 could not carry.
func writeMP4(ctx context.Context, sp span, dst *os.File, progress func(float64)) (time.Duration, []string, error) {
	rm := &remuxer{}
	if err := rm.probe(ctx, sp); err != nil {
		return 0, nil, err
	}
	first := newSpanReader(ctx, sp, func(done int64) { progress(0.5 * float64(done) / float64(sp.size)) })
	defer first.Close()
	dm := &demuxer{r: bufio.NewReaderSize(first, 1<<20), rm: rm}
	for {
		err := dm.step()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return 0, nil, err
		}
	}
	pres, dur, err := rm.presentation()
	if err != nil {
		return 0, nil, err
	}

	second := newSpanReader(ctx, sp, func(done int64) { progress(0.5 + 0.5*float64(done)/float64(sp.size)) })
	defer second.Close()
	rm.second, rm.dm = true, &demuxer{r: bufio.NewReaderSize(second, 1<<20), rm: rm}
	for _, t := range rm.tracks {
		t.started = false
	}
	out := bufio.NewWriterSize(dst, 1<<20)
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

// probe learns the program's tracks, their codecs and languages with
// mediacommon's MPEG-TS reader. The reader must meet the first frame of
// every audio track within the first MiB it reads, which a 20 Mbit/s
// stream does not promise, so it is shown the span without its video.
func (rm *remuxer) probe(ctx context.Context, sp span) error {
	video := -1
	if len(sp.ranges) > 0 {
		psi := make([]byte, sp.ranges[0].len)
		obj, err := sp.src.OpenSegment(ctx, sp.ranges[0].key)
		if err != nil {
			return fmt.Errorf("open segment: %w", err)
		}
		_, err = obj.ReadAt(psi, sp.ranges[0].off)
		obj.Close()
		if err != nil {
			return fmt.Errorf("read segment %s: %w", sp.ranges[0].key, err)
		}
		var scanner ts.Scanner
		if _, err := scanner.Scan(psi); err != nil {
			return fmt.Errorf("segment %s: %w", sp.ranges[0].key, err)
		}
		if pid, _, ok := scanner.VideoPID(); ok {
			video = pid
		}
	}
	in := newSpanReader(ctx, sp, nil)
	defer in.Close()
	r := &mpegts.Reader{R: &pidFilter{r: bufio.NewReaderSize(in, 1<<16), keep: func(pid int) bool { return pid != video }}}
	if err := r.Initialize(); err != nil {
		return fmt.Errorf("read transport stream: %w", err)
	}
	rm.byPID = map[int]*mp4Track{}
	for _, t := range r.Tracks() {
		if err := rm.addTrack(t); err != nil {
			return err
		}
	}
	if len(rm.tracks) == 0 {
		return fmt.Errorf("%w: the stream has no video or audio track", ErrNotMP4)
	}
	return nil
}

// pidFilter passes on the transport packets of the PIDs it keeps.
type pidFilter struct {
	r    *bufio.Reader
	keep func(pid int) bool
	pkt  [ts.PacketSize]byte
}

func (f *pidFilter) Read(p []byte) (int, error) {
	n := 0
	for n+ts.PacketSize <= len(p) {
		if _, err := io.ReadFull(f.r, f.pkt[:]); err != nil {
			if errors.Is(err, io.EOF) && n > 0 {
				return n, nil
			}
			if errors.Is(err, io.ErrUnexpectedEOF) {
				err = fmt.Errorf("%w: the span is not whole packets", ts.ErrNotTS)
			}
			return n, err
		}
		if f.keep(ts.PID(f.pkt[:])) {
			n += copy(p[n:], f.pkt[:])
		}
	}
	return n, nil
}

func (rm *remuxer) addTrack(t *mpegts.Track) error {
	mt := &mp4Track{pid: t.PID, lang: t.Language}
	switch c := t.Codec.(type) {
	case *tscodecs.H264:
		mt.scale = archive.PTSClock
		mt.onPES = func(pts, dts int64, es []byte) error { return rm.h264(mt, pts, dts, es) }
	case *tscodecs.H265:
		mt.scale = archive.PTSClock
		mt.onPES = func(pts, dts int64, es []byte) error { return rm.h265(mt, pts, dts, es) }
	case *tscodecs.MPEG4Audio:
		mt.codec = &codecs.MPEG4Audio{Config: c.Config}
		mt.scale, mt.frame = int64(c.Config.SampleRate), aacFrameSamples
		mt.onPES = func(pts, _ int64, es []byte) error { return rm.aac(mt, pts, es) }
	case *tscodecs.AC3:
		mt.scale, mt.frame = int64(c.SampleRate), ac3FrameSamples
		mt.onPES = func(pts, _ int64, es []byte) error { return rm.ac3(mt, pts, es) }
	case *tscodecs.KLV, *tscodecs.DVBSubtitle, *tscodecs.Unsupported:
		rm.skipped = append(rm.skipped, fmt.Sprintf("PID %d (%s)", t.PID, codecName(t.Codec)))
		return nil
	default:
		return fmt.Errorf("%w: track on PID %d is %s; cut it as ts, or as exact", ErrNotMP4, t.PID, codecName(t.Codec))
	}
	rm.tracks = append(rm.tracks, mt)
	rm.byPID[int(t.PID)] = mt
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

func (rm *remuxer) rel(t int64) int64 {
	if !rm.haveRef {
		rm.ref, rm.haveRef = t, true
	}
	return archive.PTSDiff(t, rm.ref)
}

// demuxer reassembles the PES packets of the remuxer's tracks and hands
// each to its track. (mediacommon's reader, through go-astits, copies a
// PES's whole payload again for every packet that extends it, which costs
// more than the rest of the remux for 20 Mbit/s video; this is one copy.)
type demuxer struct {
	r    *bufio.Reader
	rm   *remuxer
	pkt  [ts.PacketSize]byte
	done bool
}

// step reads packets until a PES has been handed to its track; io.EOF once
// the stream is over and every track's last PES handed on.
func (d *demuxer) step() error {
	for {
		if _, err := io.ReadFull(d.r, d.pkt[:]); err != nil {
			if errors.Is(err, io.ErrUnexpectedEOF) {
				return fmt.Errorf("%w: the span is not whole packets", ts.ErrNotTS)
			}
			if !errors.Is(err, io.EOF) || d.done {
				return err
			}
			d.done = true
			for _, mt := range d.rm.tracks {
				if err := d.rm.flush(mt); err != nil {
					return err
				}
			}
			return nil
		}
		if d.pkt[0] != 0x47 {
			return fmt.Errorf("%w: lost sync", ts.ErrNotTS)
		}
		mt := d.rm.byPID[ts.PID(d.pkt[:])]
		if mt == nil {
			continue
		}
		payload := ts.Payload(d.pkt[:])
		if d.pkt[1]&0x40 != 0 {
			had := len(mt.pes) > 0
			if err := d.rm.flush(mt); err != nil {
				return err
			}
			mt.pesStarted = true
			mt.pes = append(mt.pes, payload...)
			if had {
				return nil
			}
			continue
		}
		if mt.pesStarted { // else the rest of a PES begun before the span
			mt.pes = append(mt.pes, payload...)
		}
	}
}

// flush hands the track's assembled PES to it. A PES without a PTS or with
// a broken header is dropped, as a decoder would drop it.
func (rm *remuxer) flush(mt *mp4Track) error {
	pes := mt.pes
	mt.pes = mt.pes[:0]
	if len(pes) < 14 || pes[0] != 0 || pes[1] != 0 || pes[2] != 1 {
		return nil
	}
	flags, hdr := pes[7]>>6, 9+int(pes[8])
	if flags&2 == 0 || hdr > len(pes) {
		return nil
	}
	pts := ts.ReadTimestamp(pes[9:14])
	dts := pts
	if flags == 3 && len(pes) >= 19 {
		dts = ts.ReadTimestamp(pes[14:19])
	}
	es := pes[hdr:]
	if n := int(pes[4])<<8 | int(pes[5]); n != 0 && 6+n < len(pes) && 6+n >= hdr {
		es = pes[hdr : 6+n]
	}
	if len(es) == 0 {
		return nil
	}
	return mt.onPES(pts, dts, es)
}

func (rm *remuxer) h264(mt *mp4Track, pts, dts int64, es []byte) error {
	var au h264.AnnexB
	if err := au.Unmarshal(es); err != nil {
		return nil // not an access unit: dropped, as a decoder would drop it
	}
	var sps, pps []byte
	nalus := au[:0]
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
	sync := h264.IsRandomAccess(nalus)
	if !mt.started {
		if sps == nil || pps == nil || !sync {
			return nil // nothing decodable before the first keyframe with its parameter sets
		}
		mt.started = true
		if mt.codec == nil {
			mt.codec = &codecs.H264{SPS: bytes.Clone(sps), PPS: bytes.Clone(pps)}
		}
	}
	return rm.video(mt, pts, dts, nalus, sync)
}

func (rm *remuxer) h265(mt *mp4Track, pts, dts int64, es []byte) error {
	var au h264.AnnexB // the same start-code framing
	if err := au.Unmarshal(es); err != nil {
		return nil
	}
	var vps, sps, pps []byte
	nalus := au[:0]
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
	sync := h265.IsRandomAccess(nalus)
	if !mt.started {
		if vps == nil || sps == nil || pps == nil || !sync {
			return nil
		}
		mt.started = true
		if mt.codec == nil {
			mt.codec = &codecs.H265{VPS: bytes.Clone(vps), SPS: bytes.Clone(sps), PPS: bytes.Clone(pps)}
		}
	}
	return rm.video(mt, pts, dts, nalus, sync)
}

// video takes an access unit as MP4 carries it: each NAL unit after its
// 4-byte length (AVCC framing, for H.265 too).
func (rm *remuxer) video(mt *mp4Track, pts, dts int64, nalus [][]byte, sync bool) error {
	if len(nalus) == 0 {
		return nil
	}
	size := 0
	for _, n := range nalus {
		size += 4 + len(n)
	}
	if !rm.second {
		d := rm.rel(dts)
		mt.samples = append(mt.samples, mp4Sample{dts: d, cts: int32(rm.rel(pts) - d), size: uint32(size), sync: sync})
		return nil
	}
	payload := rm.buffer(size)[:0]
	for _, n := range nalus {
		payload = binary.BigEndian.AppendUint32(payload, uint32(len(n)))
		payload = append(payload, n...)
	}
	return rm.hold(mt, payload)
}

func (rm *remuxer) aac(mt *mp4Track, pts int64, es []byte) error {
	var pkts mpeg4audio.ADTSPackets
	if err := pkts.Unmarshal(es); err != nil {
		return nil
	}
	aus := make([][]byte, len(pkts))
	for i, p := range pkts {
		aus[i] = p.AU
	}
	return rm.audio(mt, pts, aus)
}

// ac3 splits a PES into its AC-3 syncframes: muxers (ffmpeg's among them)
// pack several into one PES.
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

func (rm *remuxer) audio(mt *mp4Track, pts int64, aus [][]byte) error {
	if rm.second {
		for _, au := range aus {
			b := rm.buffer(len(au))
			copy(b, au)
			if err := rm.hold(mt, b); err != nil {
				return err
			}
		}
		return nil
	}
	base := rm.rel(pts) * mt.scale / archive.PTSClock
	for i, au := range aus {
		mt.samples = append(mt.samples, mp4Sample{dts: base + int64(i)*mt.frame, size: uint32(len(au)), sync: true})
	}
	return nil
}

// buffer returns n bytes to build a payload in, reusing a buffer the MP4
// writer is done with: 20 Mbit/s is a lot to leave to the garbage collector.
func (rm *remuxer) buffer(n int) []byte {
	if k := len(rm.free); k > 0 {
		b := rm.free[k-1]
		rm.free = rm.free[:k-1]
		if cap(b) >= n {
			return b[:n]
		}
	}
	return make([]byte, n, n+n/4)
}

// hold keeps a payload of the second pass until the MP4 writer asks for it.
func (rm *remuxer) hold(mt *mp4Track, payload []byte) error {
	if rm.pending += int64(len(payload)); rm.pending > maxPending {
		return fmt.Errorf("remux: the stream's order strays more than %d MiB from time order", maxPending>>20)
	}
	mt.pending = append(mt.pending, payload)
	return nil
}

// payload returns sample j of the track, demuxing on until it has come.
// The MP4 writer asks for each track's samples in order.
func (rm *remuxer) payload(mt *mp4Track, j int) ([]byte, error) {
	if j != mt.delivered {
		return nil, fmt.Errorf("remux: PID %d: sample %d asked for out of order", mt.pid, j)
	}
	for len(mt.pending) == 0 {
		if err := rm.dm.step(); err != nil {
			if errors.Is(err, io.EOF) {
				err = fmt.Errorf("remux: PID %d: sample %d missing from the second pass", mt.pid, j)
			}
			return nil, err
		}
	}
	p := mt.pending[0]
	mt.pending[0] = nil
	mt.pending = mt.pending[1:]
	mt.delivered++
	rm.pending -= int64(len(p))
	if rm.served != nil {
		rm.free = append(rm.free, rm.served)
	}
	rm.served = p
	if len(p) != int(mt.samples[j].size) {
		return nil, fmt.Errorf("remux: PID %d: sample %d is %d bytes on the second pass, %d on the first", mt.pid, j, len(p), mt.samples[j].size)
	}
	return p, nil
}

// presentation lays the collected tracks out with the first picture at time
// zero; the second pass supplies the payloads as the MP4 is written. It
// returns the presentation's duration (the video's, if there is video).
func (rm *remuxer) presentation() (*pmp4.Presentation, time.Duration, error) {
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
	var total int64
	for _, t := range rm.tracks {
		for _, s := range t.samples {
			total += int64(s.size)
		}
	}
	if total > maxMP4Data {
		return nil, 0, fmt.Errorf("%w: %d MB of media is more than the MP4 writer's 32-bit offsets reach; cut it as ts, or in parts", ErrNotMP4, total/1e6)
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
				GetPayload: func() ([]byte, error) { return rm.payload(t, j) },
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
