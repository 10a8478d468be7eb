package ingest

import (
	"bytes"
	"log/slog"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/podium-broadcast/podium/internal/ts"
)

// demoBackup encodes what the demo's printed backup command sends: 720p50
// H.264 and one AAC track, against the sample's video, two AAC and AC-3.
func demoBackup(t *testing.T, seconds string) []byte {
	t.Helper()
	out, err := exec.Command("ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=50", "-f", "lavfi", "-i", "sine",
		"-t", seconds, "-c:v", "libx264", "-preset", "ultrafast", "-g", "50", "-c:a", "aac", "-f", "mpegts", "-").Output()
	if err != nil {
		t.Fatalf("ffmpeg backup encode: %v", err)
	}
	return out
}

// pmts lists the elementary streams of every distinct PMT in out, in
// order, and the byte where each first stood.
func pmts(out []byte) (seen [][]ts.Stream, at []int) {
	var sc ts.Scanner
	for off := 0; off+ts.PacketSize <= len(out); off += ts.PacketSize {
		sc.Scan(out[off : off+ts.PacketSize])
		st := sc.Streams()
		if len(st) > 0 && (len(seen) == 0 || !equalStreams(seen[len(seen)-1], st)) {
			seen = append(seen, append([]ts.Stream(nil), st...))
			at = append(at, off)
		}
	}
	return seen, at
}

func equalStreams(a, b []ts.Stream) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// videoSteps counts the steps between the video's decoding times that are
// not one frame (1800 ticks at 50 fps).
func videoSteps(out []byte) (irregular, all int) {
	last := int64(-1)
	for off := 0; off+ts.PacketSize <= len(out); off += ts.PacketSize {
		p := out[off : off+ts.PacketSize]
		if ts.PID(p) != 0x100 {
			continue
		}
		pts, dts, ok := readPESTimes(p)
		if !ok {
			continue
		}
		if dts < 0 {
			dts = pts
		}
		if last >= 0 {
			all++
			if tsDiff(dts, last) != 1800 {
				irregular++
			}
		}
		last = dts
	}
	return irregular, all
}

// TestBackupWithFewerTracksAnnouncesThemGoneAndPrimaryReturnsWhole is the
// issue's first two cases: while a backup with only video and one AAC is on
// air, the output's PMT lists what it carries (a receiver joining then can
// record every stream it is told of); after the switch back, the primary's
// every track comes back in a new PMT version, on a timeline that steps one
// frame at a time, and the whole output decodes without an error.
func TestBackupWithFewerTracksAnnouncesThemGoneAndPrimaryReturnsWhole(t *testing.T) {
	w, h, clock := testSwitcher(t)
	primary, _ := w.Attach("f", Primary, "encoder-a")
	backup, _ := w.Attach("f", Backup, "encoder-b")
	stop := collect(t, h, "f")
	a, b := sample(t, "ath-100m-final"), demoBackup(t, "9")
	third := len(b) / 3 / ts.PacketSize * ts.PacketSize
	write(t, primary, a)
	write(t, backup, b[:third])
	if err := w.Force("f", Backup); err != nil {
		t.Fatal(err)
	}
	write(t, backup, b[third:2*third])
	joined := collect(t, h, "f") // a receiver that joins while the backup is on air
	write(t, backup, b[2*third:])
	clock.advance(time.Second)
	write(t, primary, a)
	whileBackup := joined()
	if err := w.Force("f", "auto"); err != nil {
		t.Fatal(err)
	}
	w.check()
	clock.advance(DefaultConfig.Hold)
	write(t, primary, a)
	w.check()
	if st, _ := w.Status("f"); st.OnAir != Primary {
		t.Fatalf("after auto: %+v", st)
	}
	// The primary's encoder runs on: its timestamps continue from the loop.
	loop := func() []byte {
		cmd := exec.Command("ffmpeg", "-v", "error", "-stream_loop", "3", "-i", "pipe:", "-map", "0", "-c", "copy", "-f", "mpegts", "-")
		cmd.Stdin = bytes.NewReader(a)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("ffmpeg loop: %v", err)
		}
		return out
	}()
	write(t, primary, loop)
	out := stop()

	layouts, at := pmts(out)
	if len(layouts) != 3 || len(layouts[0]) != 4 || len(layouts[1]) != 2 || len(layouts[2]) != 4 {
		t.Fatalf("PMTs in the output: %v, want the primary's 4 streams, the backup's 2, the primary's 4", layouts)
	}
	if got, _ := pmts(whileBackup); len(got) == 0 || len(got[0]) != 2 {
		t.Fatalf("a receiver joining while the backup is on air is told of %v, want video and one AAC", got)
	}
	// The demo's printed record command, on what that receiver read.
	rec := exec.Command("ffmpeg", "-v", "error", "-i", "pipe:", "-map", "0", "-c", "copy", "-f", "mpegts", "-y", "/dev/null")
	rec.Stdin = bytes.NewReader(whileBackup)
	if msgs, err := rec.CombinedOutput(); err != nil || len(bytes.TrimSpace(msgs)) > 0 {
		t.Fatalf("recording what a receiver reads while the backup is on air: %v\n%s", err, msgs)
	}
	checkDecodes(t, out)
	// After the switch back, 1800 ticks a frame, but for the primary's own
	// restart (the loop written after its first GOP) and its loop points.
	if irregular, all := videoSteps(out[at[2]:]); irregular > 5 || all < 200 {
		t.Fatalf("after the switch back, %d of %d video frame steps are not 1800 ticks", irregular, all)
	}
	checkTrackTimelines(t, out)
}

// checkTrackTimelines checks that every PID's decoding times move forward.
func checkTrackTimelines(t *testing.T, out []byte) {
	t.Helper()
	last := map[int]int64{}
	for off := 0; off+ts.PacketSize <= len(out); off += ts.PacketSize {
		p := out[off : off+ts.PacketSize]
		pts, dts, ok := readPESTimes(p)
		if !ok {
			continue
		}
		if dts < 0 {
			dts = pts
		}
		pid := ts.PID(p)
		if prev, seen := last[pid]; seen && tsDiff(dts, prev) <= 0 {
			t.Fatalf("PID %#x: decoding time went back %d ticks at byte %d", pid, tsDiff(dts, prev), off)
		}
		last[pid] = dts
	}
}

// TestNewPublisherAfterGraceStartsANewLayout is the third case: a
// publisher with two tracks leaves, and one with three comes after the
// grace period: the output lists the four, in a new PMT version, logged.
func TestNewPublisherAfterGraceStartsANewLayout(t *testing.T) {
	w, h, clock := testSwitcher(t)
	var logs strings.Builder
	w.log = slog.New(slog.NewTextHandler(&logs, nil))
	first, _ := w.Attach("f", Primary, "encoder-a")
	stop := collect(t, h, "f")
	two := func() []byte {
		out, err := exec.Command("ffmpeg", "-v", "error", "-i", "../demo/samples/ath-100m-final.ts", "-map", "0:v", "-map", "0:a:0", "-c", "copy", "-f", "mpegts", "-").Output()
		if err != nil {
			t.Fatal(err)
		}
		return out
	}()
	write(t, first, two)
	first.Detach()
	clock.advance(h.Grace() + time.Second)
	second, _ := w.Attach("f", Primary, "encoder-b")
	write(t, second, sample(t, "ath-100m-final"))
	out := stop()
	layouts, _ := pmts(out)
	if len(layouts) != 2 || len(layouts[0]) != 2 || len(layouts[1]) != 4 {
		t.Fatalf("PMTs in the output: %v, want the first publisher's 2 streams, then the second's 4", layouts)
	}
	if !strings.Contains(logs.String(), `msg="feed layout changed" feed=f source=primary change="new publisher" tracks=4`) {
		t.Fatalf("no log line of the new layout:\n%s", logs.String())
	}
	checkDecodes(t, out)
	checkTrackTimelines(t, out)
}

// TestOutputHealthShowsWhatIsNotDecodable: a source whose timestamps step
// back (its last GOP sent again), and one whose PMT lists an AC-3 track it
// never sends, make the feed's health degraded with the reason, counted and
// logged; a clean stream leaves it healthy.
func TestOutputHealthShowsWhatIsNotDecodable(t *testing.T) {
	a := sample(t, "ath-100m-final")
	var sc ts.Scanner
	lastGOP := 0
	for off := 0; off < len(a); off += ts.PacketSize {
		if rap, _ := sc.Scan(a[off : off+ts.PacketSize]); rap == 0 {
			lastGOP = off
		}
	}
	var noAC3 []byte
	for off := 0; off < len(a); off += ts.PacketSize {
		if ts.PID(a[off:]) != 0x103 {
			noAC3 = append(noAC3, a[off:off+ts.PacketSize]...)
		}
	}
	tests := []struct {
		name   string
		writes [][]byte
		want   string
	}{
		{"clean", [][]byte{a}, ""},
		{"timestamps back", [][]byte{a, a[lastGOP:]}, "timestamps went back on PID"},
		{"track without data", [][]byte{noAC3, noAC3, noAC3}, "track on PID 0x103 carries no data"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w, _, clock := testSwitcher(t)
			var logs strings.Builder
			w.log = slog.New(slog.NewTextHandler(&logs, nil))
			src, _ := w.Attach("f", Primary, "encoder")
			for _, data := range tc.writes {
				write(t, src, data)
				clock.advance(3 * time.Second)
			}
			clock.advance(-3 * time.Second)
			st, _ := w.Status("f")
			got := strings.Join(st.Health, "; ")
			if tc.want == "" && got != "" || !strings.Contains(got, tc.want) {
				t.Fatalf("health %q, want %q", got, tc.want)
			}
			if tc.want != "" && !strings.Contains(logs.String(), "feed output degraded") {
				t.Fatalf("degraded output not logged:\n%s", logs.String())
			}
		})
	}
}
