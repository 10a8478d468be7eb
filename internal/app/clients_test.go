package app_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

type srtDetails struct {
	URL      string `json:"url"`
	Commands struct {
		GStreamer string `json:"gstreamer"`
	} `json:"commands"`
}

// TestGStreamerPullsWithTheAPIsURL pulls a feed with GStreamer 1.22's srtsrc
// on the URL GET /feeds/{id}/srt gives (its latency in milliseconds, its
// streamid's # escaped as %23, as GStreamer needs in a URI), and checks
// what it wrote with ffprobe: every track of the feed.
func TestGStreamerPullsWithTheAPIsURL(t *testing.T) {
	if _, err := exec.LookPath("gst-launch-1.0"); err != nil {
		t.Skip("gst-launch-1.0 not installed (gstreamer1.0-tools, -plugins-bad)")
	}
	p := startPodium(t, options{})
	f := p.createFeed("gst-pull")
	b := p.createBroadcaster("rtv")
	p.grant(b.ID, f.ID)
	p.publishSample(f, "ath-100m-final")
	var d srtDetails
	p.mustAPI("GET", "/api/v1/feeds/"+f.ID+"/srt?broadcaster="+b.ID, nil, 200, &d)
	if !strings.Contains(d.URL, "&latency=120") || strings.Contains(d.URL, "latency=120000") {
		t.Fatalf("url %q: latency not in milliseconds", d.URL)
	}
	uri, ok := strings.CutPrefix(d.Commands.GStreamer, "gst-launch-1.0 srtsrc uri='")
	if !ok {
		t.Fatalf("gstreamer command %q", d.Commands.GStreamer)
	}
	uri = uri[:strings.Index(uri, "'")]
	out := filepath.Join(t.TempDir(), "gst.ts")
	gst := startPeer(t, nil, "gst-launch-1.0", "-q", "srtsrc", "uri="+uri, "!", "filesink", "location="+out)
	eventually(t, 30*time.Second, "GStreamer wrote 1 MB of the feed", func() bool {
		st, err := os.Stat(out)
		return err == nil && st.Size() > 1<<20
	})
	gst.stop()
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if got := streams(t, data); !slices.Equal(got, []string{"video:h264", "audio:aac", "audio:aac", "audio:ac3"}) {
		t.Fatalf("GStreamer's capture has streams %v", got)
	}
	if !strings.Contains(p.logs.String(), "broadcaster=rtv") {
		t.Fatal("the pull is not logged as the broadcaster's")
	}
}
