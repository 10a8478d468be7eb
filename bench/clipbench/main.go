// Command clipbench measures exporting a copy clip from the archive and
// writes the figures into BENCHMARKS.md: a 60 s clip of a 20 Mbit/s feed,
// as MPEG-TS and as MP4, cut by the clip engine (internal/clips) and, in the
// same run over the same segment files, by `ffmpeg -c copy`, runs of the two
// alternating, medians and their ratio quoted.
//
// The feed is made at bench time with ffmpeg (70 s of 720p50 H.264 at a
// constant 20 Mbit/s, AAC and AC-3, a keyframe every second) and cut into
// archive segments of 4 s laid out as the recorder lays them out. Nothing
// is kept. Run it from the repository root:
//
//	go run ./bench/clipbench [-runs 5] [-clip 60s]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/podium-broadcast/podium/bench/internal/harness"
	"github.com/podium-broadcast/podium/internal/archive"
	"github.com/podium-broadcast/podium/internal/clips"
	"github.com/podium-broadcast/podium/internal/clips/clipstest"
)

// options are the bench's settings, from its flags.
type options struct {
	bitrate int
	feedLen time.Duration
	clipLen time.Duration
	runs    int
	out     string
}

const feedID = "bench"

// t0 is the wall-clock time given to the feed's first keyframe.
var t0 = time.Date(2026, 7, 24, 12, 0, 0, 0, time.UTC)

func main() {
	var o options
	flag.IntVar(&o.bitrate, "bitrate", 20_000_000, "the feed's bitrate, bit/s")
	flag.DurationVar(&o.feedLen, "feed", 70*time.Second, "length of the recorded feed")
	flag.DurationVar(&o.clipLen, "clip", 60*time.Second, "length of the clip")
	flag.IntVar(&o.runs, "runs", 5, "runs of each exporter per format")
	flag.StringVar(&o.out, "out", "BENCHMARKS.md", "file to write the results into, relative to the repository root")
	flag.Parse()
	if o.runs < 1 || o.clipLen+8*time.Second > o.feedLen {
		fmt.Fprintln(os.Stderr, "clipbench: -runs must be positive and -feed at least -clip + 8s")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := bench(ctx, o)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "clipbench:", err)
		os.Exit(1)
	}
}

func bench(ctx context.Context, o options) error {
	root, err := harness.ModuleRoot()
	if err != nil {
		return err
	}
	work, err := os.MkdirTemp("", "clipbench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	begun := time.Now()

	log("making %s of a %d Mbit/s feed with ffmpeg", o.feedLen, o.bitrate/1_000_000)
	src := filepath.Join(work, "feed.ts")
	if err := makeFeed(ctx, src, o); err != nil {
		return err
	}
	segs, err := clipstest.Split(src, filepath.Join(work, "archive"), feedID, t0, 4*time.Second)
	if err != nil {
		return err
	}
	if err := os.Remove(src); err != nil {
		return err
	}
	arch := clipstest.NewArchive(filepath.Join(work, "archive"))
	arch.Add(segs...)

	// Half a GOP into the feed's sixth second, so that both cutters go back to a keyframe.
	start := t0.Add(5500 * time.Millisecond)
	end := start.Add(o.clipLen)
	covering, err := arch.Segments(feedID, start, end)
	if err != nil {
		return err
	}

	rep := &report{date: begun, opts: o, machine: harness.DescribeMachine(root), segments: len(covering)}
	for _, s := range covering {
		rep.segmentBytes += s.Size
	}
	for _, format := range []string{clips.FormatTS, clips.FormatMP4} {
		f, err := measure(ctx, o, work, arch, covering, start, end, format)
		if err != nil {
			return err
		}
		rep.formats = append(rep.formats, f)
	}
	rep.duration = time.Since(begun)
	fmt.Print(rep.markdown())
	return harness.WriteSection(filepath.Join(root, o.out), beginMarker, endMarker, rep.markdown())
}

// makeFeed encodes a near-constant-rate 720p50 stream: H.264 (x264
// ultrafast, constant bitrate with filler, keyframe every second), AAC and
// AC-3, padded by the muxer to the feed's bitrate.
func makeFeed(ctx context.Context, path string, o options) error {
	video := o.bitrate / 100 * 92 // room for audio, tables and PES headers
	cmd := exec.CommandContext(ctx, "ffmpeg", "-v", "error", "-y",
		"-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=50",
		"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
		"-t", seconds(o.feedLen), "-map", "0:v", "-map", "1:a", "-map", "1:a",
		"-c:v", "libx264", "-preset", "ultrafast", "-g", "50", "-keyint_min", "50", "-sc_threshold", "0",
		"-b:v", strconv.Itoa(video), "-minrate", strconv.Itoa(video), "-maxrate", strconv.Itoa(video),
		"-bufsize", strconv.Itoa(video/2), "-x264-params", "nal-hrd=cbr",
		"-c:a:0", "aac", "-b:a:0", "128k", "-c:a:1", "ac3", "-b:a:1", "192k",
		"-muxrate", strconv.Itoa(o.bitrate), "-f", "mpegts", path)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("ffmpeg: %v: %s", err, out)
	}
	return nil
}

// formatResult is what the runs of one format measured.
type formatResult struct {
	format         string
	engine, ffmpeg []export
}

// export is one run of an exporter.
type export struct {
	wall, cpu time.Duration
	size      int64
	duration  time.Duration // the file's, by ffprobe
}

// measure exports the clip runs times with each exporter, alternating.
func measure(ctx context.Context, o options, work string, arch *clipstest.Archive, covering []archive.Segment,
	start, end time.Time, format string) (formatResult, error) {
	res := formatResult{format: format}
	for i := range o.runs {
		e, err := engineRun(ctx, work, arch, start, end, format, i)
		if err != nil {
			return res, fmt.Errorf("engine, %s: %w", format, err)
		}
		f, err := ffmpegRun(ctx, work, covering, start, end, format)
		if err != nil {
			return res, fmt.Errorf("ffmpeg, %s: %w", format, err)
		}
		log("%s run %d: engine %s, ffmpeg -c copy %s", format, i+1, e.wall.Round(time.Millisecond), f.wall.Round(time.Millisecond))
		res.engine, res.ffmpeg = append(res.engine, e), append(res.ffmpeg, f)
	}
	return res, nil
}

// engineRun exports the clip with a fresh engine, from Submit to the ready
// update (thumbnail and fsync included), and removes it.
func engineRun(ctx context.Context, work string, arch *clipstest.Archive, start, end time.Time, format string, i int) (export, error) {
	dir := filepath.Join(work, "clips")
	updates := make(chan clips.Update, 1000)
	e := clips.New(clips.Config{Dir: dir, Workers: 1}, arch, func(u clips.Update) {
		if u.Status == clips.StatusReady || u.Status == clips.StatusFailed {
			updates <- u
		}
	}, nil)
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- e.Run(runCtx) }()
	defer func() {
		cancel()
		<-done
	}()

	id := fmt.Sprintf("bench-%s-%d", format, i)
	cpu0 := cpuTime()
	t := time.Now()
	if err := e.Submit(clips.Spec{ClipID: id, FeedID: feedID, Start: start, End: end, Mode: clips.ModeCopy, Format: format}); err != nil {
		return export{}, err
	}
	var u clips.Update
	select {
	case u = <-updates:
	case <-ctx.Done():
		return export{}, ctx.Err()
	}
	r := export{wall: time.Since(t), cpu: cpuTime() - cpu0, size: u.Size}
	if u.Status != clips.StatusReady {
		return r, errors.New(u.Error)
	}
	var err error
	if r.duration, err = probeDuration(u.Path); err != nil {
		return r, err
	}
	return r, e.Cancel(id)
}

// ffmpegRun exports the same range from the same segment files with
// `ffmpeg -c copy`: the files joined by the concat protocol (they are one
// transport stream), seeking to the start, every stream copied.
func ffmpegRun(ctx context.Context, work string, covering []archive.Segment, start, end time.Time, format string) (export, error) {
	paths := make([]string, len(covering))
	for i, s := range covering {
		paths[i] = filepath.Join(work, "archive", s.Key)
	}
	out := filepath.Join(work, "ffmpeg."+format)
	muxer := map[string]string{clips.FormatTS: "mpegts", clips.FormatMP4: "mp4"}[format]
	cmd := exec.CommandContext(ctx, "ffmpeg", "-v", "error", "-y",
		"-ss", seconds(start.Sub(covering[0].Start)), "-i", "concat:"+strings.Join(paths, "|"),
		"-t", seconds(end.Sub(start)), "-map", "0", "-c", "copy", "-f", muxer, out)
	t := time.Now()
	if msg, err := cmd.CombinedOutput(); err != nil {
		return export{}, fmt.Errorf("%v: %s", err, msg)
	}
	r := export{wall: time.Since(t), cpu: cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()}
	fi, err := os.Stat(out)
	if err != nil {
		return r, err
	}
	r.size = fi.Size()
	if r.duration, err = probeDuration(out); err != nil {
		return r, err
	}
	return r, os.Remove(out)
}

func probeDuration(path string) (time.Duration, error) {
	out, err := exec.Command("ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", path).Output()
	if err != nil {
		return 0, fmt.Errorf("ffprobe %s: %w", path, err)
	}
	f, err := strconv.ParseFloat(strings.TrimSpace(string(out)), 64)
	if err != nil {
		return 0, fmt.Errorf("ffprobe %s: duration %q", path, out)
	}
	return time.Duration(f * float64(time.Second)), nil
}

// cpuTime returns this process's CPU time plus its waited-for children's
// (the engine's thumbnail ffmpeg).
func cpuTime() time.Duration {
	var self, children syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &self)
	_ = syscall.Getrusage(syscall.RUSAGE_CHILDREN, &children)
	tv := func(t syscall.Timeval) time.Duration { return time.Duration(t.Nano()) }
	return tv(self.Utime) + tv(self.Stime) + tv(children.Utime) + tv(children.Stime)
}

func seconds(d time.Duration) string { return strconv.FormatFloat(d.Seconds(), 'f', 3, 64) }

func log(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "clipbench: "+format+"\n", args...)
}
