package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strconv"
	"time"

	"github.com/podium-broadcast/podium/bench/internal/harness"
)

// The live source of the latency measurement.
const (
	sourceFPS     = 50
	sourceSize    = "1280x720"
	sourceBitrate = "4M"
)

// liveSourceArgs returns the arguments of the ffmpeg that encodes a live
// 720p50 test picture with the clock burned in, and a 1 kHz tone, as a
// broadcast encoder would (x264 veryfast, zero-latency tuning, a keyframe
// every second, constant bitrate), and writes MPEG-TS to out. With re it
// runs in real time; frames counts them (0: forever).
func liveSourceArgs(out string, re bool, frames int) []string {
	args := []string{"-nostdin", "-hide_banner", "-loglevel", "error"}
	if re {
		args = append(args, "-re")
	}
	args = append(args,
		"-f", "lavfi", "-i", "testsrc2=size="+sourceSize+":rate="+strconv.Itoa(sourceFPS),
		"-f", "lavfi", "-i", "sine=frequency=1000:sample_rate=48000",
		"-filter_complex", clockFilterGraph(sourceFPS), "-map", "[out]", "-map", "1:a")
	if frames > 0 {
		args = append(args, "-frames:v", strconv.Itoa(frames))
	}
	g := strconv.Itoa(sourceFPS)
	return append(args,
		"-c:v", "libx264", "-preset", "veryfast", "-tune", "zerolatency", "-pix_fmt", "yuv420p",
		"-g", g, "-keyint_min", g, "-sc_threshold", "0", "-r", g,
		"-b:v", sourceBitrate, "-maxrate", sourceBitrate, "-bufsize", sourceBitrate,
		"-c:a", "aac", "-b:a", "128k",
		"-f", "mpegts", out)
}

// stripDecodeArgs returns the arguments of the ffmpeg that decodes the
// video of input (a URL or file) with as little buffering as it has
// (no probing beyond the first packets, one decoding thread: frame threads
// hold frames back) and writes each picture's strip as raw luma to stdout,
// flushed frame by frame.
func stripDecodeArgs(input string) []string {
	return []string{"-nostdin", "-hide_banner", "-loglevel", "error",
		"-fflags", "nobuffer", "-flags", "low_delay", "-probesize", "32768", "-analyzeduration", "0", "-threads", "1",
		"-i", input, "-map", "0:v:0", "-vf", stripCrop, "-fps_mode", "passthrough",
		"-f", "rawvideo", "-flush_packets", "1", "pipe:1"}
}

// stampReading is one decoded picture's stamp.
type stampReading struct {
	at    time.Time // when the picture came out of the decoder
	stamp uint32
	ok    bool // the check byte matched
}

// readStrips reads raw strips from r, as stripDecodeArgs writes them, until
// r ends or ctx does, and hands each decoded stamp to fn.
func readStrips(ctx context.Context, r io.Reader, fn func(stampReading)) error {
	frame := make([]byte, stripWidth*stripHeight)
	for ctx.Err() == nil {
		if _, err := io.ReadFull(r, frame); err != nil {
			if errors.Is(err, io.EOF) || ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("read strip: %w", err)
		}
		now := time.Now()
		stamp, ok := decodeStrip(frame, stripWidth)
		fn(stampReading{at: now, stamp: stamp, ok: ok})
	}
	return nil
}

// decodeStrips runs ffmpeg on input and hands each picture's stamp to fn
// until the input ends or ctx does.
func decodeStrips(ctx context.Context, procs *harness.Supervisor, name, input string, fn func(stampReading)) error {
	cmd := exec.Command("ffmpeg", stripDecodeArgs(input)...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	proc, err := procs.Start(name, cmd)
	if err != nil {
		return err
	}
	defer proc.Stop(2 * time.Second)
	go func() {
		select {
		case <-ctx.Done():
			proc.Stop(2 * time.Second)
		case <-proc.Done():
		}
	}()
	if err := readStrips(ctx, stdout, fn); err != nil {
		return err
	}
	<-proc.Done()
	if proc.Err() != nil && ctx.Err() == nil {
		return errors.New(proc.Why())
	}
	return nil
}
