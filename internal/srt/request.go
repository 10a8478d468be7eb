package srt

import (
	"errors"
	"net"
	"time"
)

// Request is a caller's conclusion handshake waiting for the application:
// it looks at the streamid and the caller, sets the passphrase it expects,
// and accepts or rejects.
type Request struct {
	l    *Listener
	key  peerKey
	hs   handshake
	km   *keyMaterial
	keys *streamKeys
	at   time.Time
}

// StreamID returns the streamid the caller sent (SRTO_STREAMID), or "".
func (r *Request) StreamID() string { return r.hs.streamID }

// RemoteAddr returns the caller's address.
func (r *Request) RemoteAddr() net.Addr { return net.UDPAddrFromAddrPort(r.key.addr) }

// Encrypted reports whether the caller sent key material: it has a passphrase.
func (r *Request) Encrypted() bool { return r.km != nil }

// SetPassphrase unwraps the caller's keys with passphrase; it fails with
// ErrBadPassphrase when they were not wrapped with it.
func (r *Request) SetPassphrase(passphrase string) error {
	if r.km == nil {
		return errors.New("srt: the caller sent no key material")
	}
	keys, err := keysFromKM(passphrase, *r.km)
	if err != nil {
		return err
	}
	r.keys = keys
	return nil
}

// check returns the rejection reason for a conclusion Podium cannot serve, or 0.
func (r *Request) check() uint32 {
	hs := &r.hs
	switch {
	case hs.version != hsVersion5:
		return RejectVersion
	case !hs.hasSRT || hs.srtCmd != extHSReq:
		return RejectRogue
	case hs.peerVer < minPeerVersion:
		return RejectVersion
	case hs.srtFlags&flagStream != 0:
		return RejectMessageAPI
	case hs.srtFlags&flagRexmit == 0 || hs.srtFlags&(flagTSBPDSnd|flagTSBPDRcv) == 0:
		return RejectRogue
	case hs.congestion != "" && hs.congestion != "live":
		return RejectCongestion
	case hs.hasFilter:
		return RejectFilter
	case hs.hasGroup:
		return RejectGroup
	case hs.mtu < minMTU:
		return RejectRogue
	}
	if hs.kmCmd == extKMReq {
		km, err := parseKM(hs.km)
		if err != nil {
			return RejectRogue
		}
		r.km = &km
	}
	return 0
}

// Accept establishes the connection and answers the caller.
func (r *Request) Accept() (*Conn, error) {
	if r.km != nil && r.keys == nil {
		r.Reject(RejectBadSecret)
		return nil, errors.New("srt: accepting an encrypted caller needs its passphrase")
	}
	l, hs := r.l, &r.hs
	start := time.Now()
	l.mu.Lock()
	st := l.peers[r.key]
	if l.closed || st == nil || st.req != r {
		l.mu.Unlock()
		return nil, errors.New("srt: the request is no longer waiting")
	}
	p := connParams{sock: l.sock, remote: r.key.addr, socketID: l.newSocketID(), peerID: hs.socketID, isn: hs.isn,
		flowWindow: hs.flowWindow, streamID: hs.streamID, keys: r.keys,
		rcvLatency:  max(l.cfg.Latency, time.Duration(hs.sndDelay)*time.Millisecond),
		peerLatency: max(l.cfg.Latency, time.Duration(hs.rcvDelay)*time.Millisecond),
		maxPayload:  int(min(hs.mtu, maxPacket)) - headerSize - 28, sendQueueDelay: l.cfg.SendQueueDelay,
		start: start, release: l.release}
	answer := handshake{version: hsVersion5, extension: extFlagHSReq, isn: hs.isn, mtu: min(hs.mtu, maxPacket),
		flowWindow: flowWindow, hsType: hsConclusion, socketID: p.socketID, cookie: hs.cookie,
		hasSRT: true, srtCmd: extHSRsp, peerVer: srtVersion, srtFlags: requiredFlags,
		rcvDelay: uint16(p.rcvLatency.Milliseconds()), sndDelay: uint16(p.peerLatency.Milliseconds())}
	putPeerIP(&answer.peerIP, r.key.addr.Addr())
	if r.keys != nil {
		answer.extension |= extFlagKMReq
		answer.encryption = uint16(r.keys.keyLen / 8)
		answer.kmCmd, answer.km = extKMRsp, hs.km
	}
	c := newConn(p)
	l.conns[p.socketID] = c
	b := make([]byte, headerSize, headerSize+cifSize+96)
	putControlHeader(b, ctrlHandshake, 0, 0, timestamp(c.now()), hs.socketID)
	b = answer.append(b)
	l.peers[r.key] = &peerState{conn: c, answer: b, at: start}
	l.mu.Unlock()
	l.sock.writeTo(b, r.key.addr)
	return c, nil
}

// Reject refuses the caller with reason: one of the Reject* reasons, or an
// application's own (1000 and up; SRT access control uses 1400-1599).
func (r *Request) Reject(reason uint32) {
	l := r.l
	l.mu.Lock()
	st := l.peers[r.key]
	if st == nil || st.req != r {
		l.mu.Unlock()
		return
	}
	delete(l.peers, r.key)
	l.mu.Unlock()
	l.reject(r.hs, r.key.addr, reason, time.Now())
}
