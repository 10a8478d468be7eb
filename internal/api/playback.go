package api

import (
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/podium-broadcast/podium/internal/catalog"
)

// Playback signs HLS playback URLs.
type Playback interface {
	// URL returns the path, under /hls/, of the multivariant playlist of
	// feedID for broadcasterID ("" for the operator), and when it expires.
	URL(feedID, broadcasterID string) (path string, expires time.Time)
	// ArchiveURL returns the path of the time-shift playlist of feedID from
	// from to to, or following the live edge (start-over) when to is zero.
	ArchiveURL(feedID, broadcasterID string, from, to time.Time) (path string, expires time.Time)
	// BaseURL is the scheme and host to put before the path, such as a CDN's
	// or the server's public address; empty hands out the path alone. The
	// request's Host header is never used: anyone can write it.
	BaseURL() string
}

type playbackJSON struct {
	HLSURL    string  `json:"hls_url"`
	ExpiresAt *string `json:"expires_at"`
}

func (s *server) playback(w http.ResponseWriter, r *http.Request) {
	f, ok := s.pathFeed(w, r)
	if !ok {
		return
	}
	id := f.ID
	if s.Playback == nil {
		writeError(w, apiError(http.StatusServiceUnavailable, "unavailable", "", "HLS delivery is off on this server"))
		return
	}
	path, expires := s.Playback.URL(id, who(r).broadcasterID)
	if q := r.URL.Query(); q.Has("from") || q.Has("to") {
		from, to, err := s.timeShiftRange(r)
		if err != nil {
			writeError(w, err)
			return
		}
		path, expires = s.Playback.ArchiveURL(id, who(r).broadcasterID, from, to)
	}
	base := strings.TrimSuffix(s.Playback.BaseURL(), "/")
	writeJSON(w, http.StatusOK, playbackJSON{HLSURL: base + path, ExpiresAt: formatTime(expires)})
}

// timeShiftRange reads the from and to of a time-shift request: from is
// required; an empty to means start-over, "now" the present.
func (s *server) timeShiftRange(r *http.Request) (from, to time.Time, err *Error) {
	if from, to, err = s.queryRange(r); err != nil {
		return from, to, err
	}
	if from.IsZero() {
		return from, to, badRequest("from", "from is required with to: the start of the time-shift, an RFC 3339 time")
	}
	if !to.IsZero() && !to.After(from) {
		return from, to, badRequest("to", "to must be after from")
	}
	if from.After(s.now()) {
		return from, to, badRequest("from", "from is in the future")
	}
	return from, to, nil
}

type srtCommandsJSON struct {
	FFplay          string `json:"ffplay"`
	FFmpeg          string `json:"ffmpeg"`
	SRTLiveTransmit string `json:"srt_live_transmit"`
	GStreamer       string `json:"gstreamer"`
	VLC             string `json:"vlc"`
	MPV             string `json:"mpv"`
}

type srtDetailsJSON struct {
	Host          string          `json:"host"`
	Port          int             `json:"port"`
	StreamID      string          `json:"streamid"`
	Passphrase    string          `json:"passphrase"`
	URL           string          `json:"url"`
	LatencyMillis int64           `json:"latency_ms"`
	Commands      srtCommandsJSON `json:"commands"`
}

// srtDetails tells a broadcaster how to pull a feed over SRT: its own
// streamid and passphrase, and commands ready to paste. The operator asks on
// a broadcaster's behalf with ?broadcaster=ID.
func (s *server) srtDetails(w http.ResponseWriter, r *http.Request) {
	id := chi.URLParam(r, "id")
	snap := s.Store.Snapshot()
	p := who(r)
	broadcasterID := p.broadcasterID
	if p.admin {
		broadcasterID = r.URL.Query().Get("broadcaster")
		if broadcasterID == "" {
			writeError(w, badRequest("broadcaster", "the operator must name the broadcaster: ?broadcaster=ID"))
			return
		}
	}
	if _, ok := snap.Feed(id); !ok || !s.visibleFeed(r, snap, id) {
		writeError(w, notFound("feed", id))
		return
	}
	b, ok := snap.Broadcaster(broadcasterID)
	if !ok {
		writeError(w, apiError(http.StatusNotFound, "not_found", "broadcaster", "broadcaster %q does not exist", broadcasterID))
		return
	}
	writeJSON(w, http.StatusOK, s.srtDetailsJSON(id, b))
}

func (s *server) srtDetailsJSON(feedID string, b catalog.Broadcaster) srtDetailsJSON {
	host, portText, _ := net.SplitHostPort(s.SRTAddr)
	port, _ := strconv.Atoi(portText)
	streamID := fmt.Sprintf("#!::r=%s,u=%s,m=request", feedID, b.ID)
	latency := s.SRTLatency.Milliseconds()
	// The URL's latency is in milliseconds, as libsrt's URI syntax reads it
	// (srt-live-transmit, GStreamer's srtsrc); ffmpeg's srt option of that
	// name is in microseconds, so the commands of ffmpeg and of the players
	// built on it (ffplay, mpv) carry their own URL.
	url := fmt.Sprintf("srt://%s?streamid=%s&passphrase=%s&latency=%d", net.JoinHostPort(host, portText), streamID, b.SRTPassphrase, latency)
	ffmpegURL := fmt.Sprintf("srt://%s?streamid=%s&passphrase=%s&latency=%d", net.JoinHostPort(host, portText), streamID, b.SRTPassphrase, latency*1000)
	return srtDetailsJSON{
		Host: host, Port: port, StreamID: streamID, Passphrase: b.SRTPassphrase, URL: url, LatencyMillis: latency,
		Commands: srtCommandsJSON{
			FFplay:          fmt.Sprintf("ffplay -fflags nobuffer '%s'", ffmpegURL),
			FFmpeg:          fmt.Sprintf("ffmpeg -i '%s' -map 0 -c copy %s.ts", ffmpegURL, feedID),
			SRTLiveTransmit: fmt.Sprintf("srt-live-transmit '%s' udp://127.0.0.1:5000", url),
			// In a URI, # starts the fragment: GStreamer needs it escaped.
			GStreamer: fmt.Sprintf("gst-launch-1.0 srtsrc uri='%s' ! decodebin ! autovideosink", strings.Replace(url, "streamid=#", "streamid=%23", 1)),
			// VLC 3 reads no SRT parameters from the URL, only from its
			// options: --streamid, --passphrase and --latency (milliseconds).
			VLC: fmt.Sprintf("vlc --streamid='%s' --passphrase=%s --latency=%d srt://%s", streamID, b.SRTPassphrase, latency, net.JoinHostPort(host, portText)),
			MPV: fmt.Sprintf("mpv '%s'", ffmpegURL),
		},
	}
}
