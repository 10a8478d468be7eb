package app_test

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

type apiClip struct {
	ID       string  `json:"id"`
	Status   string  `json:"status"`
	Progress float64 `json:"progress"`
	Error    string  `json:"error"`
	Sport    string  `json:"sport"`
	Event    string  `json:"event"`
	Duration float64 `json:"duration"`
	Size     int64   `json:"size"`
}

type probed struct {
	Streams []struct {
		CodecType string `json:"codec_type"`
		CodecName string `json:"codec_name"`
		Width     int    `json:"width"`
		Height    int    `json:"height"`
		Duration  string `json:"duration"`
	} `json:"streams"`
	Format struct {
		Duration string `json:"duration"`
	} `json:"format"`
}

func ffprobeFile(t *testing.T, path string) probed {
	t.Helper()
	out, err := exec.Command("ffprobe", "-v", "error", "-show_entries", "stream=codec_type,codec_name,width,height,duration:format=duration",
		"-of", "json", path).Output()
	if err != nil {
		t.Fatalf("ffprobe %s: %v", path, err)
	}
	var p probed
	if err := json.Unmarshal(out, &p); err != nil {
		t.Fatal(err)
	}
	return p
}

func seconds(s string) float64 {
	f, _ := strconv.ParseFloat(s, 64)
	return f
}

// TestClipsFromThirtySecondsPublishedWithFFmpeg records 30 s that ffmpeg
// publishes (H.264 with two AAC tracks and an AC-3 track, 1 s GOP), cuts a
// clip in every mode through the API as an entitled broadcaster, and checks
// each download with ffprobe: copy within a GOP of the range at either end,
// exact within one frame, vertical 9:16, every audio track in each. The clip
// takes its sport from the schedule; a broadcaster without rights sees none of it.
func TestClipsFromThirtySecondsPublishedWithFFmpeg(t *testing.T) {
	p := startPodium(t, options{})
	f := p.createFeed("clip-media")
	b := p.createBroadcaster("clip-media-b")
	p.grant(b.ID, f.ID)
	other := p.createBroadcaster("clip-media-other")
	now := time.Now().UTC()
	p.mustAPI("POST", "/api/v1/schedule/import", []map[string]any{{"id": "ath-m100-final", "sport": "Athletics", "event": "Men's 100m",
		"phase": "Final", "venue": "Stade de France", "start": now.Add(-time.Minute).Format(time.RFC3339),
		"end": now.Add(time.Hour).Format(time.RFC3339), "feed_ids": []string{f.ID}}}, 200, nil)

	pub := startPeer(t, nil, "ffmpeg", "-v", "error", "-re",
		"-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=25", "-f", "lavfi", "-i", "sine=frequency=440", "-f", "lavfi", "-i", "sine=frequency=660",
		"-t", "30", "-map", "0:v", "-map", "1:a", "-map", "2:a", "-map", "1:a",
		"-c:v", "libx264", "-preset", "ultrafast", "-g", "25", "-keyint_min", "25", "-sc_threshold", "0", "-pix_fmt", "yuv420p",
		"-c:a:0", "aac", "-c:a:1", "aac", "-c:a:2", "ac3", "-metadata:s:a:0", "language=eng", "-metadata:s:a:1", "language=fra",
		"-f", "mpegts", p.publishURL(f))
	eventually(t, 10*time.Second, "recording starts", func() bool { return p.recording(f.ID, p.AdminToken).State == "recording" })
	eventually(t, 60*time.Second, "ffmpeg publishes 30 s", pub.exited)
	eventually(t, 20*time.Second, "the last segment indexed", func() bool { return p.recording(f.ID, p.AdminToken).State != "recording" })
	rec := p.recording(f.ID, p.AdminToken)
	if len(rec.Ranges) != 1 {
		t.Fatalf("recording = %+v; want one range", rec)
	}
	t0, _ := time.Parse(time.RFC3339Nano, rec.Ranges[0].From)
	// The media recorded, from the segments' timestamps: the span of wall
	// clock is shorter when a loaded machine's encoder sends its first
	// seconds late and then catches up.
	segs, err := p.Archive.Segments(f.ID, time.Unix(0, 0), time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	var media time.Duration
	for _, s := range segs {
		media += s.Duration
	}
	if media < 29*time.Second || media > 31*time.Second {
		t.Fatalf("recorded %v of media in %d segments, of 30 s", media, len(segs))
	}
	at := func(s float64) string {
		return t0.Add(time.Duration(s * float64(time.Second))).Format(time.RFC3339Nano)
	}

	cases := []struct {
		name, mode, format string
		from, to           float64
		check              func(t *testing.T, pr probed)
	}{
		{"copy-mp4", "copy", "mp4", 5.5, 15.5, func(t *testing.T, pr probed) { withinGOP(t, pr, 10) }},
		{"copy-ts", "copy", "ts", 5.5, 15.5, func(t *testing.T, pr probed) { withinGOP(t, pr, 10) }},
		{"exact-mp4", "exact", "mp4", 7.32, 12.72, func(t *testing.T, pr probed) {
			if d := seconds(pr.Streams[0].Duration); d < 5.4-0.041 || d > 5.4+0.041 {
				t.Errorf("exact clip video lasts %.3f s; want 5.400 s within one frame (40 ms)", d)
			}
		}},
		{"vertical-mp4", "vertical", "mp4", 10, 14, func(t *testing.T, pr probed) {
			if v := pr.Streams[0]; v.Width*16 != v.Height*9 {
				t.Errorf("vertical clip is %dx%d; want 9:16", v.Width, v.Height)
			}
		}},
	}
	ids := make([]string, len(cases))
	for i, tc := range cases {
		var c apiClip
		p.mustAPIAs(b.APIKey, "POST", "/api/v1/clips", map[string]any{"feed_id": f.ID, "start": at(tc.from), "end": at(tc.to),
			"title": "Clip " + tc.name, "athletes": []string{"Noah Lyles"}, "mode": tc.mode, "format": tc.format}, 202, &c)
		ids[i] = c.ID
	}
	dir := t.TempDir()
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var c apiClip
			eventually(t, 3*time.Minute, tc.name+" ready", func() bool {
				p.api("GET", "/api/v1/clips/"+ids[i], b.APIKey, nil, &c)
				if c.Status == "failed" {
					t.Fatalf("clip failed: %s", c.Error)
				}
				return c.Status == "ready"
			})
			if c.Sport != "Athletics" || c.Event != "Men's 100m" || c.Size == 0 {
				t.Errorf("clip = %+v; want the schedule's sport and event, a size", c)
			}
			path := filepath.Join(dir, tc.name+"."+tc.format)
			p.download(b.APIKey, "/api/v1/clips/"+ids[i]+"/download", path)
			pr := ffprobeFile(t, path)
			var kinds []string
			for _, s := range pr.Streams {
				kinds = append(kinds, s.CodecType+":"+s.CodecName)
			}
			if len(pr.Streams) != 4 || pr.Streams[0].CodecName != "h264" || strings.Count(strings.Join(kinds, ","), "audio:") != 3 {
				t.Fatalf("streams %v; want h264 and three audio tracks", kinds)
			}
			tc.check(t, pr)
			if status := p.api("GET", "/api/v1/clips/"+ids[i], other.APIKey, nil, nil); status != 404 {
				t.Errorf("a broadcaster without rights to the feed reads the clip: %d", status)
			}
		})
	}
	if status := p.api("POST", "/api/v1/clips", other.APIKey, map[string]any{"feed_id": f.ID, "start": at(1), "end": at(3)}, nil); status != 404 {
		t.Errorf("a broadcaster without rights cut a clip: status %d", status)
	}
}

// withinGOP checks a keyframe copy of want seconds: it may begin up to a
// GOP (1 s) early and end up to a GOP late.
func withinGOP(t *testing.T, pr probed, want float64) {
	t.Helper()
	if d := seconds(pr.Format.Duration); d < want-0.05 || d > want+2+0.1 {
		t.Errorf("copy clip of %.1f s lasts %.3f s; want it within a GOP of the range at either end", want, d)
	}
}

func (p *podium) mustAPIAs(token, method, path string, body any, want int, out any) {
	p.t.Helper()
	if status := p.api(method, path, token, body, out); status != want {
		p.t.Fatalf("%s %s: status %d, want %d", method, path, status, want)
	}
}

func (p *podium) download(token, path, dst string) {
	p.t.Helper()
	req, _ := http.NewRequest("GET", p.base+path, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		p.t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		p.t.Fatalf("download %s: status %d", path, resp.StatusCode)
	}
	out, err := os.Create(dst)
	if err != nil {
		p.t.Fatal(err)
	}
	defer out.Close()
	if _, err := io.Copy(out, resp.Body); err != nil {
		p.t.Fatal(err)
	}
}
