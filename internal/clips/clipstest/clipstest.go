// Package clipstest cuts a transport stream into archive segments laid out
// as the recorder lays them out (DIR/FEED/YYYY/MM/DD/HH/SEQ.ts, each file the
// PAT and PMT then a video keyframe, at least a minimum duration long), and
// serves them as the clip engine's Source, for tests and benchmarks. It is
// not a recorder: it reads a finished file, not a live hub.
package clipstest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/podium-broadcast/podium/internal/archive"
	"github.com/podium-broadcast/podium/internal/ts"
)

// Split reads the transport stream at src and writes it as segments of at
// least minDuration under dir for the feed; the first keyframe is taken to
// have arrived at start. Packets before the first keyframe are dropped, as a
// recorder joining a stream drops them.
func Split(src, dir, feed string, start time.Time, minDuration time.Duration) ([]archive.Segment, error) {
	in, err := os.Open(src)
	if err != nil {
		return nil, err
	}
	defer in.Close()
	sp := splitter{dir: dir, feed: feed, start: start, min: minDuration * archive.PTSClock / time.Second}
	r := bufio.NewReaderSize(in, 1<<20)
	pkt := make([]byte, ts.PacketSize)
	for {
		if _, err := io.ReadFull(r, pkt); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return nil, fmt.Errorf("read %s: %w", src, err)
		}
		if err := sp.packet(pkt); err != nil {
			return nil, err
		}
	}
	if err := sp.close(); err != nil {
		return nil, err
	}
	if len(sp.segs) == 0 {
		return nil, fmt.Errorf("%s: no video keyframe", src)
	}
	return sp.segs, nil
}

type splitter struct {
	dir, feed string
	start     time.Time
	min       time.Duration // in 90 kHz ticks
	scanner   ts.Scanner
	firstPTS  int64
	// lastPTS (the latest picture), prevPTS and frame (the shortest step
	// between pictures) end the last segment one frame after its last picture.
	lastPTS, prevPTS, frame int64
	out                     *os.File
	w                       *bufio.Writer
	cur                     *archive.Segment
	segs                    []archive.Segment
}

func (sp *splitter) packet(pkt []byte) error {
	rap, err := sp.scanner.Scan(pkt)
	if err != nil {
		return err
	}
	videoPID, _, _ := sp.scanner.VideoPID()
	pts, hasPTS := int64(0), false
	if ts.PID(pkt) == videoPID {
		pts, _, hasPTS = ts.PESTimestamps(pkt)
	}
	if rap == 0 {
		if !hasPTS {
			return fmt.Errorf("keyframe packet without a PTS")
		}
		if sp.cur == nil || archive.PTSDiff(pts, sp.cur.PTS) >= int64(sp.min) {
			if err := sp.next(pts); err != nil {
				return err
			}
		}
		sp.cur.Keyframes = append(sp.cur.Keyframes, archive.Keyframe{Offset: sp.cur.Size, PTS: pts})
	}
	if hasPTS && sp.cur != nil {
		if d := archive.PTSDiff(pts, sp.prevPTS); d > 0 && (sp.frame == 0 || d < sp.frame) {
			sp.frame = d
		}
		sp.prevPTS = pts
		if archive.PTSDiff(pts, sp.lastPTS) > 0 {
			sp.lastPTS = pts
		}
	}
	if sp.cur == nil {
		return nil
	}
	if _, err := sp.w.Write(pkt); err != nil {
		return err
	}
	sp.cur.Size += ts.PacketSize
	return nil
}

// next closes the current segment and opens one starting with the keyframe at pts.
func (sp *splitter) next(pts int64) error {
	if sp.cur == nil {
		sp.firstPTS, sp.lastPTS, sp.prevPTS = pts, pts, pts
	} else {
		sp.cur.Duration = time.Duration(archive.PTSDiff(pts, sp.cur.PTS)) * time.Second / archive.PTSClock
		if err := sp.close(); err != nil {
			return err
		}
	}
	at := sp.start.Add(time.Duration(archive.PTSDiff(pts, sp.firstPTS)) * time.Second / archive.PTSClock)
	seq := int64(len(sp.segs)) + 1
	key := fmt.Sprintf("%s/%s/%d.ts", sp.feed, at.UTC().Format("2006/01/02/15"), seq)
	path := filepath.Join(sp.dir, filepath.FromSlash(key))
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	out, err := os.Create(path)
	if err != nil {
		return err
	}
	sp.out, sp.w = out, bufio.NewWriterSize(out, 1<<20)
	sp.cur = &archive.Segment{Feed: sp.feed, Seq: seq, Start: at, PTS: pts, Key: key}
	psi := sp.scanner.RAPPSI()
	if _, err := sp.w.Write(psi); err != nil {
		return err
	}
	sp.cur.Size = int64(len(psi))
	return nil
}

func (sp *splitter) close() error {
	if sp.cur == nil {
		return nil
	}
	if sp.cur.Duration == 0 {
		sp.cur.Duration = time.Duration(archive.PTSDiff(sp.lastPTS, sp.cur.PTS)+sp.frame) * time.Second / archive.PTSClock
	}
	sp.cur.End = sp.cur.Start.Add(sp.cur.Duration)
	if err := sp.w.Flush(); err != nil {
		return err
	}
	if err := sp.out.Close(); err != nil {
		return err
	}
	sp.segs = append(sp.segs, *sp.cur)
	sp.cur = nil
	return nil
}

// Archive holds segments of feeds in memory and answers as the recorder's
// archive does, reading their bytes from the directory Split wrote them to.
// Segments added later extend the recorded edge, which is how a test plays
// the live edge moving on.
type Archive struct {
	store   archive.LocalStore
	mu      sync.Mutex
	feeds   map[string][]archive.Segment
	stopped map[string]bool
	changed chan struct{} // closed and replaced whenever a feed changes
}

// NewArchive returns an empty archive of segments under dir.
func NewArchive(dir string) *Archive {
	return &Archive{store: archive.LocalStore{Dir: dir}, feeds: map[string][]archive.Segment{}, stopped: map[string]bool{}, changed: make(chan struct{})}
}

// Add appends closed segments to their feeds.
func (a *Archive) Add(segs ...archive.Segment) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, s := range segs {
		a.feeds[s.Feed] = append(a.feeds[s.Feed], s)
	}
	close(a.changed)
	a.changed = make(chan struct{})
}

// Stop marks the feed as no longer recorded: waits for times past its edge fail.
func (a *Archive) Stop(feed string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.stopped[feed] = true
	close(a.changed)
	a.changed = make(chan struct{})
}

// Segments returns the feed's segments overlapping [from, to), in order; a
// zero to means up to the edge.
func (a *Archive) Segments(feed string, from, to time.Time) ([]archive.Segment, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []archive.Segment
	for _, s := range a.feeds[feed] {
		if s.End.After(from) && (to.IsZero() || s.Start.Before(to)) {
			out = append(out, s)
		}
	}
	if len(out) == 0 {
		return nil, archive.ErrNoMedia
	}
	return out, nil
}

// OpenSegment opens a segment by its key.
func (a *Archive) OpenSegment(ctx context.Context, key string) (archive.Object, error) {
	return a.store.Open(ctx, key)
}

// Edge returns the end of the feed's newest segment.
func (a *Archive) Edge(feed string) (time.Time, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.edgeLocked(feed)
}

func (a *Archive) edgeLocked(feed string) (time.Time, bool) {
	segs := a.feeds[feed]
	if len(segs) == 0 {
		return time.Time{}, false
	}
	return segs[len(segs)-1].End, true
}

// WaitRecorded blocks until the feed's edge reaches t, ctx ends, or the feed is stopped.
func (a *Archive) WaitRecorded(ctx context.Context, feed string, t time.Time) error {
	for {
		a.mu.Lock()
		edge, ok := a.edgeLocked(feed)
		stopped, changed := a.stopped[feed], a.changed
		a.mu.Unlock()
		if ok && !edge.Before(t) {
			return nil
		}
		if stopped {
			return archive.ErrNotRecording
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-changed:
		}
	}
}
