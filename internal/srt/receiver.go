package srt

import (
	"math"
	"slices"
	"time"
)

// The receiving side of a connection: packets wait in a ring by sequence
// number until their time to play (timestamp-based packet delivery: the
// sender's timestamp, on this side's clock, plus the latency); a gap is
// reported lost at once and again periodically, and given up on (too-late
// packet drop) once a later packet is due.

const (
	minRecvRing = 1024
	// maxRecvRing bounds the packets held; the flow window offered is less.
	maxRecvRing = 1 << 15
	// flowWindow is the most packets in flight this side offers to take.
	flowWindow = 25600
	// driftWindow is how often the time base follows the sender's clock.
	driftWindow = time.Second
	// ackRefresh is how often a full ACK goes out when nothing new arrived.
	ackRefresh = 100 * time.Millisecond
	ackHistory = 32
)

type recvSlot struct {
	buf *packetBuf
	n   int   // datagram length: the payload is buf[headerSize:n]
	ts  int64 // the sender's timestamp, unwrapped, in µs
}

type receiver struct {
	ring []recvSlot
	// Positions count packets from the first (sequence number isn):
	// deliver is the next to read, top the one after the highest received.
	deliver, top uint64
	isn          uint32
	latency      int64 // ns
	started      bool
	// base puts the sender's clock on this side's: a packet plays at
	// base + timestamp + latency.
	base    int64
	lastTS  int64 // the latest unwrapped timestamp, µs
	loss    []posRange
	lossBuf []lossRange

	driftStart, driftMin int64

	ackNo uint32
	acks  [ackHistory]struct {
		no uint32
		at int64
	}
	lastAckPos uint64
	lastAckAt  int64
	nextACK    int64
	nextNAK    int64

	rateStart         int64
	ratePkts          uint64
	rateBytes         uint64
	pktRate, byteRate uint32
}

func (r *receiver) init(isn uint32, latency time.Duration) {
	r.ring = make([]recvSlot, minRecvRing)
	r.isn, r.latency = isn, int64(latency)
}

func (r *receiver) slot(pos uint64) *recvSlot { return &r.ring[pos&uint64(len(r.ring)-1)] }

func (r *receiver) seqAt(pos uint64) uint32 { return (r.isn + uint32(pos)) & seqMask }

// unwrap extends a 32-bit timestamp (µs, wrapping every 71 minutes) to 64
// bits, near the latest one.
func (r *receiver) unwrap(ts uint32) int64 {
	ext := r.lastTS + int64(int32(ts-uint32(r.lastTS)))
	if ext > r.lastTS {
		r.lastTS = ext
	}
	return ext
}

// store keeps a data packet; it reports whether buf is kept, and the run of
// sequence numbers found missing, if any, to report at once.
func (r *receiver) store(h header, buf *packetBuf, n int, now int64, st *Stats) (bool, []lossRange) {
	if !r.started {
		r.started = true
		r.lastTS = int64(h.timestamp)
		r.base = now - int64(h.timestamp)*1000
		r.driftStart, r.driftMin = now, math.MaxInt64
		r.nextACK, r.nextNAK = now+int64(synInterval), now+int64(minNAKInterval)
		r.rateStart = now
	}
	ts := r.unwrap(h.timestamp)
	d := int64(seqDiff(h.seq, r.seqAt(r.deliver)))
	if d < 0 {
		st.PktRecvBelated++
		return false, nil
	}
	pos := r.deliver + uint64(d)
	if d >= maxRecvRing {
		st.PktRecvDrop++ // beyond what the window allows
		return false, nil
	}
	r.ensure(uint64(d) + 1)
	s := r.slot(pos)
	if s.buf != nil {
		return false, nil // a duplicate
	}
	*s = recvSlot{buf: buf, n: n, ts: ts}
	var lost []lossRange
	switch {
	case pos > r.top:
		r.loss = append(r.loss, posRange{r.top, pos - 1})
		st.PktRecvLoss += pos - r.top
		r.lossBuf = append(r.lossBuf[:0], lossRange{r.seqAt(r.top), r.seqAt(pos - 1)})
		lost = r.lossBuf
		r.top = pos + 1
	case pos == r.top:
		r.top++
	default:
		r.removeLoss(pos, pos)
	}
	if !h.retrans {
		r.followDrift(now, ts)
	}
	r.ratePkts++
	r.rateBytes += uint64(n - headerSize)
	if now-r.rateStart >= int64(time.Second) {
		secs := time.Duration(now - r.rateStart).Seconds()
		r.pktRate, r.byteRate = uint32(float64(r.ratePkts)/secs), uint32(float64(r.rateBytes)/secs)
		r.rateStart, r.ratePkts, r.rateBytes = now, 0, 0
	}
	return true, lost
}

// followDrift moves the time base with the sender's clock: each window the
// earliest arrival relative to the base shows how far the clocks have
// drifted apart (or how much shorter the path is than the first packet
// found it), and the base moves half way there.
func (r *receiver) followDrift(now, ts int64) {
	if off := now - ts*1000 - r.base; off < r.driftMin {
		r.driftMin = off
	}
	if now-r.driftStart < int64(driftWindow) {
		return
	}
	if r.driftMin != math.MaxInt64 && (r.driftMin > int64(100*time.Microsecond) || r.driftMin < -int64(100*time.Microsecond)) {
		r.base += r.driftMin / 2
	}
	r.driftStart, r.driftMin = now, math.MaxInt64
}

// ensure makes the ring hold at least n packets from deliver.
func (r *receiver) ensure(n uint64) {
	if n <= uint64(len(r.ring)) {
		return
	}
	size := len(r.ring)
	for uint64(size) < n {
		size *= 2
	}
	ring := make([]recvSlot, size)
	for pos := r.deliver; pos < r.top; pos++ {
		ring[pos&uint64(size-1)] = *r.slot(pos)
	}
	r.ring = ring
}

// read copies the next packet due into p. When none is due it returns how
// long until one will be (0: none is waiting).
func (r *receiver) read(p []byte, now int64, st *Stats) (n int, wait int64, ok bool) {
	if r.deliver == r.top {
		return 0, 0, false
	}
	for pos := r.deliver; pos < r.top; pos++ {
		s := r.slot(pos)
		if s.buf == nil {
			continue
		}
		play := r.base + s.ts*1000 + r.latency
		if now < play {
			return 0, play - now, false
		}
		if pos > r.deliver {
			// Too late for what is missing before it: given up.
			st.PktRecvDrop += pos - r.deliver
			r.removeLoss(r.deliver, pos-1)
		}
		n = copy(p, s.buf[headerSize:s.n])
		putPacket(s.buf)
		*s = recvSlot{}
		r.deliver = pos + 1
		if r.lastAckPos < r.deliver {
			r.lastAckPos = r.deliver
		}
		return n, 0, true
	}
	return 0, 0, false
}

// ackPosition is the first position not received: everything before it has
// arrived (or been given up on).
func (r *receiver) ackPosition() uint64 {
	if len(r.loss) > 0 {
		return r.loss[0].first
	}
	return r.top
}

// ack builds a full ACK when there is something new to acknowledge, or the
// last one is getting old.
func (r *receiver) ack(now int64, rtt, rttVar time.Duration) (outControl, bool) {
	pos := r.ackPosition()
	if pos == r.lastAckPos && now-r.lastAckAt < int64(ackRefresh) {
		return outControl{}, false
	}
	r.lastAckPos, r.lastAckAt = pos, now
	r.ackNo++
	if r.ackNo == 0 {
		r.ackNo = 1
	}
	r.acks[r.ackNo%ackHistory] = struct {
		no uint32
		at int64
	}{r.ackNo, now}
	info := ackInfo{seq: r.seqAt(pos), rtt: uint32(rtt.Microseconds()), rttVar: uint32(rttVar.Microseconds()),
		available: uint32(max(int64(flowWindow)-int64(r.top-r.deliver), 32)),
		pktRate:   r.pktRate, capacity: max(2*r.pktRate, 1000), byteRate: r.byteRate}
	return outControl{ctrl: ctrlACK, typeInfo: r.ackNo, info: info.append(nil)}, true
}

// ackack returns the round trip of the ACK numbered no.
func (r *receiver) ackack(no uint32, now int64) (time.Duration, bool) {
	a := r.acks[no%ackHistory]
	if a.no != no || no == 0 {
		return 0, false
	}
	return time.Duration(now - a.at), true
}

// periodicNAK reports again every loss still missing, as many as fit in a packet.
func (r *receiver) periodicNAK() (outControl, bool) {
	if len(r.loss) == 0 {
		return outControl{}, false
	}
	ranges := r.lossBuf[:0]
	for _, l := range r.loss {
		if len(ranges) == maxPayload/8 {
			break
		}
		ranges = append(ranges, lossRange{r.seqAt(l.first), r.seqAt(l.last)})
	}
	r.lossBuf = ranges
	return outControl{ctrl: ctrlNAK, info: appendNAK(nil, ranges)}, true
}

// dropRange stops asking for what the sender has given up on.
func (r *receiver) dropRange(lr lossRange) {
	first := int64(seqDiff(lr.first, r.seqAt(r.deliver)))
	last := int64(seqDiff(lr.last, r.seqAt(r.deliver)))
	if last < 0 {
		return
	}
	first = max(first, 0)
	r.removeLoss(r.deliver+uint64(first), r.deliver+uint64(last))
}

// removeLoss takes positions first to last out of the loss list.
func (r *receiver) removeLoss(first, last uint64) {
	for i := 0; i < len(r.loss); i++ {
		l := r.loss[i]
		switch {
		case l.last < first || l.first > last:
		case l.first < first && l.last > last:
			r.loss = slices.Insert(r.loss, i+1, posRange{last + 1, l.last})
			r.loss[i].last = first - 1
			i++
		case l.first < first:
			r.loss[i].last = first - 1
		case l.last > last:
			r.loss[i].first = last + 1
		default:
			r.loss = slices.Delete(r.loss, i, i+1)
			i--
		}
	}
}

// release gives back every packet held.
func (r *receiver) release() {
	for i := range r.ring {
		if r.ring[i].buf != nil {
			putPacket(r.ring[i].buf)
		}
	}
	clear(r.ring)
	r.loss = nil
}
