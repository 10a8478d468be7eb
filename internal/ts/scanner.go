// Package ts reads just enough of an MPEG transport stream to relay it: it
// checks packet framing, follows the PAT and the PMT of the first program,
// and finds random-access points (video keyframes) so that a new reader can
// start where its decoder shows a picture at once. It never modifies or
// copies the stream it scans, and it does not allocate per packet.
package ts

import (
	"errors"
	"fmt"
)

// PacketSize is the size of an MPEG-TS packet.
const PacketSize = 188

// NullPID is the PID of null packets, and the PCR_PID of a program without a PCR.
const NullPID = 0x1FFF

const (
	syncByte = 0x47
	pidPAT   = 0x0000
	// maxSectionPackets bounds a PAT or PMT section (at most 1024 bytes) in packets.
	maxSectionPackets = 6
)

// ErrNotTS is returned for data that is not a sequence of 188-byte transport packets.
var ErrNotTS = errors.New("not an MPEG transport stream")

// Stream types of the video codecs whose keyframes the scanner recognises.
const (
	StreamTypeMPEG1Video = 0x01
	StreamTypeMPEG2Video = 0x02
	StreamTypeH264       = 0x1B
	StreamTypeH265       = 0x24
)

// Scanner follows a transport stream chunk by chunk. The zero value is ready to use.
type Scanner struct {
	pmtPID     int // -1 until a PAT names one
	videoPID   int // -1 until a PMT names one
	videoType  byte
	firstPID   int // first elementary stream: the access point of a stream without video
	pcrPID     int // the PMT's PCR_PID
	havePMT    bool
	started    bool
	pat, pmt   section
	rapPSI     []byte // PAT then PMT packets as they stood at the latest random-access point
	rapPSIUsed int
	streams    [maxStreams]Stream
	nStreams   int
}

// maxStreams bounds the elementary streams of a program that Streams reports.
const maxStreams = 32

// Stream is one elementary stream of the program, as its PMT lists it.
type Stream struct {
	PID  int
	Type byte // stream_type
}

// section collects the packets of one PSI section (PAT or PMT).
type section struct {
	buf      [maxSectionPackets * PacketSize]byte
	packets  int  // packets of the section being collected
	complete int  // packets of the last complete section, at the start of buf
	want     int  // section bytes still missing
	pending  bool // a section is being collected
	// scratch holds the packets of a section being collected, so the last
	// complete section stays valid until the new one is whole.
	scratch [maxSectionPackets * PacketSize]byte
	payload [1024 + 3]byte
	paylen  int
}

func (s *Scanner) init() {
	if !s.started {
		s.started = true
		s.pmtPID, s.videoPID, s.firstPID, s.pcrPID = -1, -1, -1, -1
		if s.rapPSI == nil {
			s.rapPSI = make([]byte, 0, 2*maxSectionPackets*PacketSize)
		}
	}
}

// Reset forgets everything learnt about the stream, as for a new publisher.
func (s *Scanner) Reset() {
	*s = Scanner{rapPSI: s.rapPSI}
	s.init()
}

// CheckFraming reports whether chunk is a whole number of transport packets,
// each starting with the sync byte; the error says where it is not.
func CheckFraming(chunk []byte) error {
	if len(chunk) == 0 || len(chunk)%PacketSize != 0 {
		return fmt.Errorf("%w: payload of %d bytes is not a multiple of %d", ErrNotTS, len(chunk), PacketSize)
	}
	for off := 0; off < len(chunk); off += PacketSize {
		if chunk[off] != syncByte {
			return fmt.Errorf("%w: no sync byte at offset %d (0x%02x)", ErrNotTS, off, chunk[off])
		}
	}
	return nil
}

// Scan checks the framing of chunk and follows its packets. It returns the
// index of the first packet in chunk that is a random-access point, or -1.
func (s *Scanner) Scan(chunk []byte) (rap int, err error) {
	if err := CheckFraming(chunk); err != nil {
		return -1, err
	}
	s.init()
	rap = -1
	for i := 0; i < len(chunk)/PacketSize; i++ {
		pkt := chunk[i*PacketSize : (i+1)*PacketSize]
		if s.scanPacket(pkt) && rap < 0 {
			rap = i
		}
	}
	return rap, nil
}

// RAPPSI returns the PAT and PMT packets as they stood at the latest
// random-access point, to be sent before it. The slice is overwritten by the
// next Scan that finds an access point: copy it to keep it.
func (s *Scanner) RAPPSI() []byte { return s.rapPSI[:s.rapPSIUsed] }

// VideoPID returns the PID and stream type of the video of the first program, if known.
func (s *Scanner) VideoPID() (pid int, streamType byte, ok bool) {
	return s.videoPID, s.videoType, s.videoPID >= 0
}

// Program is what a scanner has learnt of the stream's first program.
type Program struct {
	PAT    bool // a PAT has been read
	PMTPID int  // the PID of the program's PMT, -1 while no PAT names one
	PMT    bool // the PMT on PMTPID has been read
	PCRPID int  // the PMT's PCR_PID (NullPID for none), -1 before the PMT
}

// Streams returns the elementary streams of the program's latest PMT, in
// its order (at most 32). The slice is overwritten by the next PMT.
func (s *Scanner) Streams() []Stream { return s.streams[:s.nStreams] }

// Program returns what the scanner has learnt of the first program so far.
func (s *Scanner) Program() Program {
	s.init()
	return Program{PAT: s.pat.complete > 0, PMTPID: s.pmtPID, PMT: s.havePMT, PCRPID: s.pcrPID}
}

// PID returns a packet's PID.
func PID(pkt []byte) int { return int(pkt[1]&0x1F)<<8 | int(pkt[2]) }

// scanPacket follows one packet and reports whether it is a random-access point.
func (s *Scanner) scanPacket(pkt []byte) bool {
	pid := PID(pkt)
	pusi := pkt[1]&0x40 != 0
	switch {
	case pid == NullPID:
		return false
	case pid == pidPAT:
		if s.pat.add(pkt) {
			s.parsePAT()
		}
		return false
	case pid == s.pmtPID:
		if s.pmt.add(pkt) {
			s.parsePMT()
		}
		return false
	}
	if !s.havePMT || !pusi || s.pat.complete == 0 {
		return false
	}
	var isRAP bool
	switch {
	case pid == s.videoPID:
		isRAP = randomAccessIndicator(pkt) || keyframeStart(s.videoType, Payload(pkt))
	case s.videoPID < 0 && pid == s.firstPID:
		isRAP = true
	}
	if isRAP {
		s.rapPSIUsed = copy(s.rapPSI[:cap(s.rapPSI)], s.pat.buf[:s.pat.complete*PacketSize])
		s.rapPSIUsed += copy(s.rapPSI[s.rapPSIUsed:cap(s.rapPSI)], s.pmt.buf[:s.pmt.complete*PacketSize])
	}
	return isRAP
}

// Payload returns a 188-byte packet's payload, after any adaptation field,
// or nil if it has none.
func Payload(pkt []byte) []byte {
	afc := pkt[3] >> 4 & 0x3
	switch afc {
	case 1:
		return pkt[4:]
	case 3:
		start := 5 + int(pkt[4])
		if start >= PacketSize {
			return nil
		}
		return pkt[start:]
	}
	return nil
}

func randomAccessIndicator(pkt []byte) bool {
	afc := pkt[3] >> 4 & 0x3
	return (afc == 2 || afc == 3) && pkt[4] > 0 && pkt[5]&0x40 != 0
}

// add appends a packet of the section's PID; it reports whether a section was completed.
func (sec *section) add(pkt []byte) bool {
	data := Payload(pkt)
	if len(data) == 0 {
		return false
	}
	if pkt[1]&0x40 != 0 {
		pointer := int(data[0])
		if 1+pointer+3 > len(data) {
			sec.pending = false
			return false
		}
		data = data[1+pointer:]
		length := int(data[1]&0x0F)<<8 | int(data[2])
		if length > 1021 {
			sec.pending = false
			return false
		}
		sec.pending, sec.packets, sec.paylen = true, 0, 0
		sec.want = 3 + length
	} else if !sec.pending {
		return false
	}
	if sec.packets == maxSectionPackets {
		sec.pending = false
		return false
	}
	copy(sec.scratch[sec.packets*PacketSize:], pkt)
	sec.packets++
	n := min(len(data), sec.want)
	sec.paylen += copy(sec.payload[sec.paylen:], data[:n])
	sec.want -= n
	if sec.want > 0 {
		return false
	}
	sec.pending = false
	copy(sec.buf[:], sec.scratch[:sec.packets*PacketSize])
	sec.complete = sec.packets
	return true
}

// body returns the completed section's bytes from table_id up to, not including, the CRC.
func (sec *section) body() []byte {
	if sec.paylen < 3+5+4 {
		return nil
	}
	return sec.payload[:sec.paylen-4]
}

func (s *Scanner) parsePAT() {
	body := s.pat.body()
	if body == nil || body[0] != 0x00 {
		return
	}
	for off := 8; off+4 <= len(body); off += 4 {
		program := int(body[off])<<8 | int(body[off+1])
		pid := int(body[off+2]&0x1F)<<8 | int(body[off+3])
		if program == 0 {
			continue // network PID
		}
		if pid != s.pmtPID {
			s.pmtPID, s.havePMT, s.videoPID, s.firstPID, s.pcrPID = pid, false, -1, -1, -1
			s.pmt = section{}
		}
		return
	}
}

func (s *Scanner) parsePMT() {
	body := s.pmt.body()
	if body == nil || body[0] != 0x02 || len(body) < 12 {
		return
	}
	infoLen := int(body[10]&0x0F)<<8 | int(body[11])
	s.pcrPID = int(body[8]&0x1F)<<8 | int(body[9])
	s.videoPID, s.firstPID = -1, -1
	s.nStreams = 0
	for off := 12 + infoLen; off+5 <= len(body); {
		streamType := body[off]
		pid := int(body[off+1]&0x1F)<<8 | int(body[off+2])
		esInfoLen := int(body[off+3]&0x0F)<<8 | int(body[off+4])
		if s.nStreams < maxStreams {
			s.streams[s.nStreams] = Stream{PID: pid, Type: streamType}
			s.nStreams++
		}
		if s.firstPID < 0 {
			s.firstPID = pid
		}
		if s.videoPID < 0 && isVideo(streamType) {
			s.videoPID, s.videoType = pid, streamType
		}
		off += 5 + esInfoLen
	}
	s.havePMT = true
}

func isVideo(streamType byte) bool {
	switch streamType {
	case StreamTypeMPEG1Video, StreamTypeMPEG2Video, StreamTypeH264, StreamTypeH265:
		return true
	}
	return false
}

// keyframeStart looks in the first packet of a video PES for the start codes
// that open a random-access point: an H.264 IDR or SPS, an H.265 IRAP or
// parameter set, an MPEG-2 sequence header.
func keyframeStart(streamType byte, pes []byte) bool {
	if len(pes) < 9 || pes[0] != 0 || pes[1] != 0 || pes[2] != 1 {
		return false
	}
	start := 9 + int(pes[8])
	if start >= len(pes) {
		return false
	}
	es := pes[start:]
	for i := 0; i+3 < len(es); i++ {
		if es[i] != 0 || es[i+1] != 0 || es[i+2] != 1 {
			continue
		}
		b := es[i+3]
		switch streamType {
		case StreamTypeH264:
			if t := b & 0x1F; t == 5 || t == 7 {
				return true
			}
		case StreamTypeH265:
			if t := b >> 1 & 0x3F; (t >= 16 && t <= 21) || t == 32 || t == 33 {
				return true
			}
		default:
			if b == 0xB3 {
				return true
			}
		}
		i += 2
	}
	return false
}
