package app_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestEntitlementMatrix: who may connect, checked with libsrt, the reference
// implementation, reading the rejection code Podium answers with.
func TestEntitlementMatrix(t *testing.T) {
	p := startPodium(t, options{})
	f := p.createFeed("ath-100m-final")
	other := p.createFeed("swm-200fr-heats")
	entitled := p.createBroadcaster("nbc")
	notEntitled := p.createBroadcaster("bbc")
	suspended := p.createBroadcaster("zdf")
	future := p.createBroadcaster("rai")
	expired := p.createBroadcaster("cbc")
	p.grant(entitled.ID, f.ID)
	p.grant(notEntitled.ID, other.ID)
	id := p.grant(suspended.ID, f.ID)
	p.mustAPI("PATCH", "/api/v1/entitlements/"+id, map[string]string{"status": "suspended"}, 200, nil)
	now := time.Now()
	p.grant(future.ID, f.ID, now.Add(time.Hour), now.Add(2*time.Hour))
	p.grant(expired.ID, f.ID, now.Add(-2*time.Hour), now.Add(-time.Hour))

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	p.publish(ctx, f, fixture, true)
	eventually(t, 30*time.Second, "feed not live", func() bool { return p.metric(`podium_feed_live{feed="ath-100m-final"}`) == 1 })

	pull := func(feed, user string) string { return fmt.Sprintf("#!::r=%s,u=%s,m=request", feed, user) }
	tests := []struct {
		name, streamid, passphrase, want string
	}{
		{"entitled broadcaster", pull(f.ID, "nbc"), entitled.SRTPassphrase, "connected"},
		{"entitled, streamid keys in another order", "#!::m=request,u=nbc,r=" + f.ID, entitled.SRTPassphrase, "connected"},
		{"not entitled to this feed", pull(f.ID, "bbc"), notEntitled.SRTPassphrase, "rejected 1403"},
		{"entitlement suspended", pull(f.ID, "zdf"), suspended.SRTPassphrase, "rejected 1403"},
		{"window not yet open", pull(f.ID, "rai"), future.SRTPassphrase, "rejected 1403"},
		{"window ended", pull(f.ID, "cbc"), expired.SRTPassphrase, "rejected 1403"},
		{"wrong passphrase", pull(f.ID, "nbc"), "not-the-passphrase", "rejected 1401"},
		{"another broadcaster's passphrase", pull(f.ID, "nbc"), notEntitled.SRTPassphrase, "rejected 1401"},
		{"no passphrase", pull(f.ID, "nbc"), "", "rejected 1401"},
		{"unknown broadcaster", pull(f.ID, "nobody"), entitled.SRTPassphrase, "rejected 1401"},
		{"unknown feed", pull("no-such-feed", "nbc"), entitled.SRTPassphrase, "rejected 1404"},
		{"request without u=", "#!::r=" + f.ID + ",m=request", entitled.SRTPassphrase, "rejected 1400"},
		{"not access-control syntax", f.ID, entitled.SRTPassphrase, "rejected 1400"},
		{"unsupported mode", "#!::r=" + f.ID + ",u=nbc,m=bidirectional", entitled.SRTPassphrase, "rejected 1405"},
		{"second publisher", "#!::r=" + f.ID + ",m=publish", f.PublishPassphrase, "rejected 1407"},
		{"publisher with a wrong passphrase", "#!::r=" + other.ID + ",m=publish", f.PublishPassphrase, "rejected 1401"},
		{"publisher with a broadcaster's passphrase", "#!::r=" + other.ID + ",m=publish", notEntitled.SRTPassphrase, "rejected 1401"},
		{"publish to an unknown feed: as a wrong passphrase", "#!::r=no-such-feed,m=publish", f.PublishPassphrase, "rejected 1401"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := p.probe(tc.streamid, tc.passphrase); got != tc.want {
				t.Fatalf("%s: %q, want %q", tc.streamid, got, tc.want)
			}
		})
	}
	logs := p.logs.String()
	for _, reason := range []string{"no entitlement to this feed", "entitlement suspended", "entitlement window opens at",
		"entitlement window ended at", "wrong passphrase", "already has a live publisher", `feed \"no-such-feed\" does not exist`} {
		if !strings.Contains(logs, reason) {
			t.Errorf("no rejection logged with reason %q", reason)
		}
	}
	if n := p.metric(`podium_srt_rejections_total{reason="forbidden"}`); n != 4 {
		t.Errorf("forbidden rejections counted %v, want 4", n)
	}
}

// TestRightsChangesCloseDeliveriesWithinOneSecond: suspending or revoking an
// entitlement, deleting the feed, or the end of the window closes the
// broadcaster's running delivery within a second.
func TestRightsChangesCloseDeliveriesWithinOneSecond(t *testing.T) {
	p := startPodium(t, options{})
	b := p.createBroadcaster("nhk")
	bystander := p.createBroadcaster("kbs")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	tests := []struct {
		name   string
		window bool
		change func(feed, entitlement string)
	}{
		{"suspend", false, func(_, e string) {
			p.mustAPI("PATCH", "/api/v1/entitlements/"+e, map[string]string{"status": "suspended"}, 200, nil)
		}},
		{"revoke", false, func(_, e string) { p.mustAPI("DELETE", "/api/v1/entitlements/"+e, nil, 200, nil) }},
		{"delete feed", false, func(f, _ string) { p.mustAPI("DELETE", "/api/v1/feeds/"+f, nil, 204, nil) }},
		{"window ends", true, nil},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := p.createFeed(fmt.Sprintf("feed-%d", i))
			var ent string
			var ends time.Time
			if tc.window {
				// RFC 3339 seconds: the window closes on a whole second, 3 to 4 s from now.
				ends = time.Now().Add(4 * time.Second).Truncate(time.Second)
				ent = p.grant(b.ID, f.ID, time.Now().Add(-time.Minute), ends)
			} else {
				ent = p.grant(b.ID, f.ID)
			}
			p.grant(bystander.ID, f.ID)
			p.publish(ctx, f, fixture, true)
			reader := p.pull(f.ID, b)
			witness := p.pull(f.ID, bystander)
			eventually(t, 30*time.Second, "reader not receiving", func() bool { return reader.stdout.Len() > 20_000 })

			var start time.Time
			if tc.window {
				start = ends
			} else {
				start = time.Now()
				tc.change(f.ID, ent)
			}
			eventually(t, 30*time.Second, "delivery still open", func() bool {
				for _, d := range p.deliveries() {
					if d.BroadcasterID == b.ID && d.FeedID == f.ID {
						return false
					}
				}
				return true
			})
			took := time.Since(start)
			eventually(t, 30*time.Second, "srt-live-transmit not disconnected", reader.exited)
			t.Logf("%s: delivery closed %v after the change", tc.name, took.Round(time.Millisecond))
			if took > rightsLatency {
				t.Fatalf("delivery closed %v after the change, promised within 1 s, test bound %v", took, rightsLatency)
			}
			if tc.name == "delete feed" {
				eventually(t, 30*time.Second, "publisher of the deleted feed not disconnected", func() bool {
					return strings.Contains(p.logs.String(), `msg="srt publish close" feed=`+f.ID+` source=primary remote=`) &&
						strings.Contains(p.logs.String(), `reason="feed deleted"`)
				})
			} else if witness.exited() {
				t.Fatal("another broadcaster's delivery was closed too")
			}
		})
	}
}
