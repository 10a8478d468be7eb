package clips

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/podium-broadcast/podium/internal/archive"
	"github.com/podium-broadcast/podium/internal/clips/clipstest"
)

// t0 is the wall-clock time of the fixture's first keyframe.
var t0 = time.Date(2026, 7, 24, 12, 0, 0, 0, time.UTC)

const (
	fixtureGOP   = time.Second
	fixtureFrame = 20 * time.Millisecond
	feed         = "pool-1"
)

var fixture struct {
	once sync.Once
	dir  string
	segs []archive.Segment
	err  error
}

// fixtureSegments returns 30 s of 720p50 H.264 (B-frames, a keyframe every
// second) with AAC in English and French and AC-3 in English, cut into
// archive segments of at least 4 s starting at t0. Made once per test run.
func fixtureSegments(t *testing.T) []archive.Segment {
	t.Helper()
	needFFmpeg(t)
	fixture.once.Do(func() {
		fixture.dir, fixture.err = os.MkdirTemp("", "clips-fixture-")
		if fixture.err != nil {
			return
		}
		src := filepath.Join(fixture.dir, "source.ts")
		cmd := exec.Command("ffmpeg", "-v", "error", "-y",
			"-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=50",
			"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
			"-f", "lavfi", "-i", "sine=frequency=880:sample_rate=48000",
			"-t", "30", "-map", "0:v", "-map", "1:a", "-map", "2:a", "-map", "1:a",
			"-c:v", "libx264", "-preset", "ultrafast", "-bf", "2", "-crf", "32",
			"-g", "50", "-keyint_min", "50", "-sc_threshold", "0", "-pix_fmt", "yuv420p",
			"-c:a:0", "aac", "-c:a:1", "aac", "-c:a:2", "ac3", "-b:a:2", "192k",
			"-metadata:s:a:0", "language=eng", "-metadata:s:a:1", "language=fra", "-metadata:s:a:2", "language=eng",
			"-f", "mpegts", src)
		if out, err := cmd.CombinedOutput(); err != nil {
			fixture.err = errors.New("ffmpeg: " + err.Error() + ": " + string(out))
			return
		}
		fixture.segs, fixture.err = clipstest.Split(src, filepath.Join(fixture.dir, "archive"), feed, t0, 4*time.Second)
	})
	if fixture.err != nil {
		t.Fatal(fixture.err)
	}
	return fixture.segs
}

func needFFmpeg(t *testing.T) {
	t.Helper()
	for _, tool := range []string{"ffmpeg", "ffprobe"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed", tool)
		}
	}
}

func TestMain(m *testing.M) {
	code := m.Run()
	if fixture.dir != "" {
		os.RemoveAll(fixture.dir)
	}
	os.Exit(code)
}

// updates records an engine's updates and lets a test wait for one.
type updates struct {
	mu      sync.Mutex
	all     []Update
	changed chan struct{}
}

func newUpdates() *updates { return &updates{changed: make(chan struct{})} }

func (u *updates) add(up Update) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.all = append(u.all, up)
	close(u.changed)
	u.changed = make(chan struct{})
}

// of returns the clip's updates so far.
func (u *updates) of(clipID string) []Update {
	u.mu.Lock()
	defer u.mu.Unlock()
	var out []Update
	for _, up := range u.all {
		if up.ClipID == clipID {
			out = append(out, up)
		}
	}
	return out
}

// wait returns the clip's first update that satisfies ok.
func (u *updates) wait(t *testing.T, clipID string, timeout time.Duration, ok func(Update) bool) Update {
	t.Helper()
	deadline := time.After(timeout)
	for {
		u.mu.Lock()
		changed := u.changed
		for _, up := range u.all {
			if up.ClipID == clipID && ok(up) {
				u.mu.Unlock()
				return up
			}
		}
		u.mu.Unlock()
		select {
		case <-changed:
		case <-deadline:
			t.Fatalf("clip %s: no such update within %s; got %+v", clipID, timeout, u.of(clipID))
		}
	}
}

func (u *updates) final(t *testing.T, clipID string, timeout time.Duration) Update {
	t.Helper()
	return u.wait(t, clipID, timeout, func(up Update) bool {
		return up.Status == StatusReady || up.Status == StatusFailed
	})
}

// startEngine runs an engine over src until the test ends.
func startEngine(t *testing.T, src Source, workers int) (*Engine, *updates, string) {
	t.Helper()
	dir := t.TempDir()
	ups := newUpdates()
	e := New(Config{Dir: dir, Workers: workers}, src, ups.add, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return e, ups, dir
}

func fullArchive(t *testing.T) *clipstest.Archive {
	segs := fixtureSegments(t)
	a := clipstest.NewArchive(filepath.Join(fixture.dir, "archive"))
	a.Add(segs...)
	return a
}

// probe is what ffprobe says of a file.
type probe struct {
	Format struct {
		Duration string `json:"duration"`
	} `json:"format"`
	Streams []struct {
		CodecType  string            `json:"codec_type"`
		CodecName  string            `json:"codec_name"`
		Width      int               `json:"width"`
		Height     int               `json:"height"`
		StartTime  string            `json:"start_time"`
		Duration   string            `json:"duration"`
		ReadFrames string            `json:"nb_read_frames"`
		Tags       map[string]string `json:"tags"`
	} `json:"streams"`
}

func ffprobe(t *testing.T, path string, countFrames bool) probe {
	t.Helper()
	args := []string{"-v", "error", "-show_format", "-show_streams", "-of", "json"}
	if countFrames {
		args = append(args, "-count_frames")
	}
	out, err := exec.Command("ffprobe", append(args, path)...).Output()
	if err != nil {
		t.Fatalf("ffprobe %s: %v", path, err)
	}
	var p probe
	if err := json.Unmarshal(out, &p); err != nil {
		t.Fatal(err)
	}
	return p
}

func secs(t *testing.T, s string) time.Duration {
	t.Helper()
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		t.Fatalf("duration %q: %v", s, err)
	}
	return time.Duration(f * float64(time.Second))
}

// checkAudio checks that the clip has one video track and the fixture's three audio tracks.
func checkAudio(t *testing.T, p probe, languages bool) {
	t.Helper()
	var audio []string
	videos := 0
	for _, s := range p.Streams {
		switch s.CodecType {
		case "video":
			videos++
		case "audio":
			a := s.CodecName
			if languages {
				a += "/" + s.Tags["language"]
			}
			audio = append(audio, a)
		}
	}
	want := "aac,aac,ac3"
	if languages {
		want = "aac/eng,aac/fra,ac3/eng"
	}
	if videos != 1 || strings.Join(audio, ",") != want {
		t.Fatalf("streams: %d video, audio %v; want 1 video, audio %s", videos, audio, want)
	}
}

func checkThumbnail(t *testing.T, up Update) {
	t.Helper()
	b, err := os.ReadFile(up.Thumbnail)
	if err != nil {
		t.Fatalf("thumbnail: %v", err)
	}
	if !bytes.HasPrefix(b, []byte{0xFF, 0xD8, 0xFF}) {
		t.Fatalf("thumbnail %s is not a JPEG", up.Thumbnail)
	}
	p := ffprobe(t, up.Thumbnail, false)
	if len(p.Streams) != 1 || p.Streams[0].CodecName != "mjpeg" || p.Streams[0].Width != thumbWidth {
		t.Fatalf("thumbnail: %+v", p.Streams)
	}
}

// TestCopyClipsCutAtKeyframesWithEveryAudioTrack cuts a range over four
// segments in both containers and checks the result with ffprobe.
func TestCopyClipsCutAtKeyframesWithEveryAudioTrack(t *testing.T) {
	e, ups, dir := startEngine(t, fullArchive(t), 2)
	start, end := t0.Add(5500*time.Millisecond), t0.Add(17300*time.Millisecond)
	for _, format := range []string{FormatTS, FormatMP4} {
		t.Run(format, func(t *testing.T) {
			id := "copy-" + format
			if err := e.Submit(Spec{ClipID: id, FeedID: feed, Start: start, End: end, Format: format}); err != nil {
				t.Fatal(err)
			}
			up := ups.final(t, id, 3*time.Minute)
			if up.Status != StatusReady {
				t.Fatalf("clip %s: %+v", id, up)
			}
			if want := filepath.Join(dir, id+"."+format); up.Path != want {
				t.Fatalf("path %s, want %s", up.Path, want)
			}
			if fi, err := os.Stat(up.Path); err != nil || fi.Size() != up.Size {
				t.Fatalf("file %s: %v, size %d, update says %d", up.Path, err, fi.Size(), up.Size)
			}
			// From the keyframe at 5 s to the one at 18 s.
			if up.Duration != 13*time.Second {
				t.Errorf("reported duration %s, want 13s", up.Duration)
			}
			p := ffprobe(t, up.Path, false)
			got, want := secs(t, p.Format.Duration), end.Sub(start)
			if got < want-fixtureFrame || got > want+2*fixtureGOP {
				t.Errorf("duration %s for a %s range: not within a GOP either side", got, want)
			}
			checkAudio(t, p, true)
			if format == FormatMP4 {
				for _, s := range p.Streams {
					if st := secs(t, s.StartTime); st.Abs() > 100*time.Millisecond {
						t.Errorf("%s stream starts at %s, want near 0", s.CodecType, st)
					}
				}
			}
			checkThumbnail(t, up)
			checkProgress(t, ups.of(id))
		})
	}
}

// checkProgress checks a job's updates: queued, running with rising progress, ready.
func checkProgress(t *testing.T, ups []Update) {
	t.Helper()
	if len(ups) < 3 || ups[0].Status != StatusQueued || ups[len(ups)-1].Status != StatusReady {
		t.Fatalf("updates %+v: want queued, running..., ready", ups)
	}
	last := 0.0
	for _, up := range ups[1 : len(ups)-1] {
		if up.Status != StatusRunning || up.Progress < last || up.Progress >= 1 {
			t.Fatalf("updates %+v: want running with rising progress below 1", ups)
		}
		last = up.Progress
	}
}

// TestExactAndVerticalClipsAreFrameAccurate re-encodes a range crossing a
// segment boundary and checks the frame count, the picture at the start,
// the 9:16 shape and the audio tracks.
func TestExactAndVerticalClipsAreFrameAccurate(t *testing.T) {
	e, ups, _ := startEngine(t, fullArchive(t), 2)
	start, end := t0.Add(5500*time.Millisecond), t0.Add(9300*time.Millisecond)
	wantFrames := int(end.Sub(start) / fixtureFrame)
	cases := []struct{ mode, format string }{
		{ModeExact, FormatMP4}, {ModeExact, FormatTS}, {ModeVertical, FormatMP4},
	}
	for _, c := range cases {
		id := c.mode + "-" + c.format
		if err := e.Submit(Spec{ClipID: id, FeedID: feed, Start: start, End: end, Mode: c.mode, Format: c.format}); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range cases {
		t.Run(c.mode+"-"+c.format, func(t *testing.T) {
			id := c.mode + "-" + c.format
			up := ups.final(t, id, 3*time.Minute)
			if up.Status != StatusReady {
				t.Fatalf("clip %s: %+v", id, up)
			}
			p := ffprobe(t, up.Path, true)
			checkAudio(t, p, true)
			v := p.Streams[0]
			frames, _ := strconv.Atoi(v.ReadFrames)
			if frames < wantFrames-1 || frames > wantFrames+1 {
				t.Errorf("%d video frames, want %d (±1)", frames, wantFrames)
			}
			if c.format == FormatMP4 {
				if d := secs(t, v.Duration) - end.Sub(start); d.Abs() > fixtureFrame {
					t.Errorf("video lasts %s, want %s within a frame", secs(t, v.Duration), end.Sub(start))
				}
			}
			if c.mode == ModeVertical {
				if v.Width*16 != v.Height*9 || v.Width%2 != 0 || v.Width != 720 {
					t.Errorf("vertical clip is %dx%d, want 720x1280", v.Width, v.Height)
				}
			} else {
				checkFirstPicture(t, up.Path, 275) // 5.5 s at 50 fps
			}
			checkThumbnail(t, up)
			checkProgress(t, ups.of(id))
		})
	}
}

// checkFirstPicture checks that the clip's first picture is the fixture's
// picture number want (counted from t0) rather than one of its neighbours.
func checkFirstPicture(t *testing.T, clip string, want int) {
	t.Helper()
	src := filepath.Join(fixture.dir, "first.ts")
	if err := os.WriteFile(src, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	defer os.Remove(src)
	var all []byte
	for _, s := range fixture.segs[:2] {
		b, err := os.ReadFile(filepath.Join(fixture.dir, "archive", s.Key))
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, b...)
	}
	if err := os.WriteFile(src, all, 0o644); err != nil {
		t.Fatal(err)
	}
	best, bestPSNR := -1, 0.0
	for n := want - 2; n <= want+2; n++ {
		out, err := exec.Command("ffmpeg", "-hide_banner", "-nostats", "-i", clip, "-i", src,
			"-filter_complex", "[0:v]select='eq(n,0)',setpts=PTS-STARTPTS[a];[1:v]select='eq(n,"+strconv.Itoa(n)+")',setpts=PTS-STARTPTS[b];[a][b]psnr",
			"-frames:v", "1", "-f", "null", "-").CombinedOutput()
		if err != nil {
			t.Fatalf("ffmpeg psnr: %v: %s", err, out)
		}
		s := string(out)
		i := strings.LastIndex(s, "average:")
		if i < 0 {
			t.Fatalf("no PSNR in %s", s)
		}
		f := strings.Fields(s[i+len("average:"):])[0]
		psnr := math.Inf(1)
		if f != "inf" {
			psnr, _ = strconv.ParseFloat(f, 64)
		}
		if best < 0 || psnr > bestPSNR {
			best, bestPSNR = n, psnr
		}
	}
	if best != want {
		t.Errorf("first picture matches picture %d best, want %d", best, want)
	}
}

// TestCancelStopsFFmpegAndRemovesFiles cancels a running exact clip.
func TestCancelStopsFFmpegAndRemovesFiles(t *testing.T) {
	e, ups, dir := startEngine(t, fullArchive(t), 1)
	id := "cancel-me"
	if err := e.Submit(Spec{ClipID: id, FeedID: feed, Start: t0.Add(time.Second), End: t0.Add(29 * time.Second), Mode: ModeExact}); err != nil {
		t.Fatal(err)
	}
	ups.wait(t, id, 3*time.Minute, func(up Update) bool { return up.Status == StatusRunning && up.Progress > 0 })
	if err := e.Cancel(id); err != nil {
		t.Fatal(err)
	}
	// The worker is free again: a small copy clip goes through.
	if err := e.Submit(Spec{ClipID: "after", FeedID: feed, Start: t0, End: t0.Add(2 * time.Second), Format: FormatTS}); err != nil {
		t.Fatal(err)
	}
	if up := ups.final(t, "after", 3*time.Minute); up.Status != StatusReady {
		t.Fatalf("clip after the canceled one: %+v", up)
	}
	for _, up := range ups.of(id) {
		if up.Status == StatusReady || up.Status == StatusFailed {
			t.Fatalf("canceled clip sent %+v", up)
		}
	}
	left, _ := filepath.Glob(filepath.Join(dir, id+"*"))
	if len(left) != 0 {
		t.Fatalf("files left after Cancel: %v", left)
	}
}

// TestRangeWithoutMediaFails asks for a minute before the recording began.
func TestRangeWithoutMediaFails(t *testing.T) {
	e, ups, dir := startEngine(t, fullArchive(t), 1)
	for _, mode := range []string{ModeCopy, ModeExact} {
		id := "nothing-" + mode
		if err := e.Submit(Spec{ClipID: id, FeedID: feed, Start: t0.Add(-2 * time.Minute), End: t0.Add(-time.Minute), Mode: mode}); err != nil {
			t.Fatal(err)
		}
		up := ups.final(t, id, 3*time.Minute)
		if up.Status != StatusFailed || !strings.Contains(up.Error, "no recorded media") {
			t.Fatalf("clip %s: %+v, want failed with no recorded media", id, up)
		}
	}
	if left, _ := filepath.Glob(filepath.Join(dir, "*")); len(left) != 0 {
		t.Fatalf("files left by failed clips: %v", left)
	}
}

// TestOpenClipWaitsForEndAndRecording marks in while only 8 s are
// recorded, marks out later at 14 s, and lets the recording catch up.
func TestOpenClipWaitsForEndAndRecording(t *testing.T) {
	segs := fixtureSegments(t)
	a := clipstest.NewArchive(filepath.Join(fixture.dir, "archive"))
	a.Add(segs[:2]...) // 0-8 s
	e, ups, _ := startEngine(t, a, 1)
	id := "from-live"
	if err := e.Submit(Spec{ClipID: id, FeedID: feed, Start: t0.Add(2 * time.Second)}); err != nil {
		t.Fatal(err)
	}
	stillQueued := func() {
		t.Helper()
		time.Sleep(300 * time.Millisecond)
		for _, up := range ups.of(id) {
			if up.Status != StatusQueued || up.Progress != 0 {
				t.Fatalf("clip left the queue early: %+v", up)
			}
		}
	}
	stillQueued()
	if err := e.SetEnd(id, t0.Add(14*time.Second)); err != nil {
		t.Fatal(err)
	}
	stillQueued() // 14 s is not recorded yet
	a.Add(segs[2:]...)
	up := ups.final(t, id, 3*time.Minute)
	if up.Status != StatusReady {
		t.Fatalf("clip: %+v", up)
	}
	if up.Duration != 12*time.Second {
		t.Errorf("duration %s, want 12s (keyframes at 2 s and 14 s)", up.Duration)
	}
	if err := e.SetEnd(id, t0.Add(20*time.Second)); !errors.Is(err, ErrUnknownClip) {
		t.Errorf("SetEnd after the clip is cut: %v, want ErrUnknownClip", err)
	}
}

// TestCopyToMP4RefusesATrackItCannotCarry cuts a stream with MPEG-1 Layer II
// audio: MP4 copy fails naming the track rather than leaving it out, and
// the TS copy keeps it.
func TestCopyToMP4RefusesATrackItCannotCarry(t *testing.T) {
	needFFmpeg(t)
	dir := t.TempDir()
	src := filepath.Join(dir, "mp2.ts")
	out, err := exec.Command("ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=320x180:rate=25",
		"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-t", "3",
		"-c:v", "libx264", "-preset", "ultrafast", "-g", "25", "-c:a", "mp2", "-f", "mpegts", src).CombinedOutput()
	if err != nil {
		t.Fatalf("ffmpeg: %v: %s", err, out)
	}
	segs, err := clipstest.Split(src, filepath.Join(dir, "archive"), "mp2", t0, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	a := clipstest.NewArchive(filepath.Join(dir, "archive"))
	a.Add(segs...)
	e, ups, _ := startEngine(t, a, 1)
	for _, format := range []string{FormatMP4, FormatTS} {
		if err := e.Submit(Spec{ClipID: "mp2-" + format, FeedID: "mp2", Start: t0, End: t0.Add(2 * time.Second), Format: format}); err != nil {
			t.Fatal(err)
		}
	}
	if up := ups.final(t, "mp2-mp4", 3*time.Minute); up.Status != StatusFailed || !strings.Contains(up.Error, "MPEG-1 audio") {
		t.Fatalf("mp4 copy: %+v, want failed naming the MPEG-1 audio track", up)
	}
	if up := ups.final(t, "mp2-ts", 3*time.Minute); up.Status != StatusReady {
		t.Fatalf("ts copy: %+v", up)
	}
}
