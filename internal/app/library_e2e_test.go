package app_test

import (
	"encoding/json"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// TestLibraryInBrowser drives the archive, clip and library pages of the
// portal in Debian's Chromium with web/e2e/library.mjs (playwright-core): a
// broadcaster watches a recorded feed, sees its archive timeline grow, drags
// back into it and plays the archive, marks in and out, creates a copy clip
// from the form and sees it become ready, cuts a second clip in now and out
// later on live, finds the first in the library by a word and by its sport
// and athlete facets, previews it and downloads it. The download is then
// probed: an MP4 with video and every audio track of the feed. Screenshots
// go to test-artifacts/ when PODIUM_ARTIFACTS is set.
func TestLibraryInBrowser(t *testing.T) {
	browserTestDeps(t)
	p := startPodium(t, options{})
	const feed, sport = "library-x", "Athletics"
	p.createFeed(feed)
	p.loopSample(feed, "ath-100m-final")
	b := p.createBroadcaster("library-b")
	p.grant(b.ID, feed)
	now := time.Now().UTC()
	p.mustAPI("POST", "/api/v1/schedule/import", []map[string]any{{
		"id": "ath-m100-final", "sport": sport, "event": "Men's 100m", "phase": "Final", "venue": "Olympic Stadium",
		"start": now.Add(-time.Hour).Format(time.RFC3339), "end": now.Add(2 * time.Hour).Format(time.RFC3339),
		"feed_ids": []string{feed},
	}}, 200, nil)

	download := filepath.Join(t.TempDir(), "clip.mp4")
	out := p.runBrowserScript("library", 5*time.Minute, []string{
		"PODIUM_BROADCASTER_KEY=" + b.APIKey,
		"PODIUM_FEED=" + feed,
		"PODIUM_SPORT=" + sport,
		"PODIUM_DOWNLOAD=" + download,
	}, nil)
	checkNoPageErrors(t, out)

	// What the browser saved is the clip: an MP4 with the feed's picture and
	// every one of its audio tracks.
	want := probeStreams(t, filepath.Join(repoRoot, "internal/demo/samples/ath-100m-final.ts"))
	got := probeStreams(t, download)
	if got["video"] != 1 || got["audio"] != want["audio"] {
		t.Errorf("downloaded clip has streams %v, want 1 video and %d audio like the feed", got, want["audio"])
	}
}

// probeStreams counts the streams of a media file by codec type.
func probeStreams(t *testing.T, path string) map[string]int {
	t.Helper()
	out, err := exec.Command("ffprobe", "-v", "error", "-show_entries", "stream=codec_type", "-of", "json", path).Output()
	if err != nil {
		t.Fatalf("ffprobe %s: %v", path, err)
	}
	var probe struct {
		Streams []struct {
			CodecType string `json:"codec_type"`
		} `json:"streams"`
	}
	if err := json.Unmarshal(out, &probe); err != nil {
		t.Fatalf("ffprobe %s: %v", path, err)
	}
	counts := map[string]int{}
	for _, s := range probe.Streams {
		counts[s.CodecType]++
	}
	return counts
}
