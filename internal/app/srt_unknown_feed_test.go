package app_test

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestSRTPublishToAnUnknownFeedIsAWrongPassphrase: publishing to a feed id
// that does not exist, from libsrt, ffmpeg and srt-live-transmit, is
// refused as a wrong passphrase is (1401, unauthorized), so feed ids cannot
// be told apart by the answer, and counted the same: after
// auth_max_failures of them the address is locked out (1423), the right
// passphrase of a real feed included.
func TestSRTPublishToAnUnknownFeedIsAWrongPassphrase(t *testing.T) {
	p := startPodium(t, lockoutAfter3(time.Minute))
	f := p.createFeed("ath-100m-final")
	wrongPassphrase := p.probe("#!::r="+f.ID+",m=publish", "not-the-passphrase")
	unknownFeed := p.probe("#!::r=ath-200m-final,m=publish", f.PublishPassphrase)
	if wrongPassphrase != "rejected 1401" || unknownFeed != wrongPassphrase {
		t.Fatalf("unknown feed %q, wrong passphrase %q: want both rejected 1401", unknownFeed, wrongPassphrase)
	}
	if n := p.metric(`podium_auth_failures_total{protocol="srt"}`); n != 2 {
		t.Fatalf("failures counted %v after a wrong passphrase and an unknown feed, want 2", n)
	}

	// ffmpeg publishing to an unknown feed: refused, the third failure locks out.
	unknown := f
	unknown.ID = "ath-400m-final"
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "ffmpeg", "-v", "error", "-re", "-f", "lavfi", "-i", "testsrc2=size=320x180:rate=25",
		"-t", "2", "-c:v", "libx264", "-preset", "ultrafast", "-f", "mpegts", p.publishURL(unknown)+"&pkt_size=1316").CombinedOutput()
	if err == nil {
		t.Fatalf("ffmpeg published to an unknown feed: %s", out)
	}
	eventually(t, 5*time.Second, "no lockout after 3 failures", func() bool {
		return p.metric(`podium_auth_lockouts_total{protocol="srt"}`) == 1
	})
	if n := p.metric(`podium_srt_rejections_total{reason="unauthorized"}`); n != 3 {
		t.Errorf("unauthorized rejections %v, want 3", n)
	}
	if n := p.metric(`podium_srt_rejections_total{reason="not found"}`); n != 0 {
		t.Errorf("not-found rejections %v, want 0", n)
	}
	if got := p.probe("#!::r="+f.ID+",m=publish", f.PublishPassphrase); got != "rejected 1423" {
		t.Fatalf("right passphrase of a real feed once locked out: %q, want rejected 1423", got)
	}
	// srt-live-transmit too is refused as locked out (it may not exit:
	// Haivision/srt#2776; what counts is Podium's refusal).
	locked := p.metric(`podium_srt_rejections_total{reason="locked"}`)
	pub, _ := p.publish(ctx, unknown, fixture, true)
	eventually(t, 10*time.Second, "srt-live-transmit refused as locked out", func() bool {
		return p.metric(`podium_srt_rejections_total{reason="locked"}`) > locked
	})
	pub.stop()
	if !strings.Contains(p.logs.String(), `unknown feed \"ath-400m-final\"`) {
		t.Error("the server log does not say the feed is unknown")
	}
}
