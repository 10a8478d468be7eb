package tsloop

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// samples are the demo feeds' samples, made by scripts/make-samples.sh.
var samples = []string{"ath-100m-final", "swm-200fr-heats", "venue-ols-mlf", "bkb-gold-game"}

func readSample(t testing.TB, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "demo", "samples", name+".ts"))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// build returns the stream that f muxes.
func build(f func(m *muxer)) []byte {
	var m muxer
	f(&m)
	return m.out
}

// wrapping is where the synthetic streams' timestamps start to wrap around
// 2^33 within their first pass.
const wrapping = ptsWrap - 5*frameTicks

func TestNewRejects(t *testing.T) {
	lostSync := synthStream(10, 90000)
	lostSync[3*packetSize] = 0
	for _, tc := range []struct {
		name string
		ts   []byte
		want string
	}{
		{"empty", nil, "not a whole number of 188-byte packets"},
		{"not packets", []byte("hello"), "not a whole number of 188-byte packets"},
		{"lost sync", lostSync, "packet 3 has no sync byte"},
		{"no PAT", build(func(m *muxer) {
			m.pmt(synthVideo)
			m.frames(10, 90000)
		}), "no PAT"},
		{"PAT without programs", build(func(m *muxer) {
			m.psi(pidPAT, 0x00, 0x00, 0x00, 0xE0, 0x10) // network PID only
			m.pmt(synthVideo)
			m.frames(10, 90000)
		}), "the PAT lists no program"},
		{"no PMT", build(func(m *muxer) {
			m.pat()
			m.frames(10, 90000)
		}), "no PMT on PID 0x1000"},
		{"PMT without PCR_PID", build(func(m *muxer) {
			m.pat()
			m.pmt(pidNull)
			m.frames(10, 90000)
		}), "declares no PCR_PID"},
		{"no PCR on PCR_PID", build(func(m *muxer) {
			m.pat()
			m.pmt(synthAudio)
			m.frames(10, 90000)
		}), "no PCR on PCR_PID 0x101"},
		{"no timestamps", build(func(m *muxer) {
			m.pat()
			m.pmt(synthVideo)
			m.packet(synthVideo, false, 27_000_000, nil)
			m.packet(synthVideo, false, 27_540_000, nil)
		}), "cannot tell the loop's duration"},
		{"one timestamp", build(func(m *muxer) {
			m.pat()
			m.pmt(synthVideo)
			m.frames(1, 90000)
		}), "cannot tell the loop's duration"},
		{"PCR going back", build(func(m *muxer) {
			m.pat()
			m.pmt(synthVideo)
			m.frames(10, 90000)
			m.packet(synthVideo, false, 0, nil)
		}), "PCR goes back at packet 32"},
		{"PCRs longer than the loop", build(func(m *muxer) {
			m.pat()
			m.pmt(synthVideo)
			m.frames(10, 90000)
			m.packet(synthVideo, false, 10*90000*300, nil)
		}), "the PCRs span 9.1s by packet 32"},
		{"a stream longer than the loop", build(func(m *muxer) {
			m.pat()
			m.pmt(synthVideo)
			m.frames(10, 90000)
			m.packet(synthVideo, true, noPCR, pes(0xE0, 90000+12*frameTicks, 90000+10*frameTicks))
			m.packet(synthAudio, true, noPCR, pes(0xC0, 10*90000, noPCR))
		}), "PID 0x101 spans 8.98s, not less than the loop's 220ms told by PID 0x100"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, err := New(tc.ts)
			if err == nil {
				t.Fatalf("accepted, loop of %v", l.LoopDuration())
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q, want it to say %q", err, tc.want)
			}
		})
	}
}

func TestLoopDuration(t *testing.T) {
	type input struct {
		name string
		ts   []byte
		want time.Duration
	}
	inputs := []input{
		{"synthetic", synthStream(10, 90000), 200 * time.Millisecond},
		{"synthetic across the wrap", synthStream(10, wrapping), 200 * time.Millisecond},
		{"a single PCR", build(func(m *muxer) {
			m.pat()
			m.pmt(synthVideo)
			for i := range 25 {
				pcr := int64(noPCR)
				if i == 3 {
					pcr = 27_000_000
				}
				m.packet(synthVideo, true, pcr, pes(0xE0, 99000+int64(i)*3600, noPCR))
			}
		}), time.Second},
	}
	for _, name := range samples {
		inputs = append(inputs, input{name, readSample(t, name), 4800 * time.Millisecond})
	}
	for _, in := range inputs {
		t.Run(in.name, func(t *testing.T) {
			l, err := New(in.ts)
			if err != nil {
				t.Fatal(err)
			}
			if got := l.LoopDuration(); got != in.want {
				t.Errorf("loop of %v, want %v", got, in.want)
			}
		})
	}
}

// errEnough stops a Run once a test has what it needs.
var errEnough = errors.New("enough")

// runUnpaced runs l as fast as it goes and returns its first n bytes.
func runUnpaced(t *testing.T, l *Looper, n int) []byte {
	t.Helper()
	l.unpaced = true
	out := make([]byte, 0, n+chunkPackets*packetSize)
	err := l.Run(context.Background(), func(chunk []byte) error {
		if len(chunk) != chunkPackets*packetSize {
			t.Fatalf("chunk of %d bytes, want %d", len(chunk), chunkPackets*packetSize)
		}
		out = append(out, chunk...)
		if len(out) >= n {
			return errEnough
		}
		return nil
	})
	if !errors.Is(err, errEnough) {
		t.Fatalf("Run: %v", err)
	}
	return out[:n]
}

// TestLoopIsSeamless plays three passes of synthetic streams and of every
// sample and checks them as one continuous stream.
func TestLoopIsSeamless(t *testing.T) {
	const passes = 3
	type input struct {
		name   string
		ts     []byte
		ffmpeg bool
	}
	inputs := []input{
		{"synthetic", synthStream(10, 90000), false},
		{"synthetic across the wrap", synthStream(10, wrapping), false},
		{"synthetic wrapping on a later pass", synthStream(10, ptsWrap-25*frameTicks), false},
	}
	for _, name := range samples {
		inputs = append(inputs, input{name, readSample(t, name), true})
	}
	for _, in := range inputs {
		t.Run(in.name, func(t *testing.T) {
			t.Parallel()
			l, err := New(in.ts)
			if err != nil {
				t.Fatal(err)
			}
			out := runUnpaced(t, l, passes*len(in.ts))
			if !bytes.Equal(out[:len(in.ts)], in.ts) {
				t.Error("the first pass is not the stream as given")
			}
			checkContinuity(t, out)
			checkShifted(t, in.ts, out, l.loop, passes)
			if in.ffmpeg {
				checkWithFFmpeg(t, out)
			}
		})
	}
}

// checkContinuity checks every PID's continuity counters: up by one on each
// packet with payload, the same on a packet without.
func checkContinuity(t *testing.T, ts []byte) {
	t.Helper()
	last := map[uint16]byte{}
	for off := 0; off < len(ts); off += packetSize {
		pkt := ts[off : off+packetSize]
		pid, cc := packetPID(pkt), continuityCounter(pkt)
		if pid == pidNull {
			continue
		}
		if prev, ok := last[pid]; ok {
			want := prev
			if hasPayload(pkt) {
				want = (prev + 1) & 0x0F
			}
			if cc != want {
				t.Fatalf("PID %#x, packet %d: continuity counter %d after %d", pid, off/packetSize, cc, prev)
			}
		}
		last[pid] = cc
	}
}

// clocks are the PCRs and per PID the PES timestamps of a stream, in order.
type clocks struct {
	pcr      []int64
	pts, dts map[uint16][]int64
	// decode is per PID the DTS of each PES, or its PTS when it has no DTS.
	decode map[uint16][]int64
}

func readClocks(ts []byte) clocks {
	c := clocks{pts: map[uint16][]int64{}, dts: map[uint16][]int64{}, decode: map[uint16][]int64{}}
	for off := 0; off < len(ts); off += packetSize {
		pkt := ts[off : off+packetSize]
		if pcr, ok := readPCR(pkt); ok {
			c.pcr = append(c.pcr, pcr)
		}
		pid := packetPID(pkt)
		pts, dts := pesTimestamps(pkt)
		if pts == 0 {
			continue
		}
		c.pts[pid] = append(c.pts[pid], readTimestamp(pkt, pts))
		decode := pts
		if dts != 0 {
			c.dts[pid] = append(c.dts[pid], readTimestamp(pkt, dts))
			decode = dts
		}
		c.decode[pid] = append(c.decode[pid], readTimestamp(pkt, decode))
	}
	return c
}

// checkShifted checks that each pass after the first carries the first's
// timestamps shifted by one more loop, and that they run on across the
// loop boundaries: PCRs forward by at most 100 ms, decode timestamps
// forward, by the same step every time in a stream that has one.
func checkShifted(t *testing.T, in, out []byte, loop int64, passes int) {
	t.Helper()
	want, got := readClocks(in), readClocks(out)
	expect := func(what string, first, all []int64, shift, wrap int64) {
		t.Helper()
		if len(all) != passes*len(first) {
			t.Fatalf("%s: %d in %d passes, want %d", what, len(all), passes, passes*len(first))
		}
		for i, v := range all {
			pass := int64(i / len(first))
			if w := mod(first[i%len(first)]+pass*shift, wrap); v != w {
				t.Fatalf("%s %d (pass %d): %d, want %d", what, i, pass, v, w)
			}
		}
	}
	expect("PCR", want.pcr, got.pcr, loop*300, pcrWrap)
	for pid := range want.pts {
		expect("PTS of PID "+strconv.Itoa(int(pid)), want.pts[pid], got.pts[pid], loop, ptsWrap)
		expect("DTS of PID "+strconv.Itoa(int(pid)), want.dts[pid], got.dts[pid], loop, ptsWrap)
	}
	if len(got.pts) != len(want.pts) {
		t.Errorf("timestamps on %d PIDs, want %d", len(got.pts), len(want.pts))
	}

	for i := 1; i < len(got.pcr); i++ {
		if step := mod(got.pcr[i]-got.pcr[i-1], pcrWrap); step <= 0 || step > 27_000_000/10 {
			t.Fatalf("PCR %d steps by %v", i, ticks(step, 27_000_000))
		}
	}
	for pid, decode := range got.decode {
		inSteps := steps(want.decode[pid])
		for i, step := range steps(decode) {
			if step <= 0 || step >= ptsWrap/2 {
				t.Fatalf("PID %#x: decode timestamp %d steps by %d", pid, i+1, step)
			}
			if len(inSteps) == 1 && step != inSteps[0] {
				t.Fatalf("PID %#x: decode timestamp %d steps by %d, not %d", pid, i+1, step, inSteps[0])
			}
		}
	}
}

// steps returns the steps between 33-bit timestamps, modulo 2^33.
func steps(ts []int64) []int64 {
	var out []int64
	for i := 1; i < len(ts); i++ {
		out = append(out, mod(ts[i]-ts[i-1], ptsWrap))
	}
	return out
}

// distinct returns the distinct values of s, sorted.
func distinct(s []int64) []int64 {
	s = slices.Clone(s)
	slices.Sort(s)
	return slices.Compact(s)
}

// checkWithFFmpeg has ffprobe and ffmpeg read ts as a decoder would: it
// must find 1 video and 2 audio streams, frames of each following the last
// by the same step, and nothing to complain about.
func checkWithFFmpeg(t *testing.T, ts []byte) {
	t.Helper()
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		t.Skip("ffmpeg not in PATH")
	}
	run := func(name string, args ...string) string {
		t.Helper()
		cmd := exec.Command(name, args...)
		cmd.Stdin = bytes.NewReader(ts)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %v\n%s", name, err, out)
		}
		return strings.TrimSpace(string(out))
	}

	var streams []string
	for _, line := range strings.Fields(run("ffprobe", "-v", "error", "-show_entries", "stream=codec_type,codec_name", "-of", "flat", "pipe:")) {
		if s, ok := strings.CutPrefix(line, "streams.stream."); ok {
			streams = append(streams, s)
		}
	}
	want := []string{
		`0.codec_name="h264"`, `0.codec_type="video"`,
		`1.codec_name="aac"`, `1.codec_type="audio"`,
		`2.codec_name="aac"`, `2.codec_type="audio"`,
		`3.codec_name="ac3"`, `3.codec_type="audio"`,
	}
	if !slices.Equal(streams, want) {
		t.Errorf("ffprobe finds streams %q, want %q", streams, want)
	}

	dts := map[string][]int64{}
	for _, line := range strings.Fields(run("ffprobe", "-v", "error", "-show_entries", "packet=stream_index,dts", "-of", "csv=p=0", "pipe:")) {
		fields := strings.Split(line, ",")
		if len(fields) < 2 {
			t.Fatalf("ffprobe packet line %q", line)
		}
		v, err := strconv.ParseInt(fields[1], 10, 64)
		if err != nil {
			t.Fatalf("ffprobe packet line %q: %v", line, err)
		}
		dts[fields[0]] = append(dts[fields[0]], v)
	}
	if len(dts) != 4 {
		t.Errorf("ffprobe finds packets of %d streams, want 4", len(dts))
	}
	for index, d := range dts {
		if s := distinct(steps(d)); len(s) != 1 {
			t.Errorf("stream %s: frames step by %v, want one step (a gap or overlap at a loop boundary)", index, s)
		}
	}

	if msgs := run("ffmpeg", "-v", "warning", "-i", "pipe:", "-map", "0", "-f", "null", "-"); msgs != "" {
		t.Errorf("ffmpeg decoding the loop complains:\n%s", msgs)
	}
}

// TestRunFollowsTheClock runs with pacing on and checks that PCRs go out
// when wall-clock time reaches them, across loop boundaries too.
func TestRunFollowsTheClock(t *testing.T) {
	for _, tc := range []struct {
		name string
		ts   []byte
		run  time.Duration
	}{
		{"sample", readSample(t, samples[0]), 1500 * time.Millisecond},
		{"200 ms loop", synthStream(10, wrapping), 1000 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, err := New(tc.ts)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), tc.run)
			defer cancel()
			deadline, _ := ctx.Deadline()
			var (
				first   = int64(-1)
				media   int64 // from the first PCR, in 27 MHz ticks
				lags    []time.Duration
				start   = time.Now()
				emitted time.Duration
			)
			err = l.Run(ctx, func(chunk []byte) error {
				now := time.Since(start)
				for off := 0; off < len(chunk); off += packetSize {
					pcr, ok := readPCR(chunk[off : off+packetSize])
					if !ok {
						continue
					}
					if first < 0 {
						first = pcr
					}
					media = mod(pcr-first, pcrWrap)
					lags = append(lags, now-ticks(media, 27_000_000))
					emitted = now
				}
				return nil
			})
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("Run: %v", err)
			}
			if late := time.Since(deadline); late > 100*time.Millisecond {
				t.Errorf("Run returned %v after its context ended", late)
			}
			if d := emitted - ticks(media, 27_000_000) - lags[0]; d < -100*time.Millisecond || d > 100*time.Millisecond {
				t.Errorf("%v of media went out in %v", ticks(media, 27_000_000), emitted-lags[0])
			}
			if min, max := slices.Min(lags), slices.Max(lags); max-min > 100*time.Millisecond {
				t.Errorf("PCRs went out between %v and %v after their time", min, max)
			}
			if media < int64(tc.run-200*time.Millisecond)*27/1000 {
				t.Errorf("only %v of media in %v", ticks(media, 27_000_000), tc.run)
			}
		})
	}
}

func TestRunStops(t *testing.T) {
	errEmit := errors.New("receiver gone")
	for _, tc := range []struct {
		name string
		// stop is called with each chunk's index and returns emit's error.
		stop func(i int, cancel context.CancelFunc) error
		want error
	}{
		{"context cancelled", func(i int, cancel context.CancelFunc) error {
			if i == 20 {
				cancel()
			}
			return nil
		}, context.Canceled},
		{"emit fails", func(i int, _ context.CancelFunc) error {
			if i == 20 {
				return errEmit
			}
			return nil
		}, errEmit},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, err := New(readSample(t, samples[0]))
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			chunks := 0
			var stopped time.Time
			err = l.Run(ctx, func([]byte) error {
				chunks++
				err := tc.stop(chunks, cancel)
				if stopped.IsZero() && (err != nil || ctx.Err() != nil) {
					stopped = time.Now()
				}
				return err
			})
			if !errors.Is(err, tc.want) {
				t.Fatalf("Run returned %v, want %v", err, tc.want)
			}
			if chunks != 20 {
				t.Errorf("%d chunks emitted, want 20", chunks)
			}
			if d := time.Since(stopped); d > 50*time.Millisecond {
				t.Errorf("Run returned %v after it was stopped", d)
			}
		})
	}
}

// TestRunAllocations checks that Run allocates once, not per packet or pass.
func TestRunAllocations(t *testing.T) {
	l, err := New(synthStream(10, 90000))
	if err != nil {
		t.Fatal(err)
	}
	l.unpaced = true
	allocs := testing.AllocsPerRun(5, func() {
		packets := 0
		_ = l.Run(context.Background(), func(chunk []byte) error {
			if packets += len(chunk) / packetSize; packets >= 100*len(l.packets) {
				return errEnough
			}
			return nil
		})
	})
	if allocs > 5 {
		t.Errorf("Run allocates %v times for 100 passes", allocs)
	}
}

func FuzzNew(f *testing.F) {
	f.Add(synthStream(10, 90000))
	f.Add(synthStream(3, wrapping))
	f.Add(readSample(f, samples[0])[:120*packetSize])
	f.Fuzz(func(t *testing.T, data []byte) {
		// Most byte strings fail on their sync bytes: mend them, to reach
		// further, in a copy (the fuzzing engine's input must stay as it is).
		data = bytes.Clone(data)
		for off := 0; off < len(data); off += packetSize {
			data[off] = syncByte
		}
		l, err := New(data)
		if err != nil {
			return
		}
		if l.LoopDuration() <= 0 {
			t.Fatalf("accepted a stream with a loop of %v", l.LoopDuration())
		}
		l.unpaced = true
		chunks := 0
		_ = l.Run(context.Background(), func([]byte) error {
			if chunks++; chunks == 50 {
				return errEnough
			}
			return nil
		})
	})
}
