package srt

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"time"
)

// DialConfig shapes a call to a listener.
type DialConfig struct {
	StreamID string
	// Passphrase encrypts the connection; empty: unencrypted.
	Passphrase string
	// KeyLength is the AES key length in bytes, 16 (default), 24 or 32.
	KeyLength int
	// Latency is asked for in both directions (the larger side wins); default 120 ms.
	Latency time.Duration
	// Timeout bounds the handshake; default 3 s.
	Timeout        time.Duration
	SendQueueDelay time.Duration
	Log            *slog.Logger
}

// RejectedError is a listener's refusal of a call.
type RejectedError struct {
	// Reason is the listener's rejection reason: below 1000 the protocol's
	// (SRT_REJ_*), from 1000 an application's (SRT access control: 1400-1599).
	Reason uint32
}

func (e *RejectedError) Error() string {
	return fmt.Sprintf("srt: rejected by the listener: %d (%s)", e.Reason, RejectReasonText(e.Reason))
}

// RejectReasonText names a rejection reason as libsrt does.
func RejectReasonText(reason uint32) string {
	names := map[uint32]string{0: "unknown", 1: "system", RejectPeer: "peer", 3: "resource", RejectRogue: "rogue",
		RejectBacklog: "backlog", 6: "internal program error", RejectClose: "close", RejectVersion: "version",
		9: "rendezvous cookie", RejectBadSecret: "bad secret", RejectUnsecure: "unsecure", RejectMessageAPI: "message api",
		RejectCongestion: "congestion", RejectFilter: "filter", RejectGroup: "group", RejectTimeout: "timeout",
		1400: "bad request", 1401: "unauthorized", 1402: "overload", 1403: "forbidden", 1404: "not found",
		1405: "bad mode", 1406: "unacceptable", 1407: "conflict", 1409: "conflict", 1415: "unsupported media type",
		1423: "locked", 1424: "failed dependency", 1500: "internal server error", 1501: "unimplemented",
		1502: "gateway", 1503: "down", 1505: "version", 1507: "no room"}
	if n, ok := names[reason]; ok {
		return n
	}
	return "application-defined"
}

// handshakeRepeat is how often a caller repeats its handshake while waiting for an answer, as libsrt does.
const handshakeRepeat = 250 * time.Millisecond

// Dial calls the listener at address (host:port) and returns the connection.
func Dial(ctx context.Context, address string, cfg DialConfig) (*Conn, error) {
	if cfg.Latency <= 0 {
		cfg.Latency = 120 * time.Millisecond
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 3 * time.Second
	}
	if cfg.KeyLength == 0 {
		cfg.KeyLength = 16
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if len(cfg.StreamID) > maxStreamID {
		return nil, fmt.Errorf("srt: streamid of %d bytes, at most %d", len(cfg.StreamID), maxStreamID)
	}
	if cfg.Passphrase != "" && (len(cfg.Passphrase) < MinPassphrase || len(cfg.Passphrase) > MaxPassphrase) {
		return nil, fmt.Errorf("srt: a passphrase is %d to %d characters", MinPassphrase, MaxPassphrase)
	}
	raddr, err := net.ResolveUDPAddr("udp", address)
	if err != nil {
		return nil, fmt.Errorf("srt: resolve %s: %w", address, err)
	}
	remote := netip.AddrPortFrom(raddr.AddrPort().Addr().Unmap(), raddr.AddrPort().Port())
	network := "udp4"
	if remote.Addr().Is6() {
		network = "udp6"
	}
	sock, err := openSocket(network, ":0")
	if err != nil {
		return nil, fmt.Errorf("srt: call %s: %w", address, err)
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	d := &dialer{cfg: cfg, sock: sock, remote: remote, start: time.Now()}
	c, err := d.handshake(ctx)
	if err != nil {
		sock.close()
		return nil, fmt.Errorf("srt: call %s: %w", address, err)
	}
	return c, nil
}

type dialer struct {
	cfg      DialConfig
	sock     *socket
	remote   netip.AddrPort
	start    time.Time
	socketID uint32
	isn      uint32
	keys     *streamKeys
	km       []byte
}

func (d *dialer) handshake(ctx context.Context) (*Conn, error) {
	var b [4]byte
	rand.Read(b[:])
	d.socketID = binary.BigEndian.Uint32(b[:])&(1<<30-1) | 1
	rand.Read(b[:])
	d.isn = binary.BigEndian.Uint32(b[:]) & (1<<30 - 1)
	if d.cfg.Passphrase != "" {
		keys, err := newStreamKeys(d.cfg.Passphrase, d.cfg.KeyLength)
		if err != nil {
			return nil, err
		}
		d.keys, d.km = keys, keys.message(keyEven)
	}
	induction := handshake{version: hsVersion4, extension: udtDgram, isn: d.isn, mtu: maxPacket, flowWindow: flowWindow,
		hsType: hsInduction, socketID: d.socketID}
	putPeerIP(&induction.peerIP, d.remote.Addr())
	answer, err := d.exchange(ctx, &induction, func(hs *handshake) bool { return hs.hsType == hsInduction })
	if err != nil {
		return nil, err
	}
	if answer.version != hsVersion5 || answer.extension != srtMagic {
		return nil, errors.New("the listener does not speak SRT handshake version 5")
	}
	conclusion := handshake{version: hsVersion5, extension: extFlagHSReq, isn: d.isn, mtu: maxPacket, flowWindow: flowWindow,
		hsType: hsConclusion, socketID: d.socketID, cookie: answer.cookie,
		hasSRT: true, srtCmd: extHSReq, peerVer: srtVersion, srtFlags: requiredFlags,
		rcvDelay: uint16(d.cfg.Latency.Milliseconds()), sndDelay: uint16(d.cfg.Latency.Milliseconds())}
	conclusion.peerIP = induction.peerIP
	if d.cfg.StreamID != "" {
		conclusion.extension |= extFlagConfig
		conclusion.hasSID, conclusion.streamID = true, d.cfg.StreamID
	}
	if d.keys != nil {
		conclusion.extension |= extFlagKMReq
		conclusion.encryption = uint16(d.cfg.KeyLength / 8)
		conclusion.kmCmd, conclusion.km = extKMReq, d.km
	}
	answer, err = d.exchange(ctx, &conclusion, func(hs *handshake) bool { return hs.hsType == hsConclusion })
	if err != nil {
		return nil, err
	}
	return d.connect(answer)
}

// connect checks the listener's conclusion and starts the connection.
func (d *dialer) connect(answer handshake) (*Conn, error) {
	if !answer.hasSRT || answer.srtCmd != extHSRsp {
		return nil, errors.New("the listener's answer has no SRT handshake response")
	}
	if answer.srtFlags&flagStream != 0 {
		return nil, errors.New("the listener is in stream (file) mode, not live")
	}
	if d.keys != nil {
		switch {
		case answer.kmCmd != extKMRsp:
			return nil, errors.New("the listener answered without key material: it has no passphrase")
		case len(answer.km) == 4:
			return nil, fmt.Errorf("the listener refused the key material (state %d): its passphrase differs", binary.LittleEndian.Uint32(answer.km))
		case !bytes.Equal(answer.km[:min(len(answer.km), len(d.km))], d.km):
			return nil, errors.New("the listener answered with other key material")
		}
	} else if answer.kmCmd == extKMRsp {
		return nil, errors.New("the listener wants encryption: a passphrase is needed")
	}
	p := connParams{sock: d.sock, remote: d.remote, socketID: d.socketID, peerID: answer.socketID, isn: d.isn,
		flowWindow: answer.flowWindow, streamID: d.cfg.StreamID, keys: d.keys,
		rcvLatency:  max(d.cfg.Latency, time.Duration(answer.sndDelay)*time.Millisecond),
		peerLatency: max(d.cfg.Latency, time.Duration(answer.rcvDelay)*time.Millisecond),
		maxPayload:  int(min(answer.mtu, maxPacket)) - headerSize - 28, sendQueueDelay: d.cfg.SendQueueDelay,
		start: d.start, release: func(*Conn) { d.sock.close() }}
	if p.maxPayload < 0 {
		return nil, fmt.Errorf("the listener's MTU of %d bytes leaves no room for data", answer.mtu)
	}
	var counters Counters
	c := newConn(p)
	r := newSocketReader(d.sock, &counters, d.cfg.Log)
	r.route = func(h header, from netip.AddrPort, buf *packetBuf, n int) bool {
		if from != d.remote || h.dst != d.socketID {
			return false
		}
		if h.control && h.ctrl == ctrlHandshake {
			return false // a repeated answer to the conclusion
		}
		return c.deliver(h, buf, n, r)
	}
	r.failed = func(_ header, _ netip.AddrPort, reason error) { c.closeWith(reason, true) }
	c.wg.Go(r.run)
	return c, nil
}

// exchange sends hs every handshakeRepeat until the listener answers it
// (done says which answer counts) or refuses, or ctx ends.
func (d *dialer) exchange(ctx context.Context, hs *handshake, done func(*handshake) bool) (handshake, error) {
	out := make([]byte, headerSize, maxPacket)
	buf := make([]byte, maxPacket)
	for {
		out = out[:headerSize]
		putControlHeader(out, ctrlHandshake, 0, 0, timestamp(int64(time.Since(d.start))), 0)
		out = hs.append(out)
		if err := d.sock.writeTo(out, d.remote); err != nil {
			return handshake{}, err
		}
		deadline := time.Now().Add(handshakeRepeat)
		if dl, ok := ctx.Deadline(); ok && dl.Before(deadline) {
			deadline = dl
		}
		d.sock.conn.SetReadDeadline(deadline)
		for {
			n, from, err := d.sock.conn.ReadFromUDPAddrPort(buf)
			if err != nil {
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() {
					break
				}
				return handshake{}, err
			}
			from = netip.AddrPortFrom(from.Addr().Unmap(), from.Port())
			if from != d.remote {
				continue
			}
			h, err := parseHeader(buf[:n])
			if err != nil || !h.control || h.ctrl != ctrlHandshake || h.dst != d.socketID {
				continue
			}
			answer, err := parseHandshake(buf[headerSize:n])
			if err != nil {
				continue
			}
			if answer.hsType >= hsRejectBase && answer.hsType < hsAgreement {
				return handshake{}, &RejectedError{Reason: answer.hsType - hsRejectBase}
			}
			if done(&answer) {
				d.sock.conn.SetReadDeadline(time.Time{})
				return answer, nil
			}
		}
		if ctx.Err() != nil {
			return handshake{}, fmt.Errorf("no answer within the handshake timeout: %w", ctx.Err())
		}
	}
}
