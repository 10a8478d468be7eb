package app_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// record runs the demo's printed record command on a feed for seconds and
// returns the file's streams; it fails the test on any error line.
func (p *podium) record(feed string, b broadcasterCreds, seconds string) []string {
	p.t.Helper()
	out := filepath.Join(p.t.TempDir(), "out.ts")
	msgs, err := exec.Command("ffmpeg", "-nostdin", "-v", "error", "-i", p.pullURL(feed, b), "-map", "0", "-c", "copy", "-t", seconds, "-y", out).CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(msgs))) > 0 {
		p.t.Fatalf("ffmpeg -i PULL -map 0 -c copy out.ts: %v\n%s", err, msgs)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		p.t.Fatal(err)
	}
	return streams(p.t, data)
}

// decodeClean decodes seconds of url with every stream and fails the test
// on any error line.
func decodeClean(t *testing.T, what, url, seconds string) {
	t.Helper()
	msgs, err := exec.Command("ffmpeg", "-nostdin", "-v", "error", "-i", url, "-map", "0", "-t", seconds, "-f", "null", "-").CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(msgs))) > 0 {
		t.Fatalf("ffmpeg -v error -i %s -f null -: %v\n%s", what, err, msgs)
	}
}

// TestBackupWithOtherTracksKeepsEveryOutputDecodable is the report
// replayed: the primary sends the 4-track sample (video, AAC eng, AAC fra,
// AC-3), the backup the demo's printed command (video and one AAC). While
// the backup is on air, and after the switch back, a receiver records every
// stream it is told of, the pull decodes without an error line and HLS
// serves.
func TestBackupWithOtherTracksKeepsEveryOutputDecodable(t *testing.T) {
	p := startPodium(t, options{switchHold: 2 * time.Second})
	var f feedCreds
	p.mustAPI("POST", "/api/v1/feeds", map[string]string{"id": "layouts", "name": "Layouts"}, 201, &f)
	b := p.createBroadcaster("rtv")
	p.grant(b.ID, f.ID)
	p.publishLoop(f, samplePath("ath-100m-final"), "primary")
	eventually(t, 30*time.Second, "primary on air", func() bool { return p.sources(f.ID).OnAir == "primary" })
	backupURL := fmt.Sprintf("srt://%s:%s?streamid=#!::r=%s,m=publish,s=backup&passphrase=%s&pkt_size=1316", p.srtHost, p.srtPort, f.ID, f.BackupPublishPassphrase)
	startPeer(t, nil, "ffmpeg", "-nostdin", "-v", "error", "-re", "-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=50", "-f", "lavfi", "-i", "sine",
		"-c:v", "libx264", "-preset", "veryfast", "-g", "50", "-c:a", "aac", "-f", "mpegts", backupURL)
	eventually(t, 30*time.Second, "backup healthy", func() bool {
		for _, s := range p.sources(f.ID).Sources {
			if s.Role == "backup" && s.Healthy {
				return true
			}
		}
		return false
	})
	hls := p.playback(f.ID, b.APIKey)
	decodeClean(t, "HLS of the primary", hls, "3")

	p.mustAPI("POST", "/api/v1/feeds/"+f.ID+"/switch", map[string]string{"source": "backup"}, 200, nil)
	if got := p.record(f.ID, b, "4"); !slices.Equal(got, []string{"video:h264", "audio:aac"}) {
		t.Fatalf("recording while the backup is on air: streams %v, want the backup's video and AAC", got)
	}
	decodeClean(t, "PULL while the backup is on air", p.pullURL(f.ID, b), "4")
	eventually(t, 30*time.Second, "HLS serving the backup's layout", func() bool {
		status, _, _ := fetch(t, hls)
		return status == 200
	})
	decodeClean(t, "HLS while the backup is on air", hls, "3")
	if !strings.Contains(p.logs.String(), `msg="feed layout changed" feed=layouts source=backup change="tracks gone" tracks=2 gone=2`) {
		t.Error("the layout change to the backup's is not logged")
	}

	p.mustAPI("POST", "/api/v1/feeds/"+f.ID+"/switch", map[string]string{"source": "auto"}, 200, nil)
	eventually(t, 30*time.Second, "primary back on air", func() bool { return p.sources(f.ID).OnAir == "primary" })
	if got := p.record(f.ID, b, "4"); len(got) != 4 {
		t.Fatalf("recording after the switch back: streams %v, want the primary's 4", got)
	}
	decodeClean(t, "PULL after the switch back", p.pullURL(f.ID, b), "8")
	eventually(t, 30*time.Second, "HLS serving the primary's layout again", func() bool {
		status, _, _ := fetch(t, hls)
		return status == 200
	})
	decodeClean(t, "HLS after the switch back", hls, "3")
}
