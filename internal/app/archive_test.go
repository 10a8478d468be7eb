package app_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/podium-broadcast/podium/internal/archive"
	"github.com/podium-broadcast/podium/internal/config"
	"github.com/podium-broadcast/podium/internal/ts"
)

type recordingStatus struct {
	Enabled  bool   `json:"enabled"`
	State    string `json:"state"`
	From     string `json:"from"`
	To       string `json:"to"`
	Segments int    `json:"segments"`
	Bytes    int64  `json:"bytes"`
	Ranges   []struct {
		From string `json:"from"`
		To   string `json:"to"`
	} `json:"ranges"`
}

func (p *podium) recording(feed, token string) recordingStatus {
	p.t.Helper()
	var out recordingStatus
	if status := p.api("GET", "/api/v1/feeds/"+feed+"/recording", token, nil, &out); status != 200 {
		p.t.Fatalf("recording of %s: status %d", feed, status)
	}
	return out
}

func shortSegments(c *config.Config) { c.ArchiveSegment = time.Second }

// TestArchiveRecordsKeyframeAlignedSegments publishes a sample (H.264, two
// AAC tracks, AC-3) and checks the archive: every segment starts with the
// PAT, the PMT and a keyframe, lasts at least the segment duration, follows
// on from the one before, and the whole decodes without an error with every
// track present.
func TestArchiveRecordsKeyframeAlignedSegments(t *testing.T) {
	p := startPodium(t, options{configure: shortSegments})
	f := p.createFeed("arc-rec")
	p.publishSample(f, "ath-100m-final")
	eventually(t, 20*time.Second, "5 segments recorded", func() bool { return p.recording(f.ID, p.AdminToken).Segments >= 5 })
	rec := p.recording(f.ID, p.AdminToken)
	if rec.State != archive.StateRecording || !rec.Enabled || len(rec.Ranges) != 1 {
		t.Fatalf("recording = %+v; want recording, enabled, one range", rec)
	}
	segs, err := p.Archive.Segments(f.ID, time.Unix(0, 0), time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	var all bytes.Buffer
	for i, s := range segs {
		data, err := readSegment(p.Archive, s)
		if err != nil {
			t.Fatal(err)
		}
		if int64(len(data)) != s.Size || len(data)%ts.PacketSize != 0 {
			t.Fatalf("segment %d: %d bytes on disk, %d indexed", s.Seq, len(data), s.Size)
		}
		if ts.PID(data) != 0 || len(s.Keyframes) == 0 || s.PSISize() != 2*ts.PacketSize {
			t.Fatalf("segment %d does not open with PAT, PMT, keyframe: first PID %d, keyframes %v", s.Seq, ts.PID(data), s.Keyframes)
		}
		kf := data[s.PSISize() : s.PSISize()+ts.PacketSize]
		if pts, _, ok := ts.PESTimestamps(kf); !ok || pts != s.PTS {
			t.Fatalf("segment %d: keyframe PTS %d, indexed %d", s.Seq, pts, s.PTS)
		}
		if s.Duration < time.Second || s.Duration > 2*time.Second {
			t.Errorf("segment %d lasts %v; want 1-2 s (1 s segments of 0.96 s GOPs)", s.Seq, s.Duration)
		}
		if i > 0 && (!s.Start.Equal(segs[i-1].End) || s.Seq != segs[i-1].Seq+1 || s.Discontinuity) {
			t.Errorf("segment %d (%v) does not follow on from %d (ends %v)", s.Seq, s.Start, segs[i-1].Seq, segs[i-1].End)
		}
		all.Write(data)
	}
	if got := strings.Join(streams(t, all.Bytes()), ","); got != "video:h264,audio:aac,audio:aac,audio:ac3" {
		t.Errorf("archive streams %s; want h264,aac,aac,ac3", got)
	}
	decode := exec.Command("ffmpeg", "-v", "warning", "-i", "-", "-map", "0", "-f", "null", "-")
	decode.Stdin = bytes.NewReader(all.Bytes())
	if out, err := decode.CombinedOutput(); err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Errorf("decoding the archive: %v\n%s", err, out)
	}
}

// TestTimeShiftPlaysTheArchiveOverHLS asks for a VOD range and a
// start-over of a recorded feed with signed URLs, has ffmpeg read them, and
// checks that rights apply as they do live.
func TestTimeShiftPlaysTheArchiveOverHLS(t *testing.T) {
	p := startPodium(t, options{configure: shortSegments})
	f := p.createFeed("arc-shift")
	b := p.createBroadcaster("arc-shift-b")
	ent := p.grant(b.ID, f.ID)
	other := p.createBroadcaster("arc-shift-other")
	p.publishSample(f, "swm-200fr-heats")
	eventually(t, 30*time.Second, "8 s recorded", func() bool { return p.recording(f.ID, p.AdminToken).Segments >= 8 })
	rec := p.recording(f.ID, b.APIKey)
	from, _ := time.Parse(time.RFC3339Nano, rec.Ranges[0].From)
	from = from.Add(1500 * time.Millisecond)
	to := from.Add(4 * time.Second)

	var vod struct {
		HLSURL string `json:"hls_url"`
	}
	q := "?from=" + from.UTC().Format(time.RFC3339Nano) + "&to=" + to.UTC().Format(time.RFC3339Nano)
	if status := p.api("GET", "/api/v1/feeds/"+f.ID+"/playback"+q, b.APIKey, nil, &vod); status != 200 {
		t.Fatalf("time-shift playback: status %d", status)
	}
	status, pl, _ := fetch(t, vod.HLSURL)
	if status != 200 || !strings.Contains(pl, "#EXT-X-PLAYLIST-TYPE:VOD") || !strings.Contains(pl, "#EXT-X-ENDLIST") ||
		!strings.Contains(pl, "#EXT-X-START:TIME-OFFSET=") || !strings.Contains(pl, "#EXT-X-PROGRAM-DATE-TIME:") {
		t.Fatalf("VOD playlist (%d):\n%s", status, pl)
	}
	out, err := exec.Command("ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", vod.HLSURL).Output()
	var dur float64
	fmt.Sscan(string(out), &dur)
	if err != nil || dur < 4 || dur > 4+2*1.92 {
		t.Errorf("VOD of 4 s lasts %v s (%v); want 4 s up to two segments more", dur, err)
	}
	decode := exec.Command("ffmpeg", "-v", "warning", "-i", vod.HLSURL, "-map", "0", "-f", "null", "-")
	if out, err := decode.CombinedOutput(); err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Errorf("decoding the VOD: %v\n%s", err, out)
	}

	var startOver struct {
		HLSURL string `json:"hls_url"`
	}
	if status := p.api("GET", "/api/v1/feeds/"+f.ID+"/playback?from="+from.UTC().Format(time.RFC3339Nano), b.APIKey, nil, &startOver); status != 200 {
		t.Fatalf("start-over playback: status %d", status)
	}
	_, first, _ := fetch(t, startOver.HLSURL)
	if !strings.Contains(first, "#EXT-X-PLAYLIST-TYPE:EVENT") || strings.Contains(first, "#EXT-X-ENDLIST") {
		t.Fatalf("start-over playlist:\n%s", first)
	}
	eventually(t, 10*time.Second, "start-over playlist grows", func() bool {
		_, again, _ := fetch(t, startOver.HLSURL)
		return strings.Count(again, "#EXTINF") > strings.Count(first, "#EXTINF")
	})

	for _, bad := range []string{"?from=yesterday", "?to=now", "?from=" + to.Format(time.RFC3339Nano) + "&to=" + from.Format(time.RFC3339Nano)} {
		if status := p.api("GET", "/api/v1/feeds/"+f.ID+"/playback"+bad, b.APIKey, nil, nil); status != 400 {
			t.Errorf("playback%s: status %d; want 400", bad, status)
		}
	}
	if status := p.api("GET", "/api/v1/feeds/"+f.ID+"/recording", other.APIKey, nil, nil); status != 404 {
		t.Errorf("a broadcaster without rights sees the recording: status %d", status)
	}
	base := vod.HLSURL[:strings.Index(vod.HLSURL, "archive.m3u8")]
	for file, want := range map[string]int{"archive.m3u8?from=yesterday": 400, "archive.m3u8": 400,
		"archive.m3u8?from=1&to=0": 400, "archive.m3u8?from=1&to=2": 404, "archive-x.ts": 404, "archive-99999999.ts": 404} {
		if status, body, _ := fetch(t, base+file); status != want {
			t.Errorf("%s: status %d (%s); want %d", file, status, strings.TrimSpace(body), want)
		}
	}
	seg := resolve(vod.HLSURL, lastLine(pl, ".ts"))
	if status, _, _ := fetch(t, seg); status != 200 {
		t.Fatalf("archive segment: status %d", status)
	}
	p.mustAPI("DELETE", "/api/v1/entitlements/"+ent, nil, 200, nil)
	eventually(t, 30*time.Second, "revoked time-shift refused", func() bool { status, _, _ := fetch(t, seg); return status == 403 })
}

func lastLine(text, suffix string) string {
	var last string
	for _, l := range strings.Split(text, "\n") {
		if strings.HasSuffix(l, suffix) {
			last = l
		}
	}
	return last
}

// TestRecordingCanBeSwitchedOffPerFeed turns a feed's recording off and on
// through the API, and checks the validation of the setting.
func TestRecordingCanBeSwitchedOffPerFeed(t *testing.T) {
	p := startPodium(t, options{configure: shortSegments})
	f := p.createFeed("arc-off")
	var feed struct {
		Recording struct {
			Enabled bool   `json:"enabled"`
			MaxAge  string `json:"max_age"`
		} `json:"recording"`
	}
	p.mustAPI("PATCH", "/api/v1/feeds/"+f.ID, map[string]any{"recording": map[string]any{"enabled": false, "max_age": "72h"}}, 200, &feed)
	if feed.Recording.Enabled || feed.Recording.MaxAge != "72h0m0s" {
		t.Fatalf("after PATCH: %+v", feed.Recording)
	}
	p.publishSample(f, "bkb-gold-game")
	// Two loops of the sample: what would have made segments, had recording been on.
	in0 := p.metric(`podium_feed_bytes_in_total{feed="` + f.ID + `"}`)
	eventually(t, 60*time.Second, "the feed takes in two loops of its sample", func() bool {
		return p.metric(`podium_feed_bytes_in_total{feed="`+f.ID+`"}`) > in0+2*1079496
	})
	if rec := p.recording(f.ID, p.AdminToken); rec.State != archive.StateOff || rec.Segments != 0 {
		t.Fatalf("recording off but %+v", rec)
	}
	for _, bad := range []map[string]any{{"recording": map[string]any{"max_age": "soon"}}, {"recording": map[string]any{"max_bytes": -1}}, {}} {
		if status := p.api("PATCH", "/api/v1/feeds/"+f.ID, p.AdminToken, bad, nil); status != 422 {
			t.Errorf("PATCH %v: status %d; want 422", bad, status)
		}
	}
	p.mustAPI("PATCH", "/api/v1/feeds/"+f.ID, map[string]any{"recording": map[string]any{"enabled": true}}, 200, nil)
	eventually(t, 15*time.Second, "recording after switching on", func() bool { return p.recording(f.ID, p.AdminToken).Segments >= 2 })
}

// TestFullDiskStopsRecordingNotDelivery raises the free-space floor above
// what the disk has: recording stops with an alert, a receiver still gets the feed.
func TestFullDiskStopsRecordingNotDelivery(t *testing.T) {
	p := startPodium(t, options{configure: func(c *config.Config) {
		shortSegments(c)
		c.ArchiveMinFree = 1 << 60
	}})
	f := p.createFeed("arc-full")
	b := p.createBroadcaster("arc-full-b")
	p.grant(b.ID, f.ID)
	p.publishSample(f, "venue-ols-mlf")
	rx := p.pull(f.ID, b)
	eventually(t, 10*time.Second, "receiver gets data", func() bool { return rx.stdout.Len() > 200_000 })
	if rec := p.recording(f.ID, p.AdminToken); rec.State != archive.StateDiskFull || rec.Segments != 0 {
		t.Errorf("recording = %+v; want disk_full, nothing recorded", rec)
	}
	if got := p.metric("podium_archive_disk_full"); got != 1 {
		t.Errorf("podium_archive_disk_full = %v", got)
	}
	if !strings.Contains(p.logs.String(), "ALERT archive disk full") {
		t.Error("no disk-full alert in the log")
	}
}

// TestCreatedFeedAnswersTheRecordingStateOfTheNextGet: POST /feeds answers
// the recording state a GET right after it reads ("idle", not "off").
func TestCreatedFeedAnswersTheRecordingStateOfTheNextGet(t *testing.T) {
	p := startPodium(t, options{configure: shortSegments})
	type feedRecording struct {
		Recording struct {
			State string `json:"state"`
		} `json:"recording"`
	}
	var created, got feedRecording
	p.mustAPI("POST", "/api/v1/feeds", map[string]string{"id": "rec-state", "name": "Rec"}, 201, &created)
	p.mustAPI("GET", "/api/v1/feeds/rec-state", nil, 200, &got)
	if created.Recording.State != archive.StateIdle || got.Recording.State != archive.StateIdle {
		t.Fatalf("recording state: POST answered %q, the next GET %q; want idle both", created.Recording.State, got.Recording.State)
	}
}

// readSegment reads the whole of a segment through the archive's store.
func readSegment(a *archive.Archive, s archive.Segment) ([]byte, error) {
	obj, err := a.OpenSegment(context.Background(), s.Key)
	if err != nil {
		return nil, err
	}
	defer obj.Close()
	return io.ReadAll(io.NewSectionReader(obj, 0, obj.Size()))
}
