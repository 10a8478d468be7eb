package archive

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/podium-broadcast/podium/internal/hub"
	"github.com/podium-broadcast/podium/internal/ts"
)

// recorder writes one feed's stream to segment files for as long as its
// context lasts, following the feed through publishers coming and going.
type recorder struct {
	arch   *Archive
	feedID string
	state  *feedState

	scanner       ts.Scanner
	cur           *segmentFile
	nextSeq       int64
	discontinuity bool
	// prevEnd is the wall-clock end of the last closed segment, to keep
	// contiguous segments' times gapless.
	prevEnd time.Time
	// maxPTS and frame follow the video, to end the last segment of a run.
	maxPTS, lastDTS, frame int64
	psiCC                  [2]byte // continuity of the PAT and PMT as rewritten
	scratch                [ts.PacketSize]byte
	finished               chan *segmentFile
	pending                sync.WaitGroup // closed segments not yet finished
}

// segmentFile is a segment being written: the file is SEQ.ts.part until it is closed.
type segmentFile struct {
	seg  Segment
	path string // the local file once closed
	part string
	file *os.File
	buf  *bufio.Writer
}

// errDiskFull stops recording until there is room again.
var errDiskFull = errors.New("archive disk full")

func (r *recorder) run(ctx context.Context) {
	r.finished = make(chan *segmentFile, 16)
	finisherDone := make(chan struct{})
	go func() {
		defer close(finisherDone)
		for sf := range r.finished {
			r.finish(sf)
		}
	}()
	defer func() {
		close(r.finished)
		<-finisherDone
		r.state.setState(StateOff)
	}()
	r.discontinuity = true
	for ctx.Err() == nil {
		if r.arch.diskFull.Load() {
			r.state.setState(StateDiskFull)
			if !sleep(ctx, time.Second) {
				return
			}
			continue
		}
		f, ok := r.arch.hub.Lookup(r.feedID)
		if !ok || !f.Live() {
			r.state.setState(StateIdle)
			if !sleep(ctx, 250*time.Millisecond) {
				return
			}
			continue
		}
		err := r.follow(ctx, f)
		r.closeSegment(r.endOfRun())
		// Once a run ends, the recording's state and extent include all of it.
		r.pending.Wait()
		r.discontinuity = true
		switch {
		case ctx.Err() != nil:
			return
		case errors.Is(err, errDiskFull):
			r.arch.setDiskFull(true, err)
			r.arch.log.Error("archive disk full: recording stopped, live delivery goes on", "feed", r.feedID, "dir", r.arch.cfg.Dir)
		case errors.Is(err, hub.ErrLagging):
			r.arch.metrics.lagCuts.Inc()
			r.arch.log.Warn("recorder fell behind the live edge and rejoins", "feed", r.feedID)
		case err != nil && !errors.Is(err, hub.ErrFeedOffline) && !errors.Is(err, hub.ErrFeedRemoved) && !errors.Is(err, hub.ErrShutdown):
			r.arch.metrics.writeErrors.Inc()
			r.state.setState(StateError)
			r.arch.log.Error("recording failed; retrying", "feed", r.feedID, "err", err)
			if !sleep(ctx, 5*time.Second) {
				return
			}
		}
	}
}

// follow records from a new hub reader until it ends.
func (r *recorder) follow(ctx context.Context, f *hub.Feed) (err error) {
	reader, err := f.NewInternalReader()
	if err != nil {
		return err
	}
	defer reader.Close(hub.ErrShutdown)
	r.scanner.Reset()
	r.arch.log.Info("recording started", "feed", r.feedID, "next_segment", r.nextSeq)
	r.state.setState(StateRecording)
	started, firstSeq := r.arch.now(), r.nextSeq
	defer func() {
		r.arch.log.Info("recording paused", "feed", r.feedID, "reason", err, "segments", r.nextSeq-firstSeq,
			"duration", r.arch.now().Sub(started).Round(time.Millisecond))
	}()
	chunks := make([][]byte, 0, 64)
	for {
		chunks, err = reader.Next(ctx, chunks[:0])
		now := r.arch.now()
		for _, chunk := range chunks {
			if werr := r.chunk(chunk, now); werr != nil {
				return werr
			}
		}
		if err != nil {
			return err
		}
	}
}

// chunk records whole transport packets, cutting a segment at the first
// access point after the segment duration.
func (r *recorder) chunk(chunk []byte, now time.Time) error {
	rap, err := r.scanner.Scan(chunk)
	if err != nil {
		return nil // the hub only takes framed data; nothing to record
	}
	if rap >= 0 {
		off := rap * ts.PacketSize
		if pts, _, ok := ts.PESTimestamps(chunk[off : off+ts.PacketSize]); ok {
			return r.accessPoint(chunk, off, pts, now)
		}
	}
	if r.cur == nil {
		return nil
	}
	return r.write(chunk)
}

func (r *recorder) accessPoint(chunk []byte, off int, pts int64, now time.Time) error {
	if r.cur != nil {
		elapsed := PTSDiff(pts, r.cur.seg.PTS)
		// A jump in the timestamps, or wall-clock time running away from the
		// media's (the feed paused within its grace period), starts a new
		// timeline.
		jumped := elapsed < 0 || elapsed > int64(10*time.Minute/time.Second)*PTSClock
		drift := now.Sub(r.cur.seg.At(pts))
		if !jumped && drift < time.Second && elapsed < r.arch.segmentPTS() {
			r.cur.seg.Keyframes = append(r.cur.seg.Keyframes, Keyframe{Offset: r.cur.seg.Size + int64(off), PTS: pts})
			return r.write(chunk)
		}
		if err := r.write(chunk[:off]); err != nil {
			return err
		}
		if jumped || drift >= time.Second {
			r.closeSegment(r.cur.seg.PTS + min(max(elapsed, 0), r.arch.segmentPTS()))
			r.discontinuity = true
		} else {
			r.closeSegment(pts)
		}
	}
	if r.arch.diskFull.Load() {
		return errDiskFull
	}
	start := now
	if !r.discontinuity && !r.prevEnd.IsZero() && now.Sub(r.prevEnd).Abs() < time.Second {
		start = r.prevEnd
	}
	if err := r.open(pts, start); err != nil {
		return err
	}
	if err := r.write(r.scanner.RAPPSI()); err != nil {
		return err
	}
	r.cur.seg.Keyframes = append(r.cur.seg.Keyframes, Keyframe{Offset: r.cur.seg.Size, PTS: pts})
	return r.write(chunk[off:])
}

func (r *recorder) open(pts int64, start time.Time) error {
	seq := r.nextSeq
	key := segmentKey(r.feedID, seq, start)
	path, err := r.arch.local.path(key)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return diskError(fmt.Errorf("segment directory: %w", err))
	}
	file, err := os.OpenFile(path+".part", os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return diskError(fmt.Errorf("open segment: %w", err))
	}
	r.nextSeq++
	r.cur = &segmentFile{
		seg:  Segment{Feed: r.feedID, Seq: seq, Start: start, PTS: pts, Key: key, Discontinuity: r.discontinuity},
		path: path, part: path + ".part", file: file, buf: bufio.NewWriterSize(file, 256<<10),
	}
	r.discontinuity, r.maxPTS = false, pts
	return nil
}

// write appends whole packets to the open segment, renumbering the PAT's
// and PMT's continuity counters: each segment repeats them at its start, and
// consecutive segments must still read as one stream.
func (r *recorder) write(data []byte) error {
	pmtPID := r.scanner.Program().PMTPID
	videoPID, _, _ := r.scanner.VideoPID()
	run := 0
	for off := 0; off+ts.PacketSize <= len(data); off += ts.PacketSize {
		pkt := data[off : off+ts.PacketSize]
		pid := ts.PID(pkt)
		if pid == videoPID {
			r.followVideo(pkt)
		}
		psi := -1
		switch pid {
		case 0:
			psi = 0
		case pmtPID:
			psi = 1
		}
		if psi < 0 {
			continue
		}
		if err := r.put(data[run:off]); err != nil {
			return err
		}
		copy(r.scratch[:], pkt)
		if ts.HasPayload(pkt) {
			ts.SetContinuityCounter(r.scratch[:], r.psiCC[psi])
			r.psiCC[psi]++
		}
		if err := r.put(r.scratch[:]); err != nil {
			return err
		}
		run = off + ts.PacketSize
	}
	return r.put(data[run:])
}

func (r *recorder) put(b []byte) error {
	if len(b) == 0 {
		return nil
	}
	n, err := r.cur.buf.Write(b)
	r.cur.seg.Size += int64(n)
	if err != nil {
		return diskError(fmt.Errorf("write segment: %w", err))
	}
	return nil
}

// followVideo notes the video's timestamps, to close the last segment of a run.
func (r *recorder) followVideo(pkt []byte) {
	pts, dts, ok := ts.PESTimestamps(pkt)
	if !ok {
		return
	}
	if d := PTSDiff(dts, r.lastDTS); d > 0 && d < PTSClock {
		r.frame = d
	}
	r.lastDTS = dts
	if PTSDiff(pts, r.maxPTS) > 0 {
		r.maxPTS = pts
	}
}

// endOfRun is the PTS just after the last frame seen.
func (r *recorder) endOfRun() int64 { return r.maxPTS + r.frame }

// closeSegment ends the open segment at endPTS and hands it to the finisher.
func (r *recorder) closeSegment(endPTS int64) {
	sf := r.cur
	if sf == nil {
		return
	}
	r.cur = nil
	sf.seg.Duration = time.Duration(PTSDiff(endPTS, sf.seg.PTS)) * time.Second / PTSClock
	sf.seg.End = sf.seg.Start.Add(sf.seg.Duration)
	r.prevEnd = sf.seg.End
	r.pending.Add(1)
	r.finished <- sf
}

// finish makes a closed segment durable and indexes it; until then it does not exist.
func (r *recorder) finish(sf *segmentFile) {
	defer r.pending.Done()
	a := r.arch
	err := sf.buf.Flush()
	if err == nil {
		err = sf.file.Sync()
	}
	if cerr := sf.file.Close(); err == nil {
		err = cerr
	}
	if err == nil && sf.seg.Duration <= 0 {
		err = fmt.Errorf("segment %s has no duration", sf.seg.Key)
	}
	if err == nil {
		err = os.Rename(sf.part, sf.path)
	}
	if err == nil {
		err = syncDir(filepath.Dir(sf.path))
	}
	if err == nil {
		if a.spool != nil {
			err = a.spoolSegment(context.Background(), sf.seg, sf.path)
		} else {
			err = a.index.add(context.Background(), sf.seg)
		}
		if err != nil {
			os.Remove(sf.path)
		}
	}
	if err != nil {
		os.Remove(sf.part)
		a.metrics.writeErrors.Inc()
		if isNoSpace(err) {
			a.setDiskFull(true, err)
		}
		a.log.Error("archive segment lost", "feed", r.feedID, "seq", sf.seg.Seq, "err", err)
		return
	}
	if a.spool == nil {
		a.segmentAdded(sf.seg)
	}
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

func isNoSpace(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT)
}

// diskError marks a full disk as errDiskFull.
func diskError(err error) error {
	if isNoSpace(err) {
		return fmt.Errorf("%w: %w", errDiskFull, err)
	}
	return err
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
