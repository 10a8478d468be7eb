package srt

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// The packet formats of SRT (draft-sharabayko-srt, section 3), as libsrt
// puts them on the wire. Every parser here takes bytes from anyone on the
// network: it checks every length before it reads and returns an error,
// never panics (FuzzParse* hold it to that).

// headerSize is the size of the header every SRT packet starts with.
const headerSize = 16

// maxPayload is the largest payload of a data packet: an MTU of 1500 less
// the IPv4, UDP and SRT headers.
const maxPayload = 1500 - 20 - 8 - headerSize

// maxPacket bounds every datagram read: anything longer is not SRT.
const maxPacket = 1500

// Control packet types (3.2).
const (
	ctrlHandshake  uint16 = 0x0000
	ctrlKeepalive  uint16 = 0x0001
	ctrlACK        uint16 = 0x0002
	ctrlNAK        uint16 = 0x0003
	ctrlCongestion uint16 = 0x0004
	ctrlShutdown   uint16 = 0x0005
	ctrlACKACK     uint16 = 0x0006
	ctrlDropReq    uint16 = 0x0007
	ctrlPeerError  uint16 = 0x0008
	ctrlUser       uint16 = 0x7FFF
)

// Subtypes of ctrlUser, and the extension block types of a handshake (3.2.1).
const (
	extHSReq      uint16 = 1
	extHSRsp      uint16 = 2
	extKMReq      uint16 = 3
	extKMRsp      uint16 = 4
	extStreamID   uint16 = 5
	extCongestion uint16 = 6
	extFilter     uint16 = 7
	extGroup      uint16 = 8
)

// Packet position flags of a data packet: live mode sends every message in one packet.
const positionSolo = 0b11

// Key flags of a data packet: which stream key encrypted it.
const (
	keyNone = 0b00
	keyEven = 0b01
	keyOdd  = 0b10
)

var errShort = errors.New("packet too short")

// header is the decoded 16-byte header of any SRT packet.
type header struct {
	control bool
	// Data packets.
	seq      uint32 // 31 bits
	position uint8
	order    bool
	key      uint8
	retrans  bool
	msgno    uint32 // 26 bits
	// Control packets.
	ctrl     uint16
	subtype  uint16
	typeInfo uint32

	timestamp uint32
	dst       uint32 // destination socket id
}

// parseHeader decodes the header at the start of b.
func parseHeader(b []byte) (header, error) {
	var h header
	if len(b) < headerSize {
		return h, errShort
	}
	w0 := binary.BigEndian.Uint32(b[0:])
	w1 := binary.BigEndian.Uint32(b[4:])
	h.control = w0&0x80000000 != 0
	if h.control {
		h.ctrl = uint16(w0>>16) & 0x7FFF
		h.subtype = uint16(w0)
		h.typeInfo = w1
	} else {
		h.seq = w0 & seqMask
		h.position = uint8(w1 >> 30)
		h.order = w1&(1<<29) != 0
		h.key = uint8(w1>>27) & 0b11
		h.retrans = w1&(1<<26) != 0
		h.msgno = w1 & msgnoMask
	}
	h.timestamp = binary.BigEndian.Uint32(b[8:])
	h.dst = binary.BigEndian.Uint32(b[12:])
	return h, nil
}

// msgnoMask keeps the 26 bits of a message number.
const msgnoMask = 1<<26 - 1

// putDataHeader writes a live-mode data packet's header into b[:16].
func putDataHeader(b []byte, seq, msgno uint32, key uint8, retrans bool, timestamp, dst uint32) {
	binary.BigEndian.PutUint32(b[0:], seq&seqMask)
	w1 := uint32(positionSolo)<<30 | uint32(key&0b11)<<27 | msgno&msgnoMask
	if retrans {
		w1 |= 1 << 26
	}
	binary.BigEndian.PutUint32(b[4:], w1)
	binary.BigEndian.PutUint32(b[8:], timestamp)
	binary.BigEndian.PutUint32(b[12:], dst)
}

// setRetransmitted sets the R flag of a data packet header in b.
func setRetransmitted(b []byte) { b[4] |= 1 << 2 }

// putControlHeader writes a control packet's header into b[:16].
func putControlHeader(b []byte, ctrl, subtype uint16, typeInfo, timestamp, dst uint32) {
	binary.BigEndian.PutUint32(b[0:], 0x80000000|uint32(ctrl&0x7FFF)<<16|uint32(subtype))
	binary.BigEndian.PutUint32(b[4:], typeInfo)
	binary.BigEndian.PutUint32(b[8:], timestamp)
	binary.BigEndian.PutUint32(b[12:], dst)
}

// ackInfo is the control information of an ACK (3.2.4). A light ACK
// carries only the sequence number, a small one the first four fields.
type ackInfo struct {
	seq        uint32 // the next sequence number the receiver expects
	rtt        uint32 // µs
	rttVar     uint32 // µs
	available  uint32 // free space of the receiver's buffer, in packets
	pktRate    uint32 // packets per second
	capacity   uint32 // estimated link capacity, packets per second
	byteRate   uint32 // bytes per second
	fieldCount int    // 1 (light), 4 (small) or 7 (full)
}

func parseACK(b []byte) (ackInfo, error) {
	var a ackInfo
	n := len(b) / 4
	switch {
	case n >= 7:
		a.pktRate = binary.BigEndian.Uint32(b[16:])
		a.capacity = binary.BigEndian.Uint32(b[20:])
		a.byteRate = binary.BigEndian.Uint32(b[24:])
		a.fieldCount = 7
		fallthrough
	case n >= 4:
		a.rtt = binary.BigEndian.Uint32(b[4:])
		a.rttVar = binary.BigEndian.Uint32(b[8:])
		a.available = binary.BigEndian.Uint32(b[12:])
		if a.fieldCount == 0 {
			a.fieldCount = 4
		}
		fallthrough
	case n >= 1:
		a.seq = binary.BigEndian.Uint32(b[0:]) & seqMask
		if a.fieldCount == 0 {
			a.fieldCount = 1
		}
	default:
		return a, errShort
	}
	return a, nil
}

func (a *ackInfo) append(b []byte) []byte {
	b = binary.BigEndian.AppendUint32(b, a.seq&seqMask)
	b = binary.BigEndian.AppendUint32(b, a.rtt)
	b = binary.BigEndian.AppendUint32(b, a.rttVar)
	b = binary.BigEndian.AppendUint32(b, a.available)
	b = binary.BigEndian.AppendUint32(b, a.pktRate)
	b = binary.BigEndian.AppendUint32(b, a.capacity)
	return binary.BigEndian.AppendUint32(b, a.byteRate)
}

// lossRange is a run of lost sequence numbers, first to last inclusive.
type lossRange struct{ first, last uint32 }

// maxNAKRanges bounds the ranges one NAK may report (a NAK fits in one datagram).
const maxNAKRanges = maxPacket / 4

// parseNAK decodes a NAK's loss list (appendix A: a single number, or a
// range as its first number with the top bit set followed by its last)
// into ranges, appended to out. Ranges that run backwards, or longer than
// a quarter of the sequence space, are refused.
func parseNAK(b []byte, out []lossRange) ([]lossRange, error) {
	if len(b)%4 != 0 || len(b) == 0 {
		return out, fmt.Errorf("NAK of %d bytes: not a list of 32-bit numbers", len(b))
	}
	for i := 0; i < len(b); i += 4 {
		w := binary.BigEndian.Uint32(b[i:])
		if w&0x80000000 == 0 {
			out = append(out, lossRange{w, w})
			continue
		}
		if i+8 > len(b) {
			return out, errors.New("NAK range without its last number")
		}
		i += 4
		last := binary.BigEndian.Uint32(b[i:])
		if last&0x80000000 != 0 {
			return out, errors.New("NAK range ends with a range start")
		}
		first := w & seqMask
		if d := seqDiff(last, first); d < 0 || d > seqMask/4 {
			return out, fmt.Errorf("NAK range %d-%d is not a plausible run of losses", first, last)
		}
		out = append(out, lossRange{first, last})
	}
	return out, nil
}

// appendNAK encodes ranges as a loss list.
func appendNAK(b []byte, ranges []lossRange) []byte {
	for _, r := range ranges {
		if r.first == r.last {
			b = binary.BigEndian.AppendUint32(b, r.first&seqMask)
			continue
		}
		b = binary.BigEndian.AppendUint32(b, 0x80000000|r.first&seqMask)
		b = binary.BigEndian.AppendUint32(b, r.last&seqMask)
	}
	return b
}

// parseDropReq decodes a message drop request's range of sequence numbers (3.2.9).
func parseDropReq(b []byte) (lossRange, error) {
	if len(b) < 8 {
		return lossRange{}, errShort
	}
	r := lossRange{binary.BigEndian.Uint32(b[0:]) & seqMask, binary.BigEndian.Uint32(b[4:]) & seqMask}
	if d := seqDiff(r.last, r.first); d < 0 || d > seqMask/4 {
		return lossRange{}, fmt.Errorf("drop request %d-%d is not a plausible range", r.first, r.last)
	}
	return r, nil
}
