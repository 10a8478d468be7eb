package app_test

import (
	"testing"
	"time"
)

// TestWallOfflineInBrowser drives a broadcaster's wall in Debian's Chromium
// with web/e2e/wall.mjs (playwright-core): the tile of a feed without a
// publisher says it is off air and asks Podium for no playlist while the
// feed stays offline; once the feed is published the tile plays within
// seconds, without a reload, and the operator's console counts it among the
// feed's readers. Podium's own count of the HLS playlists it refused is
// checked too. Screenshots go to test-artifacts/ when PODIUM_ARTIFACTS is set.
func TestWallOfflineInBrowser(t *testing.T) {
	browserTestDeps(t)
	p := startPodium(t, options{})
	const liveFeed, offlineFeed = "wall-live", "wall-offline"
	p.createFeed(liveFeed)
	p.loopSample(liveFeed, "ath-100m-final")
	p.createFeed(offlineFeed)
	b := p.createBroadcaster("wall-b")
	p.grant(b.ID, liveFeed)
	p.grant(b.ID, offlineFeed)

	refused := -1.0
	out := p.runBrowserScript("wall", 3*time.Minute, []string{
		"PODIUM_BROADCASTER_KEY=" + b.APIKey,
		"PODIUM_LIVE_FEED=" + liveFeed,
		"PODIUM_OFFLINE_FEED=" + offlineFeed,
	}, func(line string) {
		if line == "publish "+offlineFeed {
			// Only the offline feed's playlists are refused for being offline.
			refused = p.metric(`podium_hls_requests_total{kind="playlist",status="503"}`)
			p.loopSample(offlineFeed, "swm-200fr-heats")
		}
	})
	if refused < 0 {
		t.Fatalf("the script never asked for %s to be published", offlineFeed)
	}
	t.Logf("playlists refused with 503 before %s was published: %v", offlineFeed, refused)
	if refused > 2 {
		t.Errorf("Podium refused %v playlists of the offline feed while it was offline, want at most 2", refused)
	}
	checkNoPageErrors(t, out)
}
