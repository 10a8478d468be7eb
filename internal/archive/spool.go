package archive

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// The spool, when segments go to object storage.
//
// A recorder closes a segment locally as it always has (SEQ.ts.part,
// fsync, rename to SEQ.ts in the archive directory), records its metadata
// in the index's spool table and hands it to the spool: that is all the
// recorder waits for, so a slow or absent store never holds up recording,
// still less live delivery. One uploader, owned by Archive.Run, puts the
// spooled segments into the store in the order they were closed; once an
// object exists, its row moves from the spool table to the index (readers
// see it from then on) and the local file is deleted. So the index never
// names an object that is not there.
//
// The spool is bounded by Config.SpoolMax bytes. While the store is away
// the spool fills; once it holds more than SpoolMax, the archive raises
// the spool-full alert (a WARN log and podium_archive_spool_full) and
// indexes every spooled segment from its local copy, and each new one as
// it closes: the recording stays whole and readable (time-shift and clips
// read the local copy), only no longer bounded by SpoolMax but by the
// disk (archive_min_free stops recording as it always has). The uploader
// goes on in order; an upload of a segment indexed that way deletes only
// its local copy. Nothing recorded is lost while the disk has room.
//
// A restart re-queues every local segment (from the spool table, or
// indexed but still local); objects that no row names (a crash between
// retention's unindexing and its delete) are removed by the reconciler.

// spool is the queue of closed segments waiting for the store, oldest first.
type spool struct {
	max int64

	mu    sync.Mutex
	queue []*spooled
	bytes int64
	full  bool
	wake  chan struct{}
}

// spooled is one segment waiting for upload.
type spooled struct {
	seg  Segment
	path string // the local file
	// indexed: the segment's row is in the index already (the spool was
	// full), so readers find it in the local directory until it is uploaded.
	indexed bool
	// dropped: retention deleted the segment while it waited.
	dropped bool
}

func newSpool(max int64) *spool {
	return &spool{max: max, wake: make(chan struct{}, 1)}
}

// push appends a segment. When that takes the spool over its bound, every
// segment not yet indexed is indexed from its local copy, in order, with
// index (under the spool's lock, so that the uploader never indexes one
// twice); filled reports that the spool has just become full.
func (s *spool) push(item *spooled, index func(*spooled) error) (filled bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.queue = append(s.queue, item)
	s.bytes += item.seg.Size
	select {
	case s.wake <- struct{}{}:
	default:
	}
	if s.max <= 0 || s.bytes <= s.max {
		return false
	}
	filled = !s.full
	s.full = true
	for _, q := range s.queue {
		if q.indexed || q.dropped {
			continue
		}
		if index(q) != nil {
			break // the rest stay spooled, in order, and are indexed once uploaded
		}
		q.indexed = true
	}
	return filled
}

// settle indexes an uploaded segment with index unless it is indexed
// already or was dropped; dropped reports the latter.
func (s *spool) settle(item *spooled, index func(*spooled) error) (dropped bool, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if item.dropped {
		return true, nil
	}
	if !item.indexed {
		if err := index(item); err != nil {
			return false, err
		}
		item.indexed = true
	}
	return false, nil
}

// head returns the oldest segment, nil when the spool is empty.
func (s *spool) head() *spooled {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.queue) == 0 {
		return nil
	}
	return s.queue[0]
}

// pop removes the head, and reports whether the spool has drained from
// full to half its bound (the alert clears with a margin, not at every segment).
func (s *spool) pop() (drained bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	item := s.queue[0]
	s.queue[0] = nil
	s.queue = s.queue[1:]
	s.bytes -= item.seg.Size
	if s.full && s.bytes <= s.max/2 {
		s.full = false
		return true
	}
	return false
}

// drop marks a queued segment deleted by retention; it reports whether the
// segment was queued.
func (s *spool) drop(feedID string, seq int64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, q := range s.queue {
		if q.seg.Feed == feedID && q.seg.Seq == seq {
			q.dropped = true
			return true
		}
	}
	return false
}

// isDropped reads item.dropped under the lock.
func (s *spool) isDropped(item *spooled) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return item.dropped
}

// stats returns the spool's bytes, segments and whether it is full.
func (s *spool) stats() (bytes int64, segments int, full bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.bytes, len(s.queue), s.full
}

// spoolSegment hands a closed, synced local segment to the spool: its
// metadata goes to the spool table first, so that a restart finds it.
func (a *Archive) spoolSegment(ctx context.Context, seg Segment, path string) error {
	if err := a.index.spool(ctx, seg); err != nil {
		return err
	}
	a.enqueue(ctx, &spooled{seg: seg, path: path})
	return nil
}

// enqueue pushes a spooled segment, indexing the waiting segments from
// their local copies when the spool overflows.
func (a *Archive) enqueue(ctx context.Context, item *spooled) {
	filled := a.spool.push(item, func(q *spooled) error { return a.indexSpooled(ctx, q) })
	if filled {
		bytes, n, _ := a.spool.stats()
		a.log.Warn("ALERT archive spool full: object storage is not keeping up; segments are indexed from local disk until they are uploaded",
			"store", a.store.String(), "spool_bytes", bytes, "segments", n, "archive_spool_max", a.spool.max)
	}
}

// indexSpooled moves a spooled segment's row into the index.
func (a *Archive) indexSpooled(ctx context.Context, q *spooled) error {
	if err := a.index.promote(ctx, q.seg.Feed, q.seg.Seq); err != nil {
		a.log.Error("archive: spooled segment not indexed", "feed", q.seg.Feed, "seq", q.seg.Seq, "err", err)
		return err
	}
	a.segmentAdded(q.seg)
	return nil
}

// upload puts spooled segments into the store in order until ctx ends, or
// the spool is empty once draining is closed, retrying the oldest while the
// store fails; and reconciles the store with the index once it answers.
func (a *Archive) upload(ctx context.Context, draining <-chan struct{}) {
	backoff := time.Duration(0)
	reconciled := false
	var lastReconcile time.Time
	failing := false
	for ctx.Err() == nil {
		if !reconciled && time.Since(lastReconcile) > 30*time.Second {
			lastReconcile = time.Now()
			if err := a.reconcileStore(ctx); err != nil {
				if ctx.Err() == nil {
					a.log.Warn("archive: store not reconciled with the index; trying again", "store", a.store.String(), "err", err)
				}
			} else {
				reconciled = true
			}
		}
		item := a.spool.head()
		if item == nil {
			select {
			case <-ctx.Done():
				return
			case <-draining:
				return
			case <-a.spool.wake:
			case <-time.After(30 * time.Second):
			}
			continue
		}
		if backoff > 0 && !sleep(ctx, backoff) {
			return
		}
		err := a.uploadOne(ctx, item)
		if err == nil {
			if failing {
				a.log.Info("archive: object storage is back; uploading the spool", "store", a.store.String())
				failing = false
			}
			backoff = 0
			continue
		}
		if ctx.Err() != nil {
			return
		}
		a.metrics.uploadFailures.Inc()
		if !failing {
			bytes, n, _ := a.spool.stats()
			a.log.Warn("archive: upload failed; segments wait in the spool and are uploaded in order when the store answers",
				"store", a.store.String(), "feed", item.seg.Feed, "seq", item.seg.Seq, "spool_bytes", bytes, "segments", n, "err", err)
			failing = true
		}
		backoff = min(max(2*backoff, 250*time.Millisecond), 5*time.Second)
	}
}

// uploadOne puts the oldest spooled segment into the store, indexes it
// (unless it already is) and deletes its local copy.
func (a *Archive) uploadOne(ctx context.Context, item *spooled) error {
	if !a.spool.isDropped(item) {
		begun := time.Now()
		if err := a.store.Put(ctx, item.seg.Key, item.path); err != nil {
			if !errors.Is(err, fs.ErrNotExist) {
				return err
			}
			// The local file went (retention, or someone's hand): nothing to upload.
			a.log.Error("archive: spooled segment missing locally; lost", "feed", item.seg.Feed, "seq", item.seg.Seq, "key", item.seg.Key)
			a.spool.mu.Lock()
			item.dropped = true
			a.spool.mu.Unlock()
		} else {
			a.metrics.uploads.Inc()
			a.metrics.uploadSeconds.Observe(time.Since(begun).Seconds())
		}
	}
	dropped, err := a.spool.settle(item, func(q *spooled) error { return a.indexSpooled(ctx, q) })
	if err != nil {
		return err
	}
	if dropped {
		// Retention deleted it while it waited or was being uploaded.
		if err := a.store.Delete(ctx, item.seg.Key); err != nil {
			return err
		}
		if err := a.index.unspool(ctx, item.seg.Feed, item.seg.Seq); err != nil {
			return err
		}
	}
	if err := os.Remove(item.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		a.log.Warn("archive: uploaded segment's local copy not deleted", "path", item.path, "err", err)
	}
	removeEmptyDirs(a.cfg.Dir, filepath.Dir(item.path))
	if a.spool.pop() {
		a.log.Info("archive spool has room again", "store", a.store.String())
	}
	return nil
}
