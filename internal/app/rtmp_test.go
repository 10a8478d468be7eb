package app_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// rtmpURL is where an encoder publishes a feed over RTMP: the server
// rtmp://HOST:PORT/live joined with the stream key FEED?key=PASSPHRASE.
func (p *podium) rtmpURL(feed, key string) string {
	return fmt.Sprintf("rtmp://%s/live/%s?key=%s", p.RTMPAddr(), feed, key)
}

// publishRTMP starts ffmpeg encoding a test pattern and a tone and
// publishing them as OBS Studio does by default: x264 veryfast with
// B-frames, a keyframe every 2 s, CBR, AAC, FLV over RTMP.
func (p *podium) publishRTMP(url string) *peer {
	return startPeer(p.t, nil, "ffmpeg", "-nostdin", "-v", "error", "-re",
		"-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25",
		"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
		"-c:v", "libx264", "-preset", "veryfast", "-bf", "2", "-g", "50", "-b:v", "1M", "-maxrate", "1M", "-bufsize", "1M",
		"-c:a", "aac", "-b:a", "128k", "-f", "flv", url)
}

// TestRTMPPublishReachesSRTReceivers: ffmpeg publishes OBS-style over RTMP;
// a broadcaster pulls the feed over SRT; ffprobe finds H.264 and AAC with
// timestamps that start together and run on, and ffmpeg decodes 6 s
// without an error.
func TestRTMPPublishReachesSRTReceivers(t *testing.T) {
	p := startPodium(t, options{})
	f := p.createFeed("ath-100m-final")
	b := p.createBroadcaster("nbc")
	p.grant("nbc", f.ID)

	enc := p.publishRTMP(p.rtmpURL(f.ID, f.PublishPassphrase))
	eventually(t, 15*time.Second, "feed never carried data", func() bool {
		return p.metric(`podium_feed_bytes_in_total{feed="ath-100m-final"}`) > 0
	})
	pull := startPeer(t, nil, "ffmpeg", "-nostdin", "-v", "error", "-i", p.pullURL(f.ID, b), "-map", "0", "-c", "copy", "-t", "6", "-f", "mpegts", "-")
	select {
	case <-pull.done:
	case <-time.After(20 * time.Second):
		t.Fatal("ffmpeg did not receive 6 s of the feed within 20 s")
	}
	if pull.err != nil {
		t.Fatalf("ffmpeg pull: %v: %s", pull.err, pull.stderr.String())
	}
	got := pull.stdout.Bytes()
	if s := streams(t, got); !slices.Equal(s, []string{"video:h264", "audio:aac"}) {
		t.Fatalf("received streams %v, want h264 and aac", s)
	}
	if reordered := checkTimestamps(t, got, 5*time.Second); reordered == 0 {
		t.Error("no video frame has a PTS other than its DTS: the B-frames were lost")
	}
	decode := exec.Command("ffmpeg", "-v", "error", "-i", "-", "-map", "0", "-f", "null", "-")
	decode.Stdin = bytes.NewReader(got)
	if msgs, err := decode.CombinedOutput(); err != nil || len(bytes.TrimSpace(msgs)) > 0 {
		t.Fatalf("decoding what the broadcaster received: %v\n%s", err, msgs)
	}
	if enc.exited() {
		t.Fatalf("the encoder stopped: %v %s", enc.err, enc.stderr.String())
	}
	if !strings.Contains(p.logs.String(), `msg="rtmp publish start" feed=ath-100m-final source=primary`) {
		t.Error("the publish was not logged")
	}
}

// checkTimestamps reads the packets of a transport stream: video DTS and
// audio PTS always increase, audio and video start within half a second of
// each other, and the video spans at least span. It returns how many video
// frames are reordered (PTS other than DTS: B-frames and their references).
func checkTimestamps(t *testing.T, stream []byte, span time.Duration) (reordered int) {
	t.Helper()
	cmd := exec.Command("ffprobe", "-v", "error", "-show_entries", "packet=codec_type,pts_time,dts_time", "-of", "json", "-")
	cmd.Stdin = bytes.NewReader(stream)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("ffprobe: %v", err)
	}
	var probe struct {
		Packets []struct {
			CodecType string `json:"codec_type"`
			PTS       string `json:"pts_time"`
			DTS       string `json:"dts_time"`
		}
	}
	if err := json.Unmarshal(out, &probe); err != nil {
		t.Fatal(err)
	}
	first, last := map[string]float64{}, map[string]float64{}
	for i, pkt := range probe.Packets {
		at := pkt.DTS
		if pkt.CodecType == "audio" {
			at = pkt.PTS
		}
		v, err := strconv.ParseFloat(at, 64)
		if err != nil {
			t.Fatalf("packet %d (%s) has no timestamp: %+v", i, pkt.CodecType, pkt)
		}
		if prev, ok := last[pkt.CodecType]; ok && v <= prev {
			t.Fatalf("packet %d: %s timestamp %.3f after %.3f", i, pkt.CodecType, v, prev)
		}
		if pkt.CodecType == "video" && pkt.PTS != pkt.DTS {
			reordered++
		}
		if _, ok := first[pkt.CodecType]; !ok {
			first[pkt.CodecType] = v
		}
		last[pkt.CodecType] = v
	}
	if d := first["audio"] - first["video"]; d > 0.5 || d < -0.5 {
		t.Errorf("audio starts %.3f s after video", d)
	}
	if got := time.Duration((last["video"] - first["video"]) * float64(time.Second)); got < span {
		t.Errorf("video spans %v, want at least %v", got, span)
	}
	return reordered
}

// TestRTMPRefusals: a wrong key, no key, an unknown feed, another app and a
// play request are refused; ffmpeg exits with an error, the refusal is
// logged and counted, and nothing reaches the feed.
func TestRTMPRefusals(t *testing.T) {
	p := startPodium(t, options{})
	f := p.createFeed("ath-100m-final")
	publish := func(url string) []string {
		return []string{"-nostdin", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=320x180:rate=25", "-t", "2",
			"-c:v", "libx264", "-preset", "ultrafast", "-f", "flv", url}
	}
	tests := []struct {
		name   string
		args   []string
		reason string
	}{
		{"wrong key", publish(p.rtmpURL(f.ID, "NOT-THE-PASSPHRASE")), "unauthorized"},
		{"no key", publish(fmt.Sprintf("rtmp://%s/live/%s", p.RTMPAddr(), f.ID)), "unauthorized"},
		{"unknown feed", publish(p.rtmpURL("swm-200fr-heats", f.PublishPassphrase)), "not found"},
		{"other app", publish(fmt.Sprintf("rtmp://%s/app/%s?key=%s", p.RTMPAddr(), f.ID, f.PublishPassphrase)), "not found"},
		{"play", []string{"-nostdin", "-v", "error", "-i", p.rtmpURL(f.ID, f.PublishPassphrase), "-t", "1", "-f", "null", "-"}, "bad mode"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sample := fmt.Sprintf(`podium_rtmp_rejections_total{reason=%q}`, tc.reason)
			before := p.metric(sample)
			cmd := exec.Command("ffmpeg", tc.args...)
			done := make(chan struct{})
			var out []byte
			var err error
			go func() { out, err = cmd.CombinedOutput(); close(done) }()
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				cmd.Process.Kill()
				<-done
				t.Fatal("ffmpeg still running 10 s after a refusal")
			}
			if err == nil {
				t.Fatalf("ffmpeg exited 0: %s", out)
			}
			if !strings.Contains(string(out), "Server error: ") {
				t.Errorf("ffmpeg did not show the server's reason: %s", out)
			}
			if got := p.metric(sample) - before; got != 1 {
				t.Errorf("%s rose by %v, want 1", sample, got)
			}
		})
	}
	if in := p.metric(`podium_feed_bytes_in_total{feed="ath-100m-final"}`); in != 0 {
		t.Fatalf("%v bytes of refused publishers reached the feed", in)
	}
	var feed struct{ Live bool }
	p.mustAPI("GET", "/api/v1/feeds/"+f.ID, nil, 200, &feed)
	if feed.Live {
		t.Fatal("the feed went live")
	}
	if logs := p.logs.String(); strings.Count(logs, `msg="rtmp connection rejected"`) != len(tests) || strings.Contains(logs, f.PublishPassphrase) {
		t.Fatal("refusals not logged once each, or a passphrase logged")
	}
}

// TestRTMPSecondPublisherIsRefused: while an encoder publishes a feed,
// another with the same key is refused and the first carries on.
func TestRTMPSecondPublisherIsRefused(t *testing.T) {
	p := startPodium(t, options{})
	f := p.createFeed("ath-100m-final")
	first := p.publishRTMP(p.rtmpURL(f.ID, f.PublishPassphrase))
	eventually(t, 15*time.Second, "first publisher never carried data", func() bool {
		return p.metric(`podium_feed_bytes_in_total{feed="ath-100m-final"}`) > 0
	})
	second := p.publishRTMP(p.rtmpURL(f.ID, f.PublishPassphrase))
	select {
	case <-second.done:
	case <-time.After(10 * time.Second):
		t.Fatal("the second publisher was not refused within 10 s")
	}
	if second.err == nil || !strings.Contains(second.stderr.String(), "already has a live primary source") {
		t.Fatalf("second publisher: %v %s, want a refusal", second.err, second.stderr.String())
	}
	if p.metric(`podium_rtmp_rejections_total{reason="conflict"}`) != 1 {
		t.Error("the conflict was not counted")
	}
	in := p.metric(`podium_feed_bytes_in_total{feed="ath-100m-final"}`)
	eventually(t, 30*time.Second, "the first publisher stopped carrying data", func() bool {
		return p.metric(`podium_feed_bytes_in_total{feed="ath-100m-final"}`) > in+100_000
	})
	if first.exited() {
		t.Fatalf("the first publisher stopped: %s", first.stderr.String())
	}
}
