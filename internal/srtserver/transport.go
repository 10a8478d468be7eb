package srtserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/podium-broadcast/podium/internal/srt"
)

// The SRT implementation is kept behind these small types, so that it can
// be replaced (by a binding to libsrt, say) without touching the rest of
// Podium. It is Podium's own (package srt): the pure-Go library used before
// could be crashed by one malformed datagram, and its throughput, send
// buffers and catch-up bursts fell short of a Games (see the README).

// listener accepts SRT connection requests.
type listener interface {
	Accept() (request, error)
	Close()
	Addr() net.Addr
	// Discarded counts the datagrams the listener dropped before any
	// connection saw them, by reason.
	Discarded() map[string]uint64
}

// request is a caller's handshake, before it is accepted or rejected.
type request interface {
	StreamID() string
	RemoteAddr() net.Addr
	Encrypted() bool
	// SetPassphrase fails when the caller's key material does not decrypt with p.
	SetPassphrase(p string) error
	Accept() (conn, error)
	Reject(code RejectCode)
}

// conn is an established SRT connection carrying one message per Read or Write.
type conn interface {
	Read(p []byte) (int, error)
	// Write queues one message, keeping p (which must not change) until it
	// is acknowledged; it fails at once with srt.ErrSendQueueFull when the
	// receiver is too far behind.
	Write(p []byte) (int, error)
	Close() error
	RemoteAddr() net.Addr
	Stats() connStats
	// SetInputRate says how fast the application will write, in bits per
	// second, so that a backlog written at once is paced from the start.
	SetInputRate(bps uint64)
	// Unsent returns how many written packets have not been sent once yet.
	Unsent() int
}

// connStats are the SRT counters Podium reports and acts on.
type connStats struct {
	PktSent, PktRecv         uint64
	PktRetrans               uint64 // retransmitted by this side
	PktSendLoss, PktRecvLoss uint64
	PktSendDrop, PktRecvDrop uint64
	PktRecvACK               uint64
	RTT                      time.Duration
}

// listenConfig is what Podium sets on its SRT listener.
type listenConfig struct {
	Latency time.Duration
	// SendQueueDelay is how long a message may wait to be sent before the
	// receiver counts as lagging.
	SendQueueDelay time.Duration
	Log            *slog.Logger
}

// dialConfig is what Podium sets when it calls a listener (an encoder it
// pulls from, a receiver it pushes to).
type dialConfig struct {
	StreamID   string
	Passphrase string // empty: unencrypted
	Latency    time.Duration
	// Timeout bounds the handshake: a listener that does not answer within it is not there.
	Timeout time.Duration
}

// dialFunc calls the SRT listener at address (host:port) in caller mode.
type dialFunc func(address string, cfg dialConfig) (conn, error)

func dialSRT(address string, cfg dialConfig) (conn, error) {
	c, err := srt.Dial(context.Background(), address, srt.DialConfig{StreamID: cfg.StreamID, Passphrase: cfg.Passphrase,
		Latency: cfg.Latency, Timeout: cfg.Timeout})
	if err != nil {
		return nil, err
	}
	return srtConn{c}, nil
}

func listenSRT(addr string, cfg listenConfig) (listener, error) {
	ln, err := srt.Listen(addr, srt.ListenConfig{Latency: cfg.Latency, SendQueueDelay: cfg.SendQueueDelay, Log: cfg.Log})
	if err != nil {
		return nil, fmt.Errorf("listen srt %s: %w", addr, err)
	}
	return srtListener{ln}, nil
}

type srtListener struct{ ln *srt.Listener }

func (l srtListener) Accept() (request, error) {
	req, err := l.ln.Accept()
	if errors.Is(err, srt.ErrListenerClosed) {
		return nil, net.ErrClosed
	}
	if err != nil {
		return nil, err
	}
	return srtRequest{req}, nil
}

func (l srtListener) Close()         { l.ln.Close() }
func (l srtListener) Addr() net.Addr { return l.ln.Addr() }

func (l srtListener) Discarded() map[string]uint64 {
	c := l.ln.Counters()
	return map[string]uint64{"malformed": c.Malformed.Load(), "unknown_socket": c.UnknownSocket.Load(),
		"wrong_peer": c.WrongPeer.Load(), "handshake_overflow": c.HandshakesDropped.Load(),
		"bad_cookie": c.BadCookie.Load(), "handling_failed": c.Panics.Load()}
}

type srtRequest struct{ req *srt.Request }

func (r srtRequest) StreamID() string             { return r.req.StreamID() }
func (r srtRequest) RemoteAddr() net.Addr         { return r.req.RemoteAddr() }
func (r srtRequest) Encrypted() bool              { return r.req.Encrypted() }
func (r srtRequest) SetPassphrase(p string) error { return r.req.SetPassphrase(p) }
func (r srtRequest) Reject(code RejectCode)       { r.req.Reject(uint32(code)) }

func (r srtRequest) Accept() (conn, error) {
	c, err := r.req.Accept()
	if err != nil {
		return nil, err
	}
	return srtConn{c}, nil
}

type srtConn struct{ *srt.Conn }

func (c srtConn) Stats() connStats {
	s := c.Conn.Stats()
	return connStats{
		PktSent: s.PktSent, PktRecv: s.PktRecv, PktRetrans: s.PktRetrans,
		PktSendLoss: s.PktSendLoss, PktRecvLoss: s.PktRecvLoss,
		PktSendDrop: s.PktSendDrop, PktRecvDrop: s.PktRecvDrop,
		PktRecvACK: s.PktRecvACK, RTT: s.RTT,
	}
}
