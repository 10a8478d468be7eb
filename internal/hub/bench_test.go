package hub

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkFanOut measures the hub alone: one op is one 1316-byte chunk
// written by the publisher and taken by every reader. allocs/op stays at the
// publisher's arena (one 64 KiB block per ~49 chunks) whatever the number of
// readers: readers share the chunks and allocate nothing. ns/delivery is the
// cost per chunk per reader. The SRT side is measured by ./bench/srtfanout.
func BenchmarkFanOut(b *testing.B) {
	for _, readers := range []int{0, 1, 10, 50} {
		b.Run(fmt.Sprintf("readers=%d", readers), func(b *testing.B) { benchmarkFanOut(b, readers) })
	}
}

// fanOutBatch is how many chunks the publisher writes before waiting for
// every reader to take them: well within the ring and the lag bound, so that
// the readers keep up as they do live, while the hub still batches wake-ups.
const fanOutBatch = 256

func benchmarkFanOut(b *testing.B, readers int) {
	// A starved machine must not cut the readers of a CPU benchmark.
	cfg := DefaultConfig
	cfg.MaxLag = time.Hour
	h := New(cfg)
	f := h.Feed("bench")
	p, err := f.Attach("publisher")
	if err != nil {
		b.Fatal(err)
	}
	// Two seconds of a 20 Mbit/s feed with a keyframe every second, looped.
	var s stream
	chunks := make([][]byte, 3800)
	for i := range chunks {
		chunks[i] = s.chunk(i%1900 == 0, byte(i))
	}
	if err := p.Write(chunks[0]); err != nil {
		b.Fatal(err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	// target is the bytes each reader must have taken, beyond its first read,
	// for the current batch to be done; each reader reports reaching it on caughtUp.
	var target atomic.Int64
	caughtUp := make(chan struct{}, readers)
	lost := make(chan error, readers)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	for range readers {
		r, err := f.NewReader()
		if err != nil {
			b.Fatal(err)
		}
		buf := make([][]byte, 0, 64)
		// The first read is the access point: PSI and the keyframe chunk.
		if buf, err = r.Next(ctx, buf); err != nil {
			b.Fatal(err)
		}
		wg.Go(func() {
			var taken int64
			for {
				var err error
				if buf, err = r.Next(ctx, buf[:0]); err != nil {
					if ctx.Err() == nil {
						lost <- err
					}
					return
				}
				for _, c := range buf {
					taken += int64(len(c))
				}
				if taken == target.Load() {
					caughtUp <- struct{}{}
				}
			}
		})
	}

	b.ReportAllocs()
	b.ResetTimer()
	written := 0
	for written < b.N {
		batch := min(fanOutBatch, b.N-written)
		var bytes int64
		for i := range batch {
			bytes += int64(len(chunks[(written+i+1)%len(chunks)]))
		}
		target.Add(bytes)
		for i := range batch {
			if err := p.Write(chunks[(written+i+1)%len(chunks)]); err != nil {
				b.Fatal(err)
			}
		}
		written += batch
		for range readers {
			select {
			case <-caughtUp:
			case err := <-lost:
				b.Fatalf("a reader ended: %v", err)
			}
		}
	}
	b.StopTimer()
	if readers > 0 {
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(readers), "ns/delivery")
	}
}
