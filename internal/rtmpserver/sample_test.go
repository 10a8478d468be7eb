package rtmpserver

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/bluenviron/gortmplib"
	rtmpcodecs "github.com/bluenviron/gortmplib/pkg/codecs"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h265"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"
)

// sample is video and AAC made by ffmpeg, cut into access units as an RTMP
// encoder sends them: the parameter sets apart, for the sequence header,
// and none in the access units.
type sample struct {
	h265   bool
	fps    int
	video  [][][]byte // access units, no B-frames
	params map[byte][]byte
	audio  [][]byte // AAC frames
	aac    *mpeg4audio.AudioSpecificConfig
}

// makeSample encodes seconds of the lavfi source with the video arguments,
// which must give an access unit delimiter before every frame and no
// B-frames, and a 440 Hz tone.
func makeSample(tb testing.TB, hevc bool, seconds int, source string, videoArgs ...string) sample {
	tb.Helper()
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		tb.Skip("ffmpeg not installed")
	}
	dir := tb.TempDir()
	video, audio := filepath.Join(dir, "video"), filepath.Join(dir, "audio.aac")
	format := "h264"
	if hevc {
		format = "hevc"
	}
	for _, args := range [][]string{
		append(append([]string{"-f", "lavfi", "-i", source, "-t", strconv.Itoa(seconds)}, videoArgs...), "-f", format, video),
		{"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-t", strconv.Itoa(seconds), "-c:a", "aac", "-f", "adts", audio},
	} {
		if out, err := exec.Command("ffmpeg", append([]string{"-v", "error", "-y"}, args...)...).CombinedOutput(); err != nil {
			tb.Fatalf("ffmpeg: %v: %s", err, out)
		}
	}
	s := sample{h265: hevc, params: make(map[byte][]byte)}
	v := &videoTrack{h265: hevc}
	aud, params := byte(h264.NALUTypeAccessUnitDelimiter), []byte{byte(h264.NALUTypeSPS), byte(h264.NALUTypePPS)}
	if hevc {
		aud, params = byte(h265.NALUType_AUD_NUT), []byte{byte(h265.NALUType_VPS_NUT), byte(h265.NALUType_SPS_NUT), byte(h265.NALUType_PPS_NUT)}
	}
	data, err := os.ReadFile(video)
	if err != nil {
		tb.Fatal(err)
	}
	for _, n := range splitAnnexB(data) {
		switch t := v.naluType(n); {
		case t == aud:
			s.video = append(s.video, nil)
		case t == params[0] || t == params[1] || (len(params) == 3 && t == params[2]):
			s.params[t] = n
		default:
			s.video[len(s.video)-1] = append(s.video[len(s.video)-1], n)
		}
	}
	s.fps = len(s.video) / seconds
	data, err = os.ReadFile(audio)
	if err != nil {
		tb.Fatal(err)
	}
	var pkts mpeg4audio.ADTSPackets
	if err := pkts.Unmarshal(data); err != nil {
		tb.Fatal(err)
	}
	for _, p := range pkts {
		s.audio = append(s.audio, p.AU)
	}
	s.aac = &mpeg4audio.AudioSpecificConfig{Type: pkts[0].Type, SampleRate: pkts[0].SampleRate,
		ChannelConfig: pkts[0].ChannelConfig, ChannelCount: pkts[0].ChannelCount}
	return s
}

// splitAnnexB cuts an Annex B byte stream at its start codes.
func splitAnnexB(data []byte) [][]byte {
	var nalus [][]byte
	start := -1
	for i := 0; i+3 <= len(data); i++ {
		if data[i] != 0 || data[i+1] != 0 || data[i+2] != 1 {
			continue
		}
		if start >= 0 {
			end := i
			for end > start && data[end-1] == 0 {
				end--
			}
			nalus = append(nalus, data[start:end])
		}
		start = i + 3
		i += 2
	}
	if start >= 0 {
		nalus = append(nalus, data[start:])
	}
	return nalus
}

// publish sends the sample as an encoder does (Enhanced RTMP for H.265, as
// OBS 29.1 and later), interleaved by timestamp, as fast as the connection
// takes it.
func (s sample) publish(c *gortmplib.Client) error {
	var video *gortmplib.Track
	if s.h265 {
		video = &gortmplib.Track{Codec: &rtmpcodecs.H265{VPS: s.params[byte(h265.NALUType_VPS_NUT)],
			SPS: s.params[byte(h265.NALUType_SPS_NUT)], PPS: s.params[byte(h265.NALUType_PPS_NUT)]}}
	} else {
		video = &gortmplib.Track{Codec: &rtmpcodecs.H264{SPS: s.params[byte(h264.NALUTypeSPS)], PPS: s.params[byte(h264.NALUTypePPS)]}}
	}
	audio := &gortmplib.Track{Codec: &rtmpcodecs.MPEG4Audio{Config: s.aac}}
	w := &gortmplib.Writer{Conn: c, Tracks: []*gortmplib.Track{video, audio}}
	if err := w.Initialize(); err != nil {
		return err
	}
	frame := time.Second / time.Duration(s.fps)
	aacFrame := time.Second * 1024 / time.Duration(s.aac.SampleRate)
	v, a := 0, 0
	for v < len(s.video) || a < len(s.audio) {
		var err error
		if a == len(s.audio) || (v < len(s.video) && time.Duration(v)*frame <= time.Duration(a)*aacFrame) {
			at := time.Duration(v) * frame
			if s.h265 {
				err = w.WriteH265(video, at, at, s.video[v])
			} else {
				err = w.WriteH264(video, at, at, s.video[v])
			}
			v++
		} else {
			err = w.WriteMPEG4Audio(audio, time.Duration(a)*aacFrame, s.audio[a])
			a++
		}
		if err != nil {
			return err
		}
	}
	return nil
}
