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
