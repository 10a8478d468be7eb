package demo

import (
	"fmt"
	"io"
	"strings"
)

// Endpoints are the addresses to print, as broadcasters reach them.
type Endpoints struct {
	API      string // http://host:port
	SRTHost  string
	SRTPort  string
	RTMPHost string
	RTMPPort string
	// Metrics is the URL of /metrics: on API, or on metrics_addr.
	Metrics string
}

// PullURL is the SRT URL a broadcaster pulls a feed with.
func (e Endpoints) PullURL(feed, broadcaster, passphrase string) string {
	return fmt.Sprintf("srt://%s:%s?streamid=#!::r=%s,u=%s,m=request&passphrase=%s", e.SRTHost, e.SRTPort, feed, broadcaster, passphrase)
}

// PublishURL is the SRT URL an encoder publishes a feed with, as its primary or backup source.
func (e Endpoints) PublishURL(feed, role, passphrase string) string {
	return fmt.Sprintf("srt://%s:%s?streamid=#!::r=%s,m=publish,s=%s&passphrase=%s", e.SRTHost, e.SRTPort, feed, role, passphrase)
}

// RTMPServer is the server URL an RTMP encoder (OBS, vMix) is given.
func (e Endpoints) RTMPServer() string {
	return fmt.Sprintf("rtmp://%s:%s/live", e.RTMPHost, e.RTMPPort)
}

// RTMPPublishURL is the URL an RTMP encoder publishes a feed with: the
// server and the stream key FEED?key=PASSPHRASE; the feed's primary or
// backup publish passphrase opens that source.
func (e Endpoints) RTMPPublishURL(feed, passphrase string) string {
	return fmt.Sprintf("%s/%s?key=%s", e.RTMPServer(), feed, passphrase)
}

// GettingStarted writes the block `podium demo` prints at start.
func GettingStarted(w io.Writer, e Endpoints, adminToken string, creds Credentials) {
	var b strings.Builder
	rule := strings.Repeat("─", 78)
	fmt.Fprintf(&b, "\n%s\nPodium demo — a Games with %d looping feeds and %d broadcasters\n%s\n\n", rule, len(creds.Feeds), len(creds.Broadcasters), rule)
	fmt.Fprintf(&b, "  Portal    %s/   (sign in with the admin token or a broadcaster's API key)\n", e.API)
	fmt.Fprintf(&b, "  API       %s/api/v1   (OpenAPI: %s/api/v1/openapi.yaml, metrics: %s)\n", e.API, e.API, e.Metrics)
	fmt.Fprintf(&b, "  SRT       srt://%s:%s   (publish and pull)\n", e.SRTHost, e.SRTPort)
	fmt.Fprintf(&b, "  RTMP      %s   (publish, stream key FEED?key=PUBLISH_PASSPHRASE)\n", e.RTMPServer())
	fmt.Fprintf(&b, "  Admin     %s\n\n", adminToken)
	fmt.Fprintf(&b, "  curl -H 'Authorization: Bearer %s' %s/api/v1/feeds\n\n", adminToken, e.API)
	fmt.Fprintf(&b, "Feeds (publishers are the demo loops; an encoder takes over a feed when the loop is stopped):\n")
	for _, f := range creds.Feeds {
		fmt.Fprintf(&b, "  %-16s %s\n", f.ID, f.Name)
	}
	if len(creds.Feeds) > 0 && creds.Feeds[0].BackupPublishPassphrase != "" {
		f := creds.Feeds[0]
		fmt.Fprintf(&b, "  backup  ffmpeg -re -f lavfi -i testsrc2=size=1280x720:rate=50 -f lavfi -i sine -c:v libx264 -preset veryfast -g 50 -c:a aac -f mpegts '%s'\n", e.PublishURL(f.ID, "backup", f.BackupPublishPassphrase))
		fmt.Fprintf(&b, "          (a backup source of %s; put it on air: POST /api/v1/feeds/%s/switch {\"source\":\"backup\"})\n", f.ID, f.ID)
	}
	if len(creds.Feeds) > 1 && creds.Feeds[1].BackupPublishPassphrase != "" {
		f := creds.Feeds[1]
		fmt.Fprintf(&b, "  rtmp    ffmpeg -re -f lavfi -i testsrc2=size=1280x720:rate=50 -f lavfi -i sine -c:v libx264 -preset veryfast -g 50 -c:a aac -f flv '%s'\n", e.RTMPPublishURL(f.ID, f.BackupPublishPassphrase))
		fmt.Fprintf(&b, "          (an RTMP backup source of %s; in OBS: server %s, stream key %s?key=%s)\n", f.ID, e.RTMPServer(), f.ID, f.BackupPublishPassphrase)
	}
	for _, bc := range creds.Broadcasters {
		fmt.Fprintf(&b, "\nBroadcaster %s (%s) — entitled to %s", bc.ID, bc.Name, strings.Join(bc.Entitled, ", "))
		if len(bc.Later) > 0 {
			fmt.Fprintf(&b, "; later: %s", strings.Join(bc.Later, ", "))
		}
		fmt.Fprintf(&b, "\n  API key         %s\n  SRT passphrase  %s\n", bc.APIKey, bc.SRTPassphrase)
		if len(bc.Entitled) == 0 {
			continue
		}
		feed := bc.Entitled[0]
		url := e.PullURL(feed, bc.ID, bc.SRTPassphrase)
		fmt.Fprintf(&b, "  hls     curl -s -H 'Authorization: Bearer %s' %s/api/v1/feeds/%s/playback   (a signed LL-HLS URL)\n", bc.APIKey, e.API, feed)
		fmt.Fprintf(&b, "  rewind  curl -s -H 'Authorization: Bearer %s' '%s/api/v1/feeds/%s/playback?from=now-60s'   (start-over: the archive from a minute ago)\n", bc.APIKey, e.API, feed)
		fmt.Fprintf(&b, "  clip    podium clips create --server %s --token %s --feed %s --start now-20s --end now-10s --title 'Demo clip' -o %s-clip.mp4\n", e.API, bc.APIKey, feed, feed)
		fmt.Fprintf(&b, "  watch   ffplay -fflags nobuffer '%s'\n", url)
		fmt.Fprintf(&b, "  record  ffmpeg -i '%s' -map 0 -c copy %s.ts\n", url, feed)
		fmt.Fprintf(&b, "  relay   srt-live-transmit '%s' udp://127.0.0.1:5000\n", url)
	}
	b.WriteString("\nQuote SRT URLs in single quotes (\"!\" is history expansion in bash). Ctrl-C stops Podium.\n" + rule + "\n\n")
	io.WriteString(w, b.String())
}
