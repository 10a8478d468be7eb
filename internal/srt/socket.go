package srt

import (
	"fmt"
	"net"
	"net/netip"
	"sync"
	"syscall"
)

// socket is a UDP socket that reads and writes datagrams in batches
// (recvmmsg and sendmmsg on Linux) without allocating per datagram.
type socket struct {
	conn *net.UDPConn
	raw  syscall.RawConn
	// inet6 is true for an AF_INET6 socket, whose IPv4 peers are
	// addressed as IPv4-mapped IPv6 addresses.
	inet6 bool
}

// socketBuffer is the kernel buffer asked for in each direction: a second
// of a 100 Mbit/s stream, so that a scheduling pause of a few tens of
// milliseconds at hundreds of Mbit/s loses nothing. Without the privilege
// to exceed net.core.rmem_max/wmem_max the kernel caps it there.
const socketBuffer = 12 << 20

func openSocket(network, address string) (*socket, error) {
	addr, err := net.ResolveUDPAddr(network, address)
	if err != nil {
		return nil, err
	}
	conn, err := net.ListenUDP(network, addr)
	if err != nil {
		return nil, err
	}
	raw, err := conn.SyscallConn()
	if err != nil {
		conn.Close()
		return nil, err
	}
	s := &socket{conn: conn, raw: raw}
	if err := s.setup(); err != nil {
		conn.Close()
		return nil, fmt.Errorf("set up udp socket: %w", err)
	}
	return s, nil
}

// localAddr returns the address the socket is bound to.
func (s *socket) localAddr() netip.AddrPort { return s.conn.LocalAddr().(*net.UDPAddr).AddrPort() }

// writeTo sends one datagram.
func (s *socket) writeTo(b []byte, to netip.AddrPort) error {
	if s.inet6 && to.Addr().Is4() {
		to = netip.AddrPortFrom(netip.AddrFrom16(to.Addr().As16()), to.Port())
	}
	_, err := s.conn.WriteToUDPAddrPort(b, to)
	return err
}

func (s *socket) close() error { return s.conn.Close() }

// packetBuf is the buffer one datagram is read into; data packets keep
// theirs until the application has read them.
type packetBuf [maxPacket]byte

var packetPool = sync.Pool{New: func() any { return new(packetBuf) }}

func getPacket() *packetBuf  { return packetPool.Get().(*packetBuf) }
func putPacket(b *packetBuf) { packetPool.Put(b) }

// outPacket is one datagram to send: a 16-byte header and a payload that
// is either the application's (unencrypted data, referenced, not copied)
// or the batch's own scratch space (control information, ciphertext).
type outPacket struct {
	header  [headerSize]byte
	payload []byte
	to      netip.AddrPort
}

// next returns the batch's next free datagram, or nil when the batch is full.
func (wb *writeBatch) next() *outPacket {
	if wb.n == len(wb.pkts) {
		return nil
	}
	p := &wb.pkts[wb.n]
	wb.n++
	return p
}

// full reports whether the batch has no room left.
func (wb *writeBatch) full() bool { return wb.n == len(wb.pkts) }

func (wb *writeBatch) reset() {
	for i := 0; i < wb.n; i++ {
		wb.pkts[i].payload = nil
	}
	wb.n = 0
}
