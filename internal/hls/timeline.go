package hls

// timeline puts a feed's tracks onto the muxer's one timeline. A track whose
// timestamp steps back more than maxBackStep (B-frame reordering stays well
// within it) or forward more than maxForwardStep has met a new timeline, as
// when a new publisher takes over the feed: every track is rebased by one
// shift so that the new timestamps continue the old ones rebaseStep after
// the latest presented, and players keep their URLs and carry on.
//
// The latest presented is a track's highest timestamp, not its last: video
// arrives in decoding order, and a stream cut after a reference frame ends
// on B-frames shown before it. After a rebase, every other track's next
// timestamp is checked once against its own highest and the shift grows if
// it would be behind, so that no track of the new timeline starts before
// the end of the old one (each track's streams end at different points).
type timeline struct {
	shift  int64 // added to every timestamp since the last new timeline
	tracks []*trackTime
}

type trackTime struct {
	tl       *timeline
	last     int64 // the last timestamp out, on the muxer's timeline
	latest   int64 // the highest one out
	started  bool
	settling bool
}

// track adds a track to the timeline.
func (tl *timeline) track() *trackTime {
	t := &trackTime{tl: tl}
	tl.tracks = append(tl.tracks, t)
	return t
}

// place returns the muxer's timestamp for the track's decoded (unwrapped)
// timestamp ts, and whether it started a new timeline: jump is then how far
// ts moved from the track's last timestamp.
func (t *trackTime) place(ts int64) (pts, jump int64, rebased bool) {
	tl := t.tl
	pts = ts + tl.shift
	switch {
	case t.started && (pts < t.last-maxBackStep || pts > t.last+maxForwardStep):
		jump, rebased = pts-t.last, true
		tl.shift += t.latest + rebaseStep - pts
		pts = t.latest + rebaseStep
		for _, o := range tl.tracks {
			o.settling = o != t && o.started
		}
	case t.settling && pts <= t.latest:
		tl.shift += t.latest + rebaseStep - pts
		pts = t.latest + rebaseStep
	}
	t.settling = false
	t.last = pts
	if !t.started || pts > t.latest {
		t.latest = pts
	}
	t.started = true
	return pts, jump, rebased
}
