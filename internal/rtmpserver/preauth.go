package rtmpserver

import (
	"encoding/binary"
	"net"
)

// What a peer may send before its publish is accepted. gortmplib allocates
// a chunk's body (up to the announced chunk size, 10 MiB at most) as soon as
// it has read the chunk's header, before a byte of the body has arrived, so
// bounding the bytes read is not enough: the chunk stream is read ahead of
// the library and a Set Chunk Size or message length over these bounds
// closes the connection before gortmplib sees it.
const (
	// preAuthLimit bounds the bytes in all: the handshake and the commands
	// up to publish take about 4 KiB.
	preAuthLimit = 64 << 10
	// maxChunkSize bounds Set Chunk Size, as SRS does (128 to 65536);
	// encoders send 4096 (OBS, ffmpeg) or 65536.
	maxChunkSize = 65536
	// preAuthMaxMessage bounds a message's announced length: commands are
	// a few hundred bytes, and more than preAuthLimit could not arrive.
	preAuthMaxMessage = preAuthLimit
)

// Rejection reasons of the pre-authentication guard.
const (
	reasonOversized  = "oversized"
	reasonBadRequest = "bad request"
)

var errPreAuth = reject(reasonOversized, "", "sent more than %d KiB before publishing", preAuthLimit>>10)

// handshakeLen is what a client sends in a plain handshake: C0, C1 and C2.
const handshakeLen = 1 + 1536 + 1536

// rtmpeVersion is C0 of an encrypted (RTMPE) handshake.
const rtmpeVersion = 6

// preAuthConn reads a connection for gortmplib until the peer is accepted
// as a publisher: it stops at preAuthLimit bytes and follows the chunk
// stream (see chunkGuard). Accept lifts both.
type preAuthConn struct {
	net.Conn
	left     int // what the peer may still send; negative once accepted
	guard    chunkGuard
	accepted bool
}

func newPreAuthConn(nc net.Conn) *preAuthConn {
	return &preAuthConn{Conn: nc, left: preAuthLimit, guard: newChunkGuard()}
}

// Accept lifts the bounds: the peer is an authenticated publisher.
func (c *preAuthConn) Accept() { c.accepted = true }

func (c *preAuthConn) Read(p []byte) (int, error) {
	if c.accepted {
		return c.Conn.Read(p)
	}
	if c.left == 0 {
		return 0, errPreAuth
	}
	if len(p) > c.left {
		p = p[:c.left]
	}
	n, err := c.Conn.Read(p)
	c.left -= n
	if rej := c.guard.scan(p[:n]); rej != nil {
		return 0, rej
	}
	return n, err
}

// chunkGuard follows a client's byte stream as gortmplib's server reads it
// (plain handshake, then RTMP chunks) and refuses what would make the
// library allocate more than the bounds allow. It mirrors the library's
// reading of chunk headers exactly, including its refusals, so that both
// stay at the same place in the stream.
type chunkGuard struct {
	handshakeLeft int // handshake bytes still to come; -1 before C0
	chunkSize     uint32
	streams       [64]guardStream // by chunk stream id; 0 and 1 are refused

	// The chunk being read.
	header    [16]byte
	headerLen int // bytes of header read so far
	headerEnd int // its whole length, once the basic header is known
	cs        *guardStream
	csid      int
	kind      byte   // chunk type: 0 to 3
	bodyLeft  uint32 // bytes of the chunk's body still to come
	inBody    bool
}

// guardStream is what gortmplib keeps of a chunk stream.
type guardStream struct {
	started     bool // a type 0 chunk has been read
	extended    bool // type 3 chunks carry an extended timestamp
	messageType byte
	bodyLen     uint32
	received    uint32
	control     [4]byte // a protocol control message's body
}

func newChunkGuard() chunkGuard {
	return chunkGuard{handshakeLeft: -1, chunkSize: 128}
}

// scan follows p, the next bytes the peer sent, and returns a rejection
// for the first one that breaks a bound.
func (g *chunkGuard) scan(p []byte) *rejection {
	for len(p) > 0 {
		switch {
		case g.handshakeLeft < 0:
			if p[0] == rtmpeVersion {
				return reject(reasonBadRequest, "", "encrypted RTMP (RTMPE) is not accepted: publish over plain RTMP, or over SRT with encryption")
			}
			g.handshakeLeft = handshakeLen - 1
			p = p[1:]
		case g.handshakeLeft > 0:
			n := min(len(p), g.handshakeLeft)
			g.handshakeLeft -= n
			p = p[n:]
		case g.inBody:
			n := min(uint32(len(p)), g.bodyLeft)
			g.body(p[:n])
			p = p[n:]
			if g.bodyLeft == 0 {
				if rej := g.endChunk(); rej != nil {
					return rej
				}
			}
		default:
			g.header[g.headerLen] = p[0]
			g.headerLen++
			p = p[1:]
			if rej := g.headerByte(); rej != nil {
				return rej
			}
		}
	}
	return nil
}

// headerByte takes the chunk header's latest byte.
func (g *chunkGuard) headerByte() *rejection {
	if g.headerLen == 1 {
		g.kind = g.header[0] >> 6
		g.csid = int(g.header[0] & 0x3f)
		if g.csid < 2 {
			return reject(reasonBadRequest, "", "chunk stream ids of more than one byte are not accepted")
		}
		g.cs = &g.streams[g.csid]
		// The library's own refusals, before it reads the header.
		switch {
		case g.kind != 3 && g.cs.received != 0:
			return reject(reasonBadRequest, "", "chunk of type %d in the middle of a message", g.kind)
		case g.kind != 0 && !g.cs.started && g.cs.received == 0:
			return reject(reasonBadRequest, "", "chunk of type %d without a previous chunk", g.kind)
		}
		g.headerEnd = 1 + [4]int{11, 7, 3, 0}[g.kind]
		if g.kind == 3 && g.cs.extended {
			g.headerEnd += 4
		}
	}
	// A 24-bit timestamp (or delta) of 0xFFFFFF announces 4 more bytes.
	if g.kind < 3 && g.headerLen == 4 && g.field24(1) == 0xffffff {
		g.headerEnd += 4
	}
	if g.headerLen < g.headerEnd {
		return nil
	}
	return g.startBody()
}

// startBody applies a complete chunk header as gortmplib does, and bounds
// the message length it announces.
func (g *chunkGuard) startBody() *rejection {
	cs := g.cs
	if g.kind < 3 {
		timestamp := g.field24(1)
		if timestamp == 0xffffff {
			timestamp = binary.BigEndian.Uint32(g.header[g.headerEnd-4 : g.headerEnd])
		}
		cs.extended = timestamp >= 0xffffff
	}
	if g.kind == 0 {
		cs.started = true
	}
	if g.kind < 2 {
		cs.bodyLen = g.field24(4)
		cs.messageType = g.header[7]
		if cs.bodyLen > preAuthMaxMessage {
			return reject(reasonOversized, "", "message of %d bytes announced before publishing (at most %d)", cs.bodyLen, preAuthMaxMessage)
		}
	}
	g.bodyLeft = min(cs.bodyLen-cs.received, g.chunkSize)
	g.headerLen = 0
	g.inBody = true
	if g.bodyLeft == 0 {
		return g.endChunk()
	}
	return nil
}

// body takes bytes of the current chunk's body.
func (g *chunkGuard) body(p []byte) {
	cs := g.cs
	if cs.received < uint32(len(cs.control)) {
		copy(cs.control[cs.received:], p)
	}
	cs.received += uint32(len(p))
	g.bodyLeft -= uint32(len(p))
}

// endChunk ends a chunk and, if it completes a message, applies what the
// library applies: Set Chunk Size and Abort.
func (g *chunkGuard) endChunk() *rejection {
	g.inBody = false
	cs := g.cs
	if cs.received != cs.bodyLen {
		return nil
	}
	cs.received = 0
	if cs.bodyLen != 4 {
		return nil
	}
	value := binary.BigEndian.Uint32(cs.control[:])
	switch cs.messageType {
	case 1: // Set Chunk Size
		if value == 0 || value > maxChunkSize {
			return reject(reasonOversized, "", "Set Chunk Size %d refused (1 to %d)", value, maxChunkSize)
		}
		g.chunkSize = value
	case 2: // Abort
		if value >= 2 && value <= 63 && g.streams[value].received != 0 {
			g.streams[value].bodyLen = 0
			g.streams[value].received = 0
		}
	}
	return nil
}

// field24 reads the header's 24-bit field at offset i.
func (g *chunkGuard) field24(i int) uint32 {
	return uint32(g.header[i])<<16 | uint32(g.header[i+1])<<8 | uint32(g.header[i+2])
}
