package hls

import (
	"net/http/httptest"
	"testing"
)

func TestWithoutGapsListsOnlyRealSegments(t *testing.T) {
	tests := []struct {
		name, in, want string
		listing        listing
	}{
		{"a fresh muxer's playlist",
			"#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:1\n#EXT-X-MAP:URI=\"p_init.mp4\"\n#EXT-X-GAP\n#EXTINF:1.92000,\ngap.mp4\n#EXT-X-GAP\n#EXTINF:1.92000,\ngap.mp4\n#EXT-X-PROGRAM-DATE-TIME:2026-12-03T20:08:26.271Z\n#EXTINF:1.92000,\np_video1_seg3.mp4?x=1\n#EXT-X-PART:DURATION=0.20000,URI=\"p_video1_part20.mp4\",INDEPENDENT=YES\n#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"p_video1_part21.mp4\"\n",
			"#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:3\n#EXT-X-MAP:URI=\"p_init.mp4\"\n#EXT-X-PROGRAM-DATE-TIME:2026-12-03T20:08:26.271Z\n#EXTINF:1.92000,\np_video1_seg3.mp4?x=1\n#EXT-X-PART:DURATION=0.20000,URI=\"p_video1_part20.mp4\",INDEPENDENT=YES\n#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"p_video1_part21.mp4\"\n",
			listing{firstMSN: 3, segments: 1, gaps: 2}},
		{"past its gaps",
			"#EXTM3U\n#EXT-X-MEDIA-SEQUENCE:9\n#EXTINF:1.92000,\np_seg9.mp4\n",
			"#EXTM3U\n#EXT-X-MEDIA-SEQUENCE:9\n#EXTINF:1.92000,\np_seg9.mp4\n",
			listing{firstMSN: 9, segments: 1}},
		{"no segment yet", "#EXTM3U\n#EXT-X-MEDIA-SEQUENCE:0\n", "#EXTM3U\n#EXT-X-MEDIA-SEQUENCE:0\n", listing{}},
	}
	for _, tt := range tests {
		got, l := withoutGaps([]byte(tt.in))
		if string(got) != tt.want || l != tt.listing {
			t.Errorf("%s:\n got %q, %+v\nwant %q, %+v", tt.name, got, l, tt.want, tt.listing)
		}
	}
}

func TestFullPlaylistRequestAsksNoDeltaUpdate(t *testing.T) {
	r := httptest.NewRequest("GET", "/hls/f/t/video1_stream.m3u8?_HLS_msn=9&_HLS_part=2&_HLS_skip=YES", nil)
	if got := fullPlaylistRequest(r).URL.Query(); got.Has("_HLS_skip") || got.Get("_HLS_msn") != "9" || got.Get("_HLS_part") != "2" {
		t.Fatalf("query %v", got)
	}
	if !r.URL.Query().Has("_HLS_skip") {
		t.Fatal("the player's request changed")
	}
}
