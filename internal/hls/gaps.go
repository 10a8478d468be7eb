package hls

import (
	"bytes"
	"net/http"
	"strconv"
	"strings"
	"sync"
)

// gohlslib pads the media playlists of a fresh LL-HLS muxer with EXT-X-GAP
// segments, all named gap.mp4, before its first real segment (for iOS, it
// says), until real ones push them out of the window (SegmentCount
// segments later, about 13 s). Players that do not know EXT-X-GAP stall on
// them: VLC 3 loads gap.mp4, gets a 404 and plays nothing ever after;
// GStreamer 1.22's hlsdemux2 drops the entries of a URI listed twice, which
// shifts its segment numbers, and waits for ever; ExoPlayer stalls too
// (androidx/media#3105). Podium lists no segment that does not exist: it
// takes the gaps out of the playlist and moves EXT-X-MEDIA-SEQUENCE on to
// the first real segment, whose number is unchanged, so that parts,
// preload hints and blocking reloads (_HLS_msn) keep their meaning.
//
// A delta update (_HLS_skip) counts skipped gaps that the player never had,
// so while a playlist may still hold gaps Podium asks the muxer for the full
// playlist: the gaps are only ever at the start, and once a playlist has
// shown real segments and no gap, none comes back.
//
// Nor does Podium answer with a single segment: GStreamer 1.22's hlsdemux2
// cannot match a playlist update against a previous playlist of one segment
// (its search skips the first), loses sync and stalls. A fresh muxer's first
// playlists wait for minSegments segments.

const gapTag = "#EXT-X-GAP"

// minSegments is the fewest segments a media playlist is served with.
const minSegments = 2

// multivariantPlaylist is the file name of a feed's multivariant playlist.
const multivariantPlaylist = "index.m3u8"

// gapTracker remembers which of a muxer's media playlists are past their gaps.
type gapTracker struct {
	mu      sync.Mutex
	gapless map[string]bool // by playlist file name
}

// past reports whether the playlist file has shown segments and no gap.
func (g *gapTracker) past(file string) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.gapless[file]
}

func (g *gapTracker) markPast(file string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.gapless == nil {
		g.gapless = map[string]bool{}
	}
	g.gapless[file] = true
}

// fullPlaylistRequest is r without _HLS_skip, for a playlist that may hold gaps.
func fullPlaylistRequest(r *http.Request) *http.Request {
	q := r.URL.Query()
	if !q.Has("_HLS_skip") {
		return r
	}
	q.Del("_HLS_skip")
	r = r.Clone(r.Context())
	r.URL.RawQuery = q.Encode()
	return r
}

// listing is what withoutGaps found in a media playlist.
type listing struct {
	firstMSN uint64 // the media sequence number of the first real segment
	segments int    // real segments
	gaps     int
}

// withoutGaps returns a full media playlist without its EXT-X-GAP segments.
func withoutGaps(playlist []byte) ([]byte, listing) {
	lines := strings.SplitAfter(string(playlist), "\n")
	var l listing
	kept := lines[:0:0]
	sequenceLine := -1
	inGap := false
	for _, line := range lines {
		text := strings.TrimRight(line, "\r\n")
		switch {
		case text == gapTag:
			inGap = true
			continue
		case strings.HasPrefix(text, mediaSequenceTag):
			sequenceLine = len(kept)
			l.firstMSN, _ = strconv.ParseUint(strings.TrimPrefix(text, mediaSequenceTag), 10, 64)
		case inGap && (text == "" || strings.HasPrefix(text, "#")):
			continue // the gap's EXTINF
		case text != "" && !strings.HasPrefix(text, "#"): // a segment's URI
			if inGap {
				inGap = false
				l.gaps++
				continue
			}
			l.segments++
		}
		kept = append(kept, line)
	}
	if l.gaps == 0 {
		return playlist, l
	}
	l.firstMSN += uint64(l.gaps)
	if sequenceLine >= 0 {
		text := strings.TrimRight(kept[sequenceLine], "\r\n")
		kept[sequenceLine] = mediaSequenceTag + strconv.FormatUint(l.firstMSN, 10) + kept[sequenceLine][len(text):]
	}
	return []byte(strings.Join(kept, "")), l
}

const mediaSequenceTag = "#EXT-X-MEDIA-SEQUENCE:"

// blockingRequest is r asking for the playlist once part 0 of segment msn
// is out, that is once every segment before msn is complete.
func blockingRequest(r *http.Request, msn uint64) *http.Request {
	q := r.URL.Query()
	q.Set("_HLS_msn", strconv.FormatUint(msn, 10))
	q.Set("_HLS_part", "0")
	r = r.Clone(r.Context())
	r.URL.RawQuery = q.Encode()
	return r
}

// heldResponse holds what the muxer answers, to change it before it goes out.
type heldResponse struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *heldResponse) Header() http.Header         { return r.header }
func (r *heldResponse) WriteHeader(status int)      { r.status = status }
func (r *heldResponse) Write(p []byte) (int, error) { return r.body.Write(p) }

// handleHeld asks the muxer and holds its answer; nil when it answered no
// playlist (it stopped, or the request is not one it serves).
func (m *feedMuxer) handleHeld(r *http.Request) *heldResponse {
	held := &heldResponse{header: http.Header{}, status: http.StatusOK}
	m.muxer.Handle(held, r)
	if held.status != http.StatusOK || held.body.Len() == 0 {
		return nil
	}
	return held
}

// servePlaylist answers a playlist request from the muxer: without gaps,
// and with minSegments segments at least.
func (m *feedMuxer) servePlaylist(w http.ResponseWriter, r *http.Request, file string) {
	if file == multivariantPlaylist || m.gaps.past(file) {
		m.muxer.Handle(w, r)
		return
	}
	r = fullPlaylistRequest(r)
	held := m.handleHeld(r)
	if held == nil {
		m.muxer.Handle(w, r) // the muxer's own answer, an error
		return
	}
	playlist, l := withoutGaps(held.body.Bytes())
	if l.segments > 0 && l.segments < minSegments {
		if held = m.handleHeld(blockingRequest(r, l.firstMSN+minSegments)); held == nil {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		playlist, l = withoutGaps(held.body.Bytes())
	}
	if l.gaps == 0 && l.segments > 0 {
		m.gaps.markPast(file)
	}
	for k, v := range held.header {
		w.Header()[k] = v
	}
	w.WriteHeader(http.StatusOK)
	w.Write(playlist)
}
