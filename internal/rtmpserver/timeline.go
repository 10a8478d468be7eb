package rtmpserver

import "time"

// rtmpWrap is where RTMP timestamps wrap: they count milliseconds in 32
// bits (49.7 days).
const rtmpWrap = 1 << 32

// startTicks is where every publisher's timeline starts, in 90 kHz ticks:
// far enough from zero that the PCR (100 ms before the DTS) and a frame
// stamped a little before the first one are never negative.
const startTicks = 10 * 90_000

// timeline maps a publisher's RTMP timestamps (milliseconds) to the
// transport stream's 90 kHz clock, starting at startTicks. It follows the
// RTMP clock across its 32-bit wrap, so the ticks never step back (the
// transport stream's own 33-bit fields wrap where they are written).
type timeline struct {
	started bool
	origin  int64 // the first timestamp, in milliseconds
	latest  int64 // the latest timestamp seen, unwrapped, in milliseconds
}

// ticks returns the 90 kHz time of an RTMP timestamp.
func (t *timeline) ticks(ts time.Duration) int64 {
	ms := ts.Milliseconds()
	if !t.started {
		t.started, t.origin, t.latest = true, ms, ms
	}
	// The timestamp is taken in the 32-bit period nearest the latest one, so
	// that a wrap moves on and a frame a little late stays before it.
	u := t.latest - t.latest%rtmpWrap + ms%rtmpWrap
	switch {
	case u-t.latest > rtmpWrap/2:
		u -= rtmpWrap
	case t.latest-u > rtmpWrap/2:
		u += rtmpWrap
	}
	t.latest = max(t.latest, u)
	return startTicks + (u-t.origin)*90
}

// offsetTicks converts a composition offset (PTS minus DTS) to 90 kHz.
func offsetTicks(d time.Duration) int64 { return d.Milliseconds() * 90 }
