package hls

import "testing"

// frames are 50p video in decoding order, presented I, B, B, B, P (a
// b-pyramid as x264 makes it): each group of four is P, B, B, B.
func videoPTS(start int64, groups int) []int64 {
	const f = 1800
	out := []int64{start}
	for g := range groups {
		base := start + int64(g*4)*f
		out = append(out, base+4*f, base+2*f, base+1*f, base+3*f)
	}
	return out
}

// TestTimelineNewPublisherComesAfterTheLatestFrameShown: a stream cut
// after a P-frame and one of the B-frames shown before it (the others never
// came) is followed by a new timeline seconds earlier. Whichever track meets
// the new timeline first, every track's new timestamps come after every old one.
func TestTimelineNewPublisherComesAfterTheLatestFrameShown(t *testing.T) {
	for _, audioFirst := range []bool{false, true} {
		var tl timeline
		video, audio := tl.track(), tl.track()
		latestV, latestA := int64(0), int64(0)
		old := videoPTS(900000, 20)
		old = old[:len(old)-2] // a P-frame and one of the B-frames shown before it
		for i, pts := range old {
			p, _, _ := video.place(pts)
			latestV = max(latestV, p)
			a, _, _ := audio.place(900000 + int64(i)*1920)
			latestA = max(latestA, a)
		}
		// The audio ran a little further than the video.
		a, _, _ := audio.place(900000 + int64(len(old))*1920)
		latestA = max(latestA, a)

		fresh := videoPTS(126000, 5)
		placeVideo := func() {
			for _, pts := range fresh {
				p, _, _ := video.place(pts)
				if p <= latestV {
					t.Fatalf("audio first %v: new video frame at %d, not after the latest shown %d", audioFirst, p, latestV)
				}
			}
		}
		placeAudio := func() {
			for i := range 10 {
				p, _, _ := audio.place(126000 + int64(i)*1920)
				if p <= latestA {
					t.Fatalf("audio first %v: new audio frame at %d, not after the latest %d", audioFirst, p, latestA)
				}
			}
		}
		if audioFirst {
			placeAudio()
			placeVideo()
		} else {
			placeVideo()
			placeAudio()
		}
	}
}

// TestTimelineKeepsReorderedVideoAsItIs: B-frames stepping back, and the
// progress of a stream, are not new timelines.
func TestTimelineKeepsReorderedVideoAsItIs(t *testing.T) {
	var tl timeline
	v := tl.track()
	for _, pts := range videoPTS(1000, 100) {
		if p, _, rebased := v.place(pts); rebased || p != pts {
			t.Fatalf("frame at %d placed at %d (rebased %v)", pts, p, rebased)
		}
	}
}
