package app_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/podium-broadcast/podium/internal/archive"
	"github.com/podium-broadcast/podium/internal/config"
	"github.com/podium-broadcast/podium/internal/s3test"
)

// startS3Podium starts versitygw with a bucket and Podium recording into it
// (s3://podium/rec, 1 s segments).
func startS3Podium(t *testing.T) (*s3test.Server, *podium) {
	t.Helper()
	srv := s3test.Start(t, "podium")
	t.Setenv("AWS_ACCESS_KEY_ID", s3test.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", s3test.SecretKey)
	t.Setenv("AWS_REGION", "us-east-1")
	p := startPodium(t, options{configure: func(c *config.Config) {
		shortSegments(c)
		c.Archive, c.S3Endpoint = "s3://podium/rec", srv.Endpoint
	}})
	return srv, p
}

// bucketPath is where versitygw keeps the object of a segment.
func bucketPath(srv *s3test.Server, s archive.Segment) string {
	return filepath.Join(srv.Dir, "podium", "rec", filepath.FromSlash(s.Key))
}

// TestArchiveOnS3TimeShiftAndClips records a feed into an S3 bucket
// (versitygw), plays a stretch of it back over time-shift HLS with ffmpeg,
// reads part of a segment with an HTTP Range request, and cuts a clip from
// it: every byte of the archive comes from the bucket.
func TestArchiveOnS3TimeShiftAndClips(t *testing.T) {
	srv, p := startS3Podium(t)
	f := p.createFeed("s3-shift")
	b := p.createBroadcaster("s3-shift-b")
	p.grant(b.ID, f.ID)
	p.publishSample(f, "swm-200fr-heats")
	eventually(t, 40*time.Second, "8 s recorded to the bucket", func() bool {
		return p.recording(f.ID, p.AdminToken).Segments >= 8 && p.metric("podium_archive_uploads_total") >= 8
	})
	segs, err := p.Archive.Segments(f.ID, time.Unix(0, 0), time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range segs {
		info, err := os.Stat(bucketPath(srv, s))
		if err != nil || info.Size() != s.Size {
			t.Fatalf("segment %d indexed but not whole in the bucket: %v", s.Seq, err)
		}
		if _, err := os.Stat(filepath.Join(p.Config.DataDir, "archive", filepath.FromSlash(s.Key))); !os.IsNotExist(err) {
			t.Fatalf("segment %d uploaded but still on local disk: %v", s.Seq, err)
		}
	}

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
	out, err := exec.Command("ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", vod.HLSURL).Output()
	var dur float64
	fmt.Sscan(string(out), &dur)
	if err != nil || dur < 4 || dur > 4+2*1.92 {
		t.Errorf("VOD of 4 s lasts %v s (%v); want 4 s up to two segments more", dur, err)
	}
	decode := exec.Command("ffmpeg", "-v", "warning", "-i", vod.HLSURL, "-map", "0", "-f", "null", "-")
	if out, err := decode.CombinedOutput(); err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Errorf("decoding the VOD from the bucket: %v\n%s", err, out)
	}

	_, pl, _ := fetch(t, vod.HLSURL)
	name := lastLine(pl, ".ts")
	seq, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimPrefix(name, "archive-"), ".ts"), 10, 64)
	seg, err := p.Archive.Segment(f.ID, seq)
	if err != nil {
		t.Fatal(err)
	}
	whole, err := os.ReadFile(bucketPath(srv, seg))
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("GET", resolve(vod.HLSURL, name), nil)
	req.Header.Set("Range", "bytes=1880-3759")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	part, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusPartialContent || !bytes.Equal(part, whole[1880:3760]) {
		t.Fatalf("range of an archive segment: status %d, %d bytes, equal %v", resp.StatusCode, len(part), bytes.Equal(part, whole[1880:min(len(whole), 3760)]))
	}

	var c apiClip
	p.mustAPIAs(b.APIKey, "POST", "/api/v1/clips", map[string]any{"feed_id": f.ID, "start": from.Format(time.RFC3339Nano),
		"end": to.Format(time.RFC3339Nano), "title": "From the bucket", "mode": "copy", "format": "mp4"}, 202, &c)
	eventually(t, 2*time.Minute, "clip ready", func() bool {
		p.api("GET", "/api/v1/clips/"+c.ID, b.APIKey, nil, &c)
		if c.Status == "failed" {
			t.Fatalf("clip failed: %s", c.Error)
		}
		return c.Status == "ready"
	})
	path := filepath.Join(t.TempDir(), "clip.mp4")
	p.download(b.APIKey, "/api/v1/clips/"+c.ID+"/download", path)
	pr := ffprobeFile(t, path)
	if len(pr.Streams) != 4 || pr.Streams[0].CodecName != "h264" {
		t.Fatalf("clip streams %+v; want h264 and three audio tracks", pr.Streams)
	}
	withinGOP(t, pr, 4)
}

// TestArchiveOnS3OutageDisturbsNoLiveReader stops the S3 server for 20 s
// while a feed is recorded and pulled over SRT, then starts it again on the
// same port and directory. The SRT reader receives throughout; the spool
// holds what closed meanwhile and uploads it once the store is back, and
// the index then covers the whole stretch without a gap.
func TestArchiveOnS3OutageDisturbsNoLiveReader(t *testing.T) {
	srv, p := startS3Podium(t)
	f := p.createFeed("s3-outage")
	b := p.createBroadcaster("s3-outage-b")
	p.grant(b.ID, f.ID)
	p.publishSample(f, "ath-100m-final")
	eventually(t, 40*time.Second, "recording to the bucket", func() bool { return p.metric("podium_archive_uploads_total") >= 3 })
	reader := p.pull(f.ID, b)
	eventually(t, 10*time.Second, "the SRT reader receives", func() bool { return reader.stdout.Len() > 100_000 })

	srv.Stop(t)
	stopped := time.Now()
	last := reader.stdout.Len()
	for time.Since(stopped) < 20*time.Second {
		time.Sleep(2 * time.Second)
		n := reader.stdout.Len()
		if n <= last || reader.exited() {
			t.Fatalf("the SRT reader stalled during the outage after %v: %d bytes, then %d (exited %v)", time.Since(stopped).Round(time.Second), last, n, reader.exited())
		}
		last = n
	}
	waiting := p.metric("podium_archive_spool_segments")
	if failures := p.metric("podium_archive_upload_failures_total"); failures == 0 || waiting < 10 {
		t.Fatalf("after 20 s without the store: %v failed uploads, %v segments spooled", failures, waiting)
	}
	if !strings.Contains(p.logs.String(), "segments wait in the spool") {
		t.Error("no warning that uploads fail")
	}
	srv.Restart(t)
	restarted := time.Now()
	eventually(t, 90*time.Second, "the spool drains", func() bool { return p.metric("podium_archive_spool_segments") <= 2 })
	if reader.exited() || reader.stdout.Len() <= last {
		t.Fatal("the SRT reader stopped once the store was back")
	}

	segs, err := p.Archive.Segments(f.ID, time.Unix(0, 0), time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	covered := 0
	for i, s := range segs {
		if i > 0 && s.Seq != segs[i-1].Seq+1 {
			t.Fatalf("gap in the index: segment %d follows %d", s.Seq, segs[i-1].Seq)
		}
		if i > 0 && s.Start.Sub(segs[i-1].End).Abs() > archive.RangeGap {
			t.Fatalf("gap of %v before segment %d", s.Start.Sub(segs[i-1].End), s.Seq)
		}
		if s.End.Before(restarted) {
			if info, err := os.Stat(bucketPath(srv, s)); err != nil || info.Size() != s.Size {
				t.Fatalf("segment %d not whole in the bucket: %v", s.Seq, err)
			}
		}
		if s.Start.After(stopped) && s.End.Before(restarted) {
			covered++
		}
	}
	if first, last := segs[0].Start, segs[len(segs)-1].End; !first.Before(stopped) || last.Before(restarted.Add(-3*time.Second)) {
		t.Errorf("the index covers %s to %s; the store was away from %s to %s", first.Format(time.StampMilli), last.Format(time.StampMilli),
			stopped.Format(time.StampMilli), restarted.Format(time.StampMilli))
	}
	if rec := p.recording(f.ID, p.AdminToken); len(rec.Ranges) != 1 {
		t.Errorf("recording ranges %+v; want one", rec.Ranges)
	}
	t.Logf("%d segments indexed, %d of them closed during the outage; %d bytes to the SRT reader", len(segs), covered, reader.stdout.Len())
}
