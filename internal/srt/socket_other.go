//go:build !linux

package srt

import (
	"errors"
	"net"
	"net/netip"
)

func (s *socket) setup() error {
	s.inet6 = s.localAddr().Addr().Is6() && !s.localAddr().Addr().Is4In6()
	s.conn.SetReadBuffer(socketBuffer)
	s.conn.SetWriteBuffer(socketBuffer)
	return nil
}

// readBatch reads one datagram at a time where recvmmsg is not available.
type readBatch struct {
	bufs  []*packetBuf
	sizes []int
	addrs []netip.AddrPort
}

func newReadBatch(n int) *readBatch {
	rb := &readBatch{bufs: make([]*packetBuf, n), sizes: make([]int, n), addrs: make([]netip.AddrPort, n)}
	for i := range rb.bufs {
		rb.bufs[i] = getPacket()
	}
	return rb
}

func (s *socket) read(rb *readBatch) (int, error) {
	n, addr, err := s.conn.ReadFromUDPAddrPort(rb.bufs[0][:])
	if err != nil {
		return 0, err
	}
	rb.sizes[0], rb.addrs[0] = n, netip.AddrPortFrom(addr.Addr().Unmap(), addr.Port())
	return 1, nil
}

// writeBatch sends one datagram at a time where sendmmsg is not available.
type writeBatch struct {
	pkts    []outPacket
	n       int
	scratch []byte
}

func newWriteBatch(n int) *writeBatch {
	return &writeBatch{pkts: make([]outPacket, n), scratch: make([]byte, maxPacket)}
}

func (s *socket) write(wb *writeBatch) error {
	defer wb.reset()
	for i := 0; i < wb.n; i++ {
		p := &wb.pkts[i]
		b := append(append(wb.scratch[:0], p.header[:]...), p.payload...)
		// A datagram the system refuses is skipped, as on Linux; a closed socket ends the batch.
		if err := s.writeTo(b, p.to); errors.Is(err, net.ErrClosed) {
			return err
		}
	}
	return nil
}
