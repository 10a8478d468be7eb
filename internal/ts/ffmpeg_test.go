package ts

import (
	"os/exec"
	"testing"
)

// TestScanFindsEveryKeyframeOfARealStream checks the scanner against ffmpeg's
// own muxer and encoders: one access point per keyframe, for H.264 and HEVC.
func TestScanFindsEveryKeyframeOfARealStream(t *testing.T) {
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		t.Skip("ffmpeg not installed")
	}
	for _, codec := range []string{"libx264", "libx265", "mpeg2video"} {
		t.Run(codec, func(t *testing.T) {
			// 3 s at 25 fps with a keyframe every 25 frames: 3 keyframes.
			out, err := exec.Command("ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=320x180:rate=25",
				"-f", "lavfi", "-i", "sine=frequency=1000:sample_rate=48000",
				"-t", "3", "-c:v", codec, "-g", "25", "-bf", "0", "-x265-params", "log-level=none",
				"-c:a", "aac", "-f", "mpegts", "-").Output()
			if err != nil {
				t.Fatalf("ffmpeg: %v", err)
			}
			var s Scanner
			raps := 0
			for off := 0; off < len(out); off += 7 * PacketSize {
				end := min(off+7*PacketSize, len(out))
				rap, err := s.Scan(out[off:end])
				if err != nil {
					t.Fatalf("offset %d: %v", off, err)
				}
				if rap >= 0 {
					raps++
				}
			}
			if raps != 3 {
				t.Fatalf("found %d access points, want 3", raps)
			}
		})
	}
}
