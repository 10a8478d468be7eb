package main

import (
	"context"
	"os"
	"os/exec"
	"sync/atomic"
	"time"
)

// publisher is an srt-live-transmit caller sending the source to an SRT
// address, fed on its stdin by the bench in real time: chunk seq is due at
// start + seq*interval, whatever happened before, so that the rate holds on
// average even when the bench is briefly starved of CPU.
type publisher struct {
	proc     *child
	src      *source
	session  uint32 // tells its chunks from those of earlier publishers
	interval time.Duration
	start    time.Time
	// maxLate is the worst delay, in nanoseconds, of a chunk behind its due
	// time since the last call to takeMaxLate.
	maxLate atomic.Int64

	stopPacing context.CancelFunc
	paced      chan struct{} // closed when the pacing goroutine has returned
}

// sessions numbers the publishers of a run.
var sessions atomic.Uint32

// pacerTick is how often the publisher wakes to write the chunks due: about
// two chunks at a time at 20 Mbit/s, as an encoder's output would come.
const pacerTick = time.Millisecond

func startPublisher(procs *supervisor, src *source, url string, bitrate int) (*publisher, error) {
	in, feed, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	setPipeSize(feed, 1<<20)
	cmd := exec.Command("srt-live-transmit", "-q", "-a:no", "-chunk:1316", "file://con", url)
	cmd.Stdin = in
	proc, err := procs.start("publisher", cmd)
	in.Close()
	if err != nil {
		feed.Close()
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &publisher{
		proc: proc, src: src, session: sessions.Add(1), start: time.Now(), stopPacing: cancel, paced: make(chan struct{}),
		interval: time.Duration(float64(time.Second) * chunkSize * 8 / float64(bitrate)),
	}
	go func() {
		defer close(p.paced)
		defer feed.Close()
		p.pace(ctx, feed)
	}()
	return p, nil
}

// seqAt returns the chunk due at t.
func (p *publisher) seqAt(t time.Time) uint64 { return uint64(t.Sub(p.start) / p.interval) }

// timeOf returns when chunk seq is due.
func (p *publisher) timeOf(seq uint64) time.Time {
	return p.start.Add(time.Duration(seq) * p.interval)
}

// pace writes the chunks as they fall due until ctx ends or the publisher exits.
func (p *publisher) pace(ctx context.Context, feed *os.File) {
	buf := make([]byte, 0, 256*chunkSize)
	var next uint64
	for ctx.Err() == nil {
		now := time.Now()
		if late := now.Sub(p.timeOf(next)); late > 0 && int64(late) > p.maxLate.Load() {
			p.maxLate.Store(int64(late))
		}
		due := p.seqAt(now) + 1
		for next < due && len(buf)+chunkSize <= cap(buf) {
			buf = p.src.appendChunk(buf, stamp{session: p.session, seq: next})
			next++
		}
		if len(buf) > 0 {
			if _, err := feed.Write(buf); err != nil {
				return
			}
			buf = buf[:0]
		}
		time.Sleep(max(time.Until(p.timeOf(next)), pacerTick))
	}
}

// takeMaxLate returns the worst lateness of a chunk since the last call, and resets it.
func (p *publisher) takeMaxLate() time.Duration { return time.Duration(p.maxLate.Swap(0)) }

// stop ends the publisher: the pacing goroutine, then the process.
func (p *publisher) stop() {
	p.stopPacing()
	p.proc.stop(3 * time.Second)
	<-p.paced
}
