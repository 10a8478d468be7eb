package tsloop

// Reading and rewriting the few fields of a transport packet that looping
// touches. Every function checks its bounds: a malformed packet is left alone.

func packetPID(pkt []byte) uint16 { return uint16(pkt[1]&0x1F)<<8 | uint16(pkt[2]) }

func hasPayload(pkt []byte) bool { return pkt[3]&0x10 != 0 }

func hasAdaptation(pkt []byte) bool { return pkt[3]&0x20 != 0 }

// pcrField returns the 6 bytes of the packet's PCR, if it carries one.
func pcrField(pkt []byte) []byte {
	if !hasAdaptation(pkt) || pkt[4] < 7 || pkt[5]&0x10 == 0 {
		return nil
	}
	return pkt[6:12]
}

// readPCR returns the PCR in 27 MHz units.
func readPCR(pkt []byte) (int64, bool) {
	f := pcrField(pkt)
	if f == nil {
		return 0, false
	}
	base := int64(f[0])<<25 | int64(f[1])<<17 | int64(f[2])<<9 | int64(f[3])<<1 | int64(f[4])>>7
	ext := int64(f[4]&0x01)<<8 | int64(f[5])
	return base*300 + ext, true
}

// writePCR sets the PCR (27 MHz units), keeping the reserved bits.
func writePCR(pkt []byte, pcr int64) {
	f := pcrField(pkt)
	if f == nil {
		return
	}
	base, ext := pcr/300, pcr%300
	f[0], f[1], f[2], f[3] = byte(base>>25), byte(base>>17), byte(base>>9), byte(base>>1)
	f[4] = byte(base&1)<<7 | f[4]&0x7E | byte(ext>>8)&0x01
	f[5] = byte(ext)
}

// pesHeader returns the start of the PES packet that begins in pkt, with
// room for its optional header, or nil.
func pesHeader(pkt []byte) []byte {
	if pkt[1]&0x40 == 0 || !hasPayload(pkt) {
		return nil
	}
	start := 4
	if hasAdaptation(pkt) {
		start += 1 + int(pkt[4])
	}
	if start+9 > len(pkt) {
		return nil
	}
	pes := pkt[start:]
	if pes[0] != 0 || pes[1] != 0 || pes[2] != 1 {
		return nil
	}
	switch pes[3] {
	case 0xBC, 0xBE, 0xBF, 0xF0, 0xF1, 0xF2, 0xF8, 0xFF: // no optional PES header
		return nil
	}
	if pes[6]&0xC0 != 0x80 {
		return nil
	}
	return pes
}

// timestamps returns the PTS and, if present, DTS fields of a PES header.
func timestamps(pes []byte) (pts, dts []byte) {
	flags := pes[7] >> 6
	if flags&0x2 == 0 || len(pes) < 14 {
		return nil, nil
	}
	pts = pes[9:14]
	if flags == 0x3 && len(pes) >= 19 {
		dts = pes[14:19]
	}
	return pts, dts
}

// readPTS returns the PTS of the PES that starts in pkt.
func readPTS(pkt []byte) (int64, bool) {
	pes := pesHeader(pkt)
	if pes == nil {
		return 0, false
	}
	pts, _ := timestamps(pes)
	if pts == nil {
		return 0, false
	}
	return readTimestamp(pts), true
}

func readTimestamp(f []byte) int64 {
	return int64(f[0]>>1&0x07)<<30 | int64(f[1])<<22 | int64(f[2]>>1)<<15 | int64(f[3])<<7 | int64(f[4]>>1)
}

// writeTimestamp sets a 33-bit PTS or DTS field, keeping its prefix and marker bits.
func writeTimestamp(f []byte, ts int64) {
	f[0] = f[0]&0xF1 | byte(ts>>29)&0x0E
	f[1] = byte(ts >> 22)
	f[2] = byte(ts>>14)&0xFE | f[2]&0x01
	f[3] = byte(ts >> 7)
	f[4] = byte(ts<<1)&0xFE | f[4]&0x01
}

// shiftPESTimestamps adds shift (90 kHz) to the PTS and DTS of a PES that starts in pkt.
func shiftPESTimestamps(pkt []byte, shift int64) {
	pes := pesHeader(pkt)
	if pes == nil {
		return
	}
	pts, dts := timestamps(pes)
	for _, f := range [][]byte{pts, dts} {
		if f != nil {
			writeTimestamp(f, (readTimestamp(f)+shift)%ptsWrap)
		}
	}
}
