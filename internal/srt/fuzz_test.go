package srt

import (
	"bytes"
	"encoding/binary"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"
)

// FuzzParsePacket: no bytes make a parser fail other than with an error,
// and what a handshake parses to encodes back to the same handshake.
func FuzzParsePacket(f *testing.F) {
	for _, seed := range packetSeeds() {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := parseHeader(b)
		if err != nil {
			return
		}
		info := b[headerSize:]
		parseACK(info)
		parseNAK(info, nil)
		parseDropReq(info)
		parseKM(info)
		hs, err := parseHandshake(info)
		if err == nil && hs.version == hsVersion5 && (hs.hsType == hsConclusion || hs.hasSRT) {
			again, err := parseHandshake(hs.append(nil))
			if err != nil {
				t.Fatalf("a parsed handshake does not parse once encoded: %v", err)
			}
			if again.streamID != hs.streamID || again.hasSRT != hs.hasSRT || again.srtFlags != hs.srtFlags ||
				again.kmCmd != hs.kmCmd || (hs.kmCmd != 0 && !bytes.Equal(again.km[:len(hs.km)], hs.km)) {
				t.Fatalf("handshake changed in a round trip:\n%+v\n%+v", hs, again)
			}
		}
		_ = h
	})
}

// rawPeer is an SRT caller made of a plain UDP socket, for sending a
// listener's connection anything at all from its peer's address.
type rawPeer struct {
	conn     *net.UDPConn
	socketID uint32 // the listener's socket of the connection
	isn      uint32
}

// rawConnect makes a connection to l by hand: induction, then conclusion
// with HSREQ and key material for passphrase.
func rawConnect(tb testing.TB, l *Listener, passphrase string) *rawPeer {
	tb.Helper()
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		tb.Fatal(err)
	}
	to := l.Addr().(*net.UDPAddr)
	p := &rawPeer{conn: conn, isn: 1000}
	hs := handshake{version: hsVersion4, extension: udtDgram, isn: p.isn, mtu: 1500, flowWindow: 8192, hsType: hsInduction, socketID: 77}
	answer := p.exchange(tb, to, &hs)
	keys, err := newStreamKeys(passphrase, 16)
	if err != nil {
		tb.Fatal(err)
	}
	hs = handshake{version: hsVersion5, extension: extFlagHSReq | extFlagKMReq | extFlagConfig, isn: p.isn, mtu: 1500, flowWindow: 8192,
		hsType: hsConclusion, socketID: 77, cookie: answer.cookie, hasSRT: true, srtCmd: extHSReq, peerVer: srtVersion,
		srtFlags: requiredFlags, rcvDelay: 120, sndDelay: 120, hasSID: true, streamID: "#!::r=fuzz,m=publish",
		kmCmd: extKMReq, km: keys.message(keyEven)}
	answer = p.exchange(tb, to, &hs)
	if answer.hsType != hsConclusion {
		tb.Fatalf("conclusion answered with %d", answer.hsType)
	}
	p.socketID = answer.socketID
	return p
}

func (p *rawPeer) exchange(tb testing.TB, to *net.UDPAddr, hs *handshake) handshake {
	tb.Helper()
	b := make([]byte, headerSize, 256)
	putControlHeader(b, ctrlHandshake, 0, 0, 0, 0)
	b = hs.append(b)
	buf := make([]byte, 2048)
	for range 20 {
		p.conn.WriteToUDP(b, to)
		p.conn.SetReadDeadline(time.Now().Add(250 * time.Millisecond))
		for {
			n, err := p.conn.Read(buf)
			if err != nil {
				break
			}
			h, err := parseHeader(buf[:n])
			if err != nil || !h.control || h.ctrl != ctrlHandshake {
				continue
			}
			answer, err := parseHandshake(buf[headerSize:n])
			if err == nil {
				return answer
			}
		}
	}
	tb.Fatal("no answer to the handshake")
	return handshake{}
}

// fuzzTarget is one listener, its application, and a connection to it
// from a raw peer, shared by the iterations of FuzzListener.
type fuzzTarget struct {
	l     *Listener
	probe *net.UDPConn
	mu    sync.Mutex
	peer  *rawPeer
}

var (
	fuzzOnce sync.Once
	fuzzT    *fuzzTarget
)

func setupFuzzTarget(tb testing.TB) *fuzzTarget {
	fuzzOnce.Do(func() {
		l, err := Listen("127.0.0.1:0", ListenConfig{})
		if err != nil {
			tb.Fatal(err)
		}
		probe, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			tb.Fatal(err)
		}
		fuzzT = &fuzzTarget{l: l, probe: probe}
		go fuzzT.serve()
	})
	return fuzzT
}

// serve accepts every caller with the fuzz passphrase and both reads from
// and writes to it, so that packets find a sender and a receiver.
func (ft *fuzzTarget) serve() {
	for {
		req, err := ft.l.Accept()
		if err != nil {
			return
		}
		if req.SetPassphrase("fuzz-passphrase") != nil {
			req.Reject(1401)
			continue
		}
		c, err := req.Accept()
		if err != nil {
			continue
		}
		go func() {
			buf := make([]byte, 2048)
			for {
				if _, err := c.Read(buf); err != nil {
					return
				}
			}
		}()
		go func() {
			msg := bytes.Repeat([]byte{0x47}, 1316)
			for c.Err() == nil {
				c.Write(msg)
				time.Sleep(2 * time.Millisecond)
			}
		}()
	}
}

// connection returns a live connection's raw peer, connecting again if the
// last iteration's packets closed it.
func (ft *fuzzTarget) connection(tb testing.TB) *rawPeer {
	ft.mu.Lock()
	defer ft.mu.Unlock()
	if ft.peer != nil {
		ft.l.mu.Lock()
		c := ft.l.conns[ft.peer.socketID]
		ft.l.mu.Unlock()
		if c != nil && c.Err() == nil {
			return ft.peer
		}
		ft.peer.conn.Close()
	}
	ft.peer = rawConnect(tb, ft.l, "fuzz-passphrase")
	return ft.peer
}

// alive checks that the listener still answers an induction.
func (ft *fuzzTarget) alive(tb testing.TB) {
	tb.Helper()
	hs := handshake{version: hsVersion4, extension: udtDgram, isn: 1, mtu: 1500, flowWindow: 8192, hsType: hsInduction, socketID: 99}
	b := make([]byte, headerSize, 128)
	putControlHeader(b, ctrlHandshake, 0, 0, 0, 0)
	b = hs.append(b)
	buf := make([]byte, 2048)
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		ft.probe.WriteToUDP(b, ft.l.Addr().(*net.UDPAddr))
		ft.probe.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		if n, err := ft.probe.Read(buf); err == nil && n >= headerSize+cifSize {
			return
		}
	}
	tb.Fatal("the listener no longer answers handshakes")
}

// FuzzListener sends a real listener, from the peer of a live encrypted
// connection, datagrams made of the input: each is a 2-byte length and its
// bytes, and unless the input says otherwise its destination socket is the
// connection's. Nothing may make the listener fail a packet's handling
// (recovered panics count as failures here), stop answering, or stall.
func FuzzListener(f *testing.F) {
	for _, seed := range packetSeeds() {
		f.Add(frame(seed))
	}
	f.Add(append(frame(packetSeeds()[0]), frame(packetSeeds()[1])...))
	f.Fuzz(func(t *testing.T, input []byte) {
		ft := setupFuzzTarget(t)
		peer := ft.connection(t)
		to := ft.l.Addr().(*net.UDPAddr).AddrPort()
		for len(input) >= 2 {
			n := int(binary.BigEndian.Uint16(input))
			keepDst := n&0x8000 != 0
			n &= 0x7FF
			input = input[2:]
			if n > len(input) {
				n = len(input)
			}
			dgram := append([]byte(nil), input[:n]...)
			input = input[n:]
			if len(dgram) >= headerSize && !keepDst {
				binary.BigEndian.PutUint32(dgram[12:], peer.socketID)
			}
			peer.conn.WriteToUDPAddrPort(dgram, netip.AddrPortFrom(to.Addr(), to.Port()))
		}
		ft.alive(t)
		if n := ft.l.counters.Panics.Load(); n > 0 {
			t.Fatalf("%d packets failed in their handling", n)
		}
	})
}

// frame encodes one datagram for FuzzListener.
func frame(b []byte) []byte {
	return append(binary.BigEndian.AppendUint16(nil, uint16(len(b))), b...)
}

// packetSeeds are one packet of each kind, and the handshakes that
// crashed the SRT library Podium used before.
func packetSeeds() [][]byte {
	ctl := func(ctrl, subtype uint16, typeInfo uint32, info []byte) []byte {
		b := make([]byte, headerSize)
		putControlHeader(b, ctrl, subtype, typeInfo, 1000, 0)
		return append(b, info...)
	}
	conclusion := handshake{version: hsVersion5, extension: extFlagHSReq | extFlagConfig, isn: 5, mtu: 1500, flowWindow: 8192,
		hsType: hsConclusion, socketID: 9, hasSRT: true, srtCmd: extHSReq, peerVer: srtVersion, srtFlags: requiredFlags,
		rcvDelay: 120, sndDelay: 120, hasSID: true, streamID: "#!::r=feed,m=publish"}
	short := handshake{version: hsVersion5, extension: 1, hsType: hsConclusion, socketID: 9, mtu: 1500}
	data := make([]byte, headerSize+188)
	putDataHeader(data, 1001, 1, keyEven, false, 2000, 0)
	ack := ackInfo{seq: 1001, rtt: 1000, rttVar: 100, available: 8000}
	keys, _ := newStreamKeys("fuzz-passphrase", 16)
	return [][]byte{
		ctl(ctrlHandshake, 0, 0, conclusion.append(nil)),
		ctl(ctrlHandshake, 0, 0, append(short.append(nil), 1)),
		ctl(ctrlHandshake, 0, 0, append(short.append(nil), 0, 1, 0)),
		data,
		ctl(ctrlACK, 0, 1, ack.append(nil)),
		ctl(ctrlACK, 0, 0, ack.append(nil)[:4]),
		ctl(ctrlNAK, 0, 0, appendNAK(nil, []lossRange{{1000, 1000}, {1002, 1010}})),
		ctl(ctrlACKACK, 0, 1, []byte{0, 0, 0, 0}),
		ctl(ctrlKeepalive, 0, 0, []byte{0, 0, 0, 0}),
		ctl(ctrlDropReq, 0, 1, []byte{0, 0, 3, 232, 0, 0, 3, 240}),
		ctl(ctrlUser, extKMReq, 0, keys.message(keyEven)),
		ctl(ctrlShutdown, 0, 0, []byte{0, 0, 0, 0}),
	}
}
