package app_test

import (
	"testing"
	"time"
)

// TestConsoleLayoutInBrowser opens the operator console in Debian's
// Chromium with web/e2e/console.mjs (playwright-core) at 1440x900 and
// 1280x800, with a feed published over SRT, one looped into the hub and one
// offline, a long feed name and an SRT delivery, and checks that every
// column of its tables is on screen without scrolling sideways. Screenshots
// of the feeds table at each size go to test-artifacts/ when
// PODIUM_ARTIFACTS is set.
func TestConsoleLayoutInBrowser(t *testing.T) {
	browserTestDeps(t)
	p := startPodium(t, options{})
	var srtFeed feedCreds
	p.mustAPI("POST", "/api/v1/feeds", map[string]string{"id": "console-ath-100m-final", "name": "Athletics: Men's 100 m Final, Olympic Stadium", "kind": "multilateral"}, 201, &srtFeed)
	p.publishSample(srtFeed, "ath-100m-final")
	p.mustAPI("POST", "/api/v1/feeds", map[string]string{"id": "console-swm", "name": "Swimming heats", "kind": "venue-iso"}, 201, nil)
	p.loopSample("console-swm", "swm-200fr-heats")
	p.createFeed("console-offline")
	b := p.createBroadcaster("console-b")
	p.grant(b.ID, srtFeed.ID)
	p.grant(b.ID, "console-offline", time.Now().Add(time.Hour), time.Now().Add(3*time.Hour))
	p.pull(srtFeed.ID, b)

	out := p.runBrowserScript("console", 2*time.Minute, []string{"PODIUM_LIVE_FEEDS=" + srtFeed.ID + ",console-swm"}, nil)
	checkNoPageErrors(t, out)
}
