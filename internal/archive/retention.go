package archive

import (
	"context"
	"time"
)

// applyRetention deletes, feed by feed, the oldest segments beyond the feed's
// age and size limits (its own, or the archive's defaults).
func (a *Archive) applyRetention(ctx context.Context) {
	now := a.now()
	for _, id := range a.feedIDs() {
		st := a.feed(id)
		st.mu.Lock()
		maxAge, maxBytes := st.policy.MaxAge, st.policy.MaxBytes
		st.mu.Unlock()
		if maxAge == 0 {
			maxAge = a.cfg.MaxAge
		}
		if maxBytes == 0 {
			maxBytes = a.cfg.MaxBytes
		}
		if err := a.trimFeed(ctx, id, st, now, maxAge, maxBytes); err != nil {
			a.log.Error("archive retention failed", "feed", id, "err", err)
		}
	}
}

func (a *Archive) trimFeed(ctx context.Context, feedID string, st *feedState, now time.Time, maxAge time.Duration, maxBytes int64) error {
	for {
		st.mu.Lock()
		bytes := st.bytes
		st.mu.Unlock()
		segs, err := a.index.oldest(ctx, feedID, 100)
		if err != nil || len(segs) == 0 {
			return err
		}
		deleted := 0
		for _, s := range segs {
			tooOld := maxAge > 0 && now.Sub(s.End) > maxAge
			tooBig := maxBytes > 0 && bytes > maxBytes
			if !tooOld && !tooBig {
				return nil
			}
			if err := a.deleteSegment(ctx, st, s); err != nil {
				return err
			}
			bytes -= s.Size
			deleted++
		}
		if deleted < len(segs) {
			return nil
		}
	}
}

// deleteSegment unindexes a segment, then deletes it from the store: a
// crash between the two leaves an object without a row, which the next
// start removes, never a row without its object.
func (a *Archive) deleteSegment(ctx context.Context, st *feedState, s Segment) error {
	if err := a.index.remove(ctx, s.Feed, s.Seq); err != nil {
		return err
	}
	st.removeOldest(s)
	a.metrics.segmentsDeleted.Inc()
	if a.spool != nil && a.spool.drop(s.Feed, s.Seq) {
		// Indexed from its local copy while the store was away: the
		// uploader skips it (or deletes the object it is putting).
		if err := a.local.Delete(ctx, s.Key); err != nil {
			return err
		}
	}
	return a.store.Delete(ctx, s.Key)
}
