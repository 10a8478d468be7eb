package rtmpserver

import (
	"testing"
	"time"
)

func TestTimelineIsContinuous(t *testing.T) {
	ms := func(v int64) time.Duration { return time.Duration(v) * time.Millisecond }
	tests := []struct {
		name string
		in   []int64 // RTMP timestamps, milliseconds
		want []int64 // 90 kHz ticks after startTicks
	}{
		{"starts at startTicks whatever the first timestamp", []int64{5000, 5040, 5021}, []int64{0, 3600, 1890}},
		{"a frame before the first one stays before it", []int64{100, 60}, []int64{0, -3600}},
		{"goes on across the 32-bit wrap", []int64{rtmpWrap - 40, rtmpWrap - 20, 0, 20}, []int64{0, 1800, 3600, 5400}},
		{"a late frame from before the wrap stays before it", []int64{rtmpWrap - 20, 10, rtmpWrap - 5, 30}, []int64{0, 2700, 1350, 4500}},
		{"a publisher that starts just before the wrap", []int64{rtmpWrap - 1, 0}, []int64{0, 90}},
		{"a second wrap", []int64{0, rtmpWrap / 3, 2 * rtmpWrap / 3, 0, rtmpWrap / 3, 2 * rtmpWrap / 3, 0}, []int64{
			0, rtmpWrap / 3 * 90, 2 * rtmpWrap / 3 * 90, rtmpWrap * 90, (rtmpWrap + rtmpWrap/3) * 90, (rtmpWrap + 2*rtmpWrap/3) * 90, 2 * rtmpWrap * 90}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var tl timeline
			for i, v := range tc.in {
				if got := tl.ticks(ms(v)) - startTicks; got != tc.want[i] {
					t.Fatalf("timestamp %d (%d ms): got %d ticks after the start, want %d", i, v, got, tc.want[i])
				}
			}
		})
	}
}

func TestOffsetTicks(t *testing.T) {
	if got := offsetTicks(-40 * time.Millisecond); got != -3600 {
		t.Fatalf("offsetTicks(-40ms) = %d, want -3600", got)
	}
}
