package clips

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/podium-broadcast/podium/internal/archive"
)

// span is the part of the archive a clip reads, in whole transport packets:
// the first segment's PAT and PMT, then everything from the keyframe at or
// before the clip's start up to the first keyframe at or after its end (or
// to the end of the recorded data when no keyframe follows the end).
type span struct {
	ranges []fileRange
	size   int64
	// first is the wall-clock time of the first keyframe, firstPTS its PTS.
	first    time.Time
	firstPTS int64
	// duration runs from the first keyframe to where the span ends.
	duration time.Duration
	// gops are the span's groups of pictures, a keyframe and what follows
	// it up to the next, each readable on its own.
	gops []gop
}

// gop locates one group of pictures in a segment file.
type gop struct {
	path     string
	psi      int64 // the segment's PAT and PMT: bytes [0, psi)
	off, end int64
	at       time.Time
}

// middle returns the bytes of the GOP nearest the middle of the span, with
// its segment's PAT and PMT: enough to decode the keyframe there.
func (sp span) middle() span {
	mid := sp.first.Add(sp.duration / 2)
	best := sp.gops[0]
	for _, g := range sp.gops[1:] {
		if g.at.Sub(mid).Abs() < best.at.Sub(mid).Abs() {
			best = g
		}
	}
	var out span
	out.add(best.path, 0, best.psi)
	out.add(best.path, best.off, best.end-best.off)
	return out
}

// fileRange is a byte range of one segment file.
type fileRange struct {
	path     string
	off, len int64
}

// keyframeRef locates one keyframe of the covering segments.
type keyframeRef struct {
	seg, kf int
	at      time.Time
}

// planSpan chooses the bytes of segs (ordered, as Source.Segments returns
// them) that cover [start, end); a zero end means up to the recorded edge.
func planSpan(segs []archive.Segment, start, end time.Time) (span, error) {
	var kfs []keyframeRef
	for i, seg := range segs {
		for j, kf := range seg.Keyframes {
			kfs = append(kfs, keyframeRef{seg: i, kf: j, at: seg.At(kf.PTS)})
		}
	}
	if len(kfs) == 0 {
		return span{}, archive.ErrNoMedia
	}
	first := 0
	for i, k := range kfs {
		if k.at.After(start) {
			break
		}
		first = i
	}
	if !end.IsZero() && !kfs[first].at.Before(end) {
		return span{}, archive.ErrNoMedia
	}
	last := -1 // the keyframe the span stops before; -1 for the end of the data
	for i := first + 1; i < len(kfs) && !end.IsZero(); i++ {
		if !kfs[i].at.Before(end) {
			last = i
			break
		}
	}

	from := kfs[first]
	sp := span{first: from.at, firstPTS: segs[from.seg].Keyframes[from.kf].PTS}
	sp.add(segs[from.seg].Path, 0, segs[from.seg].PSISize())
	lastSeg := len(segs) - 1
	if last >= 0 {
		lastSeg = kfs[last].seg
	}
	for i := from.seg; i <= lastSeg; i++ {
		seg := segs[i]
		off := seg.PSISize()
		switch {
		case i == from.seg:
			off = seg.Keyframes[from.kf].Offset
		case seg.Discontinuity:
			off = 0 // a new timeline may come with a new PMT
		}
		stop := seg.Size
		if last >= 0 && i == lastSeg {
			stop = seg.Keyframes[kfs[last].kf].Offset
		}
		sp.add(seg.Path, off, stop-off)
		for j, kf := range seg.Keyframes {
			if kf.Offset < off || kf.Offset >= stop {
				continue
			}
			end := stop
			if j+1 < len(seg.Keyframes) {
				end = min(end, seg.Keyframes[j+1].Offset)
			}
			sp.gops = append(sp.gops, gop{path: seg.Path, psi: seg.PSISize(), off: kf.Offset, end: end, at: seg.At(kf.PTS)})
		}
	}
	if last >= 0 {
		sp.duration = kfs[last].at.Sub(from.at)
	} else {
		sp.duration = segs[lastSeg].End.Sub(from.at)
	}
	return sp, nil
}

func (sp *span) add(path string, off, n int64) {
	if n <= 0 {
		return
	}
	sp.ranges = append(sp.ranges, fileRange{path: path, off: off, len: n})
	sp.size += n
}

// end returns the wall-clock time where the span's media ends.
func (sp span) end() time.Time { return sp.first.Add(sp.duration) }

// spanReader reads a span's bytes in order, one segment file open at a time.
// It stops with ctx's error once ctx ends, and reports the bytes read so far.
type spanReader struct {
	ctx    context.Context
	ranges []fileRange
	file   *os.File
	left   int64 // bytes of the open range still to read
	path   string
	done   int64
	onRead func(done int64)
}

func newSpanReader(ctx context.Context, sp span, onRead func(done int64)) *spanReader {
	return &spanReader{ctx: ctx, ranges: sp.ranges, onRead: onRead}
}

func (r *spanReader) Read(p []byte) (int, error) {
	for {
		if err := r.ctx.Err(); err != nil {
			return 0, err
		}
		if r.file == nil {
			if len(r.ranges) == 0 {
				return 0, io.EOF
			}
			if err := r.open(r.ranges[0]); err != nil {
				return 0, err
			}
			r.ranges = r.ranges[1:]
		}
		if r.left == 0 {
			r.file.Close()
			r.file = nil
			continue
		}
		n, err := r.file.Read(p[:min(int64(len(p)), r.left)])
		r.left -= int64(n)
		r.done += int64(n)
		if n > 0 {
			if r.onRead != nil {
				r.onRead(r.done)
			}
			return n, nil
		}
		if err == io.EOF {
			return 0, fmt.Errorf("segment %s ends %d bytes before its indexed size", r.path, r.left)
		}
		if err != nil {
			return 0, fmt.Errorf("read segment %s: %w", r.path, err)
		}
	}
}

func (r *spanReader) open(fr fileRange) error {
	f, err := os.Open(fr.path)
	if err != nil {
		return fmt.Errorf("open segment: %w", err)
	}
	if _, err := f.Seek(fr.off, io.SeekStart); err != nil {
		f.Close()
		return fmt.Errorf("seek segment %s: %w", fr.path, err)
	}
	r.file, r.left, r.path = f, fr.len, fr.path
	return nil
}

// Close closes the open segment file, if any.
func (r *spanReader) Close() error {
	if r.file == nil {
		return nil
	}
	err := r.file.Close()
	r.file = nil
	return err
}
