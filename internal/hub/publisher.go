package hub

import (
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/podium-broadcast/podium/internal/ts"
)

var errPublisherGone = errors.New("publisher detached from feed")

// arenaSize is the size of the blocks that incoming data is copied into:
// one allocation serves about fifty SRT payloads.
const arenaSize = 64 << 10

// maxChunk is the most a chunk holds: seven transport packets, one SRT live payload.
const maxChunk = 7 * ts.PacketSize

// Publisher is the one writer of a feed. Its methods must be called from one goroutine.
type Publisher struct {
	feed    *Feed
	remote  string
	since   time.Time
	scanner ts.Scanner
	// block holds incoming bytes; block[:start] has been handed to the feed
	// and is never written again, block[start:] waits to make whole packets.
	block   []byte
	start   int
	bytesIn atomic.Uint64

	kickOnce sync.Once
	kicked   chan struct{}
	reason   error
}

// Attach makes a new publisher the feed's writer. It fails with
// ErrPublisherActive while another publisher is attached.
func (f *Feed) Attach(remote string) (*Publisher, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.removed != nil {
		return nil, f.removed
	}
	if f.publisher != nil {
		return nil, ErrPublisherActive
	}
	p := &Publisher{feed: f, remote: remote, since: f.now(), kicked: make(chan struct{})}
	f.publisher = p
	return p, nil
}

// Write takes the next bytes of the publisher's transport stream, cut
// anywhere (SRT payloads are usually 7 whole packets, but a sender may use
// 1456-byte payloads). It hands the feed chunks of at most seven whole
// packets, checking their framing, and wakes the readers; it never waits for
// a reader. An error means the data is not a transport stream (ts.ErrNotTS)
// or the publisher was detached.
func (p *Publisher) Write(data []byte) error {
	for len(data) > 0 {
		if len(p.block) == cap(p.block) {
			p.newBlock()
		}
		n := copy(p.block[len(p.block):cap(p.block)], data)
		p.block = p.block[:len(p.block)+n]
		data = data[n:]
		for len(p.block)-p.start >= ts.PacketSize {
			size := min(len(p.block)-p.start, maxChunk) / ts.PacketSize * ts.PacketSize
			chunk := p.block[p.start : p.start+size : p.start+size]
			if err := p.handOver(chunk); err != nil {
				return err
			}
			p.start += size
		}
	}
	return nil
}

// newBlock moves the incomplete packet at the end of the current block to a new one.
func (p *Publisher) newBlock() {
	pending := p.block[p.start:]
	block := make([]byte, len(pending), arenaSize)
	copy(block, pending)
	p.block, p.start = block, 0
}

func (p *Publisher) handOver(chunk []byte) error {
	rap, err := p.scanner.Scan(chunk)
	if err != nil {
		return err
	}
	offset := -1
	if rap >= 0 {
		offset = rap * ts.PacketSize
	}
	if err := p.feed.append(p, chunk, offset, p.scanner.RAPPSI()); err != nil {
		return err
	}
	p.bytesIn.Add(uint64(len(chunk)))
	p.feed.bytesIn.Add(uint64(len(chunk)))
	return nil
}

// Kicked is closed when the hub disconnects the publisher (feed deleted, shutdown).
func (p *Publisher) Kicked() <-chan struct{} { return p.kicked }

// Reason says why the publisher was kicked.
func (p *Publisher) Reason() error {
	select {
	case <-p.kicked:
		return p.reason
	default:
		return nil
	}
}

func (p *Publisher) kick(reason error) {
	p.kickOnce.Do(func() {
		p.reason = reason
		close(p.kicked)
	})
}

// Detach ends the publisher's session. Readers stay connected for the grace
// period. A reader that joins while the feed is offline waits for the next
// publisher's first keyframe rather than replaying the last one's.
func (p *Publisher) Detach() {
	f := p.feed
	f.mu.Lock()
	if f.publisher == p {
		f.publisher = nil
		f.offlineSince = f.now()
		f.rapValid = false
	}
	f.mu.Unlock()
}

// BytesIn returns the bytes this publisher has written.
func (p *Publisher) BytesIn() uint64 { return p.bytesIn.Load() }
