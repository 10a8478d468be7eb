package app_test

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"strings"
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

	artifacts := artifactDir(t, "wall")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", "web/e2e/wall.mjs")
	cmd.Dir = repoRoot
	cmd.Env = append(os.Environ(),
		"PODIUM_URL="+p.base,
		"PODIUM_ADMIN_TOKEN="+p.AdminToken,
		"PODIUM_BROADCASTER_KEY="+b.APIKey,
		"PODIUM_LIVE_FEED="+liveFeed,
		"PODIUM_OFFLINE_FEED="+offlineFeed,
		"PODIUM_ARTIFACTS="+artifacts,
	)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	refused := -1.0
	lines := bufio.NewScanner(stdout)
	for lines.Scan() {
		line := lines.Text()
		out.WriteString(line + "\n")
		if line == "publish "+offlineFeed {
			// Only the offline feed's playlists are refused for being offline.
			refused = p.metric(`podium_hls_requests_total{kind="playlist",status="503"}`)
			p.loopSample(offlineFeed, "swm-200fr-heats")
		}
	}
	err = cmd.Wait()
	t.Logf("web/e2e/wall.mjs (%v, screenshots in %s):\n%s", time.Since(start).Round(time.Second), artifacts, out.String())
	if err != nil {
		t.Fatalf("wall browser test failed: %v", err)
	}
	if refused < 0 {
		t.Fatalf("the script never asked for %s to be published", offlineFeed)
	}
	t.Logf("playlists refused with 503 before %s was published: %v", offlineFeed, refused)
	if refused > 2 {
		t.Errorf("Podium refused %v playlists of the offline feed while it was offline, want at most 2", refused)
	}
	if strings.Contains(out.String(), "page error:") {
		t.Errorf("the portal threw uncaught exceptions (see the output above)")
	}
}
