package srt

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"
)

// ErrListenerClosed is returned by Accept once the listener is closed.
var ErrListenerClosed = errors.New("srt: listener closed")

// ListenConfig shapes a listener.
type ListenConfig struct {
	// Latency is what the listener offers in both directions; a caller's,
	// if larger, wins. Default 120 ms.
	Latency time.Duration
	// Backlog bounds the requests waiting for Accept; default 128.
	Backlog int
	// SendQueueDelay bounds how long a written message may wait unsent
	// before Write refuses more; default 2 s.
	SendQueueDelay time.Duration
	// Log receives what goes wrong on the socket; nil: slog.Default().
	Log *slog.Logger
}

// Rejection reasons of the SRT protocol (SRT_REJ_*), for what the listener
// refuses itself; applications refuse with their own (SRT_REJX_*, 1000+).
const (
	RejectPeer       uint32 = 2
	RejectRogue      uint32 = 4
	RejectBacklog    uint32 = 5
	RejectClose      uint32 = 7
	RejectVersion    uint32 = 8
	RejectBadSecret  uint32 = 10
	RejectUnsecure   uint32 = 11
	RejectMessageAPI uint32 = 12
	RejectCongestion uint32 = 13
	RejectFilter     uint32 = 14
	RejectGroup      uint32 = 15
	RejectTimeout    uint32 = 16
)

// Bounds on the callers a listener keeps track of.
const (
	maxPeers        = 1 << 16
	handshakeQueue  = 256
	decisionTimeout = 10 * time.Second
	// answerMemory is how long a conclusion's answer is kept to repeat to
	// a caller whose copy was lost.
	answerMemory = 10 * time.Second
	// minMTU leaves room for a 1316-byte payload of seven transport packets.
	minMTU = 1316 + headerSize + 28
)

// Listener accepts SRT callers on one UDP socket, which all its connections share.
type Listener struct {
	cfg       ListenConfig
	sock      *socket
	reader    *socketReader
	cookieKey [32]byte
	counters  Counters

	mu     sync.Mutex
	conns  map[uint32]*Conn
	peers  map[peerKey]*peerState
	closed bool

	backlog    chan *Request
	handshakes chan handshakeJob
	done       chan struct{}
	wg         sync.WaitGroup
}

type peerKey struct {
	addr netip.AddrPort
	id   uint32
}

// peerState is what the listener remembers of one caller's connection attempt.
type peerState struct {
	req    *Request // waiting for the application's decision
	conn   *Conn    // accepted and live
	answer []byte   // the conclusion answer sent, to repeat
	at     time.Time
}

type handshakeJob struct {
	data []byte
	from netip.AddrPort
}

// Listen opens a listener on address (host:port; an empty host listens on every address).
func Listen(address string, cfg ListenConfig) (*Listener, error) {
	if cfg.Latency <= 0 {
		cfg.Latency = 120 * time.Millisecond
	}
	if cfg.Backlog <= 0 {
		cfg.Backlog = 128
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	sock, err := openSocket("udp", address)
	if err != nil {
		return nil, fmt.Errorf("srt listen %s: %w", address, err)
	}
	l := &Listener{cfg: cfg, sock: sock, conns: make(map[uint32]*Conn), peers: make(map[peerKey]*peerState),
		backlog: make(chan *Request, cfg.Backlog), handshakes: make(chan handshakeJob, handshakeQueue), done: make(chan struct{})}
	rand.Read(l.cookieKey[:])
	l.reader = newSocketReader(sock, &l.counters, cfg.Log)
	l.reader.route = l.route
	l.reader.failed = l.failed
	l.wg.Go(l.reader.run)
	l.wg.Go(l.answerHandshakes)
	l.wg.Go(l.forget)
	return l, nil
}

// Addr returns the address the listener is bound to.
func (l *Listener) Addr() net.Addr { return net.UDPAddrFromAddrPort(l.sock.localAddr()) }

// Counters returns what the listener's reader dropped.
func (l *Listener) Counters() *Counters { return &l.counters }

// Accept waits for the next caller's request.
func (l *Listener) Accept() (*Request, error) {
	select {
	case req := <-l.backlog:
		return req, nil
	case <-l.done:
		return nil, ErrListenerClosed
	}
}

// Close stops listening and closes every connection.
func (l *Listener) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	conns := make([]*Conn, 0, len(l.conns))
	for _, c := range l.conns {
		conns = append(conns, c)
	}
	l.mu.Unlock()
	for _, c := range conns {
		c.Close()
	}
	close(l.done)
	err := l.sock.close()
	l.wg.Wait()
	return err
}

// route hands a datagram to its connection, or a handshake to the handshake answerer.
func (l *Listener) route(h header, from netip.AddrPort, buf *packetBuf, n int) bool {
	if h.dst == 0 {
		if !h.control || h.ctrl != ctrlHandshake {
			l.counters.UnknownSocket.Add(1)
			return false
		}
		select {
		case l.handshakes <- handshakeJob{data: append([]byte(nil), buf[:n]...), from: from}:
		default:
			l.counters.HandshakesDropped.Add(1)
		}
		return false
	}
	l.mu.Lock()
	c := l.conns[h.dst]
	l.mu.Unlock()
	if c == nil {
		l.counters.UnknownSocket.Add(1)
		return false
	}
	if c.p.remote != from {
		l.counters.WrongPeer.Add(1)
		return false
	}
	return c.deliver(h, buf, n, l.reader)
}

func (l *Listener) failed(h header, from netip.AddrPort, reason error) {
	l.mu.Lock()
	c := l.conns[h.dst]
	l.mu.Unlock()
	if c != nil && c.p.remote == from {
		c.closeWith(reason, true)
	}
}

// answerHandshakes answers inductions and takes conclusions, one at a
// time, so that a flood of handshakes costs the reader nothing and the
// process at most this goroutine.
func (l *Listener) answerHandshakes() {
	for {
		select {
		case <-l.done:
			return
		case job := <-l.handshakes:
			l.answerHandshake(job)
		}
	}
}

func (l *Listener) answerHandshake(job handshakeJob) {
	defer func() {
		if p := recover(); p != nil {
			l.counters.Panics.Add(1)
			l.cfg.Log.Error("srt handshake handling failed", "remote", job.from.String(), "err", p)
		}
	}()
	hs, err := parseHandshake(job.data[headerSize:])
	if err != nil {
		l.counters.Malformed.Add(1)
		return
	}
	now := time.Now()
	switch hs.hsType {
	case hsInduction:
		l.answerInduction(hs, job.from, now)
	case hsConclusion:
		l.takeConclusion(hs, job.from, now)
	}
}

// answerInduction gives the caller a cookie, keeping no state: the caller
// proves with it in its conclusion that it gets packets at its address.
func (l *Listener) answerInduction(hs handshake, from netip.AddrPort, now time.Time) {
	answer := hs
	answer.version = hsVersion5
	answer.encryption = 0
	answer.extension = srtMagic
	answer.cookie = l.cookie(from, now, 0)
	answer.hasSRT, answer.hasSID, answer.kmCmd = false, false, 0
	l.sendHandshake(&answer, hs.socketID, from, 0)
}

// cookie is the SYN cookie of from for the minute now falls in (ago: minutes before).
func (l *Listener) cookie(from netip.AddrPort, now time.Time, ago int64) uint32 {
	mac := hmac.New(sha256.New, l.cookieKey[:])
	a := from.Addr().As16()
	mac.Write(a[:])
	var b [10]byte
	binary.BigEndian.PutUint16(b[0:], from.Port())
	binary.BigEndian.PutUint64(b[2:], uint64(now.Unix()/60-ago))
	mac.Write(b[:])
	return binary.BigEndian.Uint32(mac.Sum(nil))
}

func (l *Listener) cookieValid(c uint32, from netip.AddrPort, now time.Time) bool {
	return hmac.Equal(binary.BigEndian.AppendUint32(nil, c), binary.BigEndian.AppendUint32(nil, l.cookie(from, now, 0))) ||
		hmac.Equal(binary.BigEndian.AppendUint32(nil, c), binary.BigEndian.AppendUint32(nil, l.cookie(from, now, 1)))
}

// takeConclusion checks a caller's conclusion and queues it for Accept, or
// answers it again if it is a repeat.
func (l *Listener) takeConclusion(hs handshake, from netip.AddrPort, now time.Time) {
	if !l.cookieValid(hs.cookie, from, now) {
		l.counters.BadCookie.Add(1)
		return
	}
	key := peerKey{from, hs.socketID}
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return
	}
	if st := l.peers[key]; st != nil {
		answer := st.answer
		l.mu.Unlock()
		if answer != nil {
			l.sock.writeTo(answer, from)
		}
		return
	}
	if len(l.peers) >= maxPeers {
		l.mu.Unlock()
		l.reject(hs, from, RejectBacklog, now)
		return
	}
	l.mu.Unlock()
	req := &Request{l: l, key: key, hs: hs, at: now}
	if reason := req.check(); reason != 0 {
		l.reject(hs, from, reason, now)
		return
	}
	l.mu.Lock()
	l.peers[key] = &peerState{req: req, at: now}
	l.mu.Unlock()
	select {
	case l.backlog <- req:
	default:
		req.Reject(RejectBacklog)
	}
}

// reject refuses a conclusion with reason and remembers the answer for repeats.
func (l *Listener) reject(hs handshake, from netip.AddrPort, reason uint32, now time.Time) {
	answer := hs
	answer.hsType = hsRejectBase + reason
	answer.hasSRT, answer.hasSID, answer.kmCmd = false, false, 0
	b := l.sendHandshake(&answer, hs.socketID, from, 0)
	l.mu.Lock()
	key := peerKey{from, hs.socketID}
	if len(l.peers) < maxPeers || l.peers[key] != nil {
		l.peers[key] = &peerState{answer: b, at: now}
	}
	l.mu.Unlock()
}

// sendHandshake sends hs to from's socket dst and returns the datagram.
func (l *Listener) sendHandshake(hs *handshake, dst uint32, to netip.AddrPort, ts uint32) []byte {
	b := make([]byte, headerSize, headerSize+cifSize+64)
	putControlHeader(b, ctrlHandshake, 0, 0, ts, dst)
	b = hs.append(b)
	l.sock.writeTo(b, to)
	return b
}

// forget drops what the listener remembers of callers once it is no longer
// useful: answers after a while, requests never decided.
func (l *Listener) forget() {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-l.done:
			return
		case now := <-tick.C:
			var undecided []*Request
			l.mu.Lock()
			for key, st := range l.peers {
				switch {
				case st.req != nil && now.Sub(st.at) > decisionTimeout:
					undecided = append(undecided, st.req)
				case st.conn == nil && st.req == nil && now.Sub(st.at) > answerMemory:
					delete(l.peers, key)
				case st.conn != nil && st.answer != nil && now.Sub(st.at) > answerMemory:
					st.answer = nil
				}
			}
			l.mu.Unlock()
			for _, req := range undecided {
				req.Reject(RejectTimeout)
			}
		}
	}
}

// newSocketID picks an unused socket id; called with mu held.
func (l *Listener) newSocketID() uint32 {
	for {
		var b [4]byte
		rand.Read(b[:])
		id := binary.BigEndian.Uint32(b[:]) & (1<<30 - 1)
		if id != 0 && l.conns[id] == nil {
			return id
		}
	}
}

// release forgets a closed connection.
func (l *Listener) release(c *Conn) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.conns[c.p.socketID] == c {
		delete(l.conns, c.p.socketID)
	}
	key := peerKey{c.p.remote, c.p.peerID}
	if st := l.peers[key]; st != nil && st.conn == c {
		delete(l.peers, key)
	}
}
