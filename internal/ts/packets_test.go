package ts

// Builders of synthetic transport packets for tests.

func packet(pid int, pusi bool, cc byte, adaptation []byte, payload []byte) []byte {
	pkt := make([]byte, PacketSize)
	pkt[0] = syncByte
	pkt[1] = byte(pid >> 8 & 0x1F)
	if pusi {
		pkt[1] |= 0x40
	}
	pkt[2] = byte(pid)
	afc := byte(1)
	off := 4
	room := PacketSize - 4 - len(payload)
	if adaptation != nil || room > 0 {
		afc = 3
		// stuff the adaptation field so that payload ends the packet
		length := room - 1
		pkt[4] = byte(length)
		if length > 0 {
			copy(pkt[5:], adaptation)
			for i := 5 + len(adaptation); i < 5+length; i++ {
				if i == 5 && len(adaptation) == 0 {
					pkt[i] = 0
					continue
				}
				pkt[i] = 0xFF
			}
		}
		off = 5 + length
	}
	pkt[3] = afc<<4 | cc&0x0F
	copy(pkt[off:], payload)
	return pkt
}

func psiPacket(pid int, cc byte, section []byte) []byte {
	payload := append([]byte{0}, section...)
	for len(payload) < PacketSize-4 {
		payload = append(payload, 0xFF)
	}
	return packet(pid, true, cc, nil, payload)
}

func patSection(pmtPID int) []byte {
	return []byte{0x00, 0xB0, 13, 0, 1, 0xC1, 0, 0,
		0, 1, byte(0xE0 | pmtPID>>8), byte(pmtPID),
		0, 0, 0, 0} // CRC (not checked)
}

type esEntry struct {
	streamType byte
	pid        int
}

func pmtSection(pcrPID int, streams ...esEntry) []byte {
	body := []byte{0x02, 0, 0, 0, 1, 0xC1, 0, 0, byte(0xE0 | pcrPID>>8), byte(pcrPID), 0xF0, 0}
	for _, es := range streams {
		body = append(body, es.streamType, byte(0xE0|es.pid>>8), byte(es.pid), 0xF0, 0)
	}
	length := len(body) - 3 + 4
	body[1] = 0xB0 | byte(length>>8)
	body[2] = byte(length)
	return append(body, 0, 0, 0, 0)
}

func pes(es ...byte) []byte {
	return append([]byte{0, 0, 1, 0xE0, 0, 0, 0x80, 0x80, 5, 0x21, 0, 1, 0, 1}, es...)
}

var (
	h264IDR    = []byte{0, 0, 0, 1, 0x09, 0xF0, 0, 0, 0, 1, 0x67, 0x64, 0, 0, 1, 0x65, 0x88}
	h264NonIDR = []byte{0, 0, 0, 1, 0x09, 0xF0, 0, 0, 1, 0x41, 0x9A}
	hevcIDR    = []byte{0, 0, 0, 1, 0x46, 0x01, 0x50, 0, 0, 1, 0x26, 0x01}
	hevcTrail  = []byte{0, 0, 0, 1, 0x46, 0x01, 0x50, 0, 0, 1, 0x02, 0x01}
	mpeg2Seq   = []byte{0, 0, 1, 0xB3, 0x2D, 0x00}
	mpeg2Pic   = []byte{0, 0, 1, 0x00, 0x2D, 0x00}
	raiField   = []byte{0x40}
)

func concat(packets ...[]byte) []byte {
	var out []byte
	for _, p := range packets {
		out = append(out, p...)
	}
	return out
}
