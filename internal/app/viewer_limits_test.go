package app_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/podium-broadcast/podium/internal/config"
)

// clientFrom returns an HTTP client whose connections come from ip (any
// address of 127.0.0.0/8 on Linux): a viewer at its own address.
func clientFrom(ip string) *http.Client {
	dialer := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 10 * time.Second}
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{DialContext: dialer.DialContext, DisableKeepAlives: true}}
}

// get fetches url with c and returns the status.
func get(t *testing.T, c *http.Client, url string) int {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// TestHLSViewersCannotBlockSRTPulls: the broadcaster's playback URL fetched
// from 20 addresses (as many as max_connections_per_broadcaster) leaves its
// SRT pull (srt-live-transmit) and its own HLS untouched: viewers are
// counted under max_hls_viewers_per_broadcaster, apart from SRT; over that
// limit a viewer gets 429 and the SRT pull is still delivered.
func TestHLSViewersCannotBlockSRTPulls(t *testing.T) {
	const viewers = 20
	p := startPodium(t, options{maxLag: 5 * time.Second, configure: func(c *config.Config) {
		c.MaxConnectionsPerBroadcaster, c.MaxHLSViewersPerBroadcaster = viewers, viewers+2
	}})
	f := p.createFeed("ath-100m-final")
	nbc := p.createBroadcaster("nbc")
	p.grant("nbc", f.ID)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	p.publish(ctx, f, fixture, true)
	eventually(t, 5*time.Second, "feed not live", func() bool { return p.metric(`podium_feed_live{feed="ath-100m-final"}`) == 1 })
	url := p.playback(f.ID, nbc.APIKey)
	for i := range viewers {
		c := clientFrom(fmt.Sprintf("127.0.1.%d", i+1))
		if status := get(t, c, url); status != 200 {
			t.Fatalf("viewer %d: %d, want 200", i+1, status)
		}
	}
	hls := func() int {
		n := 0
		for _, d := range p.deliveries() {
			if d.BroadcasterID == "nbc" && d.Protocol == "hls" {
				n++
			}
		}
		return n
	}
	if n := hls(); n != viewers {
		t.Fatalf("%d HLS deliveries listed, want %d", n, viewers)
	}

	pull := p.pull(f.ID, nbc)
	eventually(t, 15*time.Second, "nbc's SRT pull not delivered after its HLS viewers", func() bool {
		for _, d := range p.deliveries() {
			if d.BroadcasterID == "nbc" && d.Protocol == "srt" && d.Bytes > 0 {
				return true
			}
		}
		return pull.exited()
	})
	if pull.exited() {
		t.Fatalf("srt-live-transmit exited: %s", pull.stderr.String())
	}
	// The broadcaster's own player, at an address of its own, still plays.
	if status := get(t, clientFrom("127.0.2.1"), url); status != 200 {
		t.Fatalf("the broadcaster's own HLS after 20 viewers: %d, want 200", status)
	}
	if status := get(t, clientFrom("127.0.2.2"), url); status != 200 {
		t.Fatalf("the 22nd viewer: %d, want 200", status)
	}
	// Over its HLS viewer limit a viewer is refused; SRT is not.
	resp, err := clientFrom("127.0.2.3").Get(url)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 429 || !strings.Contains(string(body), "max_hls_viewers_per_broadcaster") {
		t.Fatalf("viewer over max_hls_viewers_per_broadcaster: %d %s", resp.StatusCode, body)
	}
	if got := p.probe("#!::r="+f.ID+",u=nbc,m=request", nbc.SRTPassphrase); got != "connected" {
		t.Fatalf("a second SRT pull with HLS at its limit: %q, want connected", got)
	}
	if n := p.metric(`podium_limit_rejections_total{limit="hls_viewers_per_broadcaster"}`); n != 1 {
		t.Errorf("HLS viewer rejections %v, want 1", n)
	}
	if n := p.metric(`podium_limit_rejections_total{limit="connections_per_broadcaster"}`); n != 0 {
		t.Errorf("SRT per-broadcaster rejections %v, want 0", n)
	}
}
