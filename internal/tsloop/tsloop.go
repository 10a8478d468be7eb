// Package tsloop plays a transport stream held in memory forever, in real
// time, as if it were one endless live stream: on each new pass every PTS,
// DTS and PCR is shifted by the loop's duration and every continuity counter
// carries on, so that a decoder downstream sees no discontinuity. It is what
// the demo feeds run on.
//
// It does not make a stream loopable: each of its tracks must fill the
// loop's duration exactly (see scripts/make-samples.sh), and it does not
// touch the elementary streams, the PSI or anything but those timestamps
// and counters.
package tsloop

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/podium-broadcast/podium/internal/ts"
)

// chunkPackets is what one SRT live payload (1316 bytes) carries.
const chunkPackets = 7

// Looper plays a transport stream held in memory forever, paced in real time by its PCR.
type Looper struct {
	// data is a private copy of the stream, never written after New.
	data []byte
	// packets says, for each packet, what Run rewrites in it.
	packets []packetInfo
	// firstCC is, per PID, the continuity counter before the stream's
	// first packet, so that the first pass goes out unchanged.
	firstCC [pidCount]byte
	// loop is the length of one pass in 90 kHz ticks.
	loop int64
	// due is, for each packet, when it is sent relative to the first PCR
	// of its pass: its PCR, or for a packet between two PCRs the time
	// interpolated from its position, as the transport rate is constant
	// between PCRs.
	due []time.Duration
	// unpaced makes Run send as fast as emit returns; tests set it.
	unpaced bool
}

// packetInfo is what Run rewrites in one packet.
type packetInfo struct {
	pid uint16
	// payload says whether the packet advances its PID's continuity counter.
	payload bool
	pcr     bool
	// pts and dts are the offsets of the packet's PES timestamp fields, 0 for none.
	pts, dts uint8
}

// New checks ts (188-byte packets, sync bytes, at least one PCR, PAT/PMT
// present) and prepares it for looping. It returns an error naming what is wrong.
func New(stream []byte) (*Looper, error) {
	if len(stream) == 0 || len(stream)%packetSize != 0 {
		return nil, fmt.Errorf("tsloop: %d bytes is not a whole number of %d-byte packets", len(stream), packetSize)
	}
	l := &Looper{data: slices.Clone(stream)}
	for off := 0; off < len(l.data); off += packetSize {
		if l.data[off] != syncByte {
			return nil, fmt.Errorf("tsloop: packet %d has no sync byte", off/packetSize)
		}
	}
	pcrPID, err := programClock(l.data)
	if err != nil {
		return nil, err
	}
	pcrs, ptsByPID := l.index(pcrPID)
	if len(pcrs) == 0 {
		return nil, fmt.Errorf("tsloop: no PCR on PCR_PID %#x", pcrPID)
	}
	if l.loop, err = loopDuration(ptsByPID); err != nil {
		return nil, err
	}
	if l.due, err = schedule(pcrs, len(l.packets), l.loop); err != nil {
		return nil, err
	}
	return l, nil
}

// programClock returns the PCR_PID of the first program that the stream's
// PAT lists, as the relay's scanner reads it. data is framed (New checked it).
func programClock(data []byte) (uint16, error) {
	var s ts.Scanner
	for off := 0; off < len(data) && !s.Program().PMT; off += packetSize {
		if _, err := s.Scan(data[off : off+packetSize]); err != nil {
			return 0, fmt.Errorf("tsloop: %w", err)
		}
	}
	switch p := s.Program(); {
	case !p.PAT:
		return 0, errors.New("tsloop: no PAT")
	case p.PMTPID < 0:
		return 0, errors.New("tsloop: the PAT lists no program")
	case !p.PMT:
		return 0, fmt.Errorf("tsloop: no PMT on PID %#x", p.PMTPID)
	case p.PCRPID == ts.NullPID:
		return 0, fmt.Errorf("tsloop: the PMT on PID %#x declares no PCR_PID", p.PMTPID)
	default:
		return uint16(p.PCRPID), nil
	}
}

// pcrPoint is a PCR and the index of the packet that carries it.
type pcrPoint struct {
	packet int
	pcr    int64
}

// index fills l.packets and l.firstCC, and returns the PCRs on pcrPID and,
// per PID, the PTS of every PES that starts in the stream.
func (l *Looper) index(pcrPID uint16) ([]pcrPoint, map[uint16][]int64) {
	var (
		pcrs     []pcrPoint
		ptsByPID = make(map[uint16][]int64)
		seen     [pidCount]bool
	)
	l.packets = make([]packetInfo, len(l.data)/packetSize)
	for i := range l.packets {
		pkt := l.data[i*packetSize : (i+1)*packetSize]
		info := packetInfo{pid: packetPID(pkt), payload: hasPayload(pkt)}
		if pcr, ok := readPCR(pkt); ok && info.pid == pcrPID {
			info.pcr = true
			pcrs = append(pcrs, pcrPoint{packet: i, pcr: pcr})
		}
		pts, dts := pesTimestamps(pkt)
		info.pts, info.dts = uint8(pts), uint8(dts)
		if pts != 0 {
			ptsByPID[info.pid] = append(ptsByPID[info.pid], readTimestamp(pkt, pts))
		}
		if !seen[info.pid] {
			seen[info.pid] = true
			// A continuous stream has, before its first packet, the
			// counter that the packet shows less its own increment.
			cc := continuityCounter(pkt)
			if info.payload {
				cc--
			}
			l.firstCC[info.pid] = cc & 0x0F
		}
		l.packets[i] = info
	}
	return pcrs, ptsByPID
}

// loopDuration is the length of one pass in 90 kHz ticks, told by the
// stream with the most PES packets (video: one per frame): the span of its
// presentation times plus its usual frame duration. No stream may span more.
func loopDuration(ptsByPID map[uint16][]int64) (int64, error) {
	var (
		pids    = slices.Sorted(maps.Keys(ptsByPID))
		spans   = make(map[uint16]int64, len(pids))
		longest []int64
		pid     uint16
	)
	for _, p := range pids {
		rel := relative(ptsByPID[p])
		spans[p] = rel[len(rel)-1] - rel[0]
		if len(rel) > len(longest) {
			longest, pid = rel, p
		}
	}
	frame := frameDuration(longest)
	if frame == 0 {
		return 0, errors.New("tsloop: no stream has two distinct timestamps: cannot tell the loop's duration")
	}
	loop := spans[pid] + frame
	for _, p := range pids {
		if span := spans[p]; span >= loop {
			return 0, fmt.Errorf("tsloop: PID %#x spans %v, not less than the loop's %v told by PID %#x",
				p, ticks(span, 90_000), ticks(loop, 90_000), pid)
		}
	}
	return loop, nil
}

// relative returns 33-bit timestamps as signed distances from the first,
// across a wrap, sorted.
func relative(stamps []int64) []int64 {
	rel := make([]int64, len(stamps))
	for i, t := range stamps {
		rel[i] = mod(t-stamps[0]+ptsWrap/2, ptsWrap) - ptsWrap/2
	}
	slices.Sort(rel)
	return rel
}

// frameDuration is the most common step between sorted timestamps, the
// shortest of equally common ones.
func frameDuration(sorted []int64) int64 {
	counts := make(map[int64]int)
	best, bestCount := int64(0), 0
	for i := 1; i < len(sorted); i++ {
		d := sorted[i] - sorted[i-1]
		if d <= 0 {
			continue
		}
		counts[d]++
		if c := counts[d]; c > bestCount || c == bestCount && d < best {
			best, bestCount = d, c
		}
	}
	return best
}

// schedule returns, for each of n packets, when it is due from the first
// PCR of its pass. The PCRs of one pass and the first of the next (one loop
// later) must not go backwards.
func schedule(pcrs []pcrPoint, n int, loop int64) ([]time.Duration, error) {
	// PCRs in 27 MHz ticks from the first one, across a wrap.
	period := loop * 300
	points := make([]pcrPoint, 0, len(pcrs)+2)
	for i, p := range pcrs {
		at := int64(0)
		if i > 0 {
			step := mod(p.pcr-pcrs[i-1].pcr, pcrWrap)
			if step > pcrWrap/2 {
				return nil, fmt.Errorf("tsloop: PCR goes back at packet %d", p.packet)
			}
			at = points[i-1].pcr + step
		}
		if at >= period {
			return nil, fmt.Errorf("tsloop: the PCRs span %v by packet %d, not less than the loop's %v",
				ticks(at, 27_000_000), p.packet, ticks(loop, 90_000))
		}
		points = append(points, pcrPoint{packet: p.packet, pcr: at})
	}
	last := points[len(points)-1]
	// The last PCR of the pass before and the first of the pass after
	// bound the packets before the first PCR and after the last.
	points = slices.Insert(points, 0, pcrPoint{packet: last.packet - n, pcr: last.pcr - period})
	points = append(points, pcrPoint{packet: points[1].packet + n, pcr: period})

	due := make([]time.Duration, n)
	k := 0
	for i := range due {
		for points[k+1].packet <= i {
			k++
		}
		a, b := points[k], points[k+1]
		at := a.pcr + (b.pcr-a.pcr)*int64(i-a.packet)/int64(b.packet-a.packet)
		due[i] = ticks(at, 27_000_000)
	}
	return due, nil
}

// ticks converts a count of ticks of a clock of hz to a duration, exactly
// to the nanosecond and without overflow.
func ticks(n, hz int64) time.Duration {
	return time.Duration(n/hz)*time.Second + time.Duration(n%hz*int64(time.Second)/hz)
}

// LoopDuration is the length of one pass, which every timestamp is shifted by on each new pass.
func (l *Looper) LoopDuration() time.Duration { return ticks(l.loop, 90_000) }

// Run emits the stream in chunks of at most 7 TS packets (1316 bytes, SRT
// live payload) at the pace of its PCR until ctx ends or emit returns an
// error. The chunk slice is reused after emit returns (emit must copy what
// it keeps).
//
// A chunk goes out when its last packet is due, on a schedule fixed at the
// start so that it does not drift: a chunk that is late (emit was slow)
// goes out at once. Each Run starts from the first pass; a Looper may run
// several times at once.
func (l *Looper) Run(ctx context.Context, emit func(chunk []byte) error) error {
	cc := l.firstCC
	chunk := make([]byte, 0, chunkPackets*packetSize)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	start := time.Now()
	for pass := int64(0); ; pass++ {
		passStart := start.Add(ticks(pass*l.loop, 90_000))
		shift := mod(pass*l.loop, ptsWrap)
		for i, info := range l.packets {
			chunk = append(chunk, l.data[i*packetSize:(i+1)*packetSize]...)
			patch(chunk[len(chunk)-packetSize:], info, shift, &cc)
			if len(chunk) < cap(chunk) {
				continue
			}
			if err := l.wait(ctx, timer, passStart.Add(l.due[i])); err != nil {
				return err
			}
			if err := emit(chunk); err != nil {
				return err
			}
			chunk = chunk[:0]
		}
	}
}

// patch rewrites a packet for its pass: timestamps shifted by shift (90 kHz)
// and its continuity counter carried on from the previous packet of its PID.
func patch(pkt []byte, info packetInfo, shift int64, cc *[pidCount]byte) {
	// Null packets have no continuity to keep.
	if info.pid != pidNull {
		if info.payload {
			cc[info.pid] = (cc[info.pid] + 1) & 0x0F
		}
		setContinuityCounter(pkt, cc[info.pid])
	}
	if info.pcr {
		shiftPCR(pkt, shift)
	}
	shiftTimestamp(pkt, int(info.pts), shift)
	shiftTimestamp(pkt, int(info.dts), shift)
}

// wait returns when t has come, or with ctx's error when ctx ends first.
func (l *Looper) wait(ctx context.Context, timer *time.Timer, t time.Time) error {
	d := time.Until(t)
	if l.unpaced || d <= 0 {
		return ctx.Err()
	}
	timer.Reset(d)
	select {
	case <-ctx.Done():
		timer.Stop()
		return ctx.Err()
	case <-timer.C:
		return nil
	}
}
