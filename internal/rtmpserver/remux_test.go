package rtmpserver

import (
	"bytes"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/bluenviron/gortmplib"
	rtmpcodecs "github.com/bluenviron/gortmplib/pkg/codecs"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"

	"github.com/podium-broadcast/podium/internal/ts"
)

// recorder is a Publisher that keeps every write.
type recorder struct {
	role     string
	mu       sync.Mutex
	writes   [][]byte
	kicked   chan struct{}
	reason   error
	detached chan struct{}
}

func newRecorder() *recorder {
	return &recorder{kicked: make(chan struct{}), detached: make(chan struct{})}
}

func (r *recorder) Write(b []byte) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.writes = append(r.writes, bytes.Clone(b))
	return nil
}

func (r *recorder) Kicked() <-chan struct{} { return r.kicked }

func (r *recorder) Reason() error {
	select {
	case <-r.kicked:
		return r.reason
	default:
		return nil
	}
}

func (r *recorder) Detach() { close(r.detached) }

func (r *recorder) kick(reason error) {
	r.reason = reason
	close(r.kicked)
}

// stream returns everything written.
func (r *recorder) stream() []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return bytes.Join(r.writes, nil)
}

func (r *recorder) written() [][]byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.writes)
}

var (
	// testSPS is a 1920x1080 baseline SPS (gortmplib's test data).
	testSPS = []byte{0x67, 0x42, 0xc0, 0x28, 0xd9, 0x00, 0x78, 0x02, 0x27, 0xe5, 0x84, 0x00, 0x00, 0x03, 0x00, 0x04,
		0x00, 0x00, 0x03, 0x00, 0xf0, 0x3c, 0x60, 0xc9, 0x20}
	testPPS    = []byte{0x68, 0xCE, 0x3C, 0x80}
	testIDR    = []byte{0x65, 0x88, 0x84, 0x00, 0x33}
	testNonIDR = []byte{0x41, 0x9A, 0x02, 0x04}
	testAAC    = &mpeg4audio.AudioSpecificConfig{Type: mpeg4audio.ObjectTypeAACLC, SampleRate: 48000, ChannelConfig: 2, ChannelCount: 2}
)

// pes is one PES start found in a transport stream.
type pes struct {
	pid      int
	pts, dts int64
	rai      bool   // random access indicator on its first packet
	es       []byte // the elementary stream bytes in its first packet
}

// pesStarts lists the PES that start in stream, in order.
func pesStarts(t *testing.T, stream []byte) []pes {
	t.Helper()
	if len(stream)%ts.PacketSize != 0 {
		t.Fatalf("%d bytes: not whole packets", len(stream))
	}
	var out []pes
	for off := 0; off < len(stream); off += ts.PacketSize {
		pkt := stream[off : off+ts.PacketSize]
		if pkt[0] != 0x47 {
			t.Fatalf("packet at %d has no sync byte", off)
		}
		p := ts.Payload(pkt)
		if pkt[1]&0x40 == 0 || len(p) < 9 || p[0] != 0 || p[1] != 0 || p[2] != 1 {
			continue
		}
		e := pes{pid: ts.PID(pkt), rai: pkt[3]&0x20 != 0 && pkt[4] > 0 && pkt[5]&0x40 != 0}
		e.pts = timestamp(p[9:])
		e.dts = e.pts
		if p[7]&0x40 != 0 {
			e.dts = timestamp(p[14:])
		}
		e.es = p[9+int(p[8]):]
		out = append(out, e)
	}
	return out
}

// timestamp reads a 33-bit PES timestamp.
func timestamp(b []byte) int64 {
	return int64(b[0]>>1&0x07)<<30 | int64(b[1])<<22 | int64(b[2]>>1)<<15 | int64(b[3])<<7 | int64(b[4]>>1)
}

func TestRemuxerStartsAtAKeyframeWithItsParameterSets(t *testing.T) {
	video := &gortmplib.Track{Codec: &rtmpcodecs.H264{SPS: testSPS, PPS: testPPS}}
	audio := &gortmplib.Track{Codec: &rtmpcodecs.MPEG4Audio{Config: testAAC}}
	rec := newRecorder()
	m, err := newRemuxer([]*gortmplib.Track{audio, video}, rec)
	if err != nil {
		t.Fatal(err)
	}
	m.goLive()
	aac := m.audio[audio]
	ms := func(v int) time.Duration { return time.Duration(v) * time.Millisecond }

	m.onAAC(aac, ms(1000), []byte{0x21, 0x10})                     // before the first keyframe: dropped
	m.onVideo(ms(1000), ms(1000), [][]byte{testNonIDR})            // dropped
	m.onVideo(ms(1000), ms(1000), [][]byte{testSPS, testPPS})      // a sequence header: kept, not written
	m.onVideo(ms(1080), ms(1040), [][]byte{testIDR})               // with SPS and PPS put in front
	m.onAAC(aac, ms(1050), []byte{0x21, 0x11})                     // written
	m.onVideo(ms(1160), ms(1080), [][]byte{{}, testNonIDR})        // an empty NALU is dropped
	m.onVideo(ms(1200), ms(1120), [][]byte{{0x09, 0xF0}, testIDR}) // after its delimiter
	if m.err != nil {
		t.Fatal(m.err)
	}

	writes := rec.written()
	if len(writes) != 4 {
		t.Fatalf("%d writes, want one per access unit written (4)", len(writes))
	}
	var sc ts.Scanner
	for i, w := range writes {
		rap, err := sc.Scan(w)
		if err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
		if key := i == 0 || i == 3; (rap >= 0) != key {
			t.Errorf("write %d: random access point at packet %d, want one: %v", i, rap, key)
		}
	}
	if vpid, typ, ok := sc.VideoPID(); !ok || typ != ts.StreamTypeH264 || sc.Program().PCRPID != vpid {
		t.Errorf("video PID %d type %#x ok %v, PCR PID %d: want H.264 carrying the PCR", vpid, typ, ok, sc.Program().PCRPID)
	}
	if ts.PID(writes[0]) != 0 || ts.PID(writes[0][ts.PacketSize:]) != sc.Program().PMTPID {
		t.Error("the first keyframe is not preceded by the PAT and the PMT")
	}

	starts := pesStarts(t, rec.stream())
	annexB := func(nalus ...[]byte) []byte {
		var b []byte
		for _, n := range nalus {
			b = append(append(b, 0, 0, 0, 1), n...)
		}
		return b
	}
	want := []struct {
		video    bool
		pts, dts int64
		es       []byte
	}{
		{true, startTicks + 40*90, startTicks, annexB([]byte{0x09, 0xF0}, testSPS, testPPS, testIDR)},
		{false, startTicks + 10*90, startTicks + 10*90, nil},
		{true, startTicks + 120*90, startTicks + 40*90, annexB([]byte{0x09, 0xF0}, testNonIDR)},
		{true, startTicks + 160*90, startTicks + 80*90, annexB([]byte{0x09, 0xF0}, testSPS, testPPS, testIDR)},
	}
	if len(starts) != len(want) {
		t.Fatalf("%d PES, want %d", len(starts), len(want))
	}
	vpid, _, _ := sc.VideoPID()
	for i, w := range want {
		got := starts[i]
		if (got.pid == vpid) != w.video || got.pts != w.pts || got.dts != w.dts {
			t.Errorf("PES %d: pid %d pts %d dts %d, want video %v pts %d dts %d", i, got.pid, got.pts, got.dts, w.video, w.pts, w.dts)
		}
		if w.es != nil && !bytes.HasPrefix(got.es, w.es) {
			t.Errorf("PES %d starts % x, want % x", i, got.es[:min(len(got.es), len(w.es))], w.es)
		}
		if w.video && got.rai != (i == 0 || i == 3) {
			t.Errorf("PES %d: random access indicator %v", i, got.rai)
		}
	}
}

func TestRemuxerTakesNewParameterSets(t *testing.T) {
	rec := newRecorder()
	m, err := newRemuxer([]*gortmplib.Track{{Codec: &rtmpcodecs.H264{SPS: testSPS, PPS: testPPS}}}, rec)
	if err != nil {
		t.Fatal(err)
	}
	m.goLive()
	newSPS := append(slices.Clone(testSPS), 0x01)
	m.onVideo(0, 0, [][]byte{newSPS, testPPS})
	m.onVideo(0, 0, [][]byte{testIDR})
	if starts := pesStarts(t, rec.stream()); len(starts) != 1 || !bytes.Contains(starts[0].es, newSPS) {
		t.Fatal("the keyframe after a new sequence header does not carry the new SPS")
	}
}

func TestRemuxerRefusesWhatItCannotCarry(t *testing.T) {
	for _, tracks := range [][]*gortmplib.Track{
		nil,
		{{Codec: &rtmpcodecs.VP9{}}},
		{{Codec: &rtmpcodecs.H264{SPS: testSPS, PPS: testPPS}}, {Codec: &rtmpcodecs.Opus{}}},
		{{Codec: &rtmpcodecs.H264{SPS: testSPS, PPS: testPPS}}, {Codec: &rtmpcodecs.H264{SPS: testSPS, PPS: testPPS}}},
	} {
		var unsupported errUnsupported
		if _, err := newRemuxer(tracks, newRecorder()); !errors.As(err, &unsupported) {
			t.Errorf("%v: err %v, want errUnsupported", describe(tracks), err)
		}
	}
}

func TestRemuxerWithoutVideoStartsAtOnce(t *testing.T) {
	audio := &gortmplib.Track{Codec: &rtmpcodecs.MPEG4Audio{Config: testAAC}}
	rec := newRecorder()
	m, err := newRemuxer([]*gortmplib.Track{audio}, rec)
	if err != nil {
		t.Fatal(err)
	}
	m.goLive()
	m.onAAC(m.audio[audio], 0, []byte{0x21, 0x10})
	var sc ts.Scanner
	if rap, err := sc.Scan(rec.stream()); err != nil || rap < 0 {
		t.Fatalf("audio-only stream: access point %d, %v", rap, err)
	}
}

// TestRemuxerStartsLiveAtTheLatestKeyframe: of what gortmplib reads ahead
// and hands over again, only the access units from the latest keyframe are
// written, when the stream goes live, and then everything that comes.
func TestRemuxerStartsLiveAtTheLatestKeyframe(t *testing.T) {
	video := &gortmplib.Track{Codec: &rtmpcodecs.H264{SPS: testSPS, PPS: testPPS}}
	audio := &gortmplib.Track{Codec: &rtmpcodecs.MPEG4Audio{Config: testAAC}}
	rec := newRecorder()
	m, err := newRemuxer([]*gortmplib.Track{video, audio}, rec)
	if err != nil {
		t.Fatal(err)
	}
	aac := m.audio[audio]
	ms := func(v int) time.Duration { return time.Duration(v) * time.Millisecond }
	for i := range 5 { // two seconds read ahead: keyframes at 0 and 1600 ms
		au := [][]byte{testNonIDR}
		if i%4 == 0 {
			au = [][]byte{testIDR}
		}
		m.onVideo(ms(400*i), ms(400*i), au)
		m.onAAC(aac, ms(400*i+10), []byte{0x21, 0x10})
	}
	if len(rec.written()) != 0 {
		t.Fatal("wrote before going live")
	}
	m.goLive()
	m.onVideo(ms(2000), ms(2000), [][]byte{testNonIDR})
	starts := pesStarts(t, rec.stream())
	wantDTS := []int64{1600, 1610, 2000}
	if len(starts) != len(wantDTS) {
		t.Fatalf("%d PES, want the keyframe at 1600 ms, its audio, then the live frame", len(starts))
	}
	for i, w := range wantDTS {
		if starts[i].dts != startTicks+w*90 {
			t.Errorf("PES %d at %d ms, want %d", i, (starts[i].dts-startTicks)/90, w)
		}
	}
}
