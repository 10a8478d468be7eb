// Package tsloop plays a transport stream held in memory forever, in real
// time, as if it were one endless live stream: on each new pass every PTS,
// DTS and PCR is shifted by the loop's duration and every continuity counter
// carries on, so that a decoder downstream never sees a discontinuity. It is
// what the demo feeds run on.
package tsloop

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"
)

const (
	packetSize = 188
	syncByte   = 0x47
	// chunkPackets is what one SRT live payload carries.
	chunkPackets = 7
	// ptsWrap is where the 33-bit PTS, DTS and PCR base wrap around.
	ptsWrap = 1 << 33
	// pcrWrap is where the 27 MHz PCR (base × 300 + extension) wraps around.
	pcrWrap = ptsWrap * 300
)

// Looper plays a transport stream held in memory forever, paced in real time by its PCR.
type Looper struct {
	data []byte
	// loop is the length of one pass in 90 kHz ticks.
	loop int64
	// due is, for each packet, its time from the start of a pass (PCR-based).
	due []time.Duration
	// firstCC is the continuity counter of the first packet with payload of each PID.
	firstCC map[uint16]byte
	// sleep waits until t or until ctx ends; tests replace it.
	sleep func(ctx context.Context, t time.Time) error
}

// New checks ts (188-byte packets with their sync byte, a PAT, PCRs, a
// video or audio stream with timestamps) and prepares it for looping. It
// returns an error naming what is wrong.
func New(ts []byte) (*Looper, error) {
	if len(ts) == 0 || len(ts)%packetSize != 0 {
		return nil, fmt.Errorf("tsloop: %d bytes is not a whole number of 188-byte packets", len(ts))
	}
	l := &Looper{data: slices.Clone(ts), firstCC: make(map[uint16]byte), sleep: sleepUntil}
	n := len(ts) / packetSize
	l.due = make([]time.Duration, n)
	var (
		havePAT  bool
		pcrPID   = -1
		firstPCR int64
		ptsByPID = make(map[uint16][]int64)
		lastDue  time.Duration
		pcrCount int
	)
	for i := range n {
		pkt := l.data[i*packetSize : (i+1)*packetSize]
		if pkt[0] != syncByte {
			return nil, fmt.Errorf("tsloop: packet %d has no sync byte", i)
		}
		pid := packetPID(pkt)
		havePAT = havePAT || pid == 0
		if _, seen := l.firstCC[pid]; !seen && hasPayload(pkt) {
			l.firstCC[pid] = pkt[3] & 0x0F
		}
		if pcr, ok := readPCR(pkt); ok && (pcrPID < 0 || int(pid) == pcrPID) {
			if pcrPID < 0 {
				pcrPID, firstPCR = int(pid), pcr
			}
			lastDue = time.Duration((pcr - firstPCR + pcrWrap) % pcrWrap * 1000 / 27)
			pcrCount++
		}
		l.due[i] = lastDue
		if pts, ok := readPTS(pkt); ok {
			ptsByPID[pid] = append(ptsByPID[pid], pts)
		}
	}
	switch {
	case !havePAT:
		return nil, errors.New("tsloop: no PAT")
	case pcrCount < 2:
		return nil, errors.New("tsloop: fewer than two PCRs: cannot pace the stream")
	case len(ptsByPID) == 0:
		return nil, errors.New("tsloop: no PES with a PTS")
	}
	l.loop = loopDuration(ptsByPID)
	if l.loop <= 0 {
		return nil, errors.New("tsloop: cannot tell the stream's duration from its timestamps")
	}
	return l, nil
}

// loopDuration is the length of one pass in 90 kHz ticks: for the stream
// with the most frames, the span of its presentation times plus one frame.
// A sample made to loop has the same value for every stream.
func loopDuration(ptsByPID map[uint16][]int64) int64 {
	var longest []int64
	for _, pts := range ptsByPID {
		if len(pts) > len(longest) {
			longest = pts
		}
	}
	if len(longest) < 2 {
		return 0
	}
	sorted := unwrap(longest)
	slices.Sort(sorted)
	frame := frameDuration(sorted)
	return sorted[len(sorted)-1] - sorted[0] + frame
}

// unwrap makes 33-bit timestamps monotonic across a wrap, in stream order.
func unwrap(pts []int64) []int64 {
	out := make([]int64, len(pts))
	var offset int64
	for i, p := range pts {
		if i > 0 && p+offset < out[i-1]-ptsWrap/2 {
			offset += ptsWrap
		}
		out[i] = p + offset
	}
	return out
}

// frameDuration is the most common step between consecutive sorted timestamps.
func frameDuration(sorted []int64) int64 {
	counts := make(map[int64]int)
	best, bestCount := int64(0), 0
	for i := 1; i < len(sorted); i++ {
		d := sorted[i] - sorted[i-1]
		if d <= 0 {
			continue
		}
		counts[d]++
		if counts[d] > bestCount || counts[d] == bestCount && d < best {
			best, bestCount = d, counts[d]
		}
	}
	return best
}

// LoopDuration is the length of one pass, which every timestamp is shifted by on each new pass.
func (l *Looper) LoopDuration() time.Duration {
	return time.Duration(l.loop) * time.Second / 90000
}

// Run emits the stream in chunks of at most 7 TS packets (1316 bytes, SRT
// live payload) at the pace of its PCR until ctx ends or emit returns an
// error. The chunk slice is reused after emit returns (emit must copy what it keeps).
func (l *Looper) Run(ctx context.Context, emit func(chunk []byte) error) error {
	chunk := make([]byte, 0, chunkPackets*packetSize)
	cc := make(map[uint16]byte, len(l.firstCC))
	for pid, first := range l.firstCC {
		cc[pid] = (first - 1) & 0x0F
	}
	start := time.Now()
	n := len(l.due)
	loop := l.LoopDuration()
	for pass := int64(0); ; pass++ {
		passStart := start.Add(time.Duration(pass) * loop)
		for i := 0; i < n; {
			target := passStart.Add(l.due[i])
			if err := l.sleep(ctx, target); err != nil {
				return err
			}
			// Emit every packet now due, seven at a time.
			now := time.Now()
			if now.Before(target) {
				now = target
			}
			for chunk = chunk[:0]; i < n && !passStart.Add(l.due[i]).After(now) && len(chunk) < cap(chunk); i++ {
				chunk = append(chunk, l.data[i*packetSize:(i+1)*packetSize]...)
				l.patch(chunk[len(chunk)-packetSize:], pass, cc)
			}
			if err := emit(chunk); err != nil {
				return err
			}
		}
	}
}

// patch rewrites one packet of the given pass: timestamps shifted by
// pass × loop, continuity counter carried on from the previous packet of its PID.
func (l *Looper) patch(pkt []byte, pass int64, cc map[uint16]byte) {
	pid := packetPID(pkt)
	if hasPayload(pkt) {
		next := (cc[pid] + 1) & 0x0F
		cc[pid] = next
		pkt[3] = pkt[3]&0xF0 | next
	}
	if pass == 0 {
		return
	}
	shift := pass * l.loop
	if pcr, ok := readPCR(pkt); ok {
		writePCR(pkt, (pcr+shift*300)%pcrWrap)
	}
	shiftPESTimestamps(pkt, shift)
}

func sleepUntil(ctx context.Context, t time.Time) error {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err()
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return nil
	}
}
