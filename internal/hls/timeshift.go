package hls

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/podium-broadcast/podium/internal/archive"
)

// Archive is the recording that time-shift playback reads.
type Archive interface {
	SegmentTimes(feedID string, from, to time.Time) ([]archive.Segment, error)
	Segment(feedID string, seq int64) (archive.Segment, error)
	// OpenSegment opens a segment's bytes (by its Key) for range reads.
	OpenSegment(ctx context.Context, key string) (archive.Object, error)
}

// Time-shift files under /hls/FEED/TOKEN/: the playlist of a range of the
// archive, and its segments, the archive's own MPEG-TS files.
const (
	archivePlaylist = "archive.m3u8"
	archivePrefix   = "archive-"
)

func isArchiveFile(file string) bool {
	return file == archivePlaylist || strings.HasPrefix(file, archivePrefix) && strings.HasSuffix(file, ".ts")
}

// ArchiveURL returns the path of the time-shift playlist of feedID from
// from, to to (zero: start-over, following the live edge), and when it expires.
func (s *Server) ArchiveURL(feedID, broadcasterID string, from, to time.Time) (string, time.Time) {
	path, expires := s.URL(feedID, broadcasterID)
	path = strings.TrimSuffix(path, "index.m3u8") + archivePlaylist + "?from=" + strconv.FormatInt(from.UnixMilli(), 10)
	if !to.IsZero() {
		path += "&to=" + strconv.FormatInt(to.UnixMilli(), 10)
	}
	return path, expires
}

// serveArchive answers a time-shift request whose token and rights were checked.
func (s *Server) serveArchive(w http.ResponseWriter, r *http.Request, feedID, file string) int {
	if s.cfg.Archive == nil {
		s.refuse(w, "archive", http.StatusNotFound, "time-shift is off on this server (no archive)")
		return 0
	}
	if file == archivePlaylist {
		return s.archivePlaylist(w, r, feedID)
	}
	seq, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimPrefix(file, archivePrefix), ".ts"), 10, 64)
	if err != nil {
		s.refuse(w, "archive", http.StatusNotFound, "no such archive segment")
		return 0
	}
	seg, err := s.cfg.Archive.Segment(feedID, seq)
	if err != nil {
		s.refuse(w, "archive", http.StatusNotFound, "no such archive segment (it may have been deleted by retention)")
		return 0
	}
	obj, err := s.cfg.Archive.OpenSegment(r.Context(), seg.Key)
	if errors.Is(err, fs.ErrNotExist) {
		s.refuse(w, "archive", http.StatusNotFound, "archive segment deleted")
		return 0
	}
	if err != nil {
		s.log.Error("archive segment", "feed", feedID, "key", seg.Key, "err", err)
		s.refuse(w, "archive", http.StatusServiceUnavailable, "archive storage unavailable")
		return 0
	}
	defer obj.Close()
	w.Header().Set("Content-Type", "video/mp2t")
	w.Header().Set("Cache-Control", "max-age=86400, immutable")
	rec := &responseRecorder{ResponseWriter: w}
	// Only the range asked is read from the store, a chunk at a time.
	http.ServeContent(rec, r, "", seg.End, archive.NewObjectReader(obj, 0, obj.Size()))
	s.metrics.requests.WithLabelValues("archive", strconv.Itoa(rec.status)).Inc()
	return rec.bytes
}

// archivePlaylist writes the media playlist of the archive from ?from= to
// ?to= (Unix milliseconds): a VOD playlist when to is given, else an EVENT
// playlist that grows with the recording (start-over).
func (s *Server) archivePlaylist(w http.ResponseWriter, r *http.Request, feedID string) int {
	q := r.URL.Query()
	from, err := unixMillis(q.Get("from"))
	if err != nil {
		s.refuse(w, "playlist", http.StatusBadRequest, "from must be a time in Unix milliseconds")
		return 0
	}
	vod := q.Get("to") != ""
	to := s.now().Add(time.Hour)
	if vod {
		if to, err = unixMillis(q.Get("to")); err != nil || !to.After(from) {
			s.refuse(w, "playlist", http.StatusBadRequest, "to must be a time in Unix milliseconds after from")
			return 0
		}
	}
	segs, err := s.cfg.Archive.SegmentTimes(feedID, from, to)
	if errors.Is(err, archive.ErrNoMedia) {
		s.refuse(w, "playlist", http.StatusNotFound, "nothing of this feed is recorded in that range")
		return 0
	}
	if err != nil {
		s.log.Error("archive playlist", "feed", feedID, "err", err)
		s.refuse(w, "playlist", http.StatusInternalServerError, "archive unavailable")
		return 0
	}
	body := renderArchivePlaylist(segs, from, vod)
	w.Header().Set("Content-Type", "application/vnd.apple.mpegurl")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	n, _ := w.Write(body)
	s.metrics.requests.WithLabelValues("playlist", "200").Inc()
	return n
}

func renderArchivePlaylist(segs []archive.Segment, from time.Time, vod bool) []byte {
	target := 1.0
	for _, seg := range segs {
		target = max(target, math.Ceil(seg.Duration.Seconds()))
	}
	var b strings.Builder
	b.WriteString("#EXTM3U\n#EXT-X-VERSION:6\n")
	fmt.Fprintf(&b, "#EXT-X-TARGETDURATION:%d\n#EXT-X-MEDIA-SEQUENCE:%d\n", int(target), segs[0].Seq)
	if vod {
		b.WriteString("#EXT-X-PLAYLIST-TYPE:VOD\n")
	} else {
		b.WriteString("#EXT-X-PLAYLIST-TYPE:EVENT\n")
	}
	b.WriteString("#EXT-X-INDEPENDENT-SEGMENTS\n")
	if offset := from.Sub(segs[0].Start); offset > 0 {
		fmt.Fprintf(&b, "#EXT-X-START:TIME-OFFSET=%.3f,PRECISE=YES\n", offset.Seconds())
	}
	for i, seg := range segs {
		if i > 0 && (seg.Discontinuity || seg.Seq != segs[i-1].Seq+1) {
			b.WriteString("#EXT-X-DISCONTINUITY\n")
		}
		fmt.Fprintf(&b, "#EXT-X-PROGRAM-DATE-TIME:%s\n#EXTINF:%.3f,\n%s%d.ts\n",
			seg.Start.UTC().Format("2006-01-02T15:04:05.000Z"), seg.Duration.Seconds(), archivePrefix, seg.Seq)
	}
	if vod {
		b.WriteString("#EXT-X-ENDLIST\n")
	}
	return []byte(b.String())
}

func unixMillis(v string) (time.Time, error) {
	ms, err := strconv.ParseInt(v, 10, 64)
	if err != nil || ms < 0 {
		return time.Time{}, errors.New("not Unix milliseconds")
	}
	return time.UnixMilli(ms), nil
}
