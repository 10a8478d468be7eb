package app_test

import (
	"testing"
	"time"
)

// TestPortalInBrowser drives the portal in Debian's Chromium with
// web/e2e/portal.mjs (playwright-core): a broadcaster signs in, sees exactly
// its feeds with playing previews, switches the audio track of one and reads
// its SRT pull details; the operator revokes that feed in another browser
// and the broadcaster's player stops and the feed leaves its wall without a
// reload; then sign-out. Screenshots go to test-artifacts/ when
// PODIUM_ARTIFACTS is set.
func TestPortalInBrowser(t *testing.T) {
	browserTestDeps(t)
	p := startPodium(t, options{})
	feeds := map[string]string{ // feed -> the demo sample it loops
		"portal-x": "ath-100m-final",
		"portal-y": "swm-200fr-heats",
		"portal-z": "venue-ols-mlf",
	}
	for feed, sample := range feeds {
		p.createFeed(feed)
		p.loopSample(feed, sample)
	}
	b := p.createBroadcaster("portal-b")
	revoked := p.grant(b.ID, "portal-x")
	p.grant(b.ID, "portal-y")
	other := p.createBroadcaster("portal-other")
	p.grant(other.ID, "portal-z")

	out := p.runBrowserScript("portal", 2*time.Minute, []string{
		"PODIUM_BROADCASTER_KEY=" + b.APIKey,
		"PODIUM_BROADCASTER_ID=" + b.ID,
		"PODIUM_ENTITLED=portal-x,portal-y",
		"PODIUM_NOT_ENTITLED=portal-z",
	}, nil)

	// What the operator did in the browser is what the catalog holds.
	var e struct{ Status string }
	p.mustAPI("GET", "/api/v1/entitlements/"+revoked, nil, 200, &e)
	if e.Status != "revoked" {
		t.Errorf("entitlement %s is %q after the revoke in the portal, want revoked", revoked, e.Status)
	}
	checkNoPageErrors(t, out)
}
