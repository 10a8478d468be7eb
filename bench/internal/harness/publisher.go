package harness

import (
	"context"
	"os"
	"os/exec"
	"sync/atomic"
	"time"
)

// Publisher is an srt-live-transmit caller sending the source to an SRT
// address, fed on its stdin by the bench in real time: chunk seq is due at
// start + seq*interval, whatever happened before, so that the rate holds on
// average even when the bench is briefly starved of CPU.
type Publisher struct {
	Proc     *Child
	Session  uint32 // tells its chunks from those of other publishers
	Interval time.Duration
	Bitrate  int // bit/s
	Start    time.Time
	src      *Source
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

// StartPublisher starts a publisher sending src to url at bitrate bit/s.
func StartPublisher(procs *Supervisor, src *Source, url string, bitrate int) (*Publisher, error) {
	in, feed, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	SetPipeSize(feed, 1<<20)
	cmd := exec.Command("srt-live-transmit", "-q", "-a:no", "-chunk:1316", "file://con", url)
	cmd.Stdin = in
	proc, err := procs.Start("publisher", cmd)
	in.Close()
	if err != nil {
		feed.Close()
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &Publisher{
		Proc: proc, src: src, Session: sessions.Add(1), Start: time.Now(), stopPacing: cancel, paced: make(chan struct{}), Bitrate: bitrate,
		Interval: time.Duration(float64(time.Second) * ChunkSize * 8 / float64(bitrate)),
	}
	go func() {
		defer close(p.paced)
		defer feed.Close()
		p.pace(ctx, feed)
	}()
	return p, nil
}

// SeqAt returns the chunk due at t.
func (p *Publisher) SeqAt(t time.Time) uint64 { return uint64(t.Sub(p.Start) / p.Interval) }

// TimeOf returns when chunk seq is due.
func (p *Publisher) TimeOf(seq uint64) time.Time {
	return p.Start.Add(time.Duration(seq) * p.Interval)
}

// pace writes the chunks as they fall due until ctx ends or the publisher exits.
func (p *Publisher) pace(ctx context.Context, feed *os.File) {
	buf := make([]byte, 0, 256*ChunkSize)
	var next uint64
	for ctx.Err() == nil {
		now := time.Now()
		if late := now.Sub(p.TimeOf(next)); late > 0 && int64(late) > p.maxLate.Load() {
			p.maxLate.Store(int64(late))
		}
		due := p.SeqAt(now) + 1
		for next < due && len(buf)+ChunkSize <= cap(buf) {
			buf = p.src.AppendChunk(buf, Stamp{Session: p.Session, Seq: next})
			next++
		}
		if len(buf) > 0 {
			if _, err := feed.Write(buf); err != nil {
				return
			}
			buf = buf[:0]
		}
		time.Sleep(max(time.Until(p.TimeOf(next)), pacerTick))
	}
}

// TakeMaxLate returns the worst lateness of a chunk since the last call, and resets it.
func (p *Publisher) TakeMaxLate() time.Duration { return time.Duration(p.maxLate.Swap(0)) }

// Stop ends the publisher: the pacing goroutine, then the process, which
// closes its SRT connection cleanly.
func (p *Publisher) Stop() {
	p.stopPacing()
	p.Proc.Stop(3 * time.Second)
	<-p.paced
}

// Kill ends the process with SIGKILL, as an encoder that crashes or loses
// power: the server sees its data stop, and no SRT shutdown. Then the
// pacing goroutine stops.
func (p *Publisher) Kill() {
	p.Proc.Kill()
	p.stopPacing()
	<-p.paced
}
