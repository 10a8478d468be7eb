package srt

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"sync"
	"time"
)

// Errors a connection ends with.
var (
	// ErrClosed: the connection was closed on this side.
	ErrClosed = errors.New("srt: connection closed")
	// ErrPeerIdle: nothing came from the peer for the idle timeout.
	ErrPeerIdle = errors.New("srt: peer idle timeout")
	// ErrSendQueueFull: Write would queue more than the connection may hold.
	ErrSendQueueFull = errors.New("srt: send queue full")
	// ErrMessageTooLong: a message does not fit in one packet.
	ErrMessageTooLong = errors.New("srt: message longer than the payload size")
)

// Timing of the protocol (libsrt's defaults).
const (
	synInterval      = 10 * time.Millisecond // full ACK period
	minNAKInterval   = 20 * time.Millisecond
	keepaliveEvery   = time.Second
	defaultPeerIdle  = 5 * time.Second
	initialRTT       = 100 * time.Millisecond
	initialRTTVar    = 50 * time.Millisecond
	minDropThreshold = time.Second // a sent packet is kept at least this long for retransmission
)

// Stats are a connection's counters since it was established.
type Stats struct {
	PktSent, PktRecv uint64
	// PktRetrans counts retransmissions sent; PktRecvRetrans those received.
	PktRetrans, PktRecvRetrans uint64
	// PktSendLoss counts packets the peer reported lost; PktRecvLoss the gaps seen here.
	PktSendLoss, PktRecvLoss uint64
	// PktSendDrop counts packets given up on unacknowledged; PktRecvDrop
	// those that never arrived in time to play; PktRecvBelated those that
	// arrived after their time.
	PktSendDrop, PktRecvDrop, PktRecvBelated       uint64
	PktRecvACK, PktRecvNAK, PktSentACK, PktSentNAK uint64
	ByteSent, ByteRecv                             uint64
	// RTT is the smoothed round-trip time, RTTVar its variation.
	RTT, RTTVar time.Duration
	// SendQueue is the packets written and not yet acknowledged; RecvBuffer
	// the packets received and not yet read.
	SendQueue, RecvBuffer int
	// Bandwidth is the rate new packets are paced at, in bits per second.
	Bandwidth uint64
}

// connParams is what the handshake settled for a connection.
type connParams struct {
	sock       *socket
	remote     netip.AddrPort
	socketID   uint32
	peerID     uint32
	isn        uint32 // both directions start here (HSv5)
	flowWindow uint32 // the peer's
	streamID   string
	keys       *streamKeys
	// rcvLatency is how long this side holds received packets;
	// peerLatency how long the peer holds what this side sends.
	rcvLatency, peerLatency time.Duration
	maxPayload              int
	sendQueueDelay          time.Duration
	// start is the connection's time origin: its packets' timestamps count from it.
	start time.Time
	// release is called once the connection is closed (the owner forgets it).
	release func(*Conn)
}

// Conn is an established SRT connection in live mode: each Write sends one
// message, each Read returns one, at the time the latency puts it.
type Conn struct {
	p          connParams
	remoteAddr *net.UDPAddr

	mu       sync.Mutex
	snd      sender
	rcv      receiver
	rtt      time.Duration
	rttVar   time.Duration
	lastRecv int64 // ns since start
	lastSend int64
	err      error // why the connection ended; nil while it runs
	stats    Stats
	// ctlOut collects control packets built under mu by the worker, sent after it.
	ctlOut []outControl

	wake     chan struct{} // the worker has something to do
	readable chan struct{} // a Read waiting may have something to read
	done     chan struct{}
	wg       sync.WaitGroup
}

// outControl is a control packet waiting to be sent.
type outControl struct {
	ctrl, subtype uint16
	typeInfo      uint32
	info          []byte
}

func newConn(p connParams) *Conn {
	c := &Conn{p: p, remoteAddr: net.UDPAddrFromAddrPort(p.remote), rtt: initialRTT, rttVar: initialRTTVar,
		wake: make(chan struct{}, 1), readable: make(chan struct{}, 1), done: make(chan struct{})}
	c.snd.init(p.isn, p.flowWindow, p.sendQueueDelay)
	if p.keys != nil {
		c.snd.keys, c.snd.txKey = p.keys.clone(), keyEven
		if p.keys.block[0] == nil {
			c.snd.txKey = keyOdd
		}
	}
	c.rcv.init(p.isn, p.rcvLatency)
	c.lastRecv = c.now()
	c.wg.Go(c.work)
	return c
}

// now returns the connection's clock: nanoseconds since its start, monotonic.
func (c *Conn) now() int64 { return int64(time.Since(c.p.start)) }

// timestamp is an SRT timestamp: microseconds since the start, wrapping at 32 bits.
func timestamp(ns int64) uint32 { return uint32(ns / 1000) }

// RemoteAddr returns the peer's address.
func (c *Conn) RemoteAddr() net.Addr { return c.remoteAddr }

// StreamID returns the streamid the caller sent.
func (c *Conn) StreamID() string { return c.p.streamID }

// Encrypted reports whether the connection's payloads are encrypted.
func (c *Conn) Encrypted() bool { return c.p.keys != nil }

// Latency returns how long each side holds packets before playing them:
// this side's receive latency and the peer's.
func (c *Conn) Latency() (receive, peer time.Duration) { return c.p.rcvLatency, c.p.peerLatency }

// Write queues one message to send. The connection keeps p, without
// copying it, until the peer has acknowledged it or it is too old to
// matter: p must not be changed afterwards. Write never waits: it fails
// with ErrSendQueueFull when the queue holds more than the connection may
// (a receiver that does not keep up).
func (c *Conn) Write(p []byte) (int, error) {
	if len(p) > c.p.maxPayload {
		return 0, ErrMessageTooLong
	}
	if len(p) == 0 {
		return 0, nil
	}
	c.mu.Lock()
	if c.err != nil {
		err := c.err
		c.mu.Unlock()
		return 0, err
	}
	err := c.snd.queue(p, c.now())
	c.mu.Unlock()
	if err != nil {
		return 0, err
	}
	c.signal()
	return len(p), nil
}

// Unsent returns how many queued packets have not been sent once yet: a
// backlog still being paced out.
func (c *Conn) Unsent() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return int(c.snd.head - c.snd.next)
}

// SetInputRate tells the connection the rate the application writes at,
// in bits per second (libsrt's SRTO_INPUTBW), before it can measure it: it
// paces what it sends at a multiple of it.
func (c *Conn) SetInputRate(bps uint64) {
	c.mu.Lock()
	c.snd.inputHint = bps
	c.mu.Unlock()
}

// Read waits for the next message and copies it into p; a message longer
// than p is cut. It returns io.EOF once the peer has closed the connection.
func (c *Conn) Read(p []byte) (int, error) {
	var timer *time.Timer
	for {
		c.mu.Lock()
		if c.err != nil {
			err := c.err
			c.mu.Unlock()
			return 0, err
		}
		n, wait, ok := c.rcv.read(p, c.now(), &c.stats)
		c.mu.Unlock()
		if ok {
			return n, nil
		}
		if wait <= 0 {
			select {
			case <-c.readable:
			case <-c.done:
			}
			continue
		}
		if timer == nil {
			timer = time.NewTimer(time.Duration(wait))
			defer timer.Stop()
		} else {
			timer.Reset(time.Duration(wait))
		}
		select {
		case <-c.readable:
		case <-c.done:
		case <-timer.C:
		}
	}
}

// Close ends the connection, telling the peer.
func (c *Conn) Close() error {
	c.closeWith(ErrClosed, true)
	c.wg.Wait()
	return nil
}

// closeWith ends the connection with reason; tell sends the peer a shutdown.
func (c *Conn) closeWith(reason error, tell bool) {
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		return
	}
	c.err = reason
	c.rcv.release()
	c.snd.release()
	c.mu.Unlock()
	if tell {
		var b [headerSize + 4]byte
		putControlHeader(b[:], ctrlShutdown, 0, 0, timestamp(c.now()), c.p.peerID)
		c.p.sock.writeTo(b[:], c.p.remote)
	}
	close(c.done)
	c.p.release(c)
}

// Err returns why the connection ended, or nil while it runs.
func (c *Conn) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Stats returns the connection's counters.
func (c *Conn) Stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.stats
	s.RTT, s.RTTVar = c.rtt, c.rttVar
	s.SendQueue = int(c.snd.head - c.snd.tail)
	s.RecvBuffer = int(c.rcv.top - c.rcv.deliver)
	s.Bandwidth = uint64(c.snd.rate * 8)
	return s
}

func (c *Conn) signal() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

func (c *Conn) signalReadable() {
	select {
	case c.readable <- struct{}{}:
	default:
	}
}

// work is the connection's own goroutine: it paces and sends data,
// retransmits, acknowledges, reports losses and keeps the connection
// alive, each when it is due.
func (c *Conn) work() {
	wb := newWriteBatch(32)
	cipherBuf := make([]byte, len(wb.pkts)*maxPayload)
	ctlBuf := make([]byte, 0, maxPacket)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		c.mu.Lock()
		if c.err != nil {
			c.mu.Unlock()
			return
		}
		now := c.now()
		if now-c.lastRecv > int64(defaultPeerIdle) {
			c.mu.Unlock()
			c.closeWith(ErrPeerIdle, false)
			return
		}
		c.periodic(now)
		sendable := c.snd.collect(now, c.rtt, c.p.peerLatency, wb, &c.stats)
		ctl := c.ctlOut
		c.ctlOut = c.ctlOut[:0:0]
		if sendable > 0 || len(ctl) > 0 {
			c.lastSend = now
		}
		next := c.nextDeadline(now)
		c.mu.Unlock()

		if sendable > 0 {
			c.finishData(wb, cipherBuf, now)
			c.p.sock.write(wb)
		}
		for _, oc := range ctl {
			ctlBuf = c.appendControl(ctlBuf[:0], oc, now)
			c.p.sock.writeTo(ctlBuf, c.p.remote)
		}
		if sendable == len(wb.pkts) {
			continue // a full batch: there may be more to send at once
		}
		timer.Reset(time.Duration(next - now))
		select {
		case <-c.done:
			return
		case <-c.wake:
		case <-timer.C:
		}
	}
}

// finishData writes the headers of the batch's data packets and encrypts
// their payloads into scratch space: the queued messages stay as written,
// shared and unencrypted.
func (c *Conn) finishData(wb *writeBatch, cipherBuf []byte, now int64) {
	for i := 0; i < wb.n; i++ {
		p := &wb.pkts[i]
		p.to = c.p.remote
		binary.BigEndian.PutUint32(p.header[12:], c.p.peerID)
		if c.snd.keys == nil {
			continue
		}
		buf := cipherBuf[i*maxPayload : i*maxPayload+len(p.payload)]
		copy(buf, p.payload)
		c.snd.keys.xor((p.header[4]>>3)&0b11, seqOfHeader(p.header[:]), buf)
		p.payload = buf
	}
}

// periodic does what is due at now besides sending data: acknowledging,
// reporting losses, keeping the connection alive. Called with mu held.
func (c *Conn) periodic(now int64) {
	if c.rcv.started {
		if now >= c.rcv.nextACK {
			c.rcv.nextACK = now + int64(synInterval)
			if ack, ok := c.rcv.ack(now, c.rtt, c.rttVar); ok {
				c.ctlOut = append(c.ctlOut, ack)
				c.stats.PktSentACK++
			}
		}
		if now >= c.rcv.nextNAK {
			c.rcv.nextNAK = now + int64(c.nakInterval())
			if nak, ok := c.rcv.periodicNAK(); ok {
				c.ctlOut = append(c.ctlOut, nak)
				c.stats.PktSentNAK++
			}
		}
	}
	c.snd.dropLate(now, c.dropThreshold(), &c.stats)
	if c.snd.kmPending != nil && (c.snd.kmSentAt == 0 || now-c.snd.kmSentAt >= int64(time.Second)) {
		c.snd.kmSentAt = now
		c.ctlOut = append(c.ctlOut, outControl{ctrl: ctrlUser, subtype: extKMReq, info: c.snd.kmPending})
	}
	if now-c.lastSend >= int64(keepaliveEvery) {
		c.ctlOut = append(c.ctlOut, outControl{ctrl: ctrlKeepalive})
	}
}

// nakInterval is how often losses still missing are reported again.
func (c *Conn) nakInterval() time.Duration {
	return max((c.rtt+4*c.rttVar)/2, minNAKInterval)
}

// dropThreshold is how long a sent packet waits for its acknowledgement
// before the sender gives up on it (libsrt: the peer's latency, at least a
// second, plus two ACK periods).
func (c *Conn) dropThreshold() time.Duration {
	return max(c.p.peerLatency, minDropThreshold) + 2*synInterval
}

// nextDeadline is when the worker must next wake up without being told.
func (c *Conn) nextDeadline(now int64) int64 {
	next := c.lastSend + int64(keepaliveEvery)
	next = min(next, c.lastRecv+int64(defaultPeerIdle)+1)
	if c.rcv.started {
		next = min(next, c.rcv.nextACK, c.rcv.nextNAK)
	}
	if t, ok := c.snd.nextEvent(now, c.dropThreshold()); ok {
		next = min(next, t)
	}
	return max(next, now+int64(50*time.Microsecond))
}

// appendControl encodes a control packet to the peer.
func (c *Conn) appendControl(b []byte, oc outControl, now int64) []byte {
	b = b[:headerSize]
	putControlHeader(b, oc.ctrl, oc.subtype, oc.typeInfo, timestamp(now), c.p.peerID)
	b = append(b, oc.info...)
	if len(oc.info) == 0 {
		b = append(b, 0, 0, 0, 0)
	}
	return b
}

// receive handles one packet from the peer, read into buf by the socket's
// reader: it returns whether the connection keeps buf (a data packet
// waiting to be read) and whether the peer closed the connection, and
// appends to out the control packets to answer at once.
func (c *Conn) receive(h header, buf *packetBuf, n int, out []outControl) (kept, closed bool, reply []outControl) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return false, false, out
	}
	now := c.now()
	c.lastRecv = now
	payload := buf[headerSize:n]
	if !h.control {
		kept, out = c.receiveData(h, buf, n, now, out)
		return kept, false, out
	}
	switch h.ctrl {
	case ctrlACK:
		c.stats.PktRecvACK++
		ack, err := parseACK(payload)
		if err != nil {
			return false, false, out
		}
		if ack.fieldCount > 1 && h.typeInfo != 0 {
			out = append(out, outControl{ctrl: ctrlACKACK, typeInfo: h.typeInfo})
		}
		if ack.fieldCount >= 4 {
			c.rtt = time.Duration(min(ack.rtt, 10_000_000)) * time.Microsecond
			c.rttVar = time.Duration(min(ack.rttVar, 10_000_000)) * time.Microsecond
		}
		if c.snd.acknowledge(ack) {
			c.signal()
		}
	case ctrlNAK:
		c.stats.PktRecvNAK++
		if c.snd.reportLoss(payload, now, &c.stats) {
			c.signal()
		}
	case ctrlACKACK:
		if sample, ok := c.rcv.ackack(h.typeInfo, now); ok {
			c.updateRTT(sample)
		}
	case ctrlShutdown:
		return false, true, out
	case ctrlDropReq:
		if r, err := parseDropReq(payload); err == nil {
			c.rcv.dropRange(r)
		}
	case ctrlUser:
		out = c.receiveKM(h.subtype, payload, out)
	}
	return false, false, out
}

// deliver hands a packet the socket's reader read to the connection, sends
// what it answers at once, and ends the connection if the peer closed it.
// It reports whether the connection keeps buf.
func (c *Conn) deliver(h header, buf *packetBuf, n int, r *socketReader) bool {
	kept, closed, reply := c.receive(h, buf, n, r.reply[:0])
	r.reply = reply
	now := c.now()
	for _, oc := range reply {
		r.scratch = c.appendControl(r.scratch[:0], oc, now)
		c.p.sock.writeTo(r.scratch, c.p.remote)
	}
	if closed {
		c.closeWith(io.EOF, false)
	}
	return kept
}

// receiveData stores a data packet for Read. Called with mu held.
func (c *Conn) receiveData(h header, buf *packetBuf, n int, now int64, out []outControl) (bool, []outControl) {
	payload := buf[headerSize:n]
	if (h.key != keyNone) != (c.p.keys != nil) {
		c.stats.PktRecvDrop++ // encrypted where it should not be, or the other way round
		return false, out
	}
	if c.p.keys != nil {
		if c.p.keys.xor(h.key, h.seq, payload) != nil {
			c.stats.PktRecvDrop++
			return false, out
		}
	}
	first := !c.rcv.started
	kept, lost := c.rcv.store(h, buf, n, now, &c.stats)
	if first {
		// The worker, asleep until its keepalive, must now acknowledge
		// every synInterval: a sender's buffer fills in under a second at
		// contribution rates (libsrt's holds 8192 packets).
		c.signal()
	}
	if len(lost) > 0 {
		out = append(out, outControl{ctrl: ctrlNAK, info: appendNAK(nil, lost)})
		c.stats.PktSentNAK++
	}
	if kept {
		c.stats.PktRecv++
		c.stats.ByteRecv += uint64(len(payload))
		if h.retrans {
			c.stats.PktRecvRetrans++
		}
		c.signalReadable()
	}
	return kept, out
}

// receiveKM answers a key material request: the peer has refreshed its keys.
func (c *Conn) receiveKM(subtype uint16, payload []byte, out []outControl) []outControl {
	switch subtype {
	case extKMReq:
		if c.p.keys == nil {
			return append(out, outControl{ctrl: ctrlUser, subtype: extKMRsp, info: kmFailure(kmStateNoSecret)})
		}
		km, err := parseKM(payload)
		if err == nil {
			err = c.p.keys.update(km)
		}
		if err != nil {
			return append(out, outControl{ctrl: ctrlUser, subtype: extKMRsp, info: kmFailure(kmStateBadSecret)})
		}
		return append(out, outControl{ctrl: ctrlUser, subtype: extKMRsp, info: append([]byte(nil), payload...)})
	case extKMRsp:
		c.snd.keyRefreshAnswered()
	}
	return out
}

// kmFailure is the one-word KMRSP that refuses key material; libsrt writes
// the state in host order, so it arrives little-endian.
func kmFailure(state uint32) []byte {
	return []byte{byte(state), byte(state >> 8), byte(state >> 16), byte(state >> 24)}
}

func (c *Conn) updateRTT(sample time.Duration) {
	c.rttVar = (3*c.rttVar + (c.rtt - sample).Abs()) / 4
	c.rtt = (7*c.rtt + sample) / 8
}

// seqOfHeader reads the sequence number of a data packet header.
func seqOfHeader(b []byte) uint32 {
	return (uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])) & seqMask
}

func (c *Conn) String() string {
	return fmt.Sprintf("srt %s socket %d peer %d", c.p.remote, c.p.socketID, c.p.peerID)
}
