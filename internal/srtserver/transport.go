package srtserver

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	srt "github.com/datarhei/gosrt"
)

// The SRT library is kept behind these small types, so that it can be
// replaced (by a binding to libsrt, say) without touching the rest of Podium.

// listener accepts SRT connection requests.
type listener interface {
	Accept() (request, error)
	Close()
	Addr() net.Addr
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
	// Write queues one message; it fails at once if the send queue is full.
	Write(p []byte) (int, error)
	Close() error
	RemoteAddr() net.Addr
	Stats() connStats
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

// firstHandshakeWait is how long the first handshake waits for an answer
// before it is sent again; each further wait doubles.
const firstHandshakeWait = 250 * time.Millisecond

// dialGoSRT calls address. gosrt sends its first handshake once and then
// waits out its whole timeout, where libsrt repeats it every 250 ms: a lost
// packet, or a listener that starts a moment after the call, would cost the
// whole timeout. So it calls again, with doubling waits, until cfg.Timeout is
// spent; a listener that answers (even with a rejection) ends the attempts.
func dialGoSRT(address string, cfg dialConfig) (conn, error) {
	c := srt.DefaultConfig()
	c.StreamId = cfg.StreamID
	c.Passphrase = cfg.Passphrase
	c.ReceiverLatency, c.PeerLatency = cfg.Latency, cfg.Latency
	deadline := time.Now().Add(cfg.Timeout)
	wait := firstHandshakeWait
	for {
		c.ConnectionTimeout = min(wait, time.Until(deadline))
		start := time.Now()
		sc, err := srt.Dial("srt", address, c)
		if err == nil {
			return &goSRTConn{Conn: sc}, nil
		}
		answered := time.Since(start) < c.ConnectionTimeout
		if answered || time.Until(deadline) < firstHandshakeWait/5 {
			return nil, fmt.Errorf("call srt://%s: %w", address, err)
		}
		wait *= 2
	}
}

func listenGoSRT(addr string, cfg listenConfig) (listener, error) {
	c := srt.DefaultConfig()
	c.ReceiverLatency = cfg.Latency
	c.PeerLatency = cfg.Latency
	ln, err := srt.Listen("srt", addr, c)
	if err != nil {
		return nil, fmt.Errorf("listen srt %s: %w", addr, err)
	}
	return goSRTListener{ln}, nil
}

type goSRTListener struct{ ln srt.Listener }

// errMalformed is what Accept returns for a connection request that the SRT
// library could not parse without failing: the request is dropped, and the
// listener goes on accepting.
var errMalformed = errors.New("malformed SRT handshake dropped")

// Accept waits for the next connection request. gosrt parses each
// handshake on this goroutine, and its parser fails on some malformed
// ones (an extension area of 1-3 bytes panics with an index out of range):
// such a request is recovered from and reported as errMalformed.
func (l goSRTListener) Accept() (req request, err error) {
	defer func() {
		if p := recover(); p != nil {
			req, err = nil, fmt.Errorf("%w: %v", errMalformed, p)
		}
	}()
	r, err := l.ln.Accept2()
	if errors.Is(err, srt.ErrListenerClosed) {
		return nil, net.ErrClosed
	}
	if err != nil {
		return nil, err
	}
	return goSRTRequest{r}, nil
}

func (l goSRTListener) Close()         { l.ln.Close() }
func (l goSRTListener) Addr() net.Addr { return l.ln.Addr() }

type goSRTRequest struct{ req srt.ConnRequest }

func (r goSRTRequest) StreamID() string             { return r.req.StreamId() }
func (r goSRTRequest) RemoteAddr() net.Addr         { return r.req.RemoteAddr() }
func (r goSRTRequest) Encrypted() bool              { return r.req.IsEncrypted() }
func (r goSRTRequest) SetPassphrase(p string) error { return r.req.SetPassphrase(p) }
func (r goSRTRequest) Reject(code RejectCode) {
	// On the wire, libsrt carries a rejection reason as 1000 + reason; gosrt
	// sends its argument as is, so add the offset for libsrt callers to read
	// the access-control code (1401 unauthorized, ...) and not "unknown".
	r.req.Reject(srt.RejectionReason(1000 + code))
}

func (r goSRTRequest) Accept() (conn, error) {
	c, err := r.req.Accept()
	if err != nil {
		return nil, err
	}
	return &goSRTConn{Conn: c}, nil
}

type goSRTConn struct {
	srt.Conn
	mu    sync.Mutex
	stats srt.Statistics
}

func (c *goSRTConn) Stats() connStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.Conn.Stats(&c.stats)
	a := c.stats.Accumulated
	return connStats{
		PktSent: a.PktSent, PktRecv: a.PktRecv, PktRetrans: a.PktRetrans,
		PktSendLoss: a.PktSendLoss, PktRecvLoss: a.PktRecvLoss,
		PktSendDrop: a.PktSendDrop, PktRecvDrop: a.PktRecvDrop,
		PktRecvACK: a.PktRecvACK,
		RTT:        time.Duration(c.stats.Instantaneous.MsRTT * float64(time.Millisecond)),
	}
}
