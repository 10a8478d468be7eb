package clips

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/podium-broadcast/podium/internal/archive"
	"github.com/podium-broadcast/podium/internal/ts"
)

const (
	// probeBytes bounds how far into a span startPTS looks for each
	// stream's first timestamp (about 3 s of a 20 Mbit/s feed).
	probeBytes = 8 << 20
	// thumbWidth is the thumbnail's width in pixels.
	thumbWidth = 320
	thumbScale = "scale=320:-2"
	// verticalFilter crops the middle 9:16 of the picture (even width) and
	// scales it to 1080x1920 from a 1080-line source or more, else 720x1280.
	verticalFilter = "crop=trunc(ih*9/32)*2:ih," +
		"scale=w='if(gte(ih,1080),1080,720)':h='if(gte(ih,1080),1920,1280)',setsar=1"
)

// encode cuts [start, end) out of the span frame-accurately with ffmpeg,
// re-encoding the video (cropped to 9:16 if vertical) and copying every
// audio track, and writes the picture in the middle to thumb as a JPEG.
// The span's bytes are piped to ffmpeg's stdin; ffmpeg is killed when ctx
// ends. It returns the clip's duration.
func (e *Engine) encode(ctx context.Context, sp span, s Spec, dst, thumb string, progress func(float64)) (time.Duration, error) {
	base, err := startPTS(ctx, sp)
	if err != nil {
		return 0, err
	}
	from := s.Start
	if from.Before(sp.first) {
		from = sp.first
	}
	to := sp.end()
	if !s.End.IsZero() && s.End.Before(to) {
		to = s.End
	}
	want := to.Sub(from)
	if want <= 0 {
		return 0, archive.ErrNoMedia
	}
	// ffmpeg counts time from the earliest timestamp of its input, which
	// may be a sound a little before the first keyframe.
	lead := time.Duration(archive.PTSDiff(sp.firstPTS, base)) * time.Second / archive.PTSClock
	seek := from.Sub(sp.first) + lead

	args := []string{"-hide_banner", "-nostats", "-loglevel", "error",
		"-f", "mpegts", "-i", "pipe:0",
		"-ss", seconds(seek), "-t", seconds(want),
		"-map", "0:v:0", "-map", "0:a?",
		"-c:v", "libx264", "-preset", "veryfast", "-crf", "20", "-pix_fmt", "yuv420p"}
	thumbFilter := thumbScale
	if s.Mode == ModeVertical {
		args = append(args, "-vf", verticalFilter)
		thumbFilter = verticalFilter + "," + thumbScale
	}
	args = append(args, "-c:a", "copy")
	if s.Format == FormatMP4 {
		args = append(args, "-f", "mp4", "-movflags", "+faststart")
	} else {
		args = append(args, "-f", "mpegts")
	}
	// A second output takes the thumbnail from the same decode.
	args = append(args, "-y", dst,
		"-ss", seconds(seek+want/2), "-map", "0:v:0", "-frames:v", "1", "-vf", thumbFilter, "-f", "mjpeg", "-y", thumb,
		"-progress", "pipe:1")

	in := newSpanReader(ctx, sp, nil)
	defer in.Close()
	cmd := exec.CommandContext(ctx, e.cfg.FFmpeg, args...)
	cmd.Stdin = in
	cmd.WaitDelay = 5 * time.Second
	var stderr tailBuffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return 0, err
	}
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("start ffmpeg: %w", err)
	}
	readProgress(out, want, progress)
	if err := cmd.Wait(); err != nil {
		if ctx.Err() != nil {
			return 0, ctx.Err()
		}
		return 0, fmt.Errorf("ffmpeg: %w: %s", err, stderr.lastLine())
	}
	return want, nil
}

// readProgress follows ffmpeg's -progress output until it closes.
func readProgress(r io.Reader, want time.Duration, progress func(float64)) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		v, ok := strings.CutPrefix(sc.Text(), "out_time_us=")
		if !ok {
			continue
		}
		if us, err := strconv.ParseInt(v, 10, 64); err == nil && us > 0 {
			progress(min(1, float64(us)*float64(time.Microsecond)/float64(want)))
		}
	}
	_, _ = io.Copy(io.Discard, r) // a scanner error leaves the pipe to drain
}

// thumbnail writes a JPEG of the first picture of gop (a span holding one
// GOP) to dst. Decoding one keyframe from the archive is quicker and surer
// than seeking in the finished clip.
func (e *Engine) thumbnail(ctx context.Context, gop span, dst string) error {
	in := newSpanReader(ctx, gop, nil)
	defer in.Close()
	cmd := exec.CommandContext(ctx, e.cfg.FFmpeg, "-hide_banner", "-nostats", "-loglevel", "error",
		"-f", "mpegts", "-i", "pipe:0", "-map", "0:v:0", "-frames:v", "1", "-vf", thumbScale,
		"-f", "mjpeg", "-y", dst)
	cmd.Stdin = in
	cmd.WaitDelay = 5 * time.Second
	var stderr tailBuffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("ffmpeg thumbnail: %w: %s", err, stderr.lastLine())
	}
	return thumbnailMade(dst)
}

func thumbnailMade(path string) error {
	if fi, err := os.Stat(path); err != nil || fi.Size() == 0 {
		return fmt.Errorf("ffmpeg made no thumbnail")
	}
	return nil
}

// startPTS returns the earliest PTS among the first PES packets of every
// stream in the span's opening bytes: where ffmpeg's clock starts.
func startPTS(ctx context.Context, sp span) (int64, error) {
	r := bufio.NewReaderSize(newSpanReader(ctx, sp, nil), 1<<16)
	pkt := make([]byte, ts.PacketSize)
	earliest := sp.firstPTS
	seen := map[int]bool{}
	for read := 0; read < probeBytes; read += len(pkt) {
		if _, err := io.ReadFull(r, pkt); err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				break
			}
			return 0, err
		}
		pid := int(pkt[1]&0x1F)<<8 | int(pkt[2])
		pts, _, ok := ts.PESTimestamps(pkt)
		if !ok || seen[pid] {
			continue
		}
		seen[pid] = true
		if archive.PTSDiff(pts, earliest) < 0 {
			earliest = pts
		}
	}
	return earliest, nil
}

func seconds(d time.Duration) string { return strconv.FormatFloat(d.Seconds(), 'f', 6, 64) }

// tailBuffer keeps the last few KiB of a subprocess's stderr, for errors.
type tailBuffer struct{ b []byte }

const tailMax = 4 << 10

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.b = append(t.b, p...)
	if len(t.b) > tailMax {
		t.b = t.b[len(t.b)-tailMax:]
	}
	return len(p), nil
}

// lastLine returns the last non-empty line written.
func (t *tailBuffer) lastLine() string {
	lines := bytes.Split(bytes.TrimSpace(t.b), []byte("\n"))
	if len(lines) == 0 || len(lines[len(lines)-1]) == 0 {
		return "no message"
	}
	return string(lines[len(lines)-1])
}
