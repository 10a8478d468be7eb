package clips

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/podium-broadcast/podium/internal/archive"
)

// span is the part of the archive a clip reads, in whole transport packets:
// the first segment's PAT and PMT, then everything from the keyframe at or
// before the clip's start up to the first keyframe at or after its end (or
// to the end of the recorded data when no keyframe follows the end).
type span struct {
	// src reads the segments; planSpan leaves it to the caller.
	src    SegmentOpener
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

// gop locates one group of pictures in a segment.
type gop struct {
	key      string
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
	out := span{src: sp.src}
	out.add(best.key, 0, best.psi)
	out.add(best.key, best.off, best.end-best.off)
	return out
}

// fileRange is a byte range of one segment.
type fileRange struct {
	key      string
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
	sp.add(segs[from.seg].Key, 0, segs[from.seg].PSISize())
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
		sp.add(seg.Key, off, stop-off)
		for j, kf := range seg.Keyframes {
			if kf.Offset < off || kf.Offset >= stop {
				continue
			}
			end := stop
			if j+1 < len(seg.Keyframes) {
				end = min(end, seg.Keyframes[j+1].Offset)
			}
			sp.gops = append(sp.gops, gop{key: seg.Key, psi: seg.PSISize(), off: kf.Offset, end: end, at: seg.At(kf.PTS)})
		}
	}
	if last >= 0 {
		sp.duration = kfs[last].at.Sub(from.at)
	} else {
		sp.duration = segs[lastSeg].End.Sub(from.at)
	}
	return sp, nil
}

func (sp *span) add(key string, off, n int64) {
	if n <= 0 {
		return
	}
	sp.ranges = append(sp.ranges, fileRange{key: key, off: off, len: n})
	sp.size += n
}

// end returns the wall-clock time where the span's media ends.
func (sp span) end() time.Time { return sp.first.Add(sp.duration) }

// spanReader reads a span's bytes in order, one segment open at a time.
// It stops with ctx's error once ctx ends, and reports the bytes read so far.
type spanReader struct {
	ctx    context.Context
	src    SegmentOpener
	ranges []fileRange
	obj    archive.Object
	in     *archive.ObjectReader
	left   int64 // bytes of the open range still to read
	key    string
	done   int64
	onRead func(done int64)
}

func newSpanReader(ctx context.Context, sp span, onRead func(done int64)) *spanReader {
	return &spanReader{ctx: ctx, src: sp.src, ranges: sp.ranges, onRead: onRead}
}

func (r *spanReader) Read(p []byte) (int, error) {
	for {
		if err := r.ctx.Err(); err != nil {
			return 0, err
		}
		if r.obj == nil {
			if len(r.ranges) == 0 {
				return 0, io.EOF
			}
			if err := r.open(r.ranges[0]); err != nil {
				return 0, err
			}
			r.ranges = r.ranges[1:]
		}
		if r.left == 0 {
			r.obj.Close()
			r.obj = nil
			continue
		}
		n, err := r.in.Read(p[:min(int64(len(p)), r.left)])
		r.left -= int64(n)
		r.done += int64(n)
		if n > 0 {
			if r.onRead != nil {
				r.onRead(r.done)
			}
			return n, nil
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return 0, fmt.Errorf("segment %s ends %d bytes before its indexed size", r.key, r.left)
		}
		if err != nil {
			return 0, fmt.Errorf("read segment %s: %w", r.key, err)
		}
	}
}

func (r *spanReader) open(fr fileRange) error {
	obj, err := r.src.OpenSegment(r.ctx, fr.key)
	if err != nil {
		return fmt.Errorf("open segment: %w", err)
	}
	if obj.Size() < fr.off+fr.len {
		obj.Close()
		return fmt.Errorf("segment %s ends %d bytes before its indexed size", fr.key, fr.off+fr.len-obj.Size())
	}
	r.obj, r.in, r.left, r.key = obj, archive.NewObjectReader(obj, fr.off, fr.len), fr.len, fr.key
	return nil
}

// Close closes the open segment, if any.
func (r *spanReader) Close() error {
	if r.obj == nil {
		return nil
	}
	err := r.obj.Close()
	r.obj = nil
	return err
}
