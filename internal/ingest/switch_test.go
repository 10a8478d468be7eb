package ingest

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/podium-broadcast/podium/internal/hub"
	"github.com/podium-broadcast/podium/internal/ts"
)

func sample(t *testing.T, name string) []byte { return sampleB(t, name) }

func sampleB(t testing.TB, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "demo", "samples", name+".ts"))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// remapped remuxes a sample with ffmpeg onto other PIDs (PMT 0x1100,
// streams from 0x300): a backup encoder configured differently.
func remapped(t *testing.T, name string) []byte {
	t.Helper()
	out, err := exec.Command("ffmpeg", "-v", "error", "-i", filepath.Join("..", "demo", "samples", name+".ts"),
		"-map", "0", "-c", "copy", "-mpegts_pmt_start_pid", "0x1100", "-mpegts_start_pid", "0x300", "-f", "mpegts", "-").Output()
	if err != nil {
		t.Fatalf("ffmpeg remux: %v", err)
	}
	return out
}

type testClock struct{ t time.Time }

func (c *testClock) now() time.Time          { return c.t }
func (c *testClock) advance(d time.Duration) { c.t = c.t.Add(d) }

func testSwitcher(t *testing.T) (*Switcher, *hub.Hub, *testClock) { return testSwitcherB(t) }

func testSwitcherB(t testing.TB) (*Switcher, *hub.Hub, *testClock) {
	t.Helper()
	// A loaded machine may starve the test's reader: no lag cut here.
	cfg := hub.DefaultConfig
	cfg.MaxLag = time.Minute
	h := hub.New(cfg)
	c := &testClock{t: time.Date(2028, 7, 14, 20, 0, 0, 0, time.UTC)}
	w := New(DefaultConfig, h, NewMetrics(prometheus.NewRegistry()), slog.New(slog.DiscardHandler))
	w.now = c.now
	return w, h, c
}

// write feeds data to s in 1316-byte payloads.
func write(t *testing.T, s *Source, data []byte) {
	t.Helper()
	for off := 0; off < len(data); off += 1316 {
		if err := s.Write(data[off:min(off+1316, len(data))]); err != nil {
			t.Fatal(err)
		}
	}
}

// collect reads the feed as a receiver does, from before the first write;
// the returned function, called once every write has returned, stops and
// returns what was read. Writes reach the hub before they return, so once the
// reader's context is cancelled, it drains the ring with calls to Next that
// answer at once: the first one to come back empty has read everything.
func collect(t *testing.T, h *hub.Hub, feed string) (stop func() []byte) {
	t.Helper()
	r, err := h.Feed(feed).NewReader()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan []byte)
	go func() {
		var out []byte
		chunks := make([][]byte, 0, 64)
		for {
			var err error
			chunks, err = r.Next(ctx, chunks[:0])
			for _, c := range chunks {
				out = append(out, c...)
			}
			if err != nil && ctx.Err() == nil {
				done <- out
				return
			}
			if err != nil {
				// The call in flight at the cancel may have returned before
				// the ring's last chunks; drain them.
				for {
					chunks, _ = r.Next(ctx, chunks[:0])
					if len(chunks) == 0 {
						done <- out
						return
					}
					for _, c := range chunks {
						out = append(out, c...)
					}
				}
			}
		}
	}()
	return func() []byte {
		cancel()
		return <-done
	}
}

func TestSingleSourcePassesThroughByteForByte(t *testing.T) {
	w, h, _ := testSwitcher(t)
	src, err := w.Attach("f", Primary, "encoder")
	if err != nil {
		t.Fatal(err)
	}
	stop := collect(t, h, "f")
	in := sample(t, "ath-100m-final")
	write(t, src, in)
	out := stop()
	// The reader starts at the first keyframe, after the PAT and PMT that
	// stood before it; from there on the output is the input.
	var sc ts.Scanner
	var want []byte
	for off := 0; off < len(in); off += ts.PacketSize {
		if rap, _ := sc.Scan(in[off : off+ts.PacketSize]); rap == 0 {
			want = append(append([]byte(nil), sc.RAPPSI()...), in[off:]...)
			break
		}
	}
	// The last video frame is held back until the next one starts.
	if !bytes.HasPrefix(want, out) || len(want)-len(out) > 128<<10 {
		t.Fatalf("output of %d bytes is not the input from its first keyframe (%d bytes) but its last frame", len(out), len(want))
	}
}

func TestFailoverAndBackKeepTheOutputContinuous(t *testing.T) {
	w, h, clock := testSwitcher(t)
	primary, _ := w.Attach("f", Primary, "encoder-a")
	backup, _ := w.Attach("f", Backup, "encoder-b")
	if _, err := w.Attach("f", Backup, "encoder-c"); err != ErrRoleTaken {
		t.Fatalf("a second backup: %v, want ErrRoleTaken", err)
	}
	stop := collect(t, h, "f")
	a, b := sample(t, "ath-100m-final"), remapped(t, "bkb-gold-game")
	half := len(b) / 2 / ts.PacketSize * ts.PacketSize

	write(t, primary, a)
	write(t, backup, b[:half])
	if st, _ := w.Status("f"); st.OnAir != Primary {
		t.Fatalf("on air %q, want primary", st.OnAir)
	}
	// The primary stalls; the backup keeps sending.
	clock.advance(600 * time.Millisecond)
	write(t, backup, b[half:])
	w.check()
	if st, _ := w.Status("f"); st.OnAir != Backup || st.Switches != 2 {
		t.Fatalf("after the primary stalled: %+v", st)
	}
	// The primary comes back (its encoder restarted: timestamps from the
	// start again); it goes on air after the hold time only.
	write(t, primary, a)
	w.check()
	if st, _ := w.Status("f"); st.OnAir != Backup {
		t.Fatal("primary back on air before the hold time")
	}
	clock.advance(DefaultConfig.Hold)
	write(t, primary, a)
	write(t, backup, b)
	w.check()
	if st, _ := w.Status("f"); st.OnAir != Primary {
		t.Fatalf("after the hold time: %+v", st)
	}
	write(t, primary, a)
	out := stop()
	checkContinuous(t, out)
	checkDecodes(t, out)
}

func TestDisconnectSwitchesAtOnceAndForceWins(t *testing.T) {
	w, h, _ := testSwitcher(t)
	primary, _ := w.Attach("f", Primary, "a")
	backup, _ := w.Attach("f", Backup, "b")
	stop := collect(t, h, "f")
	a, b := sample(t, "ath-100m-final"), sample(t, "swm-200fr-heats")
	write(t, primary, a)
	write(t, backup, b)
	primary.Detach()
	if st, _ := w.Status("f"); st.OnAir != Backup {
		t.Fatalf("after the primary disconnected: %+v", st)
	}
	primary, _ = w.Attach("f", Primary, "a")
	write(t, primary, a)
	if err := w.Force("f", Backup); err != nil {
		t.Fatal(err)
	}
	if err := w.Force("f", "sideways"); err == nil {
		t.Fatal("forcing an unknown role succeeded")
	}
	if err := w.Force("f", Primary); err != nil {
		t.Fatal(err)
	}
	write(t, primary, a)
	if st, _ := w.Status("f"); st.OnAir != Primary || st.Mode != Primary {
		t.Fatalf("after forcing the primary: %+v", st)
	}
	out := stop()
	backup.Detach()
	primary.Detach()
	checkContinuous(t, out)
	checkDecodes(t, out)
}

// checkContinuous checks the output as a receiver's demuxer would: one PAT
// and PMT throughout, continuity counters without a gap on every PID, and
// every PID's decoding timestamps and the PCR moving forward.
func checkContinuous(t *testing.T, out []byte) {
	t.Helper()
	if len(out)%ts.PacketSize != 0 || len(out) == 0 {
		t.Fatalf("output of %d bytes", len(out))
	}
	cc := map[int]byte{}
	last := map[int]int64{}
	var lastPCR int64 = -1
	var pat []byte
	for off := 0; off < len(out); off += ts.PacketSize {
		p := out[off : off+ts.PacketSize]
		pid := ts.PID(p)
		if pid == ts.NullPID {
			continue
		}
		if pid == 0 {
			if pat != nil && !bytes.Equal(pat[4:], p[4:]) {
				t.Fatalf("the PAT changed at byte %d", off)
			}
			pat = p
		}
		if pid != 0 && pid != 0x11 && pid != 0x1000 && pid != 0x100 && pid != 0x101 && pid != 0x102 && pid != 0x103 {
			t.Fatalf("packet on PID %#x: not the primary's layout", pid)
		}
		if p[3]&0x10 != 0 {
			c := p[3] & 0x0F
			if prev, ok := cc[pid]; ok && c != (prev+1)&0x0F {
				t.Fatalf("PID %#x: continuity counter %d after %d at byte %d", pid, c, prev, off)
			}
			cc[pid] = c
		}
		if pcr, ok := readPCR(p); ok {
			if lastPCR >= 0 && tsDiff(pcr, lastPCR) <= 0 {
				t.Fatalf("PCR went back at byte %d", off)
			}
			lastPCR = pcr
		}
		if pts, dts, ok := readPESTimes(p); ok {
			ts := pts
			if dts >= 0 {
				ts = dts
			}
			if prev, seen := last[pid]; seen && tsDiff(ts, prev) <= 0 {
				t.Fatalf("PID %#x: timestamp went back %d ticks at byte %d", pid, tsDiff(ts, prev), off)
			}
			last[pid] = ts
		}
	}
}

// checkDecodes has ffmpeg decode every track of the output and complain of anything.
func checkDecodes(t *testing.T, out []byte) {
	t.Helper()
	cmd := exec.Command("ffmpeg", "-v", "error", "-i", "pipe:", "-map", "0", "-f", "null", "-")
	cmd.Stdin = bytes.NewReader(out)
	msgs, err := cmd.CombinedOutput()
	if err != nil || len(bytes.TrimSpace(msgs)) > 0 {
		t.Fatalf("ffmpeg decoding the output: %v\n%s", err, msgs)
	}
}

// TestSourceJoiningMidPacketResynchronises writes a stream that starts 100
// bytes into a packet, in 1000-byte pieces (no packet boundaries), with a
// packet cut short and 777 bytes of zeros in the middle: the source skips to the sync byte each
// time, the output is the input's packets and decodes, and the skipped bytes
// are counted.
func TestSourceJoiningMidPacketResynchronises(t *testing.T) {
	w, h, _ := testSwitcher(t)
	reg := prometheus.NewRegistry()
	w.metrics = NewMetrics(reg)
	src, err := w.Attach("f", Primary, "pipe")
	if err != nil {
		t.Fatal(err)
	}
	stop := collect(t, h, "f")
	in := sample(t, "ath-100m-final")
	half := len(in) / 2 / ts.PacketSize * ts.PacketSize
	stream := append(append(append([]byte(nil), in[100:half+50]...), make([]byte, 777)...), in[half:]...)
	for off := 0; off < len(stream); off += 1000 {
		if err := src.Write(stream[off:min(off+1000, len(stream))]); err != nil {
			t.Fatalf("write at %d: %v", off, err)
		}
	}
	out := stop()
	if len(out) < len(in)/2 {
		t.Fatalf("output of %d bytes from %d in", len(out), len(in))
	}
	for off := 0; off+ts.PacketSize <= len(out); off += ts.PacketSize {
		if pkt := out[off : off+ts.PacketSize]; ts.PID(pkt) != 0 && ts.PID(pkt) != 0x1000 && !bytes.Contains(in, pkt[4:]) {
			t.Fatalf("output packet at %d is not one of the input's: % x", off, pkt[:40])
		}
	}
	checkDecodes(t, out)
	mf, _ := reg.Gather()
	var skipped float64
	for _, f := range mf {
		if f.GetName() == "podium_feed_source_skipped_bytes_total" {
			skipped = f.GetMetric()[0].GetCounter().GetValue()
		}
	}
	if skipped < float64(188-100) {
		t.Fatalf("skipped bytes counted %v", skipped)
	}
}

// TestNewPublisherAtItsFirstKeyframeComesAfterEveryFrameShown: a publisher
// cut just after a reference frame (its B-frames, shown before it, never
// sent) leaves, and a new one comes on air at its very first keyframe,
// written in SRT-sized pieces so that the keyframe is not yet whole when it
// goes on air. Every frame of the new timeline is presented after every
// frame of the old, on each track: no presentation time twice, and ffmpeg
// decodes the whole without complaint. The old publisher ends less than a
// second after the new one's timestamps start (not a jump), or seconds after.
func TestNewPublisherAtItsFirstKeyframeComesAfterEveryFrameShown(t *testing.T) {
	for _, n := range []int{10, 50} {
		t.Run(fmt.Sprintf("cut after P-frame %d", n), func(t *testing.T) {
			w, h, _ := testSwitcher(t)
			stop := collect(t, h, "f")
			a := sample(t, "ath-100m-final")
			first, _ := w.Attach("f", Primary, "encoder-a")
			write(t, first, a[:cutAfterReferenceFrame(t, a, n)])
			first.Detach()
			second, _ := w.Attach("f", Primary, "encoder-a-restarted")
			write(t, second, sample(t, "bkb-gold-game"))
			out := stop()
			checkContinuous(t, out)
			checkPresentation(t, out)
			checkDecodes(t, out)
		})
	}
}

// cutAfterReferenceFrame returns where to cut a sample so that its nth
// P-frame (presented after the B-frames that follow it) is its last whole
// video PES: just after the first packet of the PES that follows it.
func cutAfterReferenceFrame(t *testing.T, data []byte, n int) int {
	t.Helper()
	seen, afterP := 0, false
	for off := 0; off+ts.PacketSize <= len(data); off += ts.PacketSize {
		p := data[off : off+ts.PacketSize]
		if ts.PID(p) != 0x100 {
			continue
		}
		pts, dts, ok := readPESTimes(p)
		if !ok {
			continue
		}
		if afterP {
			return off + ts.PacketSize
		}
		if dts >= 0 && tsDiff(pts, dts) > 2*3600 { // shown well after it is decoded: a P-frame with B-frames before it
			if seen++; seen == n {
				afterP = true
			}
		}
	}
	t.Fatalf("no %dth P-frame in the sample", n)
	return 0
}

// checkPresentation checks that no PID presents two PES at the same time
// and that each random access point (in the samples, the start of a closed
// GOP, as a new source's first frame is) is presented after everything before it.
func checkPresentation(t *testing.T, out []byte) {
	t.Helper()
	shown := map[int]map[int64]bool{}
	latest := map[int]int64{}
	for off := 0; off+ts.PacketSize <= len(out); off += ts.PacketSize {
		p := out[off : off+ts.PacketSize]
		pts, _, ok := readPESTimes(p)
		if !ok {
			continue
		}
		pid := ts.PID(p)
		if shown[pid] == nil {
			shown[pid] = map[int64]bool{}
		}
		if shown[pid][pts] {
			t.Fatalf("PID %#x: presentation time %d twice (at byte %d)", pid, pts, off)
		}
		shown[pid][pts] = true
		randomAccess := p[3]&0x20 != 0 && p[4] > 0 && p[5]&0x40 != 0
		if l, ok := latest[pid]; ok && randomAccess && tsDiff(pts, l) <= 0 {
			t.Fatalf("PID %#x: random access point presented at %d, not after the latest %d shown (byte %d)", pid, pts, l, off)
		}
		if l, ok := latest[pid]; !ok || tsDiff(pts, l) > 0 {
			latest[pid] = pts
		}
	}
}
