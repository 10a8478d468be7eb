package ingest

import (
	"fmt"
	"slices"
	"time"

	"github.com/podium-broadcast/podium/internal/ts"
)

// Timestamps are 33-bit counts of a 90 kHz clock (PCR: its base, plus a
// 27 MHz extension that is carried unchanged).
const (
	tsModulus = 1 << 33
	tsHalf    = 1 << 32
	// spliceStep is how far after the last output timestamp of a PID the
	// first one of a new source is put: one frame at 25 fps.
	spliceStep = 3600
	// A source's own timestamps that step back more than maxBackStep or
	// forward more than maxForwardStep (a looping or restarted encoder) are
	// a new timeline, rebased like a new source.
	maxBackStep    = 90000
	maxForwardStep = 5 * 90000
)

// tsDiff returns a-b on the 33-bit circle, in (-2^32, 2^32].
func tsDiff(a, b int64) int64 {
	d := (a - b) & (tsModulus - 1)
	if d > tsHalf {
		d -= tsModulus
	}
	return d
}

func tsAdd(a, d int64) int64 { return (a + d) & (tsModulus - 1) }

// layout is a program's transport stream layout: the PMT PID, the PCR PID
// and the elementary streams in PMT order.
type layout struct {
	pmtPID  int
	pcrPID  int
	streams []ts.Stream
}

// mapTo returns the PID map that carries a source of layout l onto ref: PAT
// and PMT onto ref's, each elementary stream onto ref's stream of the same
// type and rank (the second AAC onto the second AAC), the PCR PID onto ref's.
// Streams ref does not have are dropped (mapped to -1).
func (l layout) mapTo(ref layout) map[int]int {
	m := map[int]int{0: 0, l.pmtPID: ref.pmtPID}
	used := map[int]bool{}
	for _, s := range l.streams {
		m[s.PID] = -1
		for _, r := range ref.streams {
			if r.Type == s.Type && !used[r.PID] {
				m[s.PID], used[r.PID] = r.PID, true
				break
			}
		}
	}
	if _, ok := m[l.pcrPID]; !ok && l.pcrPID != ts.NullPID {
		m[l.pcrPID] = ref.pcrPID
	}
	return m
}

// splicer writes the feed's one output stream from whichever source is on
// air. It keeps the output continuous across switches: continuity counters
// run on per output PID, the PAT and PMT are always the reference layout's
// (the first source's), every other source's PIDs are mapped onto it, and a
// new source's PTS, DTS and PCR are shifted so that they continue the output
// timeline instead of jumping.
type splicer struct {
	ref    layout
	refPSI []byte // the reference PAT and PMT packets
	hasRef bool
	// newLayout makes the next source on air the reference: set when it
	// comes after the feed's readers were let go.
	newLayout bool
	// outPSI is the PAT and PMT the output carries; passPSI says the on-air
	// source's own go out instead (the reference, unchanged). generation
	// counts the layout changes, each a new version of the PAT and PMT.
	outPSI     []byte
	passPSI    bool
	generation int
	announced  []int // the output PIDs of the streams outPSI lists
	// change describes the layout change the latest begin made, if any.
	change layoutChange

	// now is the instant of the data being emitted (unix nanoseconds), set
	// by the switch once per write; lastData is when each output PID last
	// started a PES. backSteps counts decoding times sent behind their PID's
	// last, lastBackStep is when the latest was, backStepPID its PID.
	now          int64
	lastData     [8192]int64
	backSteps    uint64
	lastBackStep int64
	backStepPID  int
	onAirSince   int64 // when the on-air source went on air

	cc      [8192]byte // last continuity counter sent, per output PID
	ccSeen  [8192]bool
	lastIn  [8192]int16 // last continuity counter received from the on-air source, -1 unknown
	lastOut [8192]int64 // latest decoding time (DTS, or PTS without one) sent per output PID
	lastPTS [8192]int64 // latest presentation time sent per output PID
	// lastStep is the latest step between a PID's decoding times: a frame,
	// or for audio PES that carry several frames, the PES's duration.
	lastStep [8192]int64
	outSeen  [8192]bool
	lastPCR  int64
	pcrSeen  bool

	// The on-air source's mapping and shift.
	pidMap map[int]int
	srcPMT int
	shift  int64
	isRef  bool
	// rebases counts the on-air sources' own timeline jumps smoothed over.
	rebases uint64
	// After a rebase, each PID's (and the PCR's) next timestamp may still be
	// behind its last: settling lists the PIDs to check once, pcrSettling the PCR.
	settling    map[int]bool
	pcrSettling bool
}

// settle marks every PID with timestamps, and the PCR, to be checked once
// more against its last: the shift only ever grows, so each keeps moving forward.
func (sp *splicer) settle() {
	if sp.settling == nil {
		sp.settling = make(map[int]bool)
	}
	for pid, seen := range sp.outSeen {
		if seen {
			sp.settling[pid] = true
		}
	}
	sp.pcrSettling = sp.pcrSeen
}

// catchUp grows the shift so that t (shifted) comes after last.
func (sp *splicer) catchUp(t, last int64) {
	if behind := tsDiff(last, tsAdd(t, sp.shift)); behind >= 0 {
		sp.shift += behind + spliceStep
	}
}

// catchUpPES grows the shift so that a PES of outPID with decoding time t
// and presentation time pts (unshifted) comes a step after the last decoded
// and the latest presented: a stream cut after a reference frame has shown
// nothing yet of the B-frames decoded before it.
func (sp *splicer) catchUpPES(outPID int, t, pts int64) {
	step := max(int64(spliceStep), sp.lastStep[outPID])
	if behind := tsDiff(tsAdd(sp.lastOut[outPID], step), tsAdd(t, sp.shift)); behind > 0 {
		sp.shift += behind
	}
	if behind := tsDiff(tsAdd(sp.lastPTS[outPID], step), tsAdd(pts, sp.shift)); behind > 0 {
		sp.shift += behind
	}
}

// layoutChange is what a switch did to the output's layout.
type layoutChange struct {
	kind    string // "", "new publisher", "tracks gone", "tracks back"
	tracks  int    // elementary streams the output now lists
	gone    int    // the reference's streams it no longer lists
	version int    // the PAT and PMT version
}

// begin makes src the on-air source, starting from gop, its packets from
// its latest access point. It returns the packets to send first: the
// output PAT and PMT, then gop, rewritten.
func (sp *splicer) begin(src *Source, gop, out []byte) []byte {
	sp.change = layoutChange{}
	sp.onAirSince = sp.now
	if !sp.hasRef || sp.newLayout {
		sp.ref, sp.refPSI = src.layout, append([]byte(nil), src.psi...)
		if sp.hasRef {
			// The old layout's receivers are gone: the new publisher's
			// streams are the output's, on a timeline that carries on
			// (the PIDs both layouts have keep theirs).
			sp.change.kind = "new publisher"
			for pid := range sp.outSeen {
				if !slices.ContainsFunc(sp.ref.streams, func(st ts.Stream) bool { return st.PID == pid }) {
					sp.forgetTimeline(pid)
				}
			}
		}
		sp.hasRef = true
		sp.newLayout = false
		sp.announced = nil
	}
	sp.isRef = sameLayout(src.layout, sp.ref)
	sp.pidMap, sp.srcPMT = src.layout.mapTo(sp.ref), src.layout.pmtPID
	for i := range sp.lastIn {
		sp.lastIn[i] = -1
	}
	sp.announce(src.layout)
	// The shift comes from the whole of the source's latest GOP: what
	// may go out of it yet (gop) lacks the PES still open, which at the
	// source's first keyframe is that keyframe's.
	sp.shift = sp.shiftFor(src.gop)
	out = sp.emitPSI(out)
	return sp.emit(gop, out)
}

// announce sets the output PSI for a source of layout l: the reference's,
// listing only the streams l carries. A stream no source carries has no
// data, and a receiver told of it would wait for it (ffmpeg cannot find its
// codec parameters; the HLS muxer cannot start): it is announced as gone,
// in a new PMT version, and comes back in the next when a source carries
// it again. Its timeline is forgotten meanwhile, so that its return is a
// fresh start and not a jump to rebase the whole feed on.
func (sp *splicer) announce(l layout) {
	var carried []int
	for _, r := range sp.ref.streams {
		for _, st := range l.streams {
			if sp.pidMap[st.PID] == r.PID {
				carried = append(carried, r.PID)
				break
			}
		}
	}
	for _, r := range sp.ref.streams {
		if !slices.Contains(carried, r.PID) {
			sp.forgetTimeline(r.PID)
		}
	}
	changed := sp.announced != nil && !slices.Equal(carried, sp.announced)
	if sp.change.kind == "" && changed {
		sp.change.kind = "tracks back"
		if len(carried) < len(sp.announced) {
			sp.change.kind = "tracks gone"
		}
	}
	sp.announced = carried
	if sp.change.kind != "" {
		sp.generation++
	}
	sp.outPSI, sp.passPSI = sp.refPSI, sp.isRef
	if sp.generation > 0 || len(carried) < len(sp.ref.streams) {
		if psi, err := buildPSI(sp.refPSI, sp.ref.pmtPID, carried, pmtVersion(sp.refPSI, sp.ref.pmtPID)+sp.generation); err == nil {
			sp.outPSI, sp.passPSI = psi, false
		}
	}
	if sp.change.kind != "" {
		sp.change.tracks, sp.change.gone = len(carried), len(sp.ref.streams)-len(carried)
		sp.change.version = (pmtVersion(sp.refPSI, sp.ref.pmtPID) + sp.generation) & 31
	}
}

// pmtVersion returns the version of the PMT in psi.
func pmtVersion(psi []byte, pmtPID int) int {
	if sec := section(psi, pmtPID); len(sec) > 5 {
		return int(sec[5]>>1) & 31
	}
	return 0
}

// forgetTimeline drops what the splicer knows of an output PID's timestamps.
func (sp *splicer) forgetTimeline(pid int) {
	sp.outSeen[pid] = false
	sp.lastStep[pid] = 0
	delete(sp.settling, pid)
}

func sameLayout(a, b layout) bool {
	if a.pmtPID != b.pmtPID || a.pcrPID != b.pcrPID || len(a.streams) != len(b.streams) {
		return false
	}
	for i := range a.streams {
		if a.streams[i] != b.streams[i] {
			return false
		}
	}
	return true
}

// shiftFor returns the shift that puts the first timestamps of gop (per
// output PID, and its first PCR) just after the last ones sent.
func (sp *splicer) shiftFor(gop []byte) int64 {
	var shift int64
	first := false
	seen := map[int]bool{}
	pcrSeen := false
	for off := 0; off+ts.PacketSize <= len(gop); off += ts.PacketSize {
		pkt := gop[off : off+ts.PacketSize]
		outPID, ok := sp.mapPID(ts.PID(pkt))
		if !ok {
			continue
		}
		if pcr, has := readPCR(pkt); has && !pcrSeen {
			pcrSeen = true
			if sp.pcrSeen {
				shift, first = maxShift(shift, first, tsDiff(tsAdd(sp.lastPCR, spliceStep), pcr))
			}
		}
		if seen[outPID] {
			continue
		}
		if pts, dts, has := readPESTimes(pkt); has {
			seen[outPID] = true
			if sp.outSeen[outPID] {
				t := pts
				if dts >= 0 {
					t = dts
				}
				// Both the decoding and the presentation times move on:
				// the new source's first frame comes after the whole of the
				// old's last PES (which may carry several audio frames).
				step := max(int64(spliceStep), sp.lastStep[outPID])
				shift, first = maxShift(shift, first, tsDiff(tsAdd(sp.lastOut[outPID], step), t))
				shift, first = maxShift(shift, first, tsDiff(tsAdd(sp.lastPTS[outPID], step), pts))
			}
		}
	}
	return shift
}

func maxShift(cur int64, have bool, cand int64) (int64, bool) {
	if !have || cand > cur {
		return cand, true
	}
	return cur, true
}

func (sp *splicer) mapPID(pid int) (int, bool) {
	if pid == ts.NullPID {
		return pid, true
	}
	out, ok := sp.pidMap[pid]
	if !ok || out < 0 {
		return -1, false
	}
	return out, true
}

// emitPSI appends the output PAT and PMT.
func (sp *splicer) emitPSI(out []byte) []byte {
	for off := 0; off+ts.PacketSize <= len(sp.outPSI); off += ts.PacketSize {
		start := len(out)
		out = append(out, sp.outPSI[off:off+ts.PacketSize]...)
		sp.continuity(out[start:])
	}
	return out
}

// emit appends the on-air source's packets, rewritten onto the output.
func (sp *splicer) emit(data []byte, out []byte) []byte {
	for off := 0; off+ts.PacketSize <= len(data); off += ts.PacketSize {
		pkt := data[off : off+ts.PacketSize]
		pid := ts.PID(pkt)
		if pid == ts.NullPID {
			out = append(out, pkt...)
			continue
		}
		// A packet repeated with the same continuity counter is sent once.
		if ts.HasPayload(pkt) {
			cc := int16(pkt[3] & 0x0F)
			if sp.lastIn[pid] == cc {
				continue
			}
			sp.lastIn[pid] = cc
		}
		if !sp.passPSI && (pid == 0 || pid == sp.srcPMT) {
			// Another layout's PSI, or the reference's in an older
			// version: send the output's in its place.
			if pid == 0 {
				out = sp.emitPSI(out)
			}
			continue
		}
		outPID, ok := sp.mapPID(pid)
		if !ok && (sp.isRef || pid < 0x20) {
			// PIDs outside the program (SDT, EIT, ...) pass through; a
			// backup's own elementary streams that the primary lacks do not.
			outPID, ok = pid, true
		}
		if !ok {
			continue
		}
		start := len(out)
		out = append(out, pkt...)
		p := out[start:]
		if outPID != pid {
			p[1] = p[1]&0xE0 | byte(outPID>>8)
			p[2] = byte(outPID)
		}
		sp.retime(p, outPID)
		sp.continuity(p)
		if sp.passPSI && pid == 0 {
			sp.refreshPSI(data[off:])
		}
	}
	return out
}

// refreshPSI keeps the reference PSI current when the reference source
// repeats a single-packet PAT followed by its PMT.
func (sp *splicer) refreshPSI(data []byte) {
	if len(data) < 2*ts.PacketSize || ts.PID(data[ts.PacketSize:]) != sp.ref.pmtPID {
		return
	}
	sp.refPSI = append(sp.refPSI[:0], data[:2*ts.PacketSize]...)
	sp.outPSI = sp.refPSI
}

// continuity sets the packet's continuity counter to the output's next. The
// first packet of a PID keeps its own, so that a single source passes
// through byte for byte.
func (sp *splicer) continuity(p []byte) {
	pid := ts.PID(p)
	if !sp.ccSeen[pid] {
		sp.cc[pid], sp.ccSeen[pid] = p[3]&0x0F, true
		return
	}
	cc := sp.cc[pid]
	if ts.HasPayload(p) {
		cc = (cc + 1) & 0x0F
	}
	sp.cc[pid] = cc
	ts.SetContinuityCounter(p, cc)
}

// retime shifts the packet's PCR and PES timestamps and notes the last ones sent.
func (sp *splicer) retime(p []byte, outPID int) {
	if pcr, ok := readPCR(p); ok {
		if sp.pcrSeen {
			sp.rebaseOnJump(tsDiff(tsAdd(pcr, sp.shift), sp.lastPCR))
			if sp.pcrSettling {
				sp.pcrSettling = false
				sp.catchUp(pcr, sp.lastPCR)
			}
		}
		pcr = tsAdd(pcr, sp.shift)
		writePCR(p, pcr)
		sp.lastPCR, sp.pcrSeen = pcr, true
	}
	pts, dts, ok := readPESTimes(p)
	if !ok {
		return
	}
	if sp.outSeen[outPID] {
		raw := pts
		if dts >= 0 {
			raw = dts
		}
		if step := tsDiff(tsAdd(raw, sp.shift), sp.lastOut[outPID]); isJump(step) {
			// The new timeline starts where a new source's would: its
			// decoding and presentation times after the last ones sent.
			sp.shift = tsDiff(tsAdd(sp.lastOut[outPID], max(int64(spliceStep), sp.lastStep[outPID])), raw)
			sp.rebased()
			delete(sp.settling, outPID)
			sp.catchUpPES(outPID, raw, pts)
		}
		if sp.settling[outPID] {
			delete(sp.settling, outPID)
			sp.catchUpPES(outPID, raw, pts)
		}
	}
	pts = tsAdd(pts, sp.shift)
	t := pts
	if dts >= 0 {
		dts = tsAdd(dts, sp.shift)
		t = dts
	}
	writePESTimes(p, pts, dts)
	sp.lastData[outPID] = sp.now
	if sp.outSeen[outPID] && tsDiff(t, sp.lastOut[outPID]) < 0 {
		sp.backSteps++
		sp.lastBackStep, sp.backStepPID = sp.now, outPID
	}
	if sp.outSeen[outPID] {
		if d := tsDiff(t, sp.lastOut[outPID]); d > 0 && d < maxBackStep {
			sp.lastStep[outPID] = d
		}
	}
	if !sp.outSeen[outPID] || tsDiff(t, sp.lastOut[outPID]) > 0 {
		sp.lastOut[outPID] = t
	}
	if !sp.outSeen[outPID] || tsDiff(pts, sp.lastPTS[outPID]) > 0 {
		sp.lastPTS[outPID] = pts
	}
	sp.outSeen[outPID] = true
}

// isJump says whether a timestamp that moved by step from the last one sent
// is a jump rather than the stream's progress.
func isJump(step int64) bool { return step < -maxBackStep || step > maxForwardStep }

// rebaseOnJump shifts the on-air source's timeline when a PCR moved by step
// from the last one sent is a jump.
func (sp *splicer) rebaseOnJump(step int64) {
	if isJump(step) {
		sp.shift += spliceStep - step
		sp.rebased()
	}
}

// rebased counts a rebase of the on-air source's timeline and has every
// timeline checked against it.
func (sp *splicer) rebased() {
	sp.rebases++
	sp.settle()
}

// readPCR returns the packet's PCR base, if it carries one.
func readPCR(p []byte) (int64, bool) {
	if p[3]&0x20 == 0 || p[4] < 7 || p[5]&0x10 == 0 {
		return 0, false
	}
	b := p[6:12]
	return int64(b[0])<<25 | int64(b[1])<<17 | int64(b[2])<<9 | int64(b[3])<<1 | int64(b[4]>>7), true
}

func writePCR(p []byte, base int64) {
	b := p[6:12]
	b[0] = byte(base >> 25)
	b[1] = byte(base >> 17)
	b[2] = byte(base >> 9)
	b[3] = byte(base >> 1)
	b[4] = b[4]&0x7F | byte(base&1)<<7
}

// pesHeader returns the start of a PES header in the packet, if one starts there.
func pesHeader(p []byte) []byte {
	if p[1]&0x40 == 0 {
		return nil
	}
	pes := ts.Payload(p)
	if len(pes) < 19 || pes[0] != 0 || pes[1] != 0 || pes[2] != 1 {
		return nil
	}
	switch pes[3] {
	case 0xBC, 0xBE, 0xBF, 0xF0, 0xF1, 0xF2, 0xF8, 0xFF: // no optional header
		return nil
	}
	return pes
}

// readPESTimes returns the PTS and the DTS (-1 if absent) of a PES starting in the packet.
func readPESTimes(p []byte) (pts, dts int64, ok bool) {
	pes := pesHeader(p)
	if pes == nil {
		return 0, 0, false
	}
	flags := pes[7] >> 6
	if flags&0x2 == 0 {
		return 0, 0, false
	}
	pts, dts = ts.ReadTimestamp(pes[9:14]), -1
	if flags == 0x3 {
		dts = ts.ReadTimestamp(pes[14:19])
	}
	return pts, dts, true
}

func writePESTimes(p []byte, pts, dts int64) {
	pes := pesHeader(p)
	writeTimestamp(pes[9:14], pts)
	if dts >= 0 {
		writeTimestamp(pes[14:19], dts)
	}
}

// writeTimestamp writes t keeping the 4-bit prefix and the marker bits.
func writeTimestamp(b []byte, t int64) {
	b[0] = b[0]&0xF1 | byte(t>>29)&0x0E
	b[1] = byte(t >> 22)
	b[2] = byte(t>>14)&0xFE | b[2]&0x01
	b[3] = byte(t >> 7)
	b[4] = byte(t<<1)&0xFE | b[4]&0x01
}

// healthWindow is how long a problem of the output keeps the feed degraded
// after it was last seen, and how long an announced audio or video stream
// may go without data.
const healthWindow = 5 * time.Second

// health returns what makes the output not cleanly decodable at instant
// now: timestamps that went back lately, announced audio and video streams
// without data.
func (sp *splicer) health(now int64) []string {
	var reasons []string
	if sp.backSteps > 0 && now-sp.lastBackStep < int64(healthWindow) {
		reasons = append(reasons, fmt.Sprintf("timestamps went back on PID %#x", sp.backStepPID))
	}
	for _, st := range sp.ref.streams {
		if !slices.Contains(sp.announced, st.PID) || !audioVideo(st.Type) {
			continue
		}
		if last := sp.lastData[st.PID]; last == 0 || now-last > int64(healthWindow) {
			if last != 0 || sp.onAirSince != 0 && now-sp.onAirSince > int64(healthWindow) {
				reasons = append(reasons, fmt.Sprintf("track on PID %#x carries no data", st.PID))
			}
		}
	}
	return reasons
}

// audioVideo says whether a stream type is audio or video, which carry data
// all the time (SCTE-35, KLV or subtitles may not).
func audioVideo(streamType byte) bool {
	switch streamType {
	case 0x01, 0x02, 0x1B, 0x24, 0x03, 0x04, 0x0F, 0x11, 0x81, 0x87:
		return true
	}
	return false
}
