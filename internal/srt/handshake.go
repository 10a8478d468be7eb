package srt

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"strings"
)

// Handshake types (3.2.1); a value of 1000 or more is a rejection, whose
// reason is the value less 1000.
const (
	hsInduction  uint32 = 1
	hsWaveahand  uint32 = 0
	hsConclusion uint32 = 0xFFFFFFFF
	hsAgreement  uint32 = 0xFFFFFFFE
	hsRejectBase uint32 = 1000
)

// Handshake versions and the magic an HSv5 listener answers an induction with.
const (
	hsVersion4 uint32 = 4
	hsVersion5 uint32 = 5
	srtMagic   uint16 = 0x4A17
	udtDgram   uint16 = 2
)

// Extension flags of a conclusion (the low half of its type field).
const (
	extFlagHSReq  uint16 = 1 << 0
	extFlagKMReq  uint16 = 1 << 1
	extFlagConfig uint16 = 1 << 2
)

// SRT option flags of HSREQ and HSRSP.
const (
	flagTSBPDSnd   uint32 = 1 << 0
	flagTSBPDRcv   uint32 = 1 << 1
	flagCrypt      uint32 = 1 << 2
	flagTLPktDrop  uint32 = 1 << 3
	flagNAKReport  uint32 = 1 << 4
	flagRexmit     uint32 = 1 << 5
	flagStream     uint32 = 1 << 6
	flagFilterCap  uint32 = 1 << 7
	requiredFlags         = flagTSBPDSnd | flagTSBPDRcv | flagTLPktDrop | flagNAKReport | flagRexmit
	srtVersion     uint32 = 0x010501 // what Podium speaks: SRT 1.5.1's live mode
	minPeerVersion uint32 = 0x010300 // HSv5
)

// maxStreamID is the longest streamid SRT allows (SRTO_STREAMID).
const maxStreamID = 512

// handshake is a handshake packet's control information with its SRT extensions.
type handshake struct {
	version    uint32
	encryption uint16 // advertised key length / 8 (2, 3, 4) or 0
	extension  uint16 // extension flags, UDT socket type or the SRT magic
	isn        uint32
	mtu        uint32
	flowWindow uint32
	hsType     uint32
	socketID   uint32
	cookie     uint32
	peerIP     [16]byte

	// HSREQ or HSRSP.
	hasSRT     bool
	srtCmd     uint16
	peerVer    uint32
	srtFlags   uint32
	rcvDelay   uint16 // ms
	sndDelay   uint16 // ms
	kmCmd      uint16 // KMREQ or KMRSP, 0 for none
	km         []byte // the key material message, or a 4-byte KMRSP failure state
	streamID   string
	hasSID     bool
	congestion string
	// hasFilter and hasGroup say the caller asked for a packet filter or
	// socket groups, which Podium does not do.
	hasFilter, hasGroup bool
}

// cifSize is the size of the handshake's fixed part.
const cifSize = 48

// parseHandshake decodes a handshake packet's control information.
func parseHandshake(b []byte) (handshake, error) {
	var h handshake
	if len(b) < cifSize {
		return h, fmt.Errorf("handshake of %d bytes, at least %d expected", len(b), cifSize)
	}
	h.version = binary.BigEndian.Uint32(b[0:])
	h.encryption = binary.BigEndian.Uint16(b[4:])
	h.extension = binary.BigEndian.Uint16(b[6:])
	h.isn = binary.BigEndian.Uint32(b[8:]) & seqMask
	h.mtu = binary.BigEndian.Uint32(b[12:])
	h.flowWindow = binary.BigEndian.Uint32(b[16:])
	h.hsType = binary.BigEndian.Uint32(b[20:])
	h.socketID = binary.BigEndian.Uint32(b[24:])
	h.cookie = binary.BigEndian.Uint32(b[28:])
	copy(h.peerIP[:], b[32:48])
	if h.version != hsVersion5 || (h.hsType != hsConclusion && h.hsType != hsAgreement) {
		return h, nil
	}
	return h, h.parseExtensions(b[cifSize:])
}

// parseExtensions decodes the extension blocks after the fixed part: each
// a 16-bit type and a 16-bit length in 32-bit words, then that many words.
func (h *handshake) parseExtensions(b []byte) error {
	if len(b)%4 != 0 {
		return fmt.Errorf("handshake extensions of %d bytes: not whole 32-bit words", len(b))
	}
	for len(b) > 0 {
		if len(b) < 4 {
			return errShort
		}
		typ := binary.BigEndian.Uint16(b[0:])
		size := int(binary.BigEndian.Uint16(b[2:])) * 4
		b = b[4:]
		if size > len(b) {
			return fmt.Errorf("handshake extension %d of %d bytes, only %d left", typ, size, len(b))
		}
		body := b[:size]
		b = b[size:]
		switch typ {
		case extHSReq, extHSRsp:
			if size < 12 {
				return fmt.Errorf("HSREQ/HSRSP of %d bytes, 12 expected", size)
			}
			h.hasSRT, h.srtCmd = true, typ
			h.peerVer = binary.BigEndian.Uint32(body[0:])
			h.srtFlags = binary.BigEndian.Uint32(body[4:])
			h.rcvDelay = binary.BigEndian.Uint16(body[8:])
			h.sndDelay = binary.BigEndian.Uint16(body[10:])
		case extKMReq, extKMRsp:
			if size == 0 {
				return errors.New("empty key material extension")
			}
			h.kmCmd, h.km = typ, body
		case extStreamID:
			if size > maxStreamID {
				return fmt.Errorf("streamid of %d bytes, at most %d", size, maxStreamID)
			}
			h.hasSID, h.streamID = true, wordString(body)
		case extCongestion:
			if size > 32 {
				return fmt.Errorf("congestion controller name of %d bytes", size)
			}
			h.congestion = wordString(body)
		case extFilter:
			h.hasFilter = true
		case extGroup:
			h.hasGroup = true
		}
	}
	return nil
}

// wordString decodes a string of an extension block: libsrt writes it into
// 32-bit words in host order and sends them big-endian, so each group of
// four bytes arrives reversed; zero bytes pad the end.
func wordString(b []byte) string {
	var sb strings.Builder
	sb.Grow(len(b))
	for i := 0; i+4 <= len(b); i += 4 {
		sb.WriteByte(b[i+3])
		sb.WriteByte(b[i+2])
		sb.WriteByte(b[i+1])
		sb.WriteByte(b[i])
	}
	return strings.TrimRight(sb.String(), "\x00")
}

// appendWordString encodes s as wordString reads it.
func appendWordString(b []byte, s string) []byte {
	padded := (len(s) + 3) / 4 * 4
	for i := 0; i < padded; i += 4 {
		var w [4]byte
		for j := 0; j < 4 && i+j < len(s); j++ {
			w[j] = s[i+j]
		}
		b = append(b, w[3], w[2], w[1], w[0])
	}
	return b
}

// append encodes the handshake with its extensions.
func (h *handshake) append(b []byte) []byte {
	b = binary.BigEndian.AppendUint32(b, h.version)
	b = binary.BigEndian.AppendUint16(b, h.encryption)
	b = binary.BigEndian.AppendUint16(b, h.extension)
	b = binary.BigEndian.AppendUint32(b, h.isn&seqMask)
	b = binary.BigEndian.AppendUint32(b, h.mtu)
	b = binary.BigEndian.AppendUint32(b, h.flowWindow)
	b = binary.BigEndian.AppendUint32(b, h.hsType)
	b = binary.BigEndian.AppendUint32(b, h.socketID)
	b = binary.BigEndian.AppendUint32(b, h.cookie)
	b = append(b, h.peerIP[:]...)
	if h.hasSRT {
		b = binary.BigEndian.AppendUint16(b, h.srtCmd)
		b = binary.BigEndian.AppendUint16(b, 3)
		b = binary.BigEndian.AppendUint32(b, h.peerVer)
		b = binary.BigEndian.AppendUint32(b, h.srtFlags)
		b = binary.BigEndian.AppendUint16(b, h.rcvDelay)
		b = binary.BigEndian.AppendUint16(b, h.sndDelay)
	}
	if h.hasSID {
		b = binary.BigEndian.AppendUint16(b, extStreamID)
		b = binary.BigEndian.AppendUint16(b, uint16((len(h.streamID)+3)/4))
		b = appendWordString(b, h.streamID)
	}
	if h.kmCmd != 0 {
		b = binary.BigEndian.AppendUint16(b, h.kmCmd)
		b = binary.BigEndian.AppendUint16(b, uint16((len(h.km)+3)/4))
		b = append(b, h.km...)
		for len(h.km)%4 != 0 {
			b = append(b, 0)
		}
	}
	return b
}

// putPeerIP writes addr as the handshake's peer IP field: an IPv4 address
// in the first word (in host order, as libsrt does), an IPv6 one whole.
func putPeerIP(dst *[16]byte, addr netip.Addr) {
	*dst = [16]byte{}
	if addr.Is4() || addr.Is4In6() {
		a := addr.Unmap().As4()
		dst[0], dst[1], dst[2], dst[3] = a[3], a[2], a[1], a[0]
		return
	}
	*dst = addr.As16()
}
