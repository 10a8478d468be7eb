package tsloop

// Synthetic transport streams for the tests: just enough PSI, PES headers
// and PCRs to loop, built packet by packet.

const (
	pidPAT     = 0x0000
	synthPMT   = 0x1000
	synthVideo = 0x100
	synthAudio = 0x101
)

// muxer builds a transport stream, keeping each PID's continuity counter.
type muxer struct {
	out []byte
	cc  [pidCount]byte
}

// noPCR is the pcr argument of a packet without one.
const noPCR = -1

// packet appends one packet. It carries an adaptation field when it has a
// PCR or when payload is shorter than 184 bytes (stuffing), and no payload
// when payload is nil.
func (m *muxer) packet(pid uint16, unitStart bool, pcr int64, payload []byte) []byte {
	pkt := make([]byte, packetSize)
	pkt[0], pkt[1], pkt[2] = syncByte, byte(pid>>8)&0x1F, byte(pid)
	if unitStart {
		pkt[1] |= 0x40
	}
	if payload != nil {
		pkt[3] |= 0x10
		m.cc[pid] = (m.cc[pid] + 1) & 0x0F
	}
	pkt[3] |= m.cc[pid]
	rest := packetSize - 4
	if pcr != noPCR || len(payload) < rest {
		pkt[3] |= 0x20
		length := rest - 1 - len(payload)
		pkt[4] = byte(length)
		if length > 0 {
			for i := 6; i < 5+length; i++ {
				pkt[i] = 0xFF
			}
			pkt[5] = 0
			if pcr != noPCR {
				pkt[5] = 0x10
				pkt[10] = 0x7E
				writePCR(pkt, pcr)
			}
		}
	}
	copy(pkt[packetSize-len(payload):], payload)
	m.out = append(m.out, pkt...)
	return pkt
}

// psi appends a section with a zero CRC (tsloop does not check it).
func (m *muxer) psi(pid uint16, tableID byte, body ...byte) {
	length := 5 + len(body) + 4
	sec := []byte{0, tableID, 0xB0 | byte(length>>8), byte(length), 0x00, 0x01, 0xC1, 0, 0}
	sec = append(append(sec, body...), 0, 0, 0, 0)
	m.packet(pid, true, noPCR, sec)
}

func (m *muxer) pat() { m.psi(pidPAT, 0x00, 0x00, 0x01, 0xE0|synthPMT>>8, synthPMT&0xFF) }

func (m *muxer) pmt(pcrPID uint16) {
	m.psi(synthPMT, 0x02,
		0xE0|byte(pcrPID>>8), byte(pcrPID), 0xF0, 0x00,
		0x1B, 0xE0|synthVideo>>8, synthVideo&0xFF, 0xF0, 0x00,
		0x0F, 0xE0|synthAudio>>8, synthAudio&0xFF, 0xF0, 0x00)
}

// pes returns the start of a PES packet with a PTS and, when dts is not
// noPCR, a DTS.
func pes(streamID byte, pts, dts int64) []byte {
	h := []byte{0, 0, 1, streamID, 0, 0, 0x80, 0x80, 5, 0x21, 0, 1, 0, 1}
	if dts != noPCR {
		h[7], h[8], h[9] = 0xC0, 10, 0x31
		h = append(h, 0x11, 0, 1, 0, 1)
		writeTimestamp(h, 14, dts)
	}
	writeTimestamp(h, 9, pts)
	return append(h, make([]byte, 20)...)
}

// synthStream is a loopable stream of a PAT, a PMT and n frames from dts0.
func synthStream(n int, dts0 int64) []byte {
	var m muxer
	m.pat()
	m.pmt(synthVideo)
	m.frames(n, dts0)
	return m.out
}

// frameTicks is the duration of a synthetic frame: 20 ms at 90 kHz.
const frameTicks = 1800

// frames appends n 20 ms video frames (PTS and DTS from dts0, a PCR 100 ms
// before the DTS, a PCR-only packet after each) and as many 20 ms audio
// frames (PTS only).
func (m *muxer) frames(n int, dts0 int64) {
	for i := range n {
		dts := dts0 + int64(i)*frameTicks
		m.packet(synthVideo, true, (dts-9000)*300, pes(0xE0, dts+2*frameTicks, dts))
		m.packet(synthAudio, true, noPCR, pes(0xC0, dts+frameTicks, noPCR))
		m.packet(synthVideo, false, (dts-9000+frameTicks/2)*300, nil)
	}
}
