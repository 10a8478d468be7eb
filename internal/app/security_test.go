package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/podium-broadcast/podium/internal/config"
)

// lockoutAfter3 locks an address out for window after 3 failed authentications.
func lockoutAfter3(window time.Duration) options {
	return options{configure: func(c *config.Config) { c.AuthMaxFailures, c.AuthWindow = 3, window }}
}

// TestSRTLockout: wrong passphrases from ffmpeg and libsrt lock 127.0.0.1
// out; then even the right passphrase is refused (1423, locked) until the
// window passes, and srt-live-transmit publishes again.
func TestSRTLockout(t *testing.T) {
	// Long enough for the checks below on a loaded 2-core machine.
	const window = 8 * time.Second
	p := startPodium(t, lockoutAfter3(window))
	f := p.createFeed("ath-100m-final")
	publish := "#!::r=" + f.ID + ",m=publish"

	if got := p.probe(publish, "wrong-passphrase-1"); got != "rejected 1401" {
		t.Fatalf("first wrong passphrase: %q", got)
	}
	if got := p.probe("#!::r="+f.ID+",u=nobody,m=request", "wrong-passphrase-2"); got != "rejected 1401" {
		t.Fatalf("unknown broadcaster: %q", got)
	}
	wrong := f
	wrong.PublishPassphrase = "wrong-passphrase-3"
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "ffmpeg", "-v", "error", "-re", "-f", "lavfi", "-i", "testsrc2=size=320x180:rate=25",
		"-t", "2", "-c:v", "libx264", "-preset", "ultrafast", "-f", "mpegts", p.publishURL(wrong)+"&pkt_size=1316").CombinedOutput()
	if err == nil {
		t.Fatalf("ffmpeg published with a wrong passphrase: %s", out)
	}
	lockedAt := time.Now()
	eventually(t, 30*time.Second, "no lockout after 3 failures", func() bool {
		return p.metric(`podium_auth_lockouts_total{protocol="srt"}`) == 1
	})

	// Locked out: the right passphrase is refused before it is checked.
	if got := p.probe(publish, f.PublishPassphrase); got != "rejected 1423" {
		t.Fatalf("right passphrase while locked out: %q, want rejected 1423", got)
	}
	// srt-live-transmit (libsrt 1.5.1) usually exits on the rejection but
	// can hang after it (Haivision/srt#2776): what counts is Podium's refusal.
	locked := p.metric(`podium_srt_rejections_total{reason="locked"}`)
	pub, _ := p.publish(ctx, f, fixture, true)
	eventually(t, 30*time.Second, "srt-live-transmit refused as locked out", func() bool {
		return p.metric(`podium_srt_rejections_total{reason="locked"}`) > locked
	})
	time.Sleep(500 * time.Millisecond)
	pub.stop()
	if live := p.metric(`podium_feed_live{feed="ath-100m-final"}`); live != 0 {
		t.Fatal("feed live while its publisher's address is locked out")
	}
	if time.Since(lockedAt) >= window {
		t.Fatalf("the checks took %v, longer than the lockout: raise the window", time.Since(lockedAt))
	}

	// The window passes: the right passphrase works again.
	time.Sleep(time.Until(lockedAt.Add(window)))
	eventually(t, 30*time.Second, "still locked out after the window", func() bool {
		return p.probe(publish, f.PublishPassphrase) == "connected"
	})
	ctx2, cancel2 := context.WithCancel(context.Background())
	defer cancel2()
	p.publish(ctx2, f, fixture, true)
	eventually(t, 30*time.Second, "publisher not live after the lockout", func() bool {
		return p.metric(`podium_feed_live{feed="ath-100m-final"}`) == 1
	})

	if n := p.metric(`podium_auth_failures_total{protocol="srt"}`); n < 3 {
		t.Errorf("failures counted %v, want at least 3", n)
	}
	if n := p.metric(`podium_srt_rejections_total{reason="locked"}`); n < 2 {
		t.Errorf("locked rejections counted %v, want at least 2", n)
	}
	if n := strings.Count(p.logs.String(), "authentication lockout"); n != 1 {
		t.Errorf("lockout logged %d times, want once", n)
	}
}

// TestHTTPLockout: wrong API tokens get 401 until the address is locked out;
// then the API answers its wrong tokens 429 with Retry-After and the JSON
// error, and so does HLS to forged tokens, until the window passes; the
// right token is let through all along.
func TestHTTPLockout(t *testing.T) {
	const window = 4 * time.Second
	p := startPodium(t, lockoutAfter3(window))
	for i := range 3 {
		if status := p.api("GET", "/api/v1/feeds", fmt.Sprintf("guess-%d", i), nil, nil); status != 401 {
			t.Fatalf("wrong token %d: %d, want 401", i, status)
		}
	}
	lockedAt := time.Now()
	req, _ := http.NewRequest("GET", p.base+"/api/v1/feeds", nil)
	req.Header.Set("Authorization", "Bearer guess-3")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var e struct {
		Error struct{ Code, Message string }
	}
	json.Unmarshal(body, &e)
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") == "" || e.Error.Code != "too_many_requests" {
		t.Fatalf("wrong token while locked out: %d Retry-After %q %s", resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
	if status := p.api("GET", "/api/v1/feeds", p.AdminToken, nil, nil); status != 200 {
		t.Fatalf("right token while locked out: %d, want 200", status)
	}
	// curl, a real client, sees the same; and HLS shares the HTTP limiter.
	out, _ := exec.Command("curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", p.base+"/hls/f/forged.token/index.m3u8").Output()
	if string(out) != "429" {
		t.Fatalf("HLS while locked out: %s, want 429", out)
	}
	time.Sleep(time.Until(lockedAt.Add(window)))
	eventually(t, 30*time.Second, "API still locked after the window", func() bool {
		return p.api("GET", "/api/v1/feeds", "guess-4", nil, nil) == 401
	})
	if n := p.metric(`podium_auth_failures_total{protocol="http"}`); n != 4 {
		t.Errorf("HTTP failures counted %v, want 4", n)
	}
	if n := p.metric(`podium_auth_lockouts_total{protocol="http"}`); n != 1 {
		t.Errorf("HTTP lockouts counted %v, want 1", n)
	}
}

// TestHLSForgedTokensLockOut: forged playback tokens count as failures: the
// address's wrong API tokens are refused next, its right ones are not.
func TestHLSForgedTokensLockOut(t *testing.T) {
	p := startPodium(t, lockoutAfter3(time.Minute))
	for i := range 3 {
		url := fmt.Sprintf("%s/hls/f/%s.%s/index.m3u8", p.base, "Zn5ifjE4MDAwMDAwMDA", strings.Repeat("A", 21+i))
		resp, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 403 {
			t.Fatalf("forged token %d: %d, want 403", i, resp.StatusCode)
		}
	}
	if status := p.api("GET", "/api/v1/feeds", "guess", nil, nil); status != 429 {
		t.Fatalf("wrong API token after forged HLS tokens: %d, want 429", status)
	}
	if status := p.api("GET", "/api/v1/feeds", p.AdminToken, nil, nil); status != 200 {
		t.Fatalf("right API token after forged HLS tokens: %d, want 200", status)
	}
}

// TestConnectionLimits: a broadcaster over max_connections_per_broadcaster
// (SRT) or max_hls_viewers_per_broadcaster (HLS), and anyone over
// max_connections, are refused (SRT 1402, overload; HLS 429) and counted.
func TestConnectionLimits(t *testing.T) {
	// A generous lag bound: a receiver cut for lagging on a loaded machine would free its slot.
	p := startPodium(t, options{maxLag: 5 * time.Second,
		configure: func(c *config.Config) {
			c.MaxConnections, c.MaxConnectionsPerBroadcaster, c.MaxHLSViewersPerBroadcaster = 3, 1, 1
		}})
	f := p.createFeed("ath-100m-final")
	nbc, ebu, nhk := p.createBroadcaster("nbc"), p.createBroadcaster("ebu"), p.createBroadcaster("nhk")
	for _, b := range []string{"nbc", "ebu", "nhk"} {
		p.grant(b, f.ID)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	p.publish(ctx, f, fixture, true) // connection 1
	eventually(t, 30*time.Second, "feed not live", func() bool { return p.metric(`podium_feed_live{feed="ath-100m-final"}`) == 1 })
	delivered := func(b string) func() bool {
		return func() bool {
			for _, d := range p.deliveries() {
				if d.BroadcasterID == b {
					return true
				}
			}
			return false
		}
	}
	p.pull(f.ID, nbc) // connection 2
	eventually(t, 10*time.Second, "nbc's pull not delivered", delivered("nbc"))

	pullID := func(b string) string { return "#!::r=" + f.ID + ",u=" + b + ",m=request" }
	if got := p.probe(pullID("nbc"), nbc.SRTPassphrase); got != "rejected 1402" {
		t.Fatalf("nbc's second SRT pull: %q, want rejected 1402", got)
	}
	// HLS viewers are counted apart: nbc's first plays, its second is over max_hls_viewers_per_broadcaster.
	url := p.playback(f.ID, nbc.APIKey)
	if status := get(t, clientFrom("127.0.1.1"), url); status != 200 {
		t.Fatalf("nbc's first HLS viewer with its SRT slot taken: %d, want 200", status)
	}
	if status := get(t, clientFrom("127.0.1.2"), url); status != 429 {
		t.Fatalf("nbc's HLS viewer beyond its limit: %d, want 429", status)
	}
	p.pull(f.ID, ebu) // connection 3
	eventually(t, 10*time.Second, "ebu's pull not delivered", delivered("ebu"))
	if got := p.probe(pullID("nhk"), nhk.SRTPassphrase); got != "rejected 1402" {
		t.Fatalf("a pull beyond max_connections: %q, want rejected 1402", got)
	}
	if n := p.metric(`podium_limit_rejections_total{limit="connections_per_broadcaster"}`); n != 1 {
		t.Errorf("per-broadcaster rejections %v, want 1", n)
	}
	if n := p.metric(`podium_limit_rejections_total{limit="hls_viewers_per_broadcaster"}`); n != 1 {
		t.Errorf("per-broadcaster HLS viewer rejections %v, want 1", n)
	}
	if n := p.metric(`podium_limit_rejections_total{limit="connections"}`); n != 1 {
		t.Errorf("total rejections %v, want 1", n)
	}
	for _, reason := range []string{"broadcaster nbc already has 1 connections", "server already has 3 connections"} {
		if !strings.Contains(p.logs.String(), reason) {
			t.Errorf("no refusal logged with %q", reason)
		}
	}
}

// TestPublisherOverMaxBitrateIsCut: a publisher above max_publish_bitrate
// for about 2 s is cut, logged and counted.
func TestPublisherOverMaxBitrateIsCut(t *testing.T) {
	p := startPodium(t, options{configure: func(c *config.Config) { c.MaxPublishBitrate = config.Mbps }})
	f := p.createFeed("ath-100m-final")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	p.publish(ctx, f, fixture, true) // about 2.4 Mbit/s
	eventually(t, 30*time.Second, "feed not live", func() bool { return p.metric(`podium_feed_live{feed="ath-100m-final"}`) == 1 })
	took := eventually(t, 30*time.Second, "publisher above the limit not cut", func() bool {
		return p.metric(`podium_limit_rejections_total{limit="publish_bitrate"}`) == 1
	})
	t.Logf("cut %v after going live", took)
	eventually(t, 30*time.Second, "publish close not logged", func() bool {
		return strings.Contains(p.logs.String(), "publish bitrate over the limit")
	})
	if !strings.Contains(p.logs.String(), "publisher cut") {
		t.Error("the cut is not logged")
	}
}
