package app_test

import (
	"context"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"
)

// startReceiver runs a broadcaster's receiver in SRT listener mode on port
// (srt-live-transmit) writing what it gets to its stdout.
func startReceiver(t *testing.T, port, passphrase string) *peer {
	t.Helper()
	return startPeer(t, nil, "srt-live-transmit", "-chunk:1316",
		fmt.Sprintf("srt://127.0.0.1:%s?mode=listener&passphrase=%s", port, passphrase), "file://con")
}

// pushes returns the live push deliveries.
func (p *podium) pushes() []delivery {
	var out []delivery
	for _, d := range p.deliveries() {
		if d.Protocol == "srt-push" {
			out = append(out, d)
		}
	}
	return out
}

// TestPushDelivery: a broadcaster registers its receiver; Podium pushes the
// feed to it while the broadcaster is entitled, and stops within a second
// of a revoke and of the destination's removal.
func TestPushDelivery(t *testing.T) {
	// A lax lag bound: a busy test machine must not make the receiver look stalled.
	p := startPodium(t, options{maxLag: 5 * time.Second})
	f := p.createFeed("ath-100m-final")
	b := p.createBroadcaster("nbc")
	other := p.createBroadcaster("bbc")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	p.publish(ctx, f, fixture, true)
	eventually(t, 30*time.Second, "feed not live", func() bool { return p.metric(`podium_feed_live{feed="ath-100m-final"}`) == 1 })

	port := freeUDPPort(t)
	const receiverPassphrase = "nbc-ird-passphrase"
	rx := startReceiver(t, port, receiverPassphrase)
	body := map[string]any{"feed_id": f.ID, "address": "srt://127.0.0.1:" + port, "passphrase": receiverPassphrase}
	path := "/api/v1/broadcasters/nbc/destinations"

	// Not entitled yet: the broadcaster may not name the feed.
	var refused struct{ Error struct{ Code, Field string } }
	if got := p.api("POST", path, b.APIKey, body, &refused); got != 422 || refused.Error.Code != "not_entitled" || refused.Error.Field != "feed_id" {
		t.Fatalf("destination for a feed not entitled: %d %+v", got, refused)
	}
	ent := p.grant(b.ID, f.ID)
	var dst callState
	if got := p.api("POST", path, b.APIKey, body, &dst); got != 201 || dst.ID == "" {
		t.Fatalf("POST destination: %d %+v", got, dst)
	}
	dstPath := path + "/" + dst.ID
	getDst := func() callState {
		var st callState
		p.mustAPI("GET", dstPath, nil, 200, &st)
		return st
	}
	eventually(t, 30*time.Second, "push not connected", func() bool { return getDst().State == "connected" })
	eventually(t, 30*time.Second, "no srt-push delivery listed", func() bool { return len(p.pushes()) == 1 })
	eventually(t, 10*time.Second, "receiver got too little", func() bool { return rx.stdout.Len() > 300_000 })
	if ts := rx.stdout.Bytes(); ts[0] != 0x47 || ts[1]&0x1F != 0 || ts[2] != 0 {
		t.Errorf("the push does not start with a PAT: % x", ts[:4])
	}
	got := strings.Join(streams(t, rx.stdout.Bytes()), " ")
	for _, want := range []string{"video:h264", "audio:aac", "audio:ac3"} {
		if !strings.Contains(got, want) {
			t.Errorf("receiver's stream has %s, no %s", got, want)
		}
	}

	// Revoked: the push stops within a second and the receiver sees it close.
	p.mustAPI("DELETE", "/api/v1/entitlements/"+ent, nil, 200, nil)
	took := eventually(t, 30*time.Second, "push still listed after the revoke", func() bool { return len(p.pushes()) == 0 })
	if took > rightsLatency {
		t.Errorf("push stopped %v after the revoke, promised within 1 s, test bound %v", took, rightsLatency)
	}
	eventually(t, 30*time.Second, "the receiver did not see the push close", func() bool {
		return strings.Count(rx.stderr.String(), "SRT source disconnected") == 1
	})
	if st := getDst(); st.State != "not_entitled" || st.LastError != "entitlement revoked" {
		t.Errorf("destination after the revoke: %+v", st)
	}

	// Granted again: the push resumes within a second.
	p.grant(b.ID, f.ID)
	took = eventually(t, 30*time.Second, "push not resumed after a new grant", func() bool { return len(p.pushes()) == 1 })
	if took > rightsLatency {
		t.Errorf("push resumed %v after the grant, promised within 1 s, test bound %v", took, rightsLatency)
	}
	before := rx.stdout.Len()
	eventually(t, 10*time.Second, "receiver got nothing after the new grant", func() bool { return rx.stdout.Len() > before+200_000 })
	var mine []delivery
	if p.api("GET", "/api/v1/deliveries", b.APIKey, nil, &mine); len(mine) != 1 || mine[0].Protocol != "srt-push" {
		t.Errorf("the broadcaster's deliveries: %+v", mine)
	}

	// Another broadcaster neither sees nor touches the destination.
	for _, method := range []string{"GET", "DELETE"} {
		if got := p.api(method, dstPath, other.APIKey, nil, nil); got != 404 {
			t.Errorf("%s another broadcaster's destination: %d, want 404", method, got)
		}
	}
	if got := p.api("POST", path, other.APIKey, body, nil); got != 404 {
		t.Errorf("POST to another broadcaster's destinations: %d, want 404", got)
	}
	var listed []callState
	if got := p.api("GET", path, b.APIKey, nil, &listed); got != 200 || len(listed) != 1 || listed[0].State != "connected" || listed[0].DeliveryID == 0 {
		t.Errorf("GET own destinations: %d %+v", got, listed)
	}

	// Removed: the push stops within a second.
	if got := p.api("DELETE", dstPath, b.APIKey, nil, nil); got != 204 {
		t.Fatalf("DELETE destination: %d", got)
	}
	took = eventually(t, 30*time.Second, "push still listed after its destination was removed", func() bool { return len(p.pushes()) == 0 })
	if took > rightsLatency {
		t.Errorf("push stopped %v after the removal, promised within 1 s, test bound %v", took, rightsLatency)
	}
	eventually(t, 30*time.Second, "the receiver did not see the push close", func() bool {
		return strings.Count(rx.stderr.String(), "SRT source disconnected") == 2
	})
	p.mustAPI("GET", dstPath, nil, 404, nil)
	if n := strings.Count(rx.stderr.String(), "Accepted SRT source connection"); n != 2 {
		t.Errorf("receiver accepted %d connections, want 2", n)
	}
	logs := p.logs.String()
	for _, line := range []string{"destination registered", "destination removed", `protocol=srt-push reason="entitlement revoked"`,
		`protocol=srt-push reason="destination removed"`} {
		if !strings.Contains(logs, line) {
			t.Errorf("no %q in the log", line)
		}
	}
}

// TestPushLaggingReceiverIsCutAndRetried: a receiver that stops reading is
// cut like a lagging SRT pull, and called again until it reads once more.
func TestPushLaggingReceiverIsCutAndRetried(t *testing.T) {
	p := startPodium(t, options{})
	f := p.createFeed("ath-100m-final")
	b := p.createBroadcaster("nbc")
	p.grant(b.ID, f.ID)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	p.publish(ctx, f, fixture, true)
	port := freeUDPPort(t)
	rx := startReceiver(t, port, "nbc-ird-passphrase")
	var dst callState
	p.mustAPI("POST", "/api/v1/broadcasters/nbc/destinations", map[string]any{"feed_id": f.ID, "address": "srt://127.0.0.1:" + port,
		"passphrase": "nbc-ird-passphrase"}, 201, &dst)
	getDst := func() callState {
		var st callState
		p.mustAPI("GET", "/api/v1/broadcasters/nbc/destinations/"+dst.ID, nil, 200, &st)
		return st
	}
	eventually(t, 10*time.Second, "push not connected", func() bool { return getDst().State == "connected" })
	eventually(t, 10*time.Second, "receiver got too little", func() bool { return rx.stdout.Len() > 200_000 })

	cuts := func() int {
		return strings.Count(p.logs.String(), `protocol=srt-push reason="reader fell too far behind`)
	}
	before := cuts()
	if err := rx.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "stopped receiver not cut", func() bool { return cuts() > before })
	if st := getDst(); st.State == "connected" || !strings.Contains(st.LastError, "behind") {
		t.Errorf("destination after the cut: %+v", st)
	}
	if err := rx.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, "push not resumed once the receiver reads again", func() bool { return getDst().State == "connected" })
	received := rx.stdout.Len()
	// Two seconds' worth and more: the push runs steadily again.
	eventually(t, 15*time.Second, "receiver got too little after it resumed", func() bool { return rx.stdout.Len() > received+800_000 })
	if st := getDst(); st.Reconnects == 0 {
		t.Errorf("no reconnect counted: %+v", st)
	}
}

// TestPushFollowsTheWindowAndTheFeed: a push waits for its entitlement
// window to open and for the feed to be live, and stops within a second of
// the window's end.
func TestPushFollowsTheWindowAndTheFeed(t *testing.T) {
	p := startPodium(t, options{maxLag: 5 * time.Second})
	f := p.createFeed("ath-100m-final")
	b := p.createBroadcaster("nbc")
	start := time.Now().Add(1500 * time.Millisecond)
	end := start.Add(6 * time.Second)
	p.mustAPI("POST", "/api/v1/entitlements", map[string]string{"broadcaster_id": b.ID, "feed_id": f.ID,
		"starts_at": start.UTC().Format(time.RFC3339Nano), "ends_at": end.UTC().Format(time.RFC3339Nano)}, 201, nil)
	port := freeUDPPort(t)
	rx := startReceiver(t, port, "nbc-ird-passphrase")
	var dst callState
	if got := p.api("POST", "/api/v1/broadcasters/nbc/destinations", b.APIKey, map[string]any{"feed_id": f.ID,
		"address": "srt://127.0.0.1:" + port, "passphrase": "nbc-ird-passphrase"}, &dst); got != 201 {
		t.Fatalf("a broadcaster registers a destination before its window opens: %d", got)
	}
	if dst.State != "not_entitled" || !strings.HasPrefix(dst.LastError, "entitlement window opens at") {
		t.Fatalf("destination before the window: %+v", dst)
	}
	getDst := func() callState {
		var st callState
		p.mustAPI("GET", "/api/v1/broadcasters/nbc/destinations/"+dst.ID, nil, 200, &st)
		return st
	}
	eventually(t, 30*time.Second, "push not waiting for the feed once the window opened", func() bool { return getDst().State == "waiting" })
	if time.Now().Before(start) {
		t.Fatal("push waiting before its window opened")
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	p.publish(ctx, f, fixture, true)
	eventually(t, 30*time.Second, "push not connected once the feed went live", func() bool { return getDst().State == "connected" })
	eventually(t, 30*time.Second, "receiver got nothing", func() bool { return rx.stdout.Len() > 100_000 })
	eventually(t, time.Until(end)+30*time.Second, "push still listed after the window ended", func() bool { return len(p.pushes()) == 0 })
	if late := time.Since(end); late > rightsLatency {
		t.Errorf("push stopped %v after the window ended, promised within 1 s, test bound %v", late, rightsLatency)
	}
	if st := getDst(); st.State != "not_entitled" || !strings.HasPrefix(st.LastError, "entitlement window ended at") {
		t.Errorf("destination after the window: %+v", st)
	}
}
