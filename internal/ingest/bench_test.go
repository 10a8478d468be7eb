package ingest

import (
	"testing"
)

// BenchmarkOnAirWrite measures the on-air path: scanning, holding back a
// frame, rewriting and handing to the hub, per 1316-byte SRT payload.
func BenchmarkOnAirWrite(b *testing.B) {
	w, _, _ := testSwitcherB(b)
	src, err := w.Attach("f", Primary, "encoder")
	if err != nil {
		b.Fatal(err)
	}
	data := sampleB(b, "ath-100m-final")
	// Looped as is: the timestamps jump back at each pass and are rebased.
	b.SetBytes(1316)
	b.ReportAllocs()
	b.ResetTimer()
	off := 0
	for range b.N {
		if off+1316 > len(data) {
			off = 0
		}
		if err := src.Write(data[off : off+1316]); err != nil {
			b.Fatal(err)
		}
		off += 1316
	}
}
