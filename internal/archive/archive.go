// Package archive records every live feed to disk and finds it again: a
// recorder per feed reads the hub like any delivery and writes keyframe-aligned
// MPEG-TS segments (every PID, as received) under the archive directory,
// indexed with wall-clock and media time. It applies each feed's retention,
// stops recording (not live delivery) when the disk fills, and answers which
// segments cover a time range, for time-shift and clips. It does not cut
// clips (package clips) nor serve HLS (package hls).
//
// A segment is first written as SEQ.ts.part, then synced, renamed to SEQ.ts
// and indexed: a crash loses at most the segment being written, and Open
// clears what such a crash leaves behind.
package archive

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/podium-broadcast/podium/internal/catalog"
	"github.com/podium-broadcast/podium/internal/hub"
)

// Config shapes the archive.
type Config struct {
	// Dir holds index.db and the segments being written. Closed segments
	// stay there too unless Store is set.
	Dir string
	// Store keeps closed segments; nil keeps them in Dir (LocalStore).
	Store SegmentStore
	// SpoolMax bounds the bytes of closed segments waiting in Dir for
	// Store before they are indexed from their local copies (see spool.go);
	// 0: no bound. Used with a Store only.
	SpoolMax int64
	// SegmentDuration is a segment's least length; segments end on keyframes.
	SegmentDuration time.Duration
	// MaxAge and MaxBytes are the retention of a feed that sets none (0: no limit).
	MaxAge   time.Duration
	MaxBytes int64
	// MinFree is the free space below which recording stops.
	MinFree int64
	// Disabled records nothing; what the archive holds is still served.
	Disabled bool
}

// Recording states of a feed.
const (
	StateOff       = "off"       // recording is switched off for the feed
	StateIdle      = "idle"      // waiting for a publisher
	StateRecording = "recording" // writing segments
	StateDiskFull  = "disk_full" // stopped until there is room
	StateError     = "error"     // a write failed; retrying
)

// Catalog gives the current catalog snapshot.
type Catalog interface {
	Snapshot() *catalog.Snapshot
}

// Archive is the recording of every feed.
type Archive struct {
	cfg   Config
	index *index
	// local is Dir, where segments are written; store is where closed
	// segments are kept (local itself by default).
	local   LocalStore
	store   SegmentStore
	remote  bool   // store is not local
	spool   *spool // segments waiting for the store; nil when it is local
	uploads sync.WaitGroup
	hub     *hub.Hub
	catalog Catalog
	log     *slog.Logger
	metrics *Metrics
	now     func() time.Time

	diskFull  atomic.Bool
	freeBytes atomic.Int64
	changed   chan struct{} // the catalog changed: start or stop recorders

	mu    sync.Mutex
	feeds map[string]*feedState
	// recorded is closed and replaced whenever a segment is indexed.
	recorded chan struct{}
}

// feedState is what the archive knows of one feed.
type feedState struct {
	mu       sync.Mutex
	state    string
	segments int
	bytes    int64
	lastSeq  int64
	// ranges are the stretches of continuous recording, oldest first.
	ranges []Range
	stop   context.CancelFunc // the running recorder's, nil when none
	done   chan struct{}
	policy catalog.RecordingPolicy
}

func (s *feedState) setState(state string) {
	s.mu.Lock()
	s.state = state
	s.mu.Unlock()
}

// Open opens the archive in cfg.Dir, clearing what a crash left behind.
func Open(ctx context.Context, cfg Config, h *hub.Hub, c Catalog, m *Metrics, log *slog.Logger) (*Archive, error) {
	if cfg.SegmentDuration <= 0 {
		return nil, errors.New("archive segment duration must be positive")
	}
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("archive directory: %w", err)
	}
	idx, err := openIndex(ctx, cfg.Dir)
	if err != nil {
		return nil, err
	}
	a := &Archive{cfg: cfg, index: idx, local: LocalStore{Dir: cfg.Dir}, store: cfg.Store, hub: h, catalog: c, log: log, metrics: m, now: time.Now,
		changed: make(chan struct{}, 1), feeds: make(map[string]*feedState), recorded: make(chan struct{})}
	a.remote = a.store != nil
	check := a.recover
	if a.remote {
		a.spool = newSpool(cfg.SpoolMax)
		check = a.recoverSpool
	} else {
		a.store = a.local
	}
	if err := check(ctx); err != nil {
		idx.close()
		return nil, err
	}
	a.checkDisk()
	m.archive = a
	return a, nil
}

// recover makes the files and the index agree where an interrupted run can
// have left them apart: in each feed's two newest hour directories (a
// segment lives in the directory of the hour it starts in and is closed
// seconds later) and the index rows of those hours. Incomplete segments are
// deleted, as are files without an index row and index rows without their
// file. Older hours, closed long before, are taken as they are: checking
// millions of segments would take minutes at every start.
func (a *Archive) recover(ctx context.Context) error {
	totals, err := a.index.totals(ctx)
	if err != nil {
		return err
	}
	feeds := make(map[string]bool, len(totals))
	for id := range totals {
		feeds[id] = true
	}
	entries, err := os.ReadDir(a.cfg.Dir)
	if err != nil {
		return fmt.Errorf("check archive %s: %w", a.cfg.Dir, err)
	}
	for _, e := range entries {
		if e.IsDir() {
			feeds[e.Name()] = true
		}
	}
	for id := range feeds {
		lastSeq, err := a.recoverFeed(ctx, id, totals[id])
		if err != nil {
			return fmt.Errorf("check archive of %s: %w", id, err)
		}
		st := a.feed(id)
		st.lastSeq = max(st.lastSeq, lastSeq)
	}
	if totals, err = a.index.totals(ctx); err != nil {
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
	return nil
}

// recoverFeed checks one feed's newest hours and returns the highest
// segment number it saw, kept or deleted.
func (a *Archive) recoverFeed(ctx context.Context, feedID string, t feedTotals) (int64, error) {
	feedDir := filepath.Join(a.cfg.Dir, feedID)
	var hours []string
	newestLeaves(feedDir, 4, 2, &hours)
	// Without hour directories, check the rows of the last two hours indexed.
	since := t.end.Add(-2 * time.Hour)
	if n := len(hours); n > 0 {
		rel, _ := filepath.Rel(feedDir, hours[n-1])
		if h, err := time.Parse("2006/01/02/15", filepath.ToSlash(rel)); err == nil {
			since = h
		}
	}
	rows, err := a.index.query(ctx, `SELECT `+segmentColumns+` FROM segments WHERE feed_id = ? AND start_ns >= ?`, feedID, since.UnixNano())
	if err != nil {
		return 0, err
	}
	lastSeq := t.lastSeq
	indexed := make(map[string]bool, len(rows))
	for _, s := range rows {
		path, err := a.local.path(s.Key)
		var info os.FileInfo
		if err == nil {
			info, err = os.Stat(path)
		}
		if err != nil || info.Size() != s.Size {
			a.log.Warn("archive segment missing or changed; unindexed", "feed", s.Feed, "seq", s.Seq, "key", s.Key)
			if err := a.index.remove(ctx, s.Feed, s.Seq); err != nil {
				return 0, err
			}
			continue
		}
		indexed[path] = true
	}
	for _, dir := range hours {
		files, err := os.ReadDir(dir)
		if err != nil {
			return 0, err
		}
		for _, f := range files {
			path := filepath.Join(dir, f.Name())
			switch {
			case strings.HasSuffix(path, ".ts.part"):
				a.log.Warn("archive: incomplete segment from an interrupted run deleted", "feed", feedID, "path", path)
			case strings.HasSuffix(path, ".ts") && !indexed[path]:
				a.log.Warn("archive: segment not in the index deleted", "feed", feedID, "path", path)
			default:
				continue
			}
			if seq, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSuffix(f.Name(), ".part"), ".ts"), 10, 64); err == nil {
				lastSeq = max(lastSeq, seq)
			}
			if err := os.Remove(path); err != nil {
				return 0, err
			}
		}
	}
	return lastSeq, nil
}

// newestLeaves appends to out, newest first, up to want directories depth
// levels below dir, ordering each level by name (YYYY/MM/DD/HH sorts by time).
func newestLeaves(dir string, depth, want int, out *[]string) {
	if depth == 0 {
		*out = append(*out, dir)
		return
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for i := len(entries) - 1; i >= 0 && len(*out) < want; i-- {
		if entries[i].IsDir() {
			newestLeaves(filepath.Join(dir, entries[i].Name()), depth-1, want, out)
		}
	}
}

// lookup returns the state of feedID if the archive knows the feed.
func (a *Archive) lookup(feedID string) (*feedState, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	st, ok := a.feeds[feedID]
	return st, ok
}

// feed returns the state of feedID, creating it.
func (a *Archive) feed(feedID string) *feedState {
	a.mu.Lock()
	defer a.mu.Unlock()
	st, ok := a.feeds[feedID]
	if !ok {
		st = &feedState{state: StateOff, lastSeq: -1}
		a.feeds[feedID] = st
	}
	return st
}

func (s *feedState) add(seg Segment) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.segments++
	s.bytes += seg.Size
	s.lastSeq = max(s.lastSeq, seg.Seq)
	if n := len(s.ranges); n > 0 && !seg.Start.Before(s.ranges[n-1].From) && seg.Start.Sub(s.ranges[n-1].To) <= RangeGap {
		s.ranges[n-1].To = later(s.ranges[n-1].To, seg.End)
	} else {
		s.ranges = append(s.ranges, Range{From: seg.Start, To: seg.End})
	}
}

// removeOldest takes the feed's oldest segment, seg, out of its figures.
func (s *feedState) removeOldest(seg Segment) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.segments--
	s.bytes -= seg.Size
	if len(s.ranges) > 0 {
		s.ranges[0].From = later(s.ranges[0].From, seg.End)
		if !s.ranges[0].To.After(s.ranges[0].From) || s.segments == 0 {
			s.ranges = s.ranges[1:]
		}
	}
}

// extent returns the start of the oldest media and the end of the newest,
// zero without any. Called with s.mu held.
func (s *feedState) extent() (first, edge time.Time) {
	for i, r := range s.ranges {
		if i == 0 {
			first = r.From
		}
		edge = later(edge, r.To)
	}
	return first, edge
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// segmentAdded is called by a recorder once a segment is indexed.
func (a *Archive) segmentAdded(seg Segment) {
	a.feed(seg.Feed).add(seg)
	a.metrics.segmentsWritten.Inc()
	a.metrics.bytesWritten.Add(float64(seg.Size))
	a.mu.Lock()
	close(a.recorded)
	a.recorded = make(chan struct{})
	a.mu.Unlock()
}

// CatalogChanged is the store's change hook: recorders follow the catalog.
func (a *Archive) CatalogChanged(*catalog.Snapshot) {
	select {
	case a.changed <- struct{}{}:
	default:
	}
}

// Run records the feeds the catalog says to, uploads closed segments to
// the store, applies retention and watches the disk until ctx ends, then
// stops every recorder and the uploader (which first uploads what it can of
// the spool within spoolDrain; the rest waits for the next start) and
// closes the index.
func (a *Archive) Run(ctx context.Context) {
	a.sync(ctx)
	disk := time.NewTicker(2 * time.Second)
	defer disk.Stop()
	retention := time.NewTicker(30 * time.Second)
	defer retention.Stop()
	live := time.NewTicker(livePoll)
	defer live.Stop()
	a.applyRetention(ctx)
	// The uploader outlives ctx by up to spoolDrain, for the segments the
	// recorders close as they stop.
	uploadCtx, stopUploads := context.WithCancel(context.WithoutCancel(ctx))
	defer stopUploads()
	draining := make(chan struct{})
	if a.spool != nil {
		a.uploads.Go(func() { a.upload(uploadCtx, draining) })
	}
	for {
		select {
		case <-ctx.Done():
			a.stopAll()
			close(draining)
			drained := make(chan struct{})
			go func() { a.uploads.Wait(); close(drained) }()
			select {
			case <-drained:
			case <-time.After(spoolDrain):
				stopUploads()
				<-drained
			}
			a.index.close()
			return
		case <-a.changed:
			a.sync(ctx)
		case <-live.C:
			a.startLive(ctx)
		case <-disk.C:
			a.checkDisk()
		case <-retention.C:
			a.applyRetention(ctx)
		}
	}
}

// spoolDrain is how long a stopping archive goes on uploading its spool;
// what is left is uploaded after the next start.
const spoolDrain = 5 * time.Second

// livePoll is how often the archive looks for feeds that went live with
// no recorder yet: a recording starts within it of a feed's first publisher.
const livePoll = 250 * time.Millisecond

// sync starts a recorder for every live feed that is to be recorded, arms
// the others (a feed that never goes live holds no goroutine), and stops
// the recorders of feeds no longer to be recorded.
func (a *Archive) sync(ctx context.Context) {
	snap := a.catalog.Snapshot()
	want := make(map[string]catalog.RecordingPolicy)
	for _, f := range snap.Feeds() {
		policy := f.Recording
		policy.Enabled = policy.Enabled && !a.cfg.Disabled
		want[f.ID] = policy
	}
	for id, policy := range want {
		st := a.feed(id)
		st.mu.Lock()
		st.policy = policy
		running := st.stop != nil
		st.mu.Unlock()
		switch {
		case policy.Enabled && !running && a.live(id):
			a.start(ctx, id, st)
		case policy.Enabled && !running:
			st.setState(StateIdle)
		case !policy.Enabled && running:
			a.stopRecorder(id, st)
		case !policy.Enabled:
			st.setState(StateOff)
		}
	}
	a.mu.Lock()
	var gone []string
	for id := range a.feeds {
		if _, ok := want[id]; !ok {
			gone = append(gone, id)
		}
	}
	a.mu.Unlock()
	for _, id := range gone {
		a.stopRecorder(id, a.feed(id))
	}
}

// live reports whether the feed has a publisher now.
func (a *Archive) live(feedID string) bool {
	f, ok := a.hub.Lookup(feedID)
	return ok && f.Live()
}

// startLive starts the recorder of every armed feed that has gone live.
// Once started, a recorder follows its feed through publishers coming and
// going until recording is switched off or the feed deleted.
func (a *Archive) startLive(ctx context.Context) {
	for _, f := range a.hub.Feeds() {
		if !f.Live() {
			continue
		}
		a.mu.Lock()
		st := a.feeds[f.ID()]
		a.mu.Unlock()
		if st == nil {
			continue
		}
		st.mu.Lock()
		armed := st.policy.Enabled && st.stop == nil
		st.mu.Unlock()
		if armed {
			a.start(ctx, f.ID(), st)
		}
	}
}

func (a *Archive) start(ctx context.Context, feedID string, st *feedState) {
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	st.mu.Lock()
	st.stop, st.done, st.state = cancel, done, StateIdle
	next := st.lastSeq + 1
	st.mu.Unlock()
	r := &recorder{arch: a, feedID: feedID, state: st, nextSeq: next}
	go func() {
		defer close(done)
		r.run(rctx)
	}()
}

func (a *Archive) stopRecorder(feedID string, st *feedState) {
	st.mu.Lock()
	stop, done := st.stop, st.done
	st.stop, st.done = nil, nil
	st.mu.Unlock()
	if stop == nil {
		return
	}
	stop()
	<-done
	a.log.Info("recording stopped", "feed", feedID)
}

func (a *Archive) stopAll() {
	a.mu.Lock()
	ids := make([]string, 0, len(a.feeds))
	for id := range a.feeds {
		ids = append(ids, id)
	}
	a.mu.Unlock()
	for _, id := range ids {
		a.stopRecorder(id, a.feed(id))
	}
}

// checkDisk measures the free space and raises or clears the disk-full alert.
func (a *Archive) checkDisk() {
	var fs syscall.Statfs_t
	if err := syscall.Statfs(a.cfg.Dir, &fs); err != nil {
		a.log.Error("archive free space unknown", "dir", a.cfg.Dir, "err", err)
		return
	}
	free := int64(fs.Bavail) * int64(fs.Bsize)
	a.freeBytes.Store(free)
	// Recording resumes only with a margin over the floor (1% of the disk),
	// so that it does not stop and start again with every segment.
	floor := a.cfg.MinFree
	if a.diskFull.Load() {
		floor += max(int64(fs.Blocks)*int64(fs.Bsize)/100, 64<<10)
	}
	full := free < floor
	if full != a.diskFull.Load() {
		a.setDiskFull(full, fmt.Errorf("%d bytes free, %d needed", free, a.cfg.MinFree))
	}
}

func (a *Archive) setDiskFull(full bool, why error) {
	if a.diskFull.Swap(full) == full {
		return
	}
	if full {
		a.log.Error("ALERT archive disk full: recording stopped on every feed, live delivery goes on", "dir", a.cfg.Dir, "reason", why)
	} else {
		a.log.Info("archive disk has room again: recording resumes", "dir", a.cfg.Dir, "reason", why)
	}
}

// Segments returns the segments of feedID that overlap [from, to), oldest
// first, or ErrNoMedia.
func (a *Archive) Segments(feedID string, from, to time.Time) ([]Segment, error) {
	segs, err := a.index.overlapping(context.Background(), feedID, from, to)
	if err != nil {
		return nil, err
	}
	if len(segs) == 0 {
		return nil, ErrNoMedia
	}
	return segs, nil
}

// OpenSegment opens the bytes of the segment key (Segment.Key) for range
// reads, wherever they are now:
// in the local directory while a copy is there (not yet uploaded), else in
// the store. A file deleted once open stays readable, so an upload that
// ends meanwhile does not disturb the reader.
func (a *Archive) OpenSegment(ctx context.Context, key string) (Object, error) {
	if a.remote {
		if obj, err := a.local.Open(ctx, key); err == nil {
			return obj, nil
		}
	}
	obj, err := a.store.Open(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("segment %s: %w", key, err)
	}
	return obj, nil
}

// SegmentTimes is Segments without the keyframe lists, for playlists.
func (a *Archive) SegmentTimes(feedID string, from, to time.Time) ([]Segment, error) {
	segs, err := a.index.overlappingTimes(context.Background(), feedID, from, to)
	if err != nil {
		return nil, err
	}
	if len(segs) == 0 {
		return nil, ErrNoMedia
	}
	return segs, nil
}

// Segment returns feedID's segment seq.
func (a *Archive) Segment(feedID string, seq int64) (Segment, error) {
	segs, err := a.index.query(context.Background(), `SELECT `+segmentColumns+` FROM segments WHERE feed_id = ? AND seq = ?`, feedID, seq)
	if err != nil {
		return Segment{}, err
	}
	if len(segs) == 0 {
		return Segment{}, ErrNoMedia
	}
	return segs[0], nil
}

// Edge returns the end of feedID's newest indexed segment.
func (a *Archive) Edge(feedID string) (time.Time, bool) {
	st, ok := a.lookup(feedID)
	if !ok {
		return time.Time{}, false
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	_, edge := st.extent()
	return edge, !edge.IsZero()
}

// Recording reports whether feedID's recorder runs (it may be waiting for a publisher).
func (a *Archive) Recording(feedID string) bool {
	st, ok := a.lookup(feedID)
	if !ok {
		return false
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.stop != nil
}

// WaitRecorded blocks until the archive holds feedID up to t, or until it
// never will: it returns nil once the edge reaches t, or once t is well past
// while the feed has no publisher (a gap); ErrNotRecording if the feed is not
// recorded at all.
func (a *Archive) WaitRecorded(ctx context.Context, feedID string, t time.Time) error {
	for {
		a.mu.Lock()
		wake := a.recorded
		a.mu.Unlock()
		if !a.Recording(feedID) {
			if edge, ok := a.Edge(feedID); ok && !edge.Before(t) {
				return nil
			}
			return ErrNotRecording
		}
		if edge, ok := a.Edge(feedID); ok && !edge.Before(t) {
			return nil
		}
		if st := a.Status(feedID); st.State != StateRecording && a.now().After(t.Add(2*a.cfg.SegmentDuration)) {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-wake:
		case <-time.After(time.Second):
		}
	}
}

// Status is a moment's view of a feed's recording.
type Status struct {
	State    string
	Segments int
	Bytes    int64
	// From and To bound what the archive holds; zero when it holds nothing.
	From, To time.Time
}

// Status returns feedID's recording status.
// A feed the catalog has just been told to record (created, or switched
// on) is idle, as its recorder is about to be: an answer to the change then
// says what the next GET will.
func (a *Archive) Status(feedID string) Status {
	st, ok := a.lookup(feedID)
	if !ok {
		return Status{State: a.pendingState(feedID)}
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	s := Status{State: st.state, Segments: st.segments, Bytes: st.bytes}
	if s.State == StateOff && st.stop == nil {
		s.State = a.pendingState(feedID)
	}
	s.From, s.To = st.extent()
	return s
}

// pendingState is the state of a feed without a recorder: idle when the
// catalog says to record it, off otherwise.
func (a *Archive) pendingState(feedID string) string {
	if f, ok := a.catalog.Snapshot().Feed(feedID); ok && f.Recording.Enabled && !a.cfg.Disabled {
		return StateIdle
	}
	return StateOff
}

// Range is a stretch of continuous recording.
type Range struct{ From, To time.Time }

// RangeGap is the longest hole between two segments that a Range bridges.
const RangeGap = 1500 * time.Millisecond

// Ranges returns the continuous stretches of feedID's recording that
// overlap [from, to), clipped to it. They are kept in memory, so that a
// timeline polled by many viewers costs no index query.
func (a *Archive) Ranges(feedID string, from, to time.Time) []Range {
	st, ok := a.lookup(feedID)
	out := []Range{}
	if !ok {
		return out
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	for _, r := range st.ranges {
		if r.To.After(from) && r.From.Before(to) {
			out = append(out, Range{From: later(r.From, from), To: earlier(r.To, to)})
		}
	}
	return out
}

func earlier(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// FreeBytes is the free space on the archive's disk at the last check.
func (a *Archive) FreeBytes() int64 { return a.freeBytes.Load() }

// DiskFull reports whether recording is stopped for want of space.
func (a *Archive) DiskFull() bool { return a.diskFull.Load() }

// feedIDs lists the feeds the archive knows, sorted.
func (a *Archive) feedIDs() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	ids := make([]string, 0, len(a.feeds))
	for id := range a.feeds {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// segmentPTS is the segment duration in 90 kHz ticks.
func (a *Archive) segmentPTS() int64 {
	return int64(a.cfg.SegmentDuration) * PTSClock / int64(time.Second)
}
