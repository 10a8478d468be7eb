package archive

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/podium-broadcast/podium/internal/ts"
)

// BenchmarkRecorderChunk measures the recorder's cost per SRT payload (7
// packets) of a real sample, segment files and index included.
func BenchmarkRecorderChunk(b *testing.B) {
	data, err := os.ReadFile(filepath.Join("..", "demo", "samples", "ath-100m-final.ts"))
	if err != nil {
		b.Fatal(err)
	}
	a := openTest(b, b.TempDir())
	st := a.feed("bench")
	r := &recorder{arch: a, feedID: "bench", state: st, finished: make(chan *segmentFile, 64)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for sf := range r.finished {
			r.finish(sf)
		}
	}()
	const chunk = 7 * ts.PacketSize
	n := len(data) / chunk
	now := time.Now()
	b.SetBytes(chunk)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		off := (i % n) * chunk
		if i%n == 0 && i > 0 {
			// The sample loops: a new run, as after a publisher's return.
			r.closeSegment(r.endOfRun())
			r.discontinuity = true
		}
		if err := r.chunk(data[off:off+chunk], now.Add(time.Duration(i)*time.Millisecond)); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	r.closeSegment(r.endOfRun())
	close(r.finished)
	<-done
}

// FuzzRecorderChunk gives the recorder arbitrary transport packets: it
// records or skips them and never panics, and every segment it writes is
// whole packets that open with the PAT.
func FuzzRecorderChunk(f *testing.F) {
	data, err := os.ReadFile(filepath.Join("..", "demo", "samples", "ath-100m-final.ts"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(data[:40*ts.PacketSize])
	f.Add(data[len(data)/2 : len(data)/2+20*ts.PacketSize])
	a := openTest(f, f.TempDir())
	f.Fuzz(func(t *testing.T, chunk []byte) {
		st := a.feed("fuzz")
		r := &recorder{arch: a, feedID: "fuzz", state: st, finished: make(chan *segmentFile, 64)}
		now := time.Now()
		for i := 0; i+ts.PacketSize <= len(chunk); i += 7 * ts.PacketSize {
			end := min(len(chunk), i+7*ts.PacketSize) / ts.PacketSize * ts.PacketSize
			if err := r.chunk(chunk[i:end], now); err != nil {
				t.Fatal(err)
			}
		}
		r.closeSegment(r.endOfRun())
		close(r.finished)
		for sf := range r.finished {
			sf.buf.Flush()
			sf.file.Close()
			written, _ := os.ReadFile(sf.part)
			os.Remove(sf.part)
			if len(written)%ts.PacketSize != 0 || len(written) > 0 && ts.PID(written) != 0 {
				t.Fatalf("segment of %d bytes, first PID %d", len(written), ts.PID(written))
			}
		}
	})
}
