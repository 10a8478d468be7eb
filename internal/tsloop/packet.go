package tsloop

// The few fields of a transport packet that looping reads and rewrites
// (ISO/IEC 13818-1 §2.4.3). Every function checks its bounds and leaves a
// malformed packet alone rather than panic.

import "github.com/podium-broadcast/podium/internal/ts"

const (
	packetSize = ts.PacketSize
	syncByte   = 0x47
	pidNull    = ts.NullPID
	pidCount   = 0x2000

	// ptsWrap is where the 33-bit PTS, DTS and PCR base wrap around.
	ptsWrap = 1 << 33
	// pcrWrap is where the 27 MHz PCR (base × 300 + extension) wraps around.
	pcrWrap = ptsWrap * 300
)

func isPacket(pkt []byte) bool { return len(pkt) == packetSize && pkt[0] == syncByte }

func packetPID(pkt []byte) uint16 {
	if !isPacket(pkt) {
		return pidNull
	}
	return uint16(ts.PID(pkt))
}

func unitStart(pkt []byte) bool { return isPacket(pkt) && pkt[1]&0x40 != 0 }

// hasPayload reports whether adaptation_field_control says the packet has a
// payload: only such packets advance the continuity counter.
func hasPayload(pkt []byte) bool { return isPacket(pkt) && pkt[3]&0x10 != 0 }

func hasAdaptation(pkt []byte) bool { return isPacket(pkt) && pkt[3]&0x20 != 0 }

func continuityCounter(pkt []byte) byte {
	if !isPacket(pkt) {
		return 0
	}
	return pkt[3] & 0x0F
}

func setContinuityCounter(pkt []byte, cc byte) {
	if isPacket(pkt) {
		pkt[3] = pkt[3]&0xF0 | cc&0x0F
	}
}

// pcrOffset is where the PCR sits in a packet whose adaptation field has one.
const pcrOffset = 6

// hasPCR reports whether the packet's adaptation field carries a PCR.
func hasPCR(pkt []byte) bool {
	return hasAdaptation(pkt) && pkt[4] >= 7 && pkt[5]&0x10 != 0
}

// readPCR returns the packet's PCR in 27 MHz units.
func readPCR(pkt []byte) (int64, bool) {
	if !hasPCR(pkt) {
		return 0, false
	}
	f := pkt[pcrOffset : pcrOffset+6]
	base := int64(f[0])<<25 | int64(f[1])<<17 | int64(f[2])<<9 | int64(f[3])<<1 | int64(f[4])>>7
	ext := int64(f[4]&0x01)<<8 | int64(f[5])
	return base*300 + ext, true
}

// writePCR sets the packet's PCR (27 MHz units, taken modulo its wrap),
// keeping the reserved bits.
func writePCR(pkt []byte, pcr int64) {
	if !hasPCR(pkt) {
		return
	}
	pcr = mod(pcr, pcrWrap)
	base, ext := pcr/300, pcr%300
	f := pkt[pcrOffset : pcrOffset+6]
	f[0], f[1], f[2], f[3] = byte(base>>25), byte(base>>17), byte(base>>9), byte(base>>1)
	f[4] = byte(base&1)<<7 | f[4]&0x7E | byte(ext>>8)&0x01
	f[5] = byte(ext)
}

// shiftPCR adds shift (90 kHz units) to the packet's PCR base, wrapping
// around as a 33-bit counter does; the extension is unchanged.
func shiftPCR(pkt []byte, shift int64) {
	if pcr, ok := readPCR(pkt); ok {
		writePCR(pkt, pcr+mod(shift, ptsWrap)*300)
	}
}

// pesTimestamps returns the offsets in pkt of the PTS and DTS fields of the
// PES header that starts in it, 0 for a field it does not have.
func pesTimestamps(pkt []byte) (pts, dts int) {
	if !isPacket(pkt) {
		return 0, 0
	}
	p := ts.Payload(pkt)
	if !unitStart(pkt) || len(p) < 9 || p[0] != 0 || p[1] != 0 || p[2] != 1 {
		return 0, 0
	}
	switch p[3] {
	case 0xBC, 0xBE, 0xBF, 0xF0, 0xF1, 0xF2, 0xF8, 0xFF: // stream ids without the optional header
		return 0, 0
	}
	headerLen := int(p[8])
	if p[6]&0xC0 != 0x80 || 9+headerLen > len(p) {
		return 0, 0
	}
	at := packetSize - len(p) + 9
	switch p[7] >> 6 {
	case 0x2:
		if headerLen >= 5 {
			return at, 0
		}
	case 0x3:
		if headerLen >= 10 {
			return at, at + 5
		}
	}
	return 0, 0
}

// readTimestamp returns the 33-bit PTS or DTS held in the 5 bytes at off.
func readTimestamp(pkt []byte, off int) int64 {
	if off <= 0 || off+5 > len(pkt) {
		return 0
	}
	f := pkt[off : off+5]
	return int64(f[0]>>1&0x07)<<30 | int64(f[1])<<22 | int64(f[2]>>1)<<15 | int64(f[3])<<7 | int64(f[4]>>1)
}

// writeTimestamp sets the PTS or DTS field at off to ts modulo 2^33,
// keeping its 4-bit prefix and marker bits.
func writeTimestamp(pkt []byte, off int, ts int64) {
	if off <= 0 || off+5 > len(pkt) {
		return
	}
	ts = mod(ts, ptsWrap)
	f := pkt[off : off+5]
	f[0] = f[0]&0xF1 | byte(ts>>29)&0x0E
	f[1] = byte(ts >> 22)
	f[2] = byte(ts>>14)&0xFE | f[2]&0x01
	f[3] = byte(ts >> 7)
	f[4] = byte(ts<<1)&0xFE | f[4]&0x01
}

// shiftTimestamp adds shift (90 kHz units) to the PTS or DTS field at off.
func shiftTimestamp(pkt []byte, off int, shift int64) {
	writeTimestamp(pkt, off, readTimestamp(pkt, off)+mod(shift, ptsWrap))
}

// mod is x modulo m, in [0, m).
func mod(x, m int64) int64 {
	if x %= m; x < 0 {
		x += m
	}
	return x
}
