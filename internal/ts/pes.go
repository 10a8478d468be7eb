package ts

// PESTimestamps returns the PTS and DTS of the PES header that starts in a
// 188-byte packet, ok false when the packet starts no PES with a PTS. A PES
// without a DTS reports its PTS as the DTS.
func PESTimestamps(pkt []byte) (pts, dts int64, ok bool) {
	if len(pkt) != PacketSize || pkt[1]&0x40 == 0 {
		return 0, 0, false
	}
	pes := Payload(pkt)
	if len(pes) < 14 || pes[0] != 0 || pes[1] != 0 || pes[2] != 1 {
		return 0, 0, false
	}
	flags := pes[7] >> 6
	if flags&0x2 == 0 {
		return 0, 0, false
	}
	pts = ReadTimestamp(pes[9:14])
	dts = pts
	if flags == 0x3 && len(pes) >= 19 {
		dts = ReadTimestamp(pes[14:19])
	}
	return pts, dts, true
}

// ReadTimestamp decodes a 33-bit PES timestamp field (PTS or DTS) of 5 bytes.
func ReadTimestamp(b []byte) int64 {
	return int64(b[0]>>1&0x07)<<30 | int64(b[1])<<22 | int64(b[2]>>1)<<15 | int64(b[3])<<7 | int64(b[4]>>1)
}

// SetContinuityCounter writes a packet's 4-bit continuity counter.
func SetContinuityCounter(pkt []byte, cc byte) { pkt[3] = pkt[3]&0xF0 | cc&0x0F }

// HasPayload reports whether a packet carries a payload (and so counts for continuity).
func HasPayload(pkt []byte) bool { return pkt[3]&0x10 != 0 }
