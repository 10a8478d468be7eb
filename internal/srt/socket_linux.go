package srt

import (
	"encoding/binary"
	"net/netip"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

func (s *socket) setup() error {
	var opErr error
	err := s.raw.Control(func(fd uintptr) {
		domain, err := unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_DOMAIN)
		if err != nil {
			opErr = err
			return
		}
		s.inet6 = domain == unix.AF_INET6
		// The FORCE variants pass net.core.[rw]mem_max when the process may
		// (CAP_NET_ADMIN); otherwise the plain ones give what the limit allows.
		if unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, socketBuffer) != nil {
			unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF, socketBuffer)
		}
		if unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_SNDBUFFORCE, socketBuffer) != nil {
			unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_SNDBUF, socketBuffer)
		}
	})
	if err != nil {
		return err
	}
	return opErr
}

// sockaddrSize holds a sockaddr_in6, the larger of the two families.
const sockaddrSize = unix.SizeofSockaddrInet6

// readBatch is a set of buffers recvmmsg fills at once. It belongs to one goroutine.
type readBatch struct {
	bufs  []*packetBuf
	sizes []int
	addrs []netip.AddrPort

	hdrs  []unix.Mmsghdr
	iovs  []unix.Iovec
	names [][sockaddrSize]byte
}

func newReadBatch(n int) *readBatch {
	rb := &readBatch{bufs: make([]*packetBuf, n), sizes: make([]int, n), addrs: make([]netip.AddrPort, n),
		hdrs: make([]unix.Mmsghdr, n), iovs: make([]unix.Iovec, n), names: make([][sockaddrSize]byte, n)}
	for i := range rb.bufs {
		rb.bufs[i] = getPacket()
	}
	return rb
}

// read waits for datagrams and reads as many as are there, up to the
// batch's size; it returns how many.
func (s *socket) read(rb *readBatch) (int, error) {
	for i := range rb.hdrs {
		rb.iovs[i].Base = &rb.bufs[i][0]
		rb.iovs[i].SetLen(maxPacket)
		rb.hdrs[i] = unix.Mmsghdr{}
		rb.hdrs[i].Hdr.Name = &rb.names[i][0]
		rb.hdrs[i].Hdr.Namelen = sockaddrSize
		rb.hdrs[i].Hdr.Iov = &rb.iovs[i]
		rb.hdrs[i].Hdr.SetIovlen(1)
	}
	var n int
	var errno syscall.Errno
	err := s.raw.Read(func(fd uintptr) bool {
		r, _, e := unix.Syscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&rb.hdrs[0])), uintptr(len(rb.hdrs)), 0, 0, 0)
		if e == unix.EAGAIN || e == unix.EINTR {
			return false
		}
		n, errno = int(r), e
		return true
	})
	if err != nil {
		return 0, err
	}
	if errno != 0 {
		return 0, errno
	}
	for i := 0; i < n; i++ {
		rb.sizes[i] = int(rb.hdrs[i].Len)
		if rb.hdrs[i].Hdr.Flags&unix.MSG_TRUNC != 0 {
			rb.sizes[i] = 0 // longer than any SRT packet: dropped as malformed
		}
		rb.addrs[i] = parseSockaddr(rb.names[i][:])
	}
	return n, nil
}

func parseSockaddr(b []byte) netip.AddrPort {
	switch binary.NativeEndian.Uint16(b[0:]) {
	case unix.AF_INET:
		return netip.AddrPortFrom(netip.AddrFrom4([4]byte(b[4:8])), binary.BigEndian.Uint16(b[2:]))
	case unix.AF_INET6:
		return netip.AddrPortFrom(netip.AddrFrom16([16]byte(b[8:24])).Unmap(), binary.BigEndian.Uint16(b[2:]))
	}
	return netip.AddrPort{}
}

func putSockaddr(b []byte, to netip.AddrPort, inet6 bool) uint32 {
	clear(b)
	if !inet6 {
		binary.NativeEndian.PutUint16(b[0:], unix.AF_INET)
		binary.BigEndian.PutUint16(b[2:], to.Port())
		a := to.Addr().Unmap().As4()
		copy(b[4:8], a[:])
		return unix.SizeofSockaddrInet4
	}
	binary.NativeEndian.PutUint16(b[0:], unix.AF_INET6)
	binary.BigEndian.PutUint16(b[2:], to.Port())
	a := to.Addr().As16()
	copy(b[8:24], a[:])
	return unix.SizeofSockaddrInet6
}

// writeBatch is a set of datagrams sendmmsg sends at once. It belongs to one goroutine.
type writeBatch struct {
	pkts []outPacket
	n    int

	hdrs  []unix.Mmsghdr
	iovs  []unix.Iovec // two per datagram: header, payload
	names [][sockaddrSize]byte
}

func newWriteBatch(n int) *writeBatch {
	return &writeBatch{pkts: make([]outPacket, n), hdrs: make([]unix.Mmsghdr, n), iovs: make([]unix.Iovec, 2*n),
		names: make([][sockaddrSize]byte, n)}
}

// write sends the batch's datagrams and empties it. A datagram the kernel
// refuses (a peer's ICMP error, say) is skipped: SRT recovers losses.
func (s *socket) write(wb *writeBatch) error {
	defer wb.reset()
	for i := 0; i < wb.n; i++ {
		p := &wb.pkts[i]
		wb.iovs[2*i].Base = &p.header[0]
		wb.iovs[2*i].SetLen(headerSize)
		iovlen := 1
		if len(p.payload) > 0 {
			wb.iovs[2*i+1].Base = &p.payload[0]
			wb.iovs[2*i+1].SetLen(len(p.payload))
			iovlen = 2
		}
		wb.hdrs[i] = unix.Mmsghdr{}
		wb.hdrs[i].Hdr.Name = &wb.names[i][0]
		wb.hdrs[i].Hdr.Namelen = putSockaddr(wb.names[i][:], p.to, s.inet6)
		wb.hdrs[i].Hdr.Iov = &wb.iovs[2*i]
		wb.hdrs[i].Hdr.SetIovlen(iovlen)
	}
	sent := 0
	for sent < wb.n {
		var n int
		var errno syscall.Errno
		err := s.raw.Write(func(fd uintptr) bool {
			r, _, e := unix.Syscall6(unix.SYS_SENDMMSG, fd, uintptr(unsafe.Pointer(&wb.hdrs[sent])), uintptr(wb.n-sent), 0, 0, 0)
			if e == unix.EAGAIN || e == unix.EINTR {
				return false
			}
			n, errno = int(r), e
			return true
		})
		if err != nil {
			return err
		}
		if errno != 0 {
			// The first datagram failed: skip it, keep the rest.
			n = 1
		}
		sent += n
	}
	return nil
}
