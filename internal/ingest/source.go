package ingest

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/podium-broadcast/podium/internal/ts"
)

// Source roles.
const (
	Primary = "primary"
	Backup  = "backup"
)

// maxGOP bounds the bytes a source keeps from its latest access point; a
// source whose GOP grows beyond it cannot be switched to until its next one.
const maxGOP = 32 << 20

// gopShrinkAfter is how many GOPs in a row must use under half of a
// source's GOP buffer before it is let go and grown again to their size.
const gopShrinkAfter = 8

// Source is one contribution input of a feed, primary or backup. It keeps
// its stream from its latest access point, so that a switch to it starts at
// once with a picture. Write, Detach and the other methods are the same as a
// hub publisher's; Write must be called from one goroutine.
type Source struct {
	feed   *feedSwitch
	role   string
	remote string
	since  time.Time

	// Guarded by feed.mu.
	scanner ts.Scanner
	pending []byte // the start of an incomplete packet
	// unsynced counts the bytes skipped since the last whole packet: a
	// source that never finds sync again is not a transport stream.
	unsynced int
	gop      []byte // packets since the latest access point
	psi      []byte // the PAT and PMT that stood before it
	layout   layout
	hasRAP   bool
	detached bool
	// gopSmall counts the GOPs in a row that used under half of gop's capacity.
	gopSmall int
	// healthySince is when the source last became healthy (monitor only).
	healthySince time.Time

	lastData atomic.Int64 // unix nanoseconds of the last data
	bytesIn  atomic.Uint64

	kickOnce sync.Once
	kicked   chan struct{}
	reasonMu sync.Mutex
	reason   error
}

// Role is "primary" or "backup".
func (s *Source) Role() string { return s.role }

// BytesIn returns the bytes received from the source.
func (s *Source) BytesIn() uint64 { return s.bytesIn.Load() }

// Write takes the next bytes of the source's transport stream, cut anywhere.
// While the source is on air they go out to the feed's readers, rewritten
// onto the feed's continuous output; otherwise they are kept from the latest
// access point, ready for a switch.
func (s *Source) Write(data []byte) error {
	f := s.feed
	now := f.sw.now().UnixNano()
	s.lastData.Store(now)
	s.bytesIn.Add(uint64(len(data)))
	f.mu.Lock()
	defer f.mu.Unlock()
	if s.detached {
		return ErrDetached
	}
	s.pending = append(s.pending, data...)
	if skip := syncOffset(s.pending); skip > 0 {
		n := copy(s.pending, s.pending[skip:])
		s.pending = s.pending[:n]
		f.sw.metrics.skipped.WithLabelValues(f.id, s.role).Add(float64(skip))
		if s.unsynced += skip; s.unsynced > maxUnsynced {
			return fmt.Errorf("%w: no sync byte in %d bytes", ts.ErrNotTS, s.unsynced)
		}
	}
	whole := alignedPackets(s.pending)
	if whole == 0 {
		return nil
	}
	s.unsynced = 0
	chunk := s.pending[:whole]
	rap, err := s.scanner.Scan(chunk)
	if err != nil {
		return err
	}
	s.keep(chunk, rap)
	f.splice.now = now
	var werr error
	switch {
	case f.onAir == s:
		werr = f.send(f.splice.emit(f.hold.push(chunk), f.out[:0]))
	case f.onAir == nil && s.hasRAP && f.eligible(s):
		werr = f.switchTo(s, "first source with a keyframe")
	}
	n := copy(s.pending, s.pending[whole:])
	s.pending = s.pending[:n]
	return werr
}

// maxUnsynced is how much a source may send without a transport packet
// before it is refused as not a transport stream: far more than any resync
// after a cut packet needs.
const maxUnsynced = 64 << 10

// syncByte starts every transport packet.
const syncByte = 0x47

// syncOffset returns how many bytes at the start of p come before its
// transport stream: none when p starts with a sync byte (and, if it is that
// long, so does its second packet); otherwise up to the
// first sync byte that two more follow 188 and 376 bytes later (a source
// that joined mid-packet, an SRT payload cut short), or all but the last
// two packets' worth when there is none yet.
func syncOffset(p []byte) int {
	if len(p) == 0 || p[0] == syncByte && (len(p) <= ts.PacketSize || p[ts.PacketSize] == syncByte) {
		return 0
	}
	for i := 0; i+2*ts.PacketSize < len(p); i++ {
		if p[i] == syncByte && p[i+ts.PacketSize] == syncByte && p[i+2*ts.PacketSize] == syncByte {
			return i
		}
	}
	return max(0, len(p)-2*ts.PacketSize)
}

// alignedPackets returns the bytes of the whole packets at the start of p
// up to the first that lacks its sync byte (which the next Write skips from).
func alignedPackets(p []byte) int {
	if len(p) > 0 && p[0] != syncByte {
		return 0
	}
	whole := len(p) / ts.PacketSize * ts.PacketSize
	for off := ts.PacketSize; off < whole; off += ts.PacketSize {
		if p[off] != syncByte {
			return off
		}
	}
	return whole
}

// keep updates the buffer from the latest access point with chunk, whose
// packet rap (or none, -1) is a new access point.
func (s *Source) keep(chunk []byte, rap int) {
	if rap >= 0 {
		s.fitGOP()
		s.gop = append(s.gop[:0], chunk[rap*ts.PacketSize:]...)
		s.psi = append(s.psi[:0], s.scanner.RAPPSI()...)
		prog := s.scanner.Program()
		s.layout = layout{pmtPID: prog.PMTPID, pcrPID: prog.PCRPID, streams: append(s.layout.streams[:0], s.scanner.Streams()...)}
		s.hasRAP = true
		return
	}
	if !s.hasRAP {
		return
	}
	if len(s.gop)+len(chunk) > maxGOP {
		s.gop, s.hasRAP = nil, false
		return
	}
	s.gop = append(s.gop, chunk...)
}

// fitGOP lets go of a GOP buffer that has stayed more than twice the size
// of gopShrinkAfter GOPs in a row: one long GOP (a keyframe lost in transit,
// an encoder's hiccup) would otherwise keep the buffer at its size, up to
// maxGOP, for the source's life. It is called at an access point, when gop
// holds the GOP that just ended.
func (s *Source) fitGOP() {
	if len(s.gop) >= cap(s.gop)/2 {
		s.gopSmall = 0
		return
	}
	if s.gopSmall++; s.gopSmall >= gopShrinkAfter {
		s.gop, s.gopSmall = nil, 0
	}
}

// Kicked is closed when Podium drops the source (feed deleted, shutdown).
func (s *Source) Kicked() <-chan struct{} { return s.kicked }

// Reason says why the source was kicked.
func (s *Source) Reason() error {
	s.reasonMu.Lock()
	defer s.reasonMu.Unlock()
	return s.reason
}

func (s *Source) kick(reason error) {
	s.kickOnce.Do(func() {
		s.reasonMu.Lock()
		s.reason = reason
		s.reasonMu.Unlock()
		close(s.kicked)
	})
}

// Detach ends the source: if it was on air, the other source takes over at once.
func (s *Source) Detach() { s.feed.detach(s) }

// healthy reports whether the source can go on air at instant now.
func (s *Source) healthy(now time.Time, stall time.Duration) bool {
	return !s.detached && s.hasRAP && now.Sub(time.Unix(0, s.lastData.Load())) < stall
}
