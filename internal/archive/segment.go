package archive

import (
	"errors"
	"time"
)

// PTSClock is the rate of MPEG-TS presentation timestamps.
const PTSClock = 90000

// Errors callers branch on.
var (
	// ErrNoMedia: the archive holds nothing of the feed in the asked range.
	ErrNoMedia = errors.New("no recorded media in that range")
	// ErrNotRecording: the feed is not being recorded, so a time still ahead will never be reached.
	ErrNotRecording = errors.New("feed is not being recorded")
)

// Segment is one closed, indexed archive segment: MPEG-TS, every PID as
// received, starting with the PAT and PMT and then a video access point.
type Segment struct {
	Feed string
	// Seq grows by one per segment of a feed and is never reused.
	Seq int64
	// Start is the wall-clock time of the first access point's arrival;
	// End = Start + Duration.
	Start, End time.Time
	// Duration runs from the first access point's PTS to the next segment's.
	Duration time.Duration
	// PTS is the 90 kHz presentation timestamp of the first access point (33 bits).
	PTS  int64
	Size int64
	// Key names the segment in the archive's SegmentStore
	// (FEED/YYYY/MM/DD/HH/SEQ.ts); Archive.OpenSegment reads it.
	Key string
	// Discontinuity is set when this segment does not follow on from the
	// previous one (a gap in recording, or a publisher's new timeline).
	Discontinuity bool
	// Keyframes lists every access point in the file in order; the first is
	// at Offset PSISize, after the PAT and PMT.
	Keyframes []Keyframe
}

// Keyframe is a video access point in a segment file.
type Keyframe struct {
	// Offset is the byte offset of the access point's first packet in the file.
	Offset int64
	// PTS is its 90 kHz presentation timestamp.
	PTS int64
}

// PSISize is the length of the PAT and PMT packets that open the file.
func (s Segment) PSISize() int64 {
	if len(s.Keyframes) == 0 {
		return 0
	}
	return s.Keyframes[0].Offset
}

// At returns the wall-clock time of a presentation timestamp in the segment.
func (s Segment) At(pts int64) time.Time {
	return s.Start.Add(time.Duration(PTSDiff(pts, s.PTS)) * time.Second / PTSClock)
}

// PTSDiff returns a-b for 33-bit timestamps, taking the shorter way round the wrap.
func PTSDiff(a, b int64) int64 {
	const wrap = 1 << 33
	d := (a - b) % wrap
	if d >= wrap/2 {
		d -= wrap
	} else if d < -wrap/2 {
		d += wrap
	}
	return d
}
