package archive

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// recoverSpool is recover for an archive whose segments go to object
// storage, at Open: the local directory then holds only segments being
// written or waiting for upload. Half-written files are deleted, as are
// closed files that neither the spool table nor the index knows (a crash
// between the rename and the spool row); every other local segment is
// queued again, in order. Spool rows whose file is gone are dropped. The
// store itself is checked later, by the uploader (reconcileStore), so
// that a store that is down does not stop Podium from starting.
func (a *Archive) recoverSpool(ctx context.Context) error {
	lastSeq := map[string]int64{}
	note := func(key string) {
		if feed, seq, ok := parseKey(key); ok {
			lastSeq[feed] = max(lastSeq[feed], seq)
		}
	}
	local := map[string]string{} // key -> path
	err := filepath.WalkDir(a.cfg.Dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(a.cfg.Dir, path)
		if err != nil {
			return err
		}
		key := filepath.ToSlash(rel)
		switch {
		case strings.HasSuffix(key, ".ts.part"):
			a.log.Warn("archive: incomplete segment from an interrupted run deleted", "path", path)
			note(strings.TrimSuffix(key, ".part"))
			if err := os.Remove(path); err != nil {
				return err
			}
			removeEmptyDirs(a.cfg.Dir, filepath.Dir(path))
		case strings.HasSuffix(key, ".ts"):
			local[key] = path
			note(key)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("check archive spool %s: %w", a.cfg.Dir, err)
	}

	rows, err := a.index.spooled(ctx)
	if err != nil {
		return err
	}
	var waiting, indexed []*spooled
	for _, s := range rows {
		note(s.Key)
		path, ok := local[s.Key]
		if info, err := os.Stat(path); !ok || err != nil || info.Size() != s.Size {
			a.log.Error("archive: spooled segment missing or changed on local disk; lost", "feed", s.Feed, "seq", s.Seq, "key", s.Key)
			if err := a.index.unspool(ctx, s.Feed, s.Seq); err != nil {
				return err
			}
			continue
		}
		delete(local, s.Key)
		waiting = append(waiting, &spooled{seg: s, path: path})
	}
	for key, path := range local {
		if feed, seq, ok := parseKey(key); ok {
			if seg, err := a.Segment(feed, seq); err == nil && seg.Key == key {
				// Indexed from its local copy when the spool was full.
				indexed = append(indexed, &spooled{seg: seg, path: path, indexed: true})
				continue
			} else if err != nil && !errors.Is(err, ErrNoMedia) {
				return err
			}
		}
		a.log.Warn("archive: segment neither spooled nor indexed deleted", "path", path)
		if err := os.Remove(path); err != nil {
			return err
		}
		removeEmptyDirs(a.cfg.Dir, filepath.Dir(path))
	}

	totals, err := a.index.totals(ctx)
	if err != nil {
		return err
	}
	for id, t := range totals {
		st := a.feed(id)
		st.segments, st.bytes = t.segments, t.bytes
		st.lastSeq = max(st.lastSeq, t.lastSeq)
		if st.ranges, err = a.index.ranges(ctx, id, RangeGap); err != nil {
			return err
		}
	}
	for id, seq := range lastSeq {
		st := a.feed(id)
		st.lastSeq = max(st.lastSeq, seq)
	}
	// Those indexed first, then those waiting (each in order): a feed's
	// indexed segments always come before its waiting ones.
	byTime := func(x, y *spooled) int {
		return cmp.Or(x.seg.Start.Compare(y.seg.Start), cmp.Compare(x.seg.Feed, y.seg.Feed), cmp.Compare(x.seg.Seq, y.seg.Seq))
	}
	slices.SortFunc(indexed, byTime)
	for _, item := range append(indexed, waiting...) {
		a.enqueue(ctx, item)
	}
	if n := len(indexed) + len(waiting); n > 0 {
		bytes, _, _ := a.spool.stats()
		a.log.Info("archive: segments from an earlier run queued for upload", "segments", n, "bytes", bytes, "store", a.store.String())
	}
	return nil
}

// parseKey reads the feed and number out of a segment key.
func parseKey(key string) (feed string, seq int64, ok bool) {
	feed, _, found := strings.Cut(key, "/")
	if !found {
		return "", 0, false
	}
	seq, err := strconv.ParseInt(strings.TrimSuffix(key[strings.LastIndex(key, "/")+1:], ".ts"), 10, 64)
	return feed, seq, err == nil
}

// reconcileStore makes the store and the index agree, feed by feed, where
// a crash can have left them apart: objects older than a feed's oldest row
// (retention unindexes, then deletes) and, in the feed's newest hours,
// objects no row names are deleted; rows of those hours whose object is
// gone (and that have no local copy) are unindexed. It runs on the
// uploader's goroutine, the only one that creates objects, so an object
// being uploaded is never taken for an orphan.
func (a *Archive) reconcileStore(ctx context.Context) error {
	totals, err := a.index.totals(ctx)
	if err != nil {
		return err
	}
	spooled, err := a.index.spooled(ctx)
	if err != nil {
		return err
	}
	pending := make(map[string]bool, len(spooled))
	for _, s := range spooled {
		pending[s.Key] = true
		if _, ok := totals[s.Feed]; !ok {
			totals[s.Feed] = feedTotals{}
		}
	}
	removed, unindexed := 0, 0
	for feed, t := range totals {
		r, u, err := a.reconcileFeed(ctx, feed, t, pending)
		removed, unindexed = removed+r, unindexed+u
		if err != nil {
			return fmt.Errorf("reconcile %s: %w", feed, err)
		}
	}
	a.log.Info("archive store reconciled with the index", "store", a.store.String(), "orphans_removed", removed, "rows_without_object", unindexed)
	return nil
}

func (a *Archive) reconcileFeed(ctx context.Context, feed string, t feedTotals, pending map[string]bool) (removed, unindexed int, err error) {
	orphan := func(key string) error {
		a.log.Warn("archive: object without an index row deleted", "store", a.store.String(), "key", key)
		removed++
		return a.store.Delete(ctx, key)
	}
	oldest, err := a.index.oldest(ctx, feed, 1)
	if err != nil {
		return 0, 0, err
	}
	err = a.store.List(ctx, feed+"/", func(key string, _ int64) error {
		if len(oldest) > 0 && key >= oldest[0].Key {
			return ErrStopList
		}
		if pending[key] {
			return nil
		}
		return orphan(key)
	})
	if err != nil || len(oldest) == 0 {
		return removed, 0, err
	}

	since := t.end.Add(-2 * time.Hour).Truncate(time.Hour)
	rows, err := a.index.query(ctx, `SELECT `+segmentColumns+` FROM segments WHERE feed_id = ? AND start_ns >= ?`, feed, since.UnixNano())
	if err != nil {
		return removed, 0, err
	}
	indexed := make(map[string]Segment, len(rows))
	for _, s := range rows {
		indexed[s.Key] = s
	}
	stored := map[string]bool{}
	for h := since; !h.After(t.end); h = h.Add(time.Hour) {
		err := a.store.List(ctx, feed+"/"+h.UTC().Format("2006/01/02/15")+"/", func(key string, _ int64) error {
			stored[key] = true
			if _, ok := indexed[key]; ok || pending[key] {
				return nil
			}
			return orphan(key)
		})
		if err != nil {
			return removed, 0, err
		}
	}
	for key, s := range indexed {
		if stored[key] {
			continue
		}
		if path, err := a.local.path(key); err == nil {
			if _, err := os.Stat(path); err == nil {
				continue // indexed from its local copy, waiting for upload
			}
		}
		if obj, err := a.store.Open(ctx, key); err == nil {
			obj.Close() // a listing that lags behind the store
			continue
		} else if !errors.Is(err, fs.ErrNotExist) {
			return removed, unindexed, err
		}
		a.log.Warn("archive: index row without its object unindexed", "feed", s.Feed, "seq", s.Seq, "key", key)
		if err := a.index.remove(ctx, s.Feed, s.Seq); err != nil {
			return removed, unindexed, err
		}
		unindexed++
	}
	if unindexed > 0 {
		return removed, unindexed, a.reloadFeed(ctx, feed)
	}
	return removed, unindexed, nil
}

// reloadFeed reads a feed's figures and ranges from the index again.
func (a *Archive) reloadFeed(ctx context.Context, feed string) error {
	totals, err := a.index.totals(ctx)
	if err != nil {
		return err
	}
	ranges, err := a.index.ranges(ctx, feed, RangeGap)
	if err != nil {
		return err
	}
	st := a.feed(feed)
	st.mu.Lock()
	defer st.mu.Unlock()
	st.segments, st.bytes, st.ranges = totals[feed].segments, totals[feed].bytes, ranges
	return nil
}
