package app_test

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"testing"
	"time"
)

// TestReconnectStormDeliversEveryByteToEveryReceiver: ten broadcasters'
// receivers connect to one feed at the same instant, as after a network
// blip. Each must get, from its starting keyframe to the end of the stream,
// every byte the publisher sent: nothing dropped as too late, nobody cut,
// every track there. (The bench measures 10, 20 and 40 at Games rates.)
func TestReconnectStormDeliversEveryByteToEveryReceiver(t *testing.T) {
	p := startPodium(t, options{})
	f := p.createFeed("ath-storm")
	const n = 10
	creds := make(map[string]broadcasterCreds, n)
	for i := range n {
		b := p.createBroadcaster(fmt.Sprintf("rhb-%02d", i+1))
		p.grant(b.ID, f.ID)
		creds[b.ID] = b
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pub, sent := p.publish(ctx, f, fixture, false)
	// A few seconds on air, so that the receivers start up to a GOP back.
	eventually(t, 30*time.Second, "publisher did not send 3 s of the stream", func() bool {
		return sent.Len() > len(fixture)*3/fixtureSeconds
	})

	receivers := make(map[string]*peer, n)
	for id, b := range creds {
		receivers[id] = p.pull(f.ID, b)
	}
	eventually(t, 30*time.Second, "not every receiver was connected", func() bool { return len(p.deliveries()) == n })
	// Once Podium has the whole stream (but the last frame, which it holds
	// until the next one starts) the publisher leaves; what Podium delivered
	// to each receiver is then final.
	var progress string
	t.Cleanup(func() {
		if t.Failed() {
			t.Log(progress)
		}
	})
	eventually(t, 60*time.Second, "Podium did not receive the whole stream", func() bool {
		progress = fmt.Sprintf("sent %d bytes of %d, Podium has %v; publisher exited: %v", sent.Len(), len(fixture),
			p.metric(`podium_feed_bytes_in_total{feed="ath-storm"}`), pub.exited())
		return sent.Len() == len(fixture) && p.metric(`podium_feed_bytes_in_total{feed="ath-storm"}`) >= float64(len(fixture)-len(fixture)/fixtureSeconds)
	})
	pub.stop()
	eventually(t, 30*time.Second, "the publisher's connection did not end", func() bool {
		return p.metric(`podium_feed_live{feed="ath-storm"}`) == 0
	})
	deliveries := p.deliveries()
	if len(deliveries) != n {
		t.Fatalf("%d deliveries after the publisher left, want %d: some receiver was cut", len(deliveries), n)
	}
	// Every receiver gets every byte Podium sent it.
	for _, d := range deliveries {
		r := receivers[d.BroadcasterID]
		eventually(t, 30*time.Second, fmt.Sprintf("receiver %s got fewer bytes than Podium sent it (%d)", d.BroadcasterID, d.Bytes), func() bool {
			return uint64(r.stdout.Len()) >= d.Bytes
		})
	}
	for _, d := range deliveries {
		got := receivers[d.BroadcasterID].stdout.Bytes()
		if len(got) < 3*188 || pid(got) != 0 || pid(got[188:]) != 0x1000 {
			t.Fatalf("%s: output does not start with the PAT and PMT", d.BroadcasterID)
		}
		body := got[376:]
		start := bytes.Index(fixture, body[:7*188])
		if start < 0 || !bytes.HasPrefix(fixture[start:], body) {
			t.Fatalf("%s: the %d bytes received are not a contiguous part of the publisher's stream: packets were lost", d.BroadcasterID, len(body))
		}
		// Podium holds the last frame until the next one starts: at most
		// that is missing at the end.
		if missing := len(fixture) - start - len(body); missing > len(fixture)/fixtureSeconds {
			t.Fatalf("%s: %d bytes short of the end of the stream", d.BroadcasterID, missing)
		}
		if s := streams(t, got); !slices.Equal(s, append(slices.Clone(allStreams), "data:scte_35")) {
			t.Fatalf("%s: streams %v: missing a track", d.BroadcasterID, s)
		}
	}
	t.Logf("deferred to the live edge: %v of %d", p.metric("podium_srt_deliveries_started_near_live_edge_total"), n)
}
