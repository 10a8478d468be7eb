package ingest

import (
	"errors"
	"slices"

	"github.com/podium-broadcast/podium/internal/ts"
)

var errNoPMT = errors.New("no whole PAT and PMT in the reference PSI")

// buildPSI returns a PAT and a PMT carrying the program of psi (the
// reference source's PAT and PMT packets) with only the elementary streams
// of keep, at version (mod 32); the PAT is psi's. Their continuity counters are left for
// the splicer to set.
func buildPSI(psi []byte, pmtPID int, keep []int, version int) ([]byte, error) {
	pat := section(psi, 0)
	pmt := section(psi, pmtPID)
	if len(pat) < 12 || len(pmt) < 16 {
		return nil, errNoPMT
	}
	newPMT := append([]byte(nil), pmt[:12]...)
	infoLen := int(pmt[10]&0x0F)<<8 | int(pmt[11])
	body := pmt[:len(pmt)-4]
	if 12+infoLen > len(body) {
		return nil, errNoPMT
	}
	newPMT = append(newPMT, body[12:12+infoLen]...)
	for off := 12 + infoLen; off+5 <= len(body); {
		pid := int(body[off+1]&0x1F)<<8 | int(body[off+2])
		end := off + 5 + (int(body[off+3]&0x0F)<<8 | int(body[off+4]))
		if end > len(body) {
			return nil, errNoPMT
		}
		if slices.Contains(keep, pid) {
			newPMT = append(newPMT, body[off:end]...)
		}
		off = end
	}
	// The PAT still names the same PMT: it goes out as it was.
	var out []byte
	for off := 0; off+ts.PacketSize <= len(psi); off += ts.PacketSize {
		if ts.PID(psi[off:]) == 0 {
			out = append(out, psi[off:off+ts.PacketSize]...)
		}
	}
	return packetize(out, pmtPID, finishSection(newPMT, version)), nil
}

// finishSection sets a section's length and version and appends its CRC.
func finishSection(sec []byte, version int) []byte {
	n := len(sec) + 4 - 3
	sec[1] = sec[1]&0xF0 | byte(n>>8)&0x0F
	sec[2] = byte(n)
	sec[5] = sec[5]&0xC1 | byte(version&31)<<1
	crc := crc32MPEG(sec)
	return append(sec, byte(crc>>24), byte(crc>>16), byte(crc>>8), byte(crc))
}

// section returns the first whole PSI section on pid in packets, without
// the pointer field.
func section(packets []byte, pid int) []byte {
	var sec []byte
	for off := 0; off+ts.PacketSize <= len(packets); off += ts.PacketSize {
		pkt := packets[off : off+ts.PacketSize]
		if ts.PID(pkt) != pid {
			continue
		}
		pay := ts.Payload(pkt)
		if pkt[1]&0x40 != 0 && sec == nil {
			if len(pay) < 1 || int(pay[0])+1 > len(pay) {
				return nil
			}
			sec = append(sec, pay[1+int(pay[0]):]...)
		} else if sec != nil {
			sec = append(sec, pay...)
		}
		if len(sec) >= 3 {
			if n := 3 + (int(sec[1]&0x0F)<<8 | int(sec[2])); len(sec) >= n {
				return sec[:n]
			}
		}
	}
	return nil
}

// packetize appends sec as transport packets on pid, padded with 0xFF.
func packetize(out []byte, pid int, sec []byte) []byte {
	first := true
	for len(sec) > 0 || first {
		pkt := make([]byte, ts.PacketSize)
		pkt[0], pkt[1], pkt[2], pkt[3] = 0x47, byte(pid>>8)&0x1F, byte(pid), 0x10
		pay := pkt[4:]
		if first {
			pkt[1] |= 0x40
			pay[0] = 0
			pay = pay[1:]
			first = false
		}
		n := copy(pay, sec)
		for i := n; i < len(pay); i++ {
			pay[i] = 0xFF
		}
		sec = sec[n:]
		out = append(out, pkt...)
	}
	return out
}

// crc32MPEG is the CRC of MPEG-2 PSI sections (polynomial 0x04C11DB7, not reflected).
func crc32MPEG(data []byte) uint32 {
	crc := uint32(0xFFFFFFFF)
	for _, b := range data {
		crc ^= uint32(b) << 24
		for range 8 {
			if crc&0x80000000 != 0 {
				crc = crc<<1 ^ 0x04C11DB7
			} else {
				crc <<= 1
			}
		}
	}
	return crc
}
