package srt

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync/atomic"
	"time"
)

// Counters count what a socket's reader dropped before any connection saw it.
type Counters struct {
	// Malformed datagrams: too short or too long for SRT, or a handshake
	// that does not parse.
	Malformed atomic.Uint64
	// UnknownSocket: addressed to no connection of this socket.
	UnknownSocket atomic.Uint64
	// WrongPeer: addressed to a connection, from another address than its peer's.
	WrongPeer atomic.Uint64
	// HandshakesDropped: handshakes that arrived faster than they could be answered.
	HandshakesDropped atomic.Uint64
	// BadCookie: conclusions whose cookie this listener did not give (spoofed, or expired).
	BadCookie atomic.Uint64
	// Panics: packets whose handling failed in a way that should never
	// happen; the connection concerned is closed, the process goes on.
	Panics atomic.Uint64
}

// socketReader reads a socket's datagrams in batches and hands each to
// where it belongs (route); it owns the buffers it reads into.
type socketReader struct {
	sock     *socket
	rb       *readBatch
	reply    []outControl
	scratch  []byte
	counters *Counters
	log      *slog.Logger
	// route handles one datagram; it reports whether it kept buf.
	route func(h header, from netip.AddrPort, buf *packetBuf, n int) bool
	// failed closes the connection a datagram went to when its handling panicked.
	failed func(h header, from netip.AddrPort, reason error)
}

func newSocketReader(sock *socket, counters *Counters, log *slog.Logger) *socketReader {
	return &socketReader{sock: sock, rb: newReadBatch(32), scratch: make([]byte, 0, maxPacket), counters: counters, log: log}
}

// run reads until the socket is closed.
func (r *socketReader) run() {
	for {
		n, err := r.sock.read(r.rb)
		if errors.Is(err, net.ErrClosed) {
			return
		}
		if err != nil {
			// Nothing a peer sends makes reading fail; the system might, for a moment.
			r.log.Warn("srt socket read failed", "err", err)
			time.Sleep(10 * time.Millisecond)
			continue
		}
		for i := 0; i < n; i++ {
			if r.dispatch(i) {
				r.rb.bufs[i] = getPacket()
			}
		}
	}
}

// dispatch routes datagram i of the batch; it reports whether its buffer was
// kept. A panic in its handling is recovered: the connection it went to is
// closed and its buffer given up, and the reader goes on.
func (r *socketReader) dispatch(i int) (kept bool) {
	n, buf, from := r.rb.sizes[i], r.rb.bufs[i], r.rb.addrs[i]
	h, err := parseHeader(buf[:n])
	if err != nil {
		r.counters.Malformed.Add(1)
		return false
	}
	defer func() {
		if p := recover(); p != nil {
			kept = true // whoever held it may still: never reuse it
			r.counters.Panics.Add(1)
			reason := fmt.Errorf("srt: handling a packet from %s failed: %v", from, p)
			r.log.Error("srt packet handling failed", "remote", from.String(), "err", reason)
			r.failed(h, from, reason)
		}
	}()
	return r.route(h, from, buf, n)
}
