package app_test

import (
	"bytes"
	"context"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

var allStreams = []string{"video:h264", "audio:aac", "audio:ac3"}

// TestFFmpegPublishesAndEveryClientPulls: ffmpeg encodes and publishes live;
// srt-live-transmit and ffmpeg pull; ffprobe finds every track in both.
func TestFFmpegPublishesAndEveryClientPulls(t *testing.T) {
	p := startPodium(t, options{})
	f := p.createFeed("ath-100m-final")
	b := p.createBroadcaster("nbc")
	p.grant("nbc", f.ID)

	startPeer(t, nil, "ffmpeg", "-v", "error", "-re",
		"-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25",
		"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
		"-f", "lavfi", "-i", "sine=frequency=660:sample_rate=48000",
		"-map", "0:v", "-map", "1:a", "-map", "2:a",
		"-c:v", "libx264", "-preset", "ultrafast", "-g", "25", "-b:v", "1M",
		"-c:a:0", "aac", "-c:a:1", "ac3", "-f", "mpegts", p.publishURL(f)+"&pkt_size=1316")
	eventually(t, 10*time.Second, "feed never went live", func() bool {
		var feed struct{ Live bool }
		p.mustAPI("GET", "/api/v1/feeds/"+f.ID, nil, 200, &feed)
		return feed.Live
	})

	slt := p.pull(f.ID, b)
	ff := startPeer(t, nil, "ffmpeg", "-v", "error", "-i", p.pullURL(f.ID, b), "-map", "0", "-c", "copy", "-t", "3", "-f", "mpegts", "-")
	select {
	case <-ff.done:
	case <-time.After(15 * time.Second):
		t.Fatal("ffmpeg did not receive 3 s of the feed within 15 s")
	}
	if ff.err != nil {
		t.Fatalf("ffmpeg pull: %v: %s", ff.err, ff.stderr.String())
	}
	eventually(t, 30*time.Second, "srt-live-transmit received too little", func() bool { return slt.stdout.Len() > 200_000 })
	for name, got := range map[string][]byte{"ffmpeg": ff.stdout.Bytes(), "srt-live-transmit": slt.stdout.Bytes()} {
		if s := streams(t, got); !slices.Equal(s, allStreams) {
			t.Errorf("%s received streams %v, want %v", name, s, allStreams)
		}
	}
	// The first video frame a new reader gets is a keyframe.
	cmd := exec.Command("ffprobe", "-v", "error", "-select_streams", "v", "-show_entries", "frame=key_frame",
		"-read_intervals", "%+#1", "-of", "default=noprint_wrappers=1", "-")
	cmd.Stdin = bytes.NewReader(slt.stdout.Bytes())
	if out, err := cmd.Output(); err != nil || strings.TrimSpace(string(out)) != "key_frame=1" {
		t.Errorf("first frame is not a keyframe: %q %v", out, err)
	}
}

// TestPassthroughIsByteExact: what a broadcaster receives is the publisher's
// stream byte for byte, every PID included, from a keyframe onwards, with
// the PAT and PMT that stood before it sent first.
func TestPassthroughIsByteExact(t *testing.T) {
	p := startPodium(t, options{})
	f := p.createFeed("swm-200fr-heats")
	b := p.createBroadcaster("bbc")
	p.grant("bbc", f.ID)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	half := len(fixture) / 2 / 188 * 188
	_, pw := startFedPeer(t, "srt-live-transmit", "-q", "-a:no", "-chunk:1316", "file://con", p.publishURL(f))
	sent := &syncBuffer{}
	emit := func(c []byte) error { sent.Write(c); _, err := pw.Write(c); return err }
	pace(ctx, fixture[:half], false, emit)
	// Join in the middle, then send the rest and end.
	reader := p.pull(f.ID, b)
	eventually(t, 30*time.Second, "reader not connected", func() bool { return len(p.deliveries()) == 1 })
	pace(ctx, fixture[half:], false, emit)
	pw.Close()
	// The publisher has sent everything: wait until Podium has delivered it
	// all, then stop the receiver so that it flushes its output.
	var delivered uint64
	eventually(t, 30*time.Second, "Podium did not deliver the end of the stream", func() bool {
		d := p.deliveries()
		if len(d) == 1 {
			delivered = d[0].Bytes
		}
		return delivered >= uint64(len(fixture)-half)
	})
	eventually(t, 30*time.Second, "the receiver did not write what Podium delivered", func() bool {
		return uint64(reader.stdout.Len()) >= delivered
	})
	reader.stop()

	got := reader.stdout.Bytes()
	if !bytes.Equal(sent.Bytes(), fixture) {
		t.Fatal("harness did not send the fixture")
	}
	if len(got) < 3*188 || got[0] != 0x47 || pid(got[0:]) != 0 || pid(got[188:]) != 0x1000 {
		t.Fatalf("reader output does not start with PAT then PMT")
	}
	if !bytes.Contains(fixture, got[:188]) || !bytes.Contains(fixture, got[188:376]) {
		t.Fatal("PAT/PMT sent first are not the publisher's own packets")
	}
	body := got[376:]
	start := bytes.Index(fixture, body[:188*7])
	if start < 0 || start%188 != 0 {
		t.Fatal("reader's stream is not a packet-aligned part of the publisher's")
	}
	// Podium holds each video frame until the next one starts (so that a
	// switch of sources never cuts one): the stream's very last frame, which
	// no other follows, is not delivered.
	rest := fixture[start:]
	if !bytes.HasPrefix(rest, body) || len(rest)-len(body) > len(fixture)/fixtureSeconds {
		t.Fatalf("reader received %d bytes after PSI; publisher sent %d from that point; they differ beyond the last frame", len(body), len(rest))
	}
	if oneGOP := len(fixture) / fixtureSeconds * 3 / 2; start < half-oneGOP {
		t.Fatalf("reader started %d bytes before its join point: not at the latest keyframe", half-start)
	}
	if s := streams(t, got); !slices.Equal(s, append(slices.Clone(allStreams), "data:scte_35")) {
		t.Fatalf("streams %v: missing a track", s)
	}
	t.Logf("reader joined %d bytes before the end, started %d bytes before its join point (latest keyframe)", len(fixture)-half, half-start)
}

func pid(pkt []byte) int { return int(pkt[1]&0x1F)<<8 | int(pkt[2]) }

// TestStalledReaderIsCutOthersKeepFullRate: a receiver that stops (SIGSTOP)
// is cut and counted; the publisher and another receiver never notice.
func TestStalledReaderIsCutOthersKeepFullRate(t *testing.T) {
	p := startPodium(t, options{maxLag: 500 * time.Millisecond})
	f := p.createFeed("bkb-gold-game")
	b := p.createBroadcaster("rai")
	p.grant("rai", f.ID)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	p.publish(ctx, f, fixture, true)
	eventually(t, 30*time.Second, "feed not live", func() bool { return p.metric(`podium_feed_live{feed="bkb-gold-game"}`) == 1 })

	healthy := p.pull(f.ID, b)
	stalled := p.pull(f.ID, b)
	eventually(t, 30*time.Second, "readers not connected", func() bool { return len(p.deliveries()) == 2 })
	eventually(t, 30*time.Second, "readers not receiving", func() bool {
		return healthy.stdout.Len() > 100_000 && stalled.stdout.Len() > 100_000
	})
	stalled.cmd.Process.Signal(syscall.SIGSTOP)
	defer stalled.cmd.Process.Signal(syscall.SIGCONT)

	took := eventually(t, 30*time.Second, "stalled reader not cut", func() bool { return len(p.deliveries()) == 1 })
	t.Logf("stalled reader cut %v after SIGSTOP", took)
	if n := p.metric(`podium_feed_readers_cut_lagging_total{feed="bkb-gold-game"}`); n != 1 {
		t.Fatalf("readers cut for lagging = %v, want 1", n)
	}
	// The healthy reader keeps up with the feed over the next 2 MB it takes in.
	in0, out0 := p.metric(`podium_feed_bytes_in_total{feed="bkb-gold-game"}`), healthy.stdout.Len()
	eventually(t, 60*time.Second, "healthy reader did not keep up with the feed", func() bool {
		in, out := p.metric(`podium_feed_bytes_in_total{feed="bkb-gold-game"}`)-in0, float64(healthy.stdout.Len()-out0)
		return in > 2<<20 && out >= 0.9*in
	})
	if healthy.exited() {
		t.Fatal("healthy reader disconnected")
	}
	if !strings.Contains(p.logs.String(), "fell too far behind") {
		t.Fatal("cut not logged with its reason")
	}
}

// TestPublisherReconnectKeepsReaders: the encoder drops and comes back within
// the grace period; the broadcaster's receiver stays connected throughout.
// Without a publisher past the grace period, the receiver is let go.
func TestPublisherReconnectKeepsReaders(t *testing.T) {
	p := startPodium(t, options{grace: 3 * time.Second})
	f := p.createFeed("venue-ols-mlf")
	b := p.createBroadcaster("cbc")
	p.grant("cbc", f.ID)
	ctx, cancel := context.WithCancel(context.Background())
	pub, _ := p.publish(ctx, f, fixture, true)
	reader := p.pull(f.ID, b)
	eventually(t, 30*time.Second, "reader not receiving", func() bool { return reader.stdout.Len() > 100_000 })
	before := p.deliveries()

	cancel()
	pub.stop()
	eventually(t, 30*time.Second, "feed still live after the publisher left", func() bool {
		return p.metric(`podium_feed_live{feed="venue-ols-mlf"}`) == 0
	})
	time.Sleep(time.Second)
	ctx2, cancel2 := context.WithCancel(context.Background())
	pub2, _ := p.publish(ctx2, f, fixture, true)
	got := reader.stdout.Len()
	eventually(t, 30*time.Second, "reader did not resume after the publisher came back", func() bool { return reader.stdout.Len() > got+100_000 })
	after := p.deliveries()
	if len(after) != 1 || after[0].ID != before[0].ID || reader.exited() {
		t.Fatalf("delivery did not survive the reconnect: before %+v after %+v", before, after)
	}

	cancel2()
	pub2.stop()
	took := eventually(t, 30*time.Second, "reader kept past the grace period", reader.exited)
	if took < 2*time.Second {
		t.Fatalf("reader let go after %v, before the 3 s grace period", took)
	}
	if !strings.Contains(p.logs.String(), "no publisher within the grace period") {
		t.Fatal("grace expiry not logged")
	}
}

// TestGarbageIsRefusedOthersUnaffected: a publisher sending something that
// is not MPEG-TS is disconnected with a logged reason, while another feed
// carries on.
func TestGarbageIsRefusedOthersUnaffected(t *testing.T) {
	p := startPodium(t, options{})
	good := p.createFeed("good")
	bad := p.createFeed("bad")
	b := p.createBroadcaster("tvp")
	p.grant("tvp", good.ID)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	p.publish(ctx, good, fixture, true)
	reader := p.pull(good.ID, b)
	eventually(t, 30*time.Second, "reader not receiving", func() bool { return reader.stdout.Len() > 50_000 })

	garbage := bytes.Repeat([]byte("this is not a transport stream. "), 2000)
	_, junk := startFedPeer(t, "srt-live-transmit", "-q", "-a:no", "file://con", p.publishURL(bad))
	go pace(ctx, garbage, true, func(c []byte) error { _, err := junk.Write(c); return err })
	eventually(t, 30*time.Second, "garbage publisher not refused", func() bool {
		return strings.Contains(p.logs.String(), "not an MPEG transport stream")
	})
	n := reader.stdout.Len()
	eventually(t, 30*time.Second, "good feed stalled", func() bool { return reader.stdout.Len() > n+50_000 })
	var feed struct{ Live bool }
	p.mustAPI("GET", "/api/v1/feeds/bad", nil, 200, &feed)
	if feed.Live {
		t.Fatal("garbage feed shown live")
	}
	if status := p.api("GET", "/healthz", "", nil, nil); status != 200 {
		t.Fatalf("healthz %d", status)
	}
}
