package tsloop

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestTimestampFieldsRoundTrip(t *testing.T) {
	for _, ts := range []int64{0, 1, 90000, 1<<32 + 12345, ptsWrap - 1} {
		f := []byte{0x31, 0, 1, 0, 1} // '0011' prefix and marker bits set
		writeTimestamp(f, ts)
		if got := readTimestamp(f); got != ts {
			t.Errorf("timestamp %d read back as %d", ts, got)
		}
		if f[0]&0xF1 != 0x31 || f[2]&1 != 1 || f[4]&1 != 1 {
			t.Errorf("timestamp %d clobbered prefix or marker bits: % x", ts, f)
		}
	}
}

func pcrPacket(pcr int64) []byte {
	pkt := make([]byte, packetSize)
	pkt[0], pkt[1], pkt[2], pkt[3] = syncByte, 0x01, 0x00, 0x20
	pkt[4], pkt[5] = 183, 0x10
	pkt[10] = 0x7E // reserved bits
	writePCR(pkt, pcr)
	return pkt
}

func TestPCRRoundTripAndWrap(t *testing.T) {
	for _, pcr := range []int64{0, 299, 300, 27_000_000, pcrWrap - 1} {
		pkt := pcrPacket(pcr)
		if got, ok := readPCR(pkt); !ok || got != pcr {
			t.Errorf("PCR %d read back as %d (%v)", pcr, got, ok)
		}
		if pkt[10]&0x7E != 0x7E {
			t.Errorf("PCR %d clobbered the reserved bits", pcr)
		}
	}
	// A shift past the wrap comes back around.
	pkt := pcrPacket(pcrWrap - 300)
	pcr, _ := readPCR(pkt)
	writePCR(pkt, (pcr+600)%pcrWrap)
	if got, _ := readPCR(pkt); got != 300 {
		t.Fatalf("wrapped PCR = %d, want 300", got)
	}
}

func TestNewRejectsWhatCannotLoop(t *testing.T) {
	sample := readSample(t)
	for name, data := range map[string][]byte{
		"empty":          nil,
		"not packets":    []byte("hello"),
		"lost sync":      append(append([]byte{}, sample[:188]...), bytes.Repeat([]byte{0}, 188)...),
		"one packet":     sample[:188],
		"no PAT or PCRs": bytes.Repeat(append([]byte{syncByte, 0x1F, 0xFF, 0x10}, make([]byte, 184)...), 10),
	} {
		if _, err := New(data); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func readSample(t *testing.T) []byte {
	t.Helper()
	data, err := os.ReadFile("../demo/samples/ath-100m-final.ts")
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// unpaced runs l without waiting, collecting at least n bytes.
func unpaced(t *testing.T, l *Looper, n int) []byte {
	t.Helper()
	l.sleep = func(ctx context.Context, _ time.Time) error { return ctx.Err() }
	var out []byte
	enough := errors.New("enough")
	err := l.Run(context.Background(), func(chunk []byte) error {
		if len(chunk) == 0 || len(chunk) > 1316 || len(chunk)%188 != 0 {
			t.Fatalf("chunk of %d bytes", len(chunk))
		}
		out = append(out, chunk...)
		if len(out) >= n {
			return enough
		}
		return nil
	})
	if !errors.Is(err, enough) {
		t.Fatal(err)
	}
	return out
}

func TestSampleLoopsSeamlessly(t *testing.T) {
	sample := readSample(t)
	l, err := New(sample)
	if err != nil {
		t.Fatal(err)
	}
	if got := l.LoopDuration(); got != 4800*time.Millisecond {
		t.Fatalf("loop duration %v, want 4.8s", got)
	}
	out := unpaced(t, l, 3*len(sample))
	if !bytes.Equal(out[:len(sample)], sample) {
		t.Fatal("first pass differs from the sample")
	}

	// Per PID: continuity counters continuous, decode timestamps (DTS, or
	// PTS without one) increasing, PCR increasing in small steps.
	lastCC := map[uint16]int{}
	lastTS := map[uint16]int64{}
	var lastPCR int64 = -1
	for off := 0; off+188 <= len(out); off += 188 {
		pkt := out[off : off+188]
		pid := packetPID(pkt)
		if hasPayload(pkt) {
			cc := int(pkt[3] & 0x0F)
			if prev, ok := lastCC[pid]; ok && cc != (prev+1)%16 {
				t.Fatalf("PID %#x: continuity counter %d after %d at byte %d", pid, cc, prev, off)
			}
			lastCC[pid] = cc
		}
		if pcr, ok := readPCR(pkt); ok {
			if lastPCR >= 0 && (pcr <= lastPCR || pcr-lastPCR > 27_000_000/10) {
				t.Fatalf("PCR jumps from %d to %d at byte %d", lastPCR, pcr, off)
			}
			lastPCR = pcr
		}
		if pes := pesHeader(pkt); pes != nil {
			pts, dts := timestamps(pes)
			if dts == nil {
				dts = pts
			}
			if dts == nil {
				continue
			}
			ts := readTimestamp(dts)
			if prev, ok := lastTS[pid]; ok && ts <= prev {
				t.Fatalf("PID %#x: timestamp %d after %d at byte %d", pid, ts, prev, off)
			}
			lastTS[pid] = ts
		}
	}
	if len(lastTS) != 3 {
		t.Errorf("timestamps followed on %d PIDs, want 3 (video, AAC, AC-3)", len(lastTS))
	}

	if _, err := exec.LookPath("ffmpeg"); err != nil {
		t.Skip("ffmpeg not installed")
	}
	// Frame by frame, as a demuxer sees them, every stream's decode
	// timestamps advance by one frame duration, loop boundaries included.
	packets := exec.Command("ffprobe", "-v", "error", "-show_entries", "packet=stream_index,dts", "-of", "csv=p=0", "-")
	packets.Stdin = bytes.NewReader(out)
	list, err := packets.Output()
	if err != nil {
		t.Fatal(err)
	}
	lastDTS := map[string]int64{}
	steps := map[string]map[int64]int{}
	for _, line := range strings.Split(strings.TrimSpace(string(list)), "\n") {
		if !strings.Contains(line, ",") {
			continue
		}
		fields := strings.Split(line, ",")
		stream, value := fields[0], fields[1]
		dts, err := strconv.ParseInt(value, 10, 64)
		if err != nil {
			t.Fatalf("ffprobe line %q", line)
		}
		if prev, ok := lastDTS[stream]; ok {
			if steps[stream] == nil {
				steps[stream] = map[int64]int{}
			}
			steps[stream][dts-prev]++
		}
		lastDTS[stream] = dts
	}
	for stream, s := range steps {
		if len(s) != 1 {
			t.Errorf("stream %s: frames advance by uneven steps %v (a gap or overlap at a loop boundary)", stream, s)
		}
	}
	if len(steps) != 3 {
		t.Errorf("ffprobe found %d streams, want 3", len(steps))
	}

	// And ffmpeg decodes three passes without a complaint.
	cmd := exec.Command("ffmpeg", "-v", "warning", "-i", "-", "-map", "0", "-f", "null", "-")
	cmd.Stdin = bytes.NewReader(out)
	msgs, err := cmd.CombinedOutput()
	if err != nil || len(bytes.TrimSpace(msgs)) > 0 {
		t.Fatalf("ffmpeg decoding three passes: %v\n%s", err, msgs)
	}
	probe := exec.Command("ffprobe", "-v", "error", "-show_entries", "stream=codec_name", "-of", "csv=p=0", "-")
	probe.Stdin = bytes.NewReader(out)
	names, _ := probe.Output()
	for _, codec := range []string{"h264", "aac", "ac3"} {
		if !strings.Contains(string(names), codec) {
			t.Errorf("ffprobe finds no %s stream: %s", codec, names)
		}
	}
}

func TestRunFollowsTheClock(t *testing.T) {
	l, err := New(readSample(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	var first, last int64 = -1, -1
	start := time.Now()
	err = l.Run(ctx, func(chunk []byte) error {
		for off := 0; off < len(chunk); off += 188 {
			if pcr, ok := readPCR(chunk[off : off+188]); ok {
				if first < 0 {
					first = pcr
				}
				last = pcr
			}
		}
		return nil
	})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Run: %v", err)
	}
	media := time.Duration((last - first) * 1000 / 27)
	wall := time.Since(start)
	if d := wall - media; d < -100*time.Millisecond || d > 100*time.Millisecond {
		t.Fatalf("emitted %v of media in %v of wall time", media, wall)
	}
}

func FuzzNew(f *testing.F) {
	f.Add([]byte{syncByte, 0, 0, 0x10})
	f.Fuzz(func(t *testing.T, data []byte) {
		for off := 0; off < len(data); off += packetSize {
			data[off] = syncByte
		}
		l, err := New(data)
		if err != nil {
			return
		}
		if l.LoopDuration() <= 0 {
			t.Fatal("accepted a stream with no duration")
		}
	})
}
