package main

import (
	"context"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/podium-broadcast/podium/bench/internal/harness"
)

// drawStrip draws a stamp's strip as the ffmpeg filter graph does, in video-range luma.
func drawStrip(stamp uint32) []byte {
	word := uint64(stamp) | uint64(checkByte(stamp))<<stampBits
	luma := make([]byte, stripWidth*stripHeight)
	for y := range stripHeight {
		for x := range stripWidth {
			luma[y*stripWidth+x] = blackLuma
			if word>>(x/clockBlock)&1 == 1 {
				luma[y*stripWidth+x] = whiteLuma
			}
		}
	}
	return luma
}

func TestDecodeStrip(t *testing.T) {
	for _, stamp := range []uint32{0, 1, 0xABCDEF, stampModulo - 1, 12345678} {
		luma := drawStrip(stamp)
		if got, ok := decodeStrip(luma, stripWidth); !ok || got != stamp {
			t.Errorf("stamp %d: decoded %d, ok %v", stamp, got, ok)
		}
		// The encoder's ringing at block edges does not matter.
		for y := range stripHeight {
			luma[y*stripWidth+clockBlock-1] ^= 0xFF
		}
		if got, ok := decodeStrip(luma, stripWidth); !ok || got != stamp {
			t.Errorf("stamp %d with noisy edges: decoded %d, ok %v", stamp, got, ok)
		}
		// One wrong block is caught by the check byte.
		for block := range stripBlocks {
			bad := drawStrip(stamp)
			for y := range stripHeight {
				for x := range clockBlock {
					bad[y*stripWidth+block*clockBlock+x] ^= blackLuma ^ whiteLuma
				}
			}
			if got, ok := decodeStrip(bad, stripWidth); ok {
				t.Errorf("stamp %d with block %d flipped: decoded %d as valid", stamp, block, got)
			}
		}
	}
	black := make([]byte, stripWidth*stripHeight)
	if got, ok := decodeStrip(black, stripWidth); ok {
		t.Errorf("a black strip decoded as %d", got)
	}
	if _, ok := decodeStrip(black[:100], stripWidth); ok {
		t.Error("a short strip decoded")
	}
}

func TestStampAge(t *testing.T) {
	now := time.UnixMilli(1_800_000_000_123)
	for _, age := range []time.Duration{0, time.Millisecond, 1500 * time.Millisecond, time.Hour} {
		if got := stampAge(now, stampOf(now.Add(-age))); got != age {
			t.Errorf("age %v: got %v", age, got)
		}
	}
	// Across the wrap of the 24-bit stamp.
	wrap := time.UnixMilli(stampModulo * 100_000)
	if got := stampAge(wrap.Add(10*time.Millisecond), stampOf(wrap.Add(-20*time.Millisecond))); got != 30*time.Millisecond {
		t.Errorf("across the wrap: got %v", got)
	}
}

// TestClockRoundTrip encodes a clip with the live source's settings and
// decodes it with the SRT baseline's: every picture's stamp must read back,
// be the wall clock of its encoding and advance.
func TestClockRoundTrip(t *testing.T) {
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		t.Skip("needs ffmpeg")
	}
	clip := filepath.Join(t.TempDir(), "clip.ts")
	const frames = 30
	start := time.Now()
	if out, err := exec.Command("ffmpeg", liveSourceArgs(clip, false, frames)...).CombinedOutput(); err != nil {
		t.Fatalf("encode: %v\n%s", err, out)
	}
	end := time.Now()
	procs := harness.NewSupervisor()
	defer procs.StopAll()
	var readings []stampReading
	if err := decodeStrips(context.Background(), procs, "ffmpeg decode", clip, func(r stampReading) {
		readings = append(readings, r)
	}); err != nil {
		t.Fatal(err)
	}
	if len(readings) != frames {
		t.Fatalf("decoded %d pictures, want %d", len(readings), frames)
	}
	for i, r := range readings {
		if !r.ok {
			t.Fatalf("picture %d: check byte does not match (stamp %d)", i, r.stamp)
		}
		if age, span := stampAge(end, r.stamp), end.Sub(start)+time.Millisecond; age > span {
			t.Errorf("picture %d: stamp %d is %v before the end of the encoding, which took %v", i, r.stamp, age, span)
		}
		if i > 0 && r.stamp < readings[i-1].stamp {
			t.Errorf("picture %d: stamp %d after %d", i, r.stamp, readings[i-1].stamp)
		}
	}
}
