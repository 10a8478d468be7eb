// Package clips turns a range of a feed's archive into a clip file: a cut
// at keyframes without re-encoding (copy, to MPEG-TS or MP4, in Go), a
// frame-accurate re-encode (exact) or a 9:16 crop for social media
// (vertical), both with an ffmpeg subprocess, each with a JPEG thumbnail.
// An Engine queues the jobs, runs a few at a time (copies on a worker of
// their own, each broadcaster's jobs in turn with the others'), holds a
// clip whose end is not recorded yet until it is, and reports every job's
// progress through a callback. It does not keep clips' metadata (internal/store does), check
// rights or serve the files (internal/api does).
package clips

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/podium-broadcast/podium/internal/archive"
)

// Modes of cutting.
const (
	// ModeCopy cuts at keyframes without re-encoding: fast, within a GOP.
	ModeCopy = "copy"
	// ModeExact re-encodes the video to cut at the exact frames.
	ModeExact = "exact"
	// ModeVertical is ModeExact cropped to 9:16 for social media.
	ModeVertical = "vertical"
)

// Container formats of clip files.
const (
	FormatMP4 = "mp4"
	FormatTS  = "ts"
)

// Job statuses, as Update reports them.
const (
	StatusQueued  = "queued"
	StatusRunning = "running"
	StatusReady   = "ready"
	StatusFailed  = "failed"
)

// Errors callers branch on.
var (
	// ErrInvalidSpec: the Spec cannot be cut (bad id, mode, format or range).
	ErrInvalidSpec = errors.New("invalid clip")
	// ErrUnknownClip: no job of that clip is queued or running.
	ErrUnknownClip = errors.New("no such clip job")
	// ErrStarted: the clip is already being cut, so its end cannot move.
	ErrStarted = errors.New("clip is already being cut")
	// ErrStopped: the engine's Run has ended.
	ErrStopped = errors.New("clip engine stopped")
)

// Spec is what to cut.
type Spec struct {
	ClipID, FeedID string
	// Start and End bound the clip in wall-clock time. A zero End is open:
	// the job waits for SetEnd.
	Start, End time.Time
	// Mode is ModeCopy (the default), ModeExact or ModeVertical.
	Mode string
	// Format is FormatMP4 (the default) or FormatTS.
	Format string
	// Owner is whose clip it is (a broadcaster id, "" for the operator):
	// owners' jobs are run in turn.
	Owner string
}

// Update reports a job's state. Ready updates carry the file's Path, Size,
// Duration and Thumbnail path; failed ones the Error.
type Update struct {
	ClipID    string
	Status    string // queued|running|ready|failed
	Progress  float64
	Error     string
	Path      string
	Size      int64
	Duration  time.Duration
	Thumbnail string
}

// Config sets up an Engine.
type Config struct {
	// Dir holds the clip files: CLIPID.mp4 or CLIPID.ts, and CLIPID.jpg.
	Dir string
	// Workers is how many clips are cut at once (default 2): exact and
	// vertical clips keep a core busy each. They take copy clips when no
	// exact or vertical clip is waiting.
	Workers int
	// CopyWorkers cut copy clips only (default 1), so that a copy never
	// waits behind re-encodes.
	CopyWorkers int
	// FFmpeg is the ffmpeg binary (default "ffmpeg" on PATH).
	FFmpeg string
}

// Source is the part of the archive the engine reads.
type Source interface {
	// Segments returns the feed's segments overlapping [from, to) in order, or archive.ErrNoMedia.
	Segments(feedID string, from, to time.Time) ([]archive.Segment, error)
	// WaitRecorded blocks until the feed is recorded up to t; archive.ErrNotRecording if it never will be.
	WaitRecorded(ctx context.Context, feedID string, t time.Time) error
	SegmentOpener
}

// SegmentOpener reads archive segments by key.
type SegmentOpener interface {
	// OpenSegment opens the segment key (archive.Segment.Key) for range reads.
	OpenSegment(ctx context.Context, key string) (archive.Object, error)
}

// Engine runs clip jobs. Its methods are safe for concurrent use.
type Engine struct {
	cfg    Config
	src    Source
	update func(Update)
	log    *slog.Logger

	mu      sync.Mutex
	jobs    map[string]*job  // queued and running, by clip id
	ready   [lanes]fairQueue // recorded to their end, waiting for a worker
	runCtx  context.Context  // Run's context; nil before Run
	stopped bool
	// A token when a lane has a job for a worker: wakeAny for the workers
	// that take any job, wakeCopy for the copy workers.
	wakeAny, wakeCopy chan struct{}
	waiters           sync.WaitGroup
}

// job phases.
const (
	phaseNew     = iota // submitted, not yet waited on (before Run, or before its queued update)
	phaseWaiting        // waiting for its end to be set and recorded
	phaseReady          // in Engine.ready
	phaseRunning        // a worker is cutting it
)

type job struct {
	spec      Spec
	phase     int
	announced bool // the queued update has been sent
	canceled  bool
	ctx       context.Context
	cancel    context.CancelFunc
	// interrupt stops the current wait for the recording so a new End is seen.
	interrupt context.CancelFunc
}

// New returns an engine writing clips into cfg.Dir from arch, calling update
// on every change of a job's state: from the engine's goroutines, for
// different clips concurrently, for one clip in order. Jobs run once Run is
// called.
func New(cfg Config, arch Source, update func(Update), log *slog.Logger) *Engine {
	if cfg.Workers <= 0 {
		cfg.Workers = 2
	}
	if cfg.CopyWorkers <= 0 {
		cfg.CopyWorkers = 1
	}
	if cfg.FFmpeg == "" {
		cfg.FFmpeg = "ffmpeg"
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if update == nil {
		update = func(Update) {}
	}
	return &Engine{cfg: cfg, src: arch, update: update, log: log,
		jobs: map[string]*job{}, wakeAny: make(chan struct{}, 1), wakeCopy: make(chan struct{}, 1)}
}

// Run cuts clips with cfg.Workers and cfg.CopyWorkers workers until ctx ends, then stops every
// job (killing ffmpeg) and returns. Jobs stopped this way send no further
// update: whoever keeps them submits them again after a restart. Run
// removes half-written files left by a previous process before it starts.
func (e *Engine) Run(ctx context.Context) error {
	// Clips are the rights holders' content: for Podium's user alone.
	if err := os.MkdirAll(e.cfg.Dir, 0o700); err != nil {
		return fmt.Errorf("clips dir: %w", err)
	}
	e.removeStale()
	e.mu.Lock()
	if e.runCtx != nil {
		e.mu.Unlock()
		return errors.New("clips: Run called twice")
	}
	e.runCtx = ctx
	for _, j := range e.jobs {
		if j.announced {
			e.startLocked(j)
		}
	}
	e.mu.Unlock()

	var workers sync.WaitGroup
	for range e.cfg.Workers {
		workers.Go(func() { e.work(ctx, e.wakeAny, laneEncode, laneCopy) })
	}
	for range e.cfg.CopyWorkers {
		workers.Go(func() { e.work(ctx, e.wakeCopy, laneCopy) })
	}
	<-ctx.Done()
	workers.Wait()
	e.mu.Lock()
	e.stopped = true
	e.mu.Unlock()
	e.waiters.Wait()
	return nil
}

// Submit queues a clip. Mode and Format default to copy and mp4. A clip id
// may be submitted again once its previous job has ended.
func (e *Engine) Submit(s Spec) error {
	s, err := s.normalize()
	if err != nil {
		return err
	}
	j := &job{spec: s}
	e.mu.Lock()
	switch {
	case e.stopped:
		e.mu.Unlock()
		return ErrStopped
	case e.jobs[s.ClipID] != nil:
		e.mu.Unlock()
		return fmt.Errorf("%w: clip %s is already queued", ErrInvalidSpec, s.ClipID)
	}
	e.jobs[s.ClipID] = j
	e.mu.Unlock()

	e.update(Update{ClipID: s.ClipID, Status: StatusQueued})
	e.mu.Lock()
	j.announced = true
	if e.runCtx != nil && !j.canceled && !e.stopped {
		e.startLocked(j)
	}
	e.mu.Unlock()
	return nil
}

// SetEnd sets or moves the end of a clip that is still queued.
func (e *Engine) SetEnd(clipID string, end time.Time) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	j := e.jobs[clipID]
	switch {
	case j == nil:
		return fmt.Errorf("%w: %s", ErrUnknownClip, clipID)
	case j.phase == phaseRunning:
		return fmt.Errorf("%w: %s", ErrStarted, clipID)
	case end.IsZero() || !end.After(j.spec.Start):
		return fmt.Errorf("%w: end %s is not after start %s", ErrInvalidSpec, end.Format(time.RFC3339Nano), j.spec.Start.Format(time.RFC3339Nano))
	}
	j.spec.End = end
	switch j.phase {
	case phaseWaiting:
		if j.interrupt != nil {
			j.interrupt()
		}
	case phaseReady:
		// The new end may not be recorded yet: back to waiting.
		e.ready[laneOf(j.spec)].remove(j)
		j.phase = phaseNew
		if !e.stopped {
			e.startLocked(j)
		}
	}
	return nil
}

// Cancel stops the clip's job if one is queued or running and removes the
// clip's files, finished or not. The job sends no further update, though
// one already on its way may still arrive.
func (e *Engine) Cancel(clipID string) error {
	if !validID(clipID) {
		return fmt.Errorf("%w: clip id %q", ErrInvalidSpec, clipID)
	}
	e.mu.Lock()
	if j := e.jobs[clipID]; j != nil {
		j.canceled = true
		delete(e.jobs, clipID)
		e.ready[laneOf(j.spec)].remove(j)
		if j.cancel != nil {
			j.cancel()
		}
	}
	e.mu.Unlock()
	return e.removeFiles(clipID)
}

// startLocked gives a job its context and a goroutine that waits until its
// end is set and recorded, then hands it to the workers.
func (e *Engine) startLocked(j *job) {
	if j.ctx == nil {
		j.ctx, j.cancel = context.WithCancel(e.runCtx)
	}
	j.phase = phaseWaiting
	e.waiters.Go(func() { e.await(j) })
}

func (e *Engine) await(j *job) {
	for {
		e.mu.Lock()
		end := j.spec.End
		wait, stop := context.WithCancel(j.ctx)
		j.interrupt = stop
		e.mu.Unlock()

		var err error
		if end.IsZero() {
			<-wait.Done() // until SetEnd or the job ends
			err = wait.Err()
		} else {
			err = e.src.WaitRecorded(wait, j.spec.FeedID, end)
		}
		stop()
		if j.ctx.Err() != nil {
			return
		}
		e.mu.Lock()
		moved := !j.spec.End.Equal(end)
		e.mu.Unlock()
		if moved || (err != nil && wait.Err() != nil) {
			continue
		}
		if err != nil && !errors.Is(err, archive.ErrNotRecording) {
			e.fail(j, fmt.Errorf("wait for the recording: %w", err))
			return
		}
		// Recorded to the end, or the feed stopped recording: cut what there is.
		e.enqueue(j)
		return
	}
}

func (e *Engine) enqueue(j *job) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if j.canceled || j.phase != phaseWaiting {
		return
	}
	j.phase = phaseReady
	e.ready[laneOf(j.spec)].push(j)
	e.signalLocked()
}

// signalLocked wakes an idle worker of each kind that has a job waiting.
// A worker woken for a job another took finds nothing and sleeps again.
func (e *Engine) signalLocked() {
	if e.ready[laneCopy].len() > 0 {
		wake(e.wakeCopy)
	}
	if e.ready[laneCopy].len() > 0 || e.ready[laneEncode].len() > 0 {
		wake(e.wakeAny)
	}
}

func wake(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// work runs jobs from the lanes, the first lane first, woken by wakeup.
func (e *Engine) work(ctx context.Context, wakeup <-chan struct{}, lanes ...int) {
	for {
		j := e.next(ctx, wakeup, lanes)
		if j == nil {
			return
		}
		e.runJob(j)
	}
}

// next takes the next ready job of the first lane that has one, waiting
// for one until ctx ends.
func (e *Engine) next(ctx context.Context, wakeup <-chan struct{}, lanes []int) *job {
	for {
		e.mu.Lock()
		for _, l := range lanes {
			if j := e.ready[l].pop(); j != nil {
				j.phase = phaseRunning
				e.signalLocked()
				e.mu.Unlock()
				return j
			}
		}
		e.mu.Unlock()
		select {
		case <-ctx.Done():
			return nil
		case <-wakeup:
		}
	}
}

func (e *Engine) runJob(j *job) {
	s := j.spec
	begun := time.Now()
	e.update(Update{ClipID: s.ClipID, Status: StatusRunning})
	res, err := e.cut(j.ctx, s, e.reporter(s.ClipID))
	if err == nil {
		res, err = e.commit(j, res)
	}
	switch {
	case err == nil:
		e.finish(j)
		e.log.Info("clip ready", "clip", s.ClipID, "feed", s.FeedID, "mode", s.Mode, "format", s.Format,
			"duration", res.Duration, "bytes", res.Size, "took", time.Since(begun).Round(time.Millisecond))
		e.update(res)
	case j.ctx.Err() != nil:
		// Canceled, or the engine is stopping: no update, no files.
		e.finish(j)
		e.removeParts(s.ClipID)
	default:
		e.fail(j, err)
	}
}

// commit renames the finished files into place unless the job was canceled meanwhile.
func (e *Engine) commit(j *job, res Update) (Update, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if j.canceled {
		return res, context.Canceled
	}
	delete(e.jobs, j.spec.ClipID)
	if res.Thumbnail != "" {
		final := strings.TrimSuffix(res.Thumbnail, partSuffix)
		// ffmpeg made the thumbnail with the process's umask.
		if err := os.Chmod(res.Thumbnail, 0o600); err != nil {
			return res, err
		}
		if err := os.Rename(res.Thumbnail, final); err != nil {
			return res, err
		}
		res.Thumbnail = final
	}
	final := strings.TrimSuffix(res.Path, partSuffix)
	if err := os.Rename(res.Path, final); err != nil {
		return res, err
	}
	res.Path = final
	// The renames reach the disk before the clip is reported ready.
	return res, syncDir(e.cfg.Dir)
}

func syncDir(path string) error {
	d, err := os.Open(path)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

func (e *Engine) fail(j *job, err error) {
	e.finish(j)
	e.removeParts(j.spec.ClipID)
	e.log.Warn("clip failed", "clip", j.spec.ClipID, "feed", j.spec.FeedID, "mode", j.spec.Mode, "err", err)
	e.update(Update{ClipID: j.spec.ClipID, Status: StatusFailed, Error: err.Error()})
}

// finish forgets a job that has ended.
func (e *Engine) finish(j *job) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.jobs[j.spec.ClipID] == j {
		delete(e.jobs, j.spec.ClipID)
	}
	if j.cancel != nil {
		j.cancel()
	}
}

// reporter returns a progress callback that sends running updates, at most
// one per percent.
func (e *Engine) reporter(clipID string) func(float64) {
	last := 0.0
	return func(p float64) {
		if p-last < 0.01 || p >= 1 {
			return
		}
		last = p
		e.update(Update{ClipID: clipID, Status: StatusRunning, Progress: p})
	}
}

const partSuffix = ".part"

// cut writes the clip and its thumbnail as .part files and returns the
// ready update naming them.
func (e *Engine) cut(ctx context.Context, s Spec, progress func(float64)) (Update, error) {
	segs, err := e.src.Segments(s.FeedID, s.Start, s.End)
	var sp span
	if err == nil {
		sp, err = planSpan(segs, s.Start, s.End)
		sp.src = e.src
	}
	if errors.Is(err, archive.ErrNoMedia) {
		return Update{}, fmt.Errorf("feed %s has no recorded media between %s and %s",
			s.FeedID, s.Start.UTC().Format(time.RFC3339), endText(s.End))
	}
	if err != nil {
		return Update{}, fmt.Errorf("archive: %w", err)
	}
	path := filepath.Join(e.cfg.Dir, s.ClipID+"."+s.Format+partSuffix)
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR|os.O_TRUNC, 0o600)
	if err != nil {
		return Update{}, err
	}
	defer f.Close()

	thumb := filepath.Join(e.cfg.Dir, s.ClipID+".jpg"+partSuffix)
	dur := sp.duration
	switch {
	case s.Mode != ModeCopy:
		dur, err = e.encode(ctx, sp, s, path, thumb, progress)
	case s.Format == FormatTS:
		err = writeTS(ctx, sp, f, progress)
	default:
		var skipped []string
		dur, skipped, err = writeMP4(ctx, sp, f, progress)
		if len(skipped) > 0 {
			e.log.Warn("clip leaves out data tracks MP4 cannot carry", "clip", s.ClipID, "tracks", strings.Join(skipped, ", "))
		}
	}
	if err == nil {
		err = f.Sync()
	}
	if err != nil {
		if errors.Is(err, archive.ErrNoMedia) {
			return Update{}, fmt.Errorf("feed %s has no recorded media between %s and %s",
				s.FeedID, s.Start.UTC().Format(time.RFC3339), endText(s.End))
		}
		return Update{}, err
	}
	if s.Mode == ModeCopy {
		err = e.thumbnail(ctx, sp.middle(), thumb)
	} else {
		err = thumbnailMade(thumb)
	}
	fi, statErr := os.Stat(path)
	if statErr != nil {
		return Update{}, statErr
	}
	res := Update{ClipID: s.ClipID, Status: StatusReady, Progress: 1, Path: path, Size: fi.Size(), Duration: dur, Thumbnail: thumb}
	if err != nil {
		if ctx.Err() != nil {
			return Update{}, ctx.Err()
		}
		e.log.Warn("clip without thumbnail", "clip", s.ClipID, "err", err)
		res.Thumbnail = ""
	}
	return res, nil
}

func endText(end time.Time) string {
	if end.IsZero() {
		return "now"
	}
	return end.UTC().Format(time.RFC3339)
}

// removeFiles removes every file of the clip, finished or partial.
func (e *Engine) removeFiles(clipID string) error {
	var errs []error
	for _, ext := range []string{FormatMP4, FormatTS, "jpg"} {
		if err := os.Remove(filepath.Join(e.cfg.Dir, clipID+"."+ext)); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	e.removeParts(clipID)
	return errors.Join(errs...)
}

// removeParts removes the clip's half-written files.
func (e *Engine) removeParts(clipID string) {
	for _, ext := range []string{FormatMP4, FormatTS, "jpg"} {
		_ = os.Remove(filepath.Join(e.cfg.Dir, clipID+"."+ext+partSuffix))
	}
}

// removeStale removes the .part files a killed process left behind.
func (e *Engine) removeStale() {
	parts, _ := filepath.Glob(filepath.Join(e.cfg.Dir, "*"+partSuffix))
	for _, p := range parts {
		if err := os.Remove(p); err == nil {
			e.log.Info("removed half-written clip file", "path", p)
		}
	}
}

var idPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$`)

// validID reports whether a clip id is safe as a file name.
func validID(id string) bool { return idPattern.MatchString(id) }

func (s Spec) normalize() (Spec, error) {
	if s.Mode == "" {
		s.Mode = ModeCopy
	}
	if s.Format == "" {
		s.Format = FormatMP4
	}
	switch {
	case !validID(s.ClipID):
		return s, fmt.Errorf("%w: clip id %q (letters, digits, - and _)", ErrInvalidSpec, s.ClipID)
	case s.FeedID == "":
		return s, fmt.Errorf("%w: no feed", ErrInvalidSpec)
	case s.Mode != ModeCopy && s.Mode != ModeExact && s.Mode != ModeVertical:
		return s, fmt.Errorf("%w: mode %q (copy, exact or vertical)", ErrInvalidSpec, s.Mode)
	case s.Format != FormatMP4 && s.Format != FormatTS:
		return s, fmt.Errorf("%w: format %q (mp4 or ts)", ErrInvalidSpec, s.Format)
	case s.Start.IsZero():
		return s, fmt.Errorf("%w: no start", ErrInvalidSpec)
	case !s.End.IsZero() && !s.End.After(s.Start):
		return s, fmt.Errorf("%w: end %s is not after start %s", ErrInvalidSpec,
			s.End.Format(time.RFC3339Nano), s.Start.Format(time.RFC3339Nano))
	}
	return s, nil
}
