package hub

import (
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/podium-broadcast/podium/internal/ts"
)

var errPublisherGone = errors.New("publisher detached from feed")

// arenaSize is the size of the blocks that incoming chunks are copied into:
// one allocation serves about fifty SRT payloads.
const arenaSize = 64 << 10

// Publisher is the one writer of a feed. Its methods must be called from one goroutine.
type Publisher struct {
	feed    *Feed
	remote  string
	since   time.Time
	scanner ts.Scanner
	arena   []byte
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

// Write checks that chunk is whole transport packets, copies it into the
// feed and wakes the readers. It never waits for a reader. An error means
// the data was refused (ts.ErrNotTS) or the publisher was detached.
func (p *Publisher) Write(chunk []byte) error {
	rap, err := p.scanner.Scan(chunk)
	if err != nil {
		return err
	}
	if len(p.arena) < len(chunk) {
		p.arena = make([]byte, max(arenaSize, len(chunk)))
	}
	data := p.arena[:len(chunk):len(chunk)]
	p.arena = p.arena[len(chunk):]
	copy(data, chunk)
	offset := -1
	if rap >= 0 {
		offset = rap * ts.PacketSize
	}
	if err := p.feed.append(p, data, offset, p.scanner.RAPPSI()); err != nil {
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

// Detach ends the publisher's session. Readers stay connected for the grace period.
func (p *Publisher) Detach() {
	f := p.feed
	f.mu.Lock()
	if f.publisher == p {
		f.publisher = nil
		f.offlineSince = f.now()
	}
	f.mu.Unlock()
}

// BytesIn returns the bytes this publisher has written.
func (p *Publisher) BytesIn() uint64 { return p.bytesIn.Load() }
