package app_test

import (
	"bytes"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

type srtDetails struct {
	URL      string `json:"url"`
	Commands struct {
		GStreamer string `json:"gstreamer"`
	} `json:"commands"`
}

// TestGStreamerPullsWithTheAPIsURL pulls a feed with GStreamer 1.22's srtsrc
// on the URL GET /feeds/{id}/srt gives (its latency in milliseconds, its
// streamid's # escaped as %23, as GStreamer needs in a URI), and checks
// what it wrote with ffprobe: every track of the feed.
func TestGStreamerPullsWithTheAPIsURL(t *testing.T) {
	if _, err := exec.LookPath("gst-launch-1.0"); err != nil {
		t.Skip("gst-launch-1.0 not installed (gstreamer1.0-tools, -plugins-bad)")
	}
	p := startPodium(t, options{})
	f := p.createFeed("gst-pull")
	b := p.createBroadcaster("rtv")
	p.grant(b.ID, f.ID)
	p.publishSample(f, "ath-100m-final")
	var d srtDetails
	p.mustAPI("GET", "/api/v1/feeds/"+f.ID+"/srt?broadcaster="+b.ID, nil, 200, &d)
	if !strings.Contains(d.URL, "&latency=120") || strings.Contains(d.URL, "latency=120000") {
		t.Fatalf("url %q: latency not in milliseconds", d.URL)
	}
	uri, ok := strings.CutPrefix(d.Commands.GStreamer, "gst-launch-1.0 srtsrc uri='")
	if !ok {
		t.Fatalf("gstreamer command %q", d.Commands.GStreamer)
	}
	uri = uri[:strings.Index(uri, "'")]
	out := filepath.Join(t.TempDir(), "gst.ts")
	gst := startPeer(t, nil, "gst-launch-1.0", "-q", "srtsrc", "uri="+uri, "!", "filesink", "location="+out)
	eventually(t, 30*time.Second, "GStreamer wrote 1 MB of the feed", func() bool {
		st, err := os.Stat(out)
		return err == nil && st.Size() > 1<<20
	})
	gst.stop()
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if got := streams(t, data); !slices.Equal(got, []string{"video:h264", "audio:aac", "audio:aac", "audio:ac3"}) {
		t.Fatalf("GStreamer's capture has streams %v", got)
	}
	if !strings.Contains(p.logs.String(), "broadcaster=rtv") {
		t.Fatal("the pull is not logged as the broadcaster's")
	}
}

// The other clients broadcasters use, each against a Podium of its own: VLC
// 3, mpv and GStreamer's playbin3, over SRT with the commands GET
// /feeds/{id}/srt gives and over LL-HLS with the playback URL. Each test
// checks what the client received (decoded by ffprobe, or pictures it
// decoded itself), not only that it ran. scripts/install-test-deps.sh
// installs them; a test skips only when its program is absent.

// srtClientDetails are the fields of GET /feeds/{id}/srt the client tests use.
type srtClientDetails struct {
	Commands struct {
		VLC string `json:"vlc"`
		MPV string `json:"mpv"`
	} `json:"commands"`
}

// clientFeed starts a Podium with a feed published from a demo sample and a
// broadcaster entitled to it.
func clientFeed(t *testing.T) (*podium, feedCreds, broadcasterCreds) {
	t.Helper()
	p := startPodium(t, options{})
	f := p.createFeed("clients")
	b := p.createBroadcaster("rtv")
	p.grant(b.ID, f.ID)
	p.publishSample(f, "ath-100m-final")
	return p, f, b
}

// commandArgs splits a command the API gives into its program's arguments,
// removing the shell's single quotes (none of Podium's quote a space).
func commandArgs(t *testing.T, cmd, program string) []string {
	t.Helper()
	words := strings.Fields(cmd)
	if len(words) < 2 || words[0] != program {
		t.Fatalf("%s command %q", program, cmd)
	}
	for i, w := range words {
		words[i] = strings.ReplaceAll(w, "'", "")
	}
	return words[1:]
}

// requireProgram skips the test when program is not installed.
func requireProgram(t *testing.T, program, packages string) {
	t.Helper()
	if _, err := exec.LookPath(program); err != nil {
		t.Skipf("%s not installed (%s: scripts/install-test-deps.sh installs them)", program, packages)
	}
}

// startVLC runs VLC 3 headless with args, its output on the peer's stdout,
// and a home of its own so that no user's settings change it. Debian's VLC
// refuses to run as root, with no option to allow it; as root (CI runs the
// tests as root) it runs as nobody.
func startVLC(t *testing.T, args ...string) *peer {
	t.Helper()
	requireProgram(t, "cvlc", "vlc-bin, vlc-plugin-base, vlc-plugin-access-extra")
	home, err := os.MkdirTemp("", "podium-vlc-home-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(home) })
	p := newPeer(t, "cvlc", append([]string{"--intf", "dummy", "--vout", "dummy", "--aout", "dummy", "--no-stats"}, args...)...)
	p.cmd.Env = append(os.Environ(), "HOME="+home, "XDG_CONFIG_HOME="+home, "XDG_CACHE_HOME="+home, "XDG_DATA_HOME="+home)
	if os.Geteuid() == 0 {
		nobody, err := user.Lookup("nobody")
		if err != nil {
			t.Fatalf("VLC does not run as root, and there is no user nobody to run it as: %v", err)
		}
		uid, _ := strconv.Atoi(nobody.Uid)
		gid, _ := strconv.Atoi(nobody.Gid)
		if err := os.Chown(home, uid, gid); err != nil {
			t.Fatal(err)
		}
		p.cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
	}
	p.start()
	return p
}

// vlcToStdout is VLC's stream output that writes what it receives, remuxed
// to a transport stream without decoding, to its stdout.
const vlcToStdout = "#std{access=file,mux=ts,dst=-}"

// decodedVideoFrames is how many frames of its first video stream ffprobe
// decodes from a transport stream.
func decodedVideoFrames(t *testing.T, ts []byte) int {
	t.Helper()
	cmd := exec.Command("ffprobe", "-v", "error", "-select_streams", "v:0", "-count_frames",
		"-show_entries", "stream=nb_read_frames", "-of", "default=noprint_wrappers=1:nokey=1", "-")
	cmd.Stdin = bytes.NewReader(ts)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("ffprobe: %v", err)
	}
	// The stream is listed once in its program and once on its own.
	first, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	n, err := strconv.Atoi(first)
	if err != nil {
		t.Fatalf("ffprobe counted %q frames", out)
	}
	return n
}

// captureFrom waits until a client has written size bytes to its stdout,
// stops it and returns them.
func captureFrom(t *testing.T, client *peer, size int, what string) []byte {
	t.Helper()
	eventually(t, 40*time.Second, what, func() bool { return client.stdout.Len() >= size || client.exited() })
	client.stop()
	if client.stdout.Len() < size {
		t.Fatalf("%s: the client exited (%v) after %d bytes", what, client.err, client.stdout.Len())
	}
	return client.stdout.Bytes()
}

// TestVLCPullsSRTWithTheAPIsCommand runs the VLC 3 command GET
// /feeds/{id}/srt gives (streamid, passphrase and latency as options: VLC
// 3.0 reads none from the URL, and knows no --srt-streamid) and checks that
// what VLC received carries every track and decodes.
func TestVLCPullsSRTWithTheAPIsCommand(t *testing.T) {
	requireProgram(t, "cvlc", "vlc-bin, vlc-plugin-base, vlc-plugin-access-extra")
	p, f, b := clientFeed(t)
	var d srtClientDetails
	p.mustAPI("GET", "/api/v1/feeds/"+f.ID+"/srt?broadcaster="+b.ID, nil, 200, &d)
	vlc := startVLC(t, append(commandArgs(t, d.Commands.VLC, "vlc"), "--sout", vlcToStdout)...)
	data := captureFrom(t, vlc, 1<<20, "VLC received 1 MB of the feed over SRT")
	// VLC's remuxer lists the streams in an order of its own.
	got := streams(t, data)
	slices.Sort(got)
	if !slices.Equal(got, []string{"audio:aac", "audio:aac", "audio:ac3", "video:h264"}) {
		t.Fatalf("VLC's capture has streams %v", got)
	}
	if n := decodedVideoFrames(t, data); n < 100 {
		t.Fatalf("VLC's capture decodes to %d video frames", n)
	}
	if !strings.Contains(p.logs.String(), "broadcaster=rtv") {
		t.Fatal("the pull is not logged as the broadcaster's")
	}
}

// TestVLCPlaysAFreshHLSFeedFirst has VLC 3 be the first viewer of a feed's
// LL-HLS. gohlslib lists EXT-X-GAP segments, all named gap.mp4, before a
// fresh muxer's first: VLC knows no EXT-X-GAP, loaded gap.mp4, got a 404
// and played nothing ever after. Podium lists only real segments, two at
// least (for GStreamer's hlsdemux2).
func TestVLCPlaysAFreshHLSFeedFirst(t *testing.T) {
	requireProgram(t, "cvlc", "vlc-bin, vlc-plugin-base, vlc-plugin-access-extra")
	p, f, b := clientFeed(t)
	url := p.playback(f.ID, b.APIKey)
	_, master, _ := fetch(t, url)
	media := mediaURIRe.FindStringSubmatch(master)
	if media == nil {
		t.Fatalf("no media playlist in\n%s", master)
	}
	_, pl, _ := fetch(t, resolve(url, media[1]))
	if strings.Contains(pl, "#EXT-X-GAP") || strings.Contains(pl, "gap.mp4") || len(extinfRe.FindAllString(pl, -1)) < 2 {
		t.Fatalf("a fresh muxer's first playlist lists gaps or fewer than two segments:\n%s", pl)
	}
	vlc := startVLC(t, url, "--sout", vlcToStdout)
	data := captureFrom(t, vlc, 1<<20, "VLC received 1 MB of the feed over HLS")
	if got := streams(t, data); !slices.Contains(got, "video:h264") || !slices.Contains(got, "audio:aac") {
		t.Fatalf("VLC's capture has streams %v", got)
	}
	if n := decodedVideoFrames(t, data); n < 100 {
		t.Fatalf("VLC's capture decodes to %d video frames", n)
	}
}

// TestMPVPlaysSRTAndHLS has mpv decode pictures from the feed, written as
// JPEG files by its image output, over SRT with the API's command and over
// LL-HLS as the feed's first viewer.
func TestMPVPlaysSRTAndHLS(t *testing.T) {
	requireProgram(t, "mpv", "mpv")
	p, f, b := clientFeed(t)
	var d srtClientDetails
	p.mustAPI("GET", "/api/v1/feeds/"+f.ID+"/srt?broadcaster="+b.ID, nil, 200, &d)
	srtURL := commandArgs(t, d.Commands.MPV, "mpv")
	for _, tc := range []struct {
		name string
		url  string
	}{
		{"hls", p.playback(f.ID, b.APIKey)},
		{"srt", srtURL[len(srtURL)-1]},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const frames = 25
			dir := t.TempDir()
			mpv := startPeer(t, nil, "mpv", "--no-config", "--really-quiet", "--ao=null", "--vo=image",
				"--vo-image-format=jpg", "--vo-image-outdir="+dir, "--frames="+strconv.Itoa(frames), tc.url)
			eventually(t, 40*time.Second, "mpv ended", mpv.exited)
			if mpv.err != nil {
				t.Fatalf("mpv: %v", mpv.err)
			}
			pictures, _ := filepath.Glob(filepath.Join(dir, "*.jpg"))
			if len(pictures) < frames {
				t.Fatalf("mpv decoded %d pictures, want %d", len(pictures), frames)
			}
			out, err := exec.Command("ffprobe", "-v", "error", "-show_entries", "stream=width,height", "-of", "csv=p=0", pictures[len(pictures)-1]).Output()
			if err != nil || strings.TrimSpace(string(out)) != "1280,720" {
				t.Fatalf("mpv's last picture: %q, %v", out, err)
			}
		})
	}
}

// TestGStreamerPlaybin3PlaysTheHLSFeed plays the feed's LL-HLS with
// GStreamer 1.22's playbin3 (hlsdemux2), as its first viewer, and counts the
// decoded 720p frames reaching the video sink in real time: 10 s of them,
// over segments whose audio parts carry an empty movie fragment, on which
// qtdemux used to stop the pipeline, and from a first playlist that lists
// neither gaps (hlsdemux2 drops a URI listed twice: the gaps, all gap.mp4,
// shifted its segment numbers) nor a single segment (it cannot follow one).
// (playbin, with the older hlsdemux, is not for live fMP4: it stamps a
// fragment with its place in the first playlist it read, not its tfdt, and
// its sinks wait for ever.)
func TestGStreamerPlaybin3PlaysTheHLSFeed(t *testing.T) {
	requireProgram(t, "gst-launch-1.0", "gstreamer1.0-tools, -plugins-good, -plugins-bad, -libav")
	p, f, b := clientFeed(t)
	url := p.playback(f.ID, b.APIKey)
	gst := startPeer(t, nil, "gst-launch-1.0", "-v", "playbin3", "uri="+url,
		"video-sink=fakesink name=video sync=true silent=false", "audio-sink=fakesink sync=true")
	const want = 500 // 10 s at 50 fps
	frames := func() int { return strings.Count(gst.stdout.String(), "GstFakeSink:video: last-message = chain") }
	const patience = 45 * time.Second
	for deadline := time.Now().Add(patience); frames() < want && !gst.exited() && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
	}
	gst.stop()
	if n := frames(); n < want {
		t.Fatalf("playbin3 decoded %d of %d frames within %v (exit: %v)", n, want, patience, gst.err)
	}
	if !strings.Contains(gst.stdout.String(), "width=(int)1280, height=(int)720") {
		t.Fatal("playbin3's video is not 1280x720")
	}
}
