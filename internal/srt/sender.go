package srt

import (
	"time"
)

// The sending side of a connection. Messages are queued by reference; each
// is stamped and numbered when it is first sent, so that a backlog written
// at once (a new receiver's catch-up from the last keyframe) goes out paced
// at a bounded rate with timestamps that say when it really left, and the
// receiver's latency buffer never sees it as late. A sent message is kept
// until the receiver acknowledges it, or until it is too old for the
// receiver to still want it.

// Pacing: new packets go out at most at paceFactor times the input rate,
// and never slower than minPace, in bursts of at most paceBurst.
const (
	paceFactor = 3
	minPace    = 10e6 / 8 // bytes per second
	paceBurst  = 5 * time.Millisecond
	// rateWindow is how long the input rate is measured over, after a first
	// window of firstRateWindow that starts burstSpan after the first write.
	rateWindow      = time.Second
	firstRateWindow = 250 * time.Millisecond
	burstSpan       = 20 * time.Millisecond
	// backlogDrain: whatever the input rate is thought to be, a backlog of
	// unsent packets goes out within about this long. It covers the time
	// before the rate is known (a delivery that opens before its feed's
	// publisher, at 100 Mbit/s, would otherwise be paced at minPace).
	backlogDrain = 500 * time.Millisecond
)

// Send queue bounds: entries (each a reference, not a copy) and how long
// the oldest unsent message may wait.
const (
	minSendRing           = 1024
	maxSendRing           = 1 << 16
	defaultSendQueueDelay = 2 * time.Second
)

// Key refresh (libsrt's SRTO_KMREFRESHRATE and SRTO_KMPREANNOUNCE): a new
// key is announced preAnnounce packets before it is used, and the old one
// retired as long after.
const (
	kmRefreshRate = 1 << 24
	kmPreAnnounce = 1 << 12
)

type sendEntry struct {
	data   []byte
	msgno  uint32
	ts     uint32 // at first transmission
	queued int64  // when written, ns since the connection's start
	first  int64  // first transmission; 0: not yet sent
	last   int64  // last (re)transmission
}

// posRange is a run of positions in the send queue, first to last inclusive.
type posRange struct{ first, last uint64 }

type sender struct {
	ring []sendEntry
	// Positions count messages from the first (sequence number isn):
	// tail is the oldest still kept, next the next to send for the first
	// time, head the next to be written.
	tail, next, head uint64
	unsentBytes      int // of the messages from next to head
	isn              uint32
	msgno            uint32
	flowWindow       uint32 // the most packets in flight the receiver takes
	queueDelay       time.Duration
	rexmit           []posRange

	// Pacing: tokens are bytes that may go out now, refilled at rate bytes per second.
	rate              float64
	tokens            float64
	refilledAt        int64
	inputHint         uint64 // bits per second, from the application
	winOpen, winFirst bool
	winStart          int64
	winBytes          uint64
	measured          float64 // bytes per second over the last full window

	// Encryption: the keys (nil when unencrypted) and the index of the one
	// packets go out with, and the key refresh: packets sent with the
	// current key, the step reached, and key material announced and not
	// yet answered.
	keys      *streamKeys
	txKey     uint8
	keyed     uint64
	kmStep    int
	kmPending []byte
	kmSentAt  int64
}

// Steps of a key refresh.
const (
	kmSteady = iota
	kmAnnounced
	kmSwitched
)

func (s *sender) init(isn, flowWindow uint32, queueDelay time.Duration) {
	s.ring = make([]sendEntry, minSendRing)
	s.isn, s.msgno = isn, 1
	s.flowWindow = max(flowWindow, 32)
	s.queueDelay = queueDelay
	if s.queueDelay <= 0 {
		s.queueDelay = defaultSendQueueDelay
	}
	s.rate = minPace
	s.tokens = minPace * paceBurst.Seconds()
}

func (s *sender) entry(pos uint64) *sendEntry { return &s.ring[pos&uint64(len(s.ring)-1)] }

func (s *sender) seqAt(pos uint64) uint32 { return (s.isn + uint32(pos)) & seqMask }

// queue adds a message.
func (s *sender) queue(p []byte, now int64) error {
	if s.next < s.head && now-s.entry(s.next).queued > int64(s.queueDelay) {
		return ErrSendQueueFull
	}
	if s.head-s.tail == uint64(len(s.ring)) {
		if len(s.ring) == maxSendRing {
			return ErrSendQueueFull
		}
		s.grow()
	}
	e := s.entry(s.head)
	*e = sendEntry{data: p, queued: now}
	s.head++
	s.unsentBytes += len(p)
	s.measure(now, len(p))
	return nil
}

func (s *sender) grow() {
	ring := make([]sendEntry, 2*len(s.ring))
	for pos := s.tail; pos < s.head; pos++ {
		ring[pos&uint64(len(ring)-1)] = *s.entry(pos)
	}
	s.ring = ring
}

// measure keeps the input rate. The first write's burst (a new reader's
// backlog, handed over at once) is left out; the first window is short, so
// that pacing follows a fast feed within a fraction of a second, and later
// ones are rateWindow long.
func (s *sender) measure(now int64, n int) {
	if !s.winOpen {
		s.winOpen, s.winFirst, s.winStart = true, true, now+int64(burstSpan)
	}
	if now < s.winStart {
		return
	}
	window := rateWindow
	if s.winFirst {
		window = firstRateWindow
	}
	if elapsed := now - s.winStart; elapsed >= int64(window) {
		s.measured = float64(s.winBytes) / time.Duration(elapsed).Seconds()
		s.winStart, s.winBytes, s.winFirst = now, 0, false
	}
	s.winBytes += uint64(n)
}

// pace sets the rate new packets go out at from the input rate.
func (s *sender) pace() {
	input := max(float64(s.inputHint)/8, s.measured)
	s.rate = max(paceFactor*input, minPace, float64(s.unsentBytes)/backlogDrain.Seconds())
}

// collect moves what may be sent now into wb (retransmissions first, then
// new packets, within the pacing and the receiver's flow window) and
// returns how many. Called with the connection's lock held.
func (s *sender) collect(now int64, rtt, peerLatency time.Duration, wb *writeBatch, st *Stats) int {
	s.pace()
	if elapsed := now - s.refilledAt; elapsed > 0 {
		s.tokens = min(s.tokens+s.rate*time.Duration(elapsed).Seconds(), s.rate*paceBurst.Seconds()+2*maxPayload)
		s.refilledAt = now
	}
	// A packet retransmitted less than this long ago is not sent again: the
	// receiver asked before the last copy could reach it.
	suppress := int64(max(rtt/2, time.Millisecond))
	for len(s.rexmit) > 0 && !wb.full() && s.tokens > 0 {
		r := &s.rexmit[0]
		if r.first < s.tail {
			r.first = s.tail
		}
		for ; r.first <= r.last && r.first < s.next && !wb.full() && s.tokens > 0; r.first++ {
			e := s.entry(r.first)
			if now-e.last < suppress {
				continue
			}
			e.last = now
			s.add(wb, r.first, e, true)
			st.PktRetrans++
		}
		if r.first > r.last || r.first >= s.next {
			s.rexmit = s.rexmit[1:]
		}
	}
	if len(s.rexmit) == 0 {
		s.rexmit = s.rexmit[:0:0]
	}
	for s.next < s.head && !wb.full() && s.tokens > 0 && s.next-s.tail < uint64(s.flowWindow) {
		e := s.entry(s.next)
		e.ts, e.first, e.last = timestamp(now), now, now
		s.add(wb, s.next, e, false)
		s.next++
		s.unsentBytes -= len(e.data)
		s.keyed++
		st.PktSent++
		st.ByteSent += uint64(len(e.data))
	}
	if s.keys != nil {
		s.refreshKeys()
	}
	return wb.n
}

// refreshKeys moves the key refresh on: a new key for the other index is
// announced kmPreAnnounce packets before kmRefreshRate packets have gone
// out with the current one, used from then, and the old one retired
// kmPreAnnounce packets later (libsrt's pre-announce, switch, post-switch).
func (s *sender) refreshKeys() {
	other := (keyEven | keyOdd) ^ s.txKey
	switch {
	case s.kmStep == kmSteady && s.keyed >= kmRefreshRate-kmPreAnnounce:
		if s.keys.newKey(other) == nil {
			s.kmPending, s.kmSentAt, s.kmStep = s.keys.message(keyEven|keyOdd), 0, kmAnnounced
		}
	case s.kmStep == kmAnnounced && s.keyed >= kmRefreshRate:
		s.txKey, s.keyed, s.kmStep = other, 0, kmSwitched
	case s.kmStep == kmSwitched && s.keyed >= kmPreAnnounce:
		s.kmPending, s.kmSentAt, s.kmStep = s.keys.message(s.txKey), 0, kmSteady
	}
}

func (s *sender) add(wb *writeBatch, pos uint64, e *sendEntry, retrans bool) {
	p := wb.next()
	if e.msgno == 0 {
		e.msgno = s.msgno
		s.msgno = msgnoNext(s.msgno)
	}
	putDataHeader(p.header[:], s.seqAt(pos), e.msgno, s.txKey, retrans, e.ts, 0)
	p.payload = e.data
	s.tokens -= float64(len(e.data) + headerSize + 28)
}

// acknowledge releases what the receiver acknowledged and takes its flow
// window; it reports whether more may now be sent.
func (s *sender) acknowledge(ack ackInfo) bool {
	d := int64(seqDiff(ack.seq, s.seqAt(s.tail)))
	if d < 0 || s.tail+uint64(d) > s.next {
		return false // acknowledges what was never sent: ignored
	}
	for pos := s.tail; pos < s.tail+uint64(d); pos++ {
		s.entry(pos).data = nil
	}
	s.tail += uint64(d)
	if ack.fieldCount >= 4 {
		s.flowWindow = max(ack.available, 32)
	}
	return d > 0
}

// reportLoss queues the retransmission of what a NAK lists; it reports
// whether there is something to retransmit.
func (s *sender) reportLoss(info []byte, now int64, st *Stats) bool {
	var buf [64]lossRange
	ranges, err := parseNAK(info, buf[:0])
	if err != nil {
		return false
	}
	queued := false
	for _, r := range ranges {
		first := int64(seqDiff(r.first, s.seqAt(s.tail)))
		last := int64(seqDiff(r.last, s.seqAt(s.tail)))
		inflight := int64(s.next - s.tail)
		if last < 0 || first >= inflight {
			continue // already acknowledged or dropped, or never sent
		}
		first, last = max(first, 0), min(last, inflight-1)
		st.PktSendLoss += uint64(last - first + 1)
		if len(s.rexmit) < maxNAKRanges {
			s.rexmit = append(s.rexmit, posRange{s.tail + uint64(first), s.tail + uint64(last)})
			queued = true
		}
	}
	return queued
}

// dropLate gives up on sent packets older than threshold: the receiver has
// played past them.
func (s *sender) dropLate(now int64, threshold time.Duration, st *Stats) {
	for s.tail < s.next {
		e := s.entry(s.tail)
		if now-e.first < int64(threshold) {
			return
		}
		e.data = nil
		s.tail++
		st.PktSendDrop++
	}
}

// nextEvent is when the sender next has something to do on its own: send
// when tokens allow, or drop the oldest packet in flight.
func (s *sender) nextEvent(now int64, threshold time.Duration) (int64, bool) {
	next, ok := int64(0), false
	if (s.next < s.head && s.next-s.tail < uint64(s.flowWindow)) || len(s.rexmit) > 0 {
		wait := int64(0)
		if s.tokens <= 0 {
			wait = int64((-s.tokens + maxPayload) / s.rate * 1e9)
		}
		next, ok = now+wait, true
	}
	if s.tail < s.next {
		drop := s.entry(s.tail).first + int64(threshold)
		if !ok || drop < next {
			next, ok = drop, true
		}
	}
	return next, ok
}

// release forgets every queued message.
func (s *sender) release() {
	clear(s.ring)
	s.rexmit = nil
}

func (s *sender) keyRefreshAnswered() { s.kmPending = nil }
