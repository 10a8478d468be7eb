package app_test

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/podium-broadcast/podium/internal/tsloop"
)

// publishSample publishes a demo sample (H.264 720p50, AAC eng, AAC fra,
// AC-3) to the feed over SRT through srt-live-transmit, looped seamlessly
// with continuous timestamps, until the test ends.
func (p *podium) publishSample(f feedCreds, name string) {
	p.t.Helper()
	p.publishSampleStoppable(f, name)
}

// publishSampleStoppable is publishSample, returning a function that stops
// the publisher and waits until the feed is off.
func (p *podium) publishSampleStoppable(f feedCreds, name string) (stop func()) {
	p.t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "demo", "samples", name+".ts"))
	if err != nil {
		p.t.Fatal(err)
	}
	l, err := tsloop.New(data)
	if err != nil {
		p.t.Fatal(err)
	}
	pub, pw := startFedPeer(p.t, "srt-live-transmit", "-q", "-a:no", "-chunk:1316", "file://con", p.publishURL(f))
	ctx, cancel := context.WithCancel(context.Background())
	p.t.Cleanup(cancel)
	go func() {
		defer pw.Close()
		l.Run(ctx, func(chunk []byte) error {
			_, err := pw.Write(chunk)
			return err
		})
	}()
	live := func() bool {
		var feed struct{ Live bool }
		return p.api("GET", "/api/v1/feeds/"+f.ID, p.AdminToken, nil, &feed) == 200 && feed.Live
	}
	eventually(p.t, 10*time.Second, "feed "+f.ID+" live", live)
	return func() {
		cancel()
		pub.stop()
		eventually(p.t, 10*time.Second, "feed "+f.ID+" off", func() bool { return !live() })
	}
}

// playback asks the API for the feed's HLS URL with token.
func (p *podium) playback(feed, token string) string {
	p.t.Helper()
	var out struct {
		HLSURL    string `json:"hls_url"`
		ExpiresAt string `json:"expires_at"`
	}
	if status := p.api("GET", "/api/v1/feeds/"+feed+"/playback", token, nil, &out); status != 200 {
		p.t.Fatalf("playback of %s: status %d", feed, status)
	}
	if !strings.HasPrefix(out.HLSURL, p.base+"/hls/"+feed+"/") || !strings.HasSuffix(out.HLSURL, "/index.m3u8") {
		p.t.Fatalf("hls_url %q is not under %s/hls/%s/", out.HLSURL, p.base, feed)
	}
	if exp, err := time.Parse(time.RFC3339, out.ExpiresAt); err != nil || time.Until(exp) < time.Hour {
		p.t.Fatalf("expires_at %q", out.ExpiresAt)
	}
	return out.HLSURL
}

// fetch GETs url and returns the status, the body and the Content-Type.
func fetch(t *testing.T, url string) (int, string, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), resp.Header.Get("Content-Type")
}

func resolve(base, ref string) string {
	return base[:strings.LastIndex(base, "/")+1] + ref
}

var (
	partTargetRe = regexp.MustCompile(`#EXT-X-PART-INF:PART-TARGET=([0-9.]+)`)
	serverCtlRe  = regexp.MustCompile(`#EXT-X-SERVER-CONTROL:(.*)`)
	partRe       = regexp.MustCompile(`#EXT-X-PART:DURATION=([0-9.]+),URI="([^"]+)"`)
	hintRe       = regexp.MustCompile(`#EXT-X-PRELOAD-HINT:TYPE=PART,URI="([^"]+)"`)
	mediaSeqRe   = regexp.MustCompile(`#EXT-X-MEDIA-SEQUENCE:(\d+)`)
	targetRe     = regexp.MustCompile(`#EXT-X-TARGETDURATION:(\d+)`)
	extinfRe     = regexp.MustCompile(`#EXTINF:([0-9.]+),`)
	audioRe      = regexp.MustCompile(`#EXT-X-MEDIA:TYPE=AUDIO,[^\n]*NAME="([^"]+)"[^\n]*`)
	mediaURIRe   = regexp.MustCompile(`(?m)^([^#\s][^\s]*\.m3u8[^\s]*)$`)
)

// playlistPosition returns the media sequence number of the segment being
// written and the index of its last listed part.
func playlistPosition(t *testing.T, pl string) (msn, part int) {
	t.Helper()
	m := mediaSeqRe.FindStringSubmatch(pl)
	if m == nil {
		t.Fatalf("no EXT-X-MEDIA-SEQUENCE:\n%s", pl)
	}
	msn, _ = strconv.Atoi(m[1])
	part = -1
	for _, line := range strings.Split(pl, "\n") {
		switch {
		case strings.HasPrefix(line, "#EXT-X-PART:"):
			part++
		case line != "" && !strings.HasPrefix(line, "#"):
			msn++ // a complete segment: the parts that follow belong to the next
			part = -1
		}
	}
	return msn, part
}

func TestLLHLSPlaylistsFollowTheRulesAndServeMedia(t *testing.T) {
	p := startPodium(t, options{})
	f := p.createFeed("hls-feed")
	b := p.createBroadcaster("rtv")
	p.grant(b.ID, f.ID)
	p.publishSample(f, "ath-100m-final")
	url := p.playback(f.ID, b.APIKey)

	status, master, ct := fetch(t, url)
	if status != 200 || ct != "application/vnd.apple.mpegurl" {
		t.Fatalf("multivariant playlist: %d %s\n%s", status, ct, master)
	}
	if !strings.Contains(master, "avc1.") || !strings.Contains(master, "mp4a.40.2") || !strings.Contains(master, "RESOLUTION=1280x720") {
		t.Fatalf("multivariant playlist lacks the codecs or resolution:\n%s", master)
	}
	var names []string
	for _, m := range audioRe.FindAllStringSubmatch(master, -1) {
		names = append(names, m[1])
	}
	if strings.Join(names, ",") != "eng,fra" {
		t.Fatalf("audio renditions %v, want eng,fra (the two AAC tracks; AC-3 stays on SRT):\n%s", names, master)
	}
	uris := mediaURIRe.FindAllString(master, -1)
	if len(uris) == 0 {
		t.Fatalf("no media playlist in:\n%s", master)
	}
	video := resolve(url, uris[0])

	status, pl, _ := fetch(t, video)
	if status != 200 {
		t.Fatalf("media playlist: %d %s", status, pl)
	}
	t.Logf("media playlist:\n%s", pl)
	for _, tag := range []string{"#EXTM3U", "#EXT-X-VERSION:", "#EXT-X-TARGETDURATION:", "#EXT-X-MAP:URI=", "#EXT-X-PROGRAM-DATE-TIME:"} {
		if !strings.Contains(pl, tag) {
			t.Errorf("media playlist lacks %s", tag)
		}
	}
	partTarget := 0.0
	if m := partTargetRe.FindStringSubmatch(pl); m == nil {
		t.Fatal("no EXT-X-PART-INF:PART-TARGET")
	} else {
		partTarget, _ = strconv.ParseFloat(m[1], 64)
	}
	ctl := serverCtlRe.FindStringSubmatch(pl)
	if ctl == nil || !strings.Contains(ctl[1], "CAN-BLOCK-RELOAD=YES") || !strings.Contains(ctl[1], "PART-HOLD-BACK=") {
		t.Fatalf("EXT-X-SERVER-CONTROL must allow blocking reload and give PART-HOLD-BACK: %v", ctl)
	}
	holdBack, _ := strconv.ParseFloat(regexp.MustCompile(`PART-HOLD-BACK=([0-9.]+)`).FindStringSubmatch(ctl[1])[1], 64)
	if holdBack < 2*partTarget {
		t.Errorf("PART-HOLD-BACK %.3f is less than twice PART-TARGET %.3f", holdBack, partTarget)
	}
	parts := partRe.FindAllStringSubmatch(pl, -1)
	if len(parts) == 0 {
		t.Fatal("no EXT-X-PART")
	}
	for _, part := range parts {
		if d, _ := strconv.ParseFloat(part[1], 64); d > partTarget+0.001 {
			t.Errorf("part %s lasts %.3f s, over PART-TARGET %.3f", part[2], d, partTarget)
		}
	}
	target, _ := strconv.Atoi(targetRe.FindStringSubmatch(pl)[1])
	for _, m := range extinfRe.FindAllStringSubmatch(pl, -1) {
		if d, _ := strconv.ParseFloat(m[1], 64); int(d+0.5) > target {
			t.Errorf("segment of %.3f s is over EXT-X-TARGETDURATION %d", d, target)
		}
	}
	hint := hintRe.FindStringSubmatch(pl)
	if hint == nil {
		t.Fatal("no EXT-X-PRELOAD-HINT:TYPE=PART")
	}

	// Blocking reload: ask for the part after the last listed one; the
	// answer waits for it, and lists it.
	msn, part := playlistPosition(t, pl)
	start := time.Now()
	q := "?_HLS_msn=" + strconv.Itoa(msn) + "&_HLS_part=" + strconv.Itoa(part+1)
	status, next, _ := fetch(t, video+q)
	waited := time.Since(start)
	if status != 200 {
		t.Fatalf("blocking reload %s: %d %s", q, status, next)
	}
	if m2, p2 := playlistPosition(t, next); m2 < msn || (m2 == msn && p2 < part+1) {
		t.Fatalf("blocking reload %s answered with msn %d part %d", q, m2, p2)
	}
	if waited > 3*time.Second {
		t.Errorf("blocking reload took %v", waited)
	}
	t.Logf("blocking reload for the next part answered in %v (PART-TARGET %.3f s)", waited.Round(time.Millisecond), partTarget)
	if status, _, _ := fetch(t, video+"?_HLS_msn="+strconv.Itoa(msn+100)); status != 400 {
		t.Errorf("blocking reload far in the future: %d, want 400", status)
	}

	// The preload hint and the listed parts are fMP4 media.
	status, body, ct := fetch(t, resolve(video, hint[1]))
	if status != 200 || ct != "video/mp4" || len(body) == 0 {
		t.Fatalf("preload hint part: %d %s %d bytes", status, ct, len(body))
	}
	init := regexp.MustCompile(`#EXT-X-MAP:URI="([^"]+)"`).FindStringSubmatch(pl)[1]
	_, initBody, _ := fetch(t, resolve(video, init))
	seg := regexp.MustCompile(`(?m)^([^#\s]+\.mp4)$`).FindStringSubmatch(pl)
	if seg == nil {
		t.Fatal("no complete segment listed")
	}
	_, segBody, _ := fetch(t, resolve(video, seg[1]))
	probe := filepath.Join(t.TempDir(), "seg.mp4")
	os.WriteFile(probe, []byte(initBody+segBody), 0o644)
	out, err := exec.Command("ffprobe", "-v", "error", "-show_entries", "stream=codec_name,width,height", "-of", "csv=p=0", probe).CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "h264,1280,720" {
		t.Fatalf("ffprobe of init + segment: %v %s", err, out)
	}
}

func TestFFmpegPlaysTheHLSFeedTenSecondsWithoutErrors(t *testing.T) {
	p := startPodium(t, options{})
	f := p.createFeed("hls-ffmpeg")
	b := p.createBroadcaster("rtv")
	p.grant(b.ID, f.ID)
	p.publishSample(f, "swm-200fr-heats")
	url := p.playback(f.ID, b.APIKey)

	cmd := exec.Command("ffmpeg", "-nostdin", "-v", "error", "-i", url, "-t", "10", "-map", "0:v", "-map", "0:a",
		"-f", "null", "-progress", "pipe:1", "-")
	stderr := &strings.Builder{}
	cmd.Stderr = stderr
	stdout, _ := cmd.StdoutPipe()
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	frames := 0
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "frame="); ok {
			frames, _ = strconv.Atoi(v)
		}
	}
	err := cmd.Wait()
	t.Logf("ffmpeg read %d frames in %v", frames, time.Since(start).Round(time.Millisecond))
	if err != nil || strings.TrimSpace(stderr.String()) != "" {
		t.Fatalf("ffmpeg: %v\n%s", err, stderr)
	}
	if frames < 480 {
		t.Fatalf("ffmpeg decoded %d frames in 10 s of 50 fps", frames)
	}
}

func TestHLSTokensAndRightsAreCheckedOnEveryRequest(t *testing.T) {
	p := startPodium(t, options{})
	f := p.createFeed("hls-rights")
	other := p.createFeed("hls-other")
	b := p.createBroadcaster("rtv")
	nobody := p.createBroadcaster("nobody")
	grant := p.grant(b.ID, f.ID)
	p.grant(b.ID, other.ID)
	p.publishSample(f, "bkb-gold-game")

	if status := p.api("GET", "/api/v1/feeds/"+f.ID+"/playback", nobody.APIKey, nil, nil); status != 404 {
		t.Fatalf("playback for a broadcaster not entitled: %d, want 404", status)
	}
	url := p.playback(f.ID, b.APIKey)
	admin := p.playback(f.ID, p.AdminToken)
	if status, _, _ := fetch(t, url); status != 200 {
		t.Fatalf("broadcaster's URL: %d", status)
	}
	_, token, _ := strings.Cut(strings.TrimPrefix(url, p.base+"/hls/"+f.ID+"/"), "/")
	otherURL := p.playback(other.ID, b.APIKey)
	_, otherToken, _ := strings.Cut(strings.TrimPrefix(otherURL, p.base+"/hls/"+other.ID+"/"), "/")
	otherToken, _, _ = strings.Cut(otherToken, "/")
	token, _, _ = strings.Cut(token, "/")
	tampered := []byte(token)
	tampered[3] ^= 1
	for name, u := range map[string]string{
		"no token":                    p.base + "/hls/" + f.ID + "/index.m3u8",
		"garbage token":               p.base + "/hls/" + f.ID + "/garbage/index.m3u8",
		"tampered token":              p.base + "/hls/" + f.ID + "/" + string(tampered) + "/index.m3u8",
		"another feed's token":        p.base + "/hls/" + f.ID + "/" + otherToken + "/index.m3u8",
		"token moved to another feed": p.base + "/hls/" + other.ID + "/" + token + "/index.m3u8",
	} {
		if status, body, _ := fetch(t, u); status != 403 && !(name == "no token" && status == 404) {
			t.Errorf("%s: %d %s", name, status, body)
		}
	}

	// While it plays, the viewer is a live delivery.
	eventually(t, 30*time.Second, "an hls delivery listed", func() bool {
		for _, d := range p.deliveries() {
			if d.BroadcasterID == b.ID && d.FeedID == f.ID {
				return true
			}
		}
		return false
	})
	// The viewer counts among the feed's readers, as the portal shows them.
	var feed struct {
		Readers int `json:"readers"`
	}
	if p.mustAPI("GET", "/api/v1/feeds/"+f.ID, nil, 200, &feed); feed.Readers != 1 {
		t.Errorf("feed readers %d while one HLS viewer watches, want 1", feed.Readers)
	}

	p.mustAPI("PATCH", "/api/v1/entitlements/"+grant, map[string]string{"status": "suspended"}, 200, nil)
	if status, body, _ := fetch(t, url); status != 403 || !strings.Contains(body, "suspended") {
		t.Fatalf("playlist after suspension: %d %s", status, body)
	}
	if status, _, _ := fetch(t, admin); status != 200 {
		t.Fatalf("operator's URL after the broadcaster's suspension: %d", status)
	}
	p.mustAPI("PATCH", "/api/v1/entitlements/"+grant, map[string]string{"status": "active"}, 200, nil)
	if status, _, _ := fetch(t, url); status != 200 {
		t.Fatalf("playlist after reactivation: %d", status)
	}
	p.mustAPI("DELETE", "/api/v1/entitlements/"+grant, nil, 200, nil)
	if status, body, _ := fetch(t, url); status != 403 || !strings.Contains(body, "revoked") {
		t.Fatalf("playlist after revoke: %d %s", status, body)
	}
	eventually(t, 30*time.Second, "the hls delivery gone after revoke", func() bool {
		for _, d := range p.deliveries() {
			if d.BroadcasterID == b.ID && d.FeedID == f.ID {
				return false
			}
		}
		return true
	})
	if status := p.api("GET", "/api/v1/feeds/"+f.ID+"/playback", b.APIKey, nil, nil); status != 404 {
		t.Fatalf("playback after revoke: %d, want 404", status)
	}
}

// TestHLSCarriesOnWhenANewPublisherTakesOver replaces the publisher, mid
// playback, by one whose timestamps start seconds earlier, as when an
// encoder restarts: a player reading the same URL across the switch sees no
// error and only the gap of the switch itself.
func TestHLSCarriesOnWhenANewPublisherTakesOver(t *testing.T) {
	p := startPodium(t, options{})
	f := p.createFeed("hls-takeover")
	b := p.createBroadcaster("rtv")
	p.grant(b.ID, f.ID)
	stop := p.publishSampleStoppable(f, "ath-100m-final")
	url := p.playback(f.ID, b.APIKey)

	cmd := exec.Command("ffmpeg", "-nostdin", "-v", "error", "-i", url, "-t", "14", "-map", "0:v", "-f", "null", "-progress", "pipe:1", "-")
	stderr := &strings.Builder{}
	cmd.Stderr = stderr
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	frames := make(chan int, 100)
	go func() {
		defer close(frames)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if v, ok := strings.CutPrefix(sc.Text(), "frame="); ok {
				n, _ := strconv.Atoi(v)
				frames <- n
			}
		}
	}()
	last := 0
	for n := range frames {
		if last = n; n >= 200 { // well into the first timeline
			break
		}
	}
	stop()
	p.publishSample(f, "bkb-gold-game")
	for n := range frames {
		last = n
	}
	if err := cmd.Wait(); err != nil || strings.TrimSpace(stderr.String()) != "" {
		t.Fatalf("ffmpeg across the publisher switch: %v\n%s", err, stderr)
	}
	// 14 s of 50p is 700 frames; the switch itself (stop, SRT handshake,
	// first keyframe) may cost a few seconds on a loaded machine. What
	// matters is that the player carries on without an error.
	if last < 450 {
		t.Fatalf("ffmpeg decoded %d frames of 14 s at 50 fps across the switch", last)
	}
	t.Logf("ffmpeg decoded %d frames of 14 s across the publisher switch", last)
}

// TestHLSURLDiesWithItsBroadcasterAccount: a playback URL of a broadcaster
// that is deleted and created again under the same id (and granted the same
// feed again) is refused (403); the new account's URL plays.
func TestHLSURLDiesWithItsBroadcasterAccount(t *testing.T) {
	p := startPodium(t, options{})
	f := p.createFeed("ath-100m-final")
	old := p.createBroadcaster("nbc")
	p.grant("nbc", f.ID)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	p.publish(ctx, f, fixture, true)
	eventually(t, 5*time.Second, "feed not live", func() bool { return p.metric(`podium_feed_live{feed="ath-100m-final"}`) == 1 })
	oldURL := p.playback(f.ID, old.APIKey)
	if status, body, _ := fetch(t, oldURL); status != 200 {
		t.Fatalf("the first account's URL: %d %s", status, body)
	}
	p.mustAPI("DELETE", "/api/v1/broadcasters/nbc", nil, 204, nil)
	reborn := p.createBroadcaster("nbc")
	p.grant("nbc", f.ID)
	if status, body, _ := fetch(t, oldURL); status != 403 || !strings.Contains(body, "no longer exists") {
		t.Fatalf("the deleted account's URL after nbc is created again: %d %q, want 403", status, body)
	}
	newURL := p.playback(f.ID, reborn.APIKey)
	if newURL == oldURL {
		t.Fatal("the new account was handed the old account's URL")
	}
	if status, body, _ := fetch(t, newURL); status != 200 {
		t.Fatalf("the new account's URL: %d %s", status, body)
	}
}
