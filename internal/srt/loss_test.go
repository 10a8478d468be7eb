package srt

import (
	"bytes"
	"context"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// lossyRelay forwards UDP between one client and a server, dropping a share
// of the data packets going one way: a network that loses packets, for the
// retransmission to recover.
type lossyRelay struct {
	front, back *net.UDPConn
	server      netip.AddrPort
	dropShare   float64
	toServer    bool // drop on the way to the server (else to the client)
	dropped     atomic.Uint64
	mu          sync.Mutex
	client      netip.AddrPort
	wg          sync.WaitGroup
}

func newLossyRelay(t *testing.T, server netip.AddrPort, dropShare float64, toServer bool) *lossyRelay {
	t.Helper()
	front, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	back, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	r := &lossyRelay{front: front, back: back, server: server, dropShare: dropShare, toServer: toServer}
	r.wg.Go(r.forward)
	r.wg.Go(r.backward)
	t.Cleanup(func() {
		front.Close()
		back.Close()
		r.wg.Wait()
	})
	return r
}

func (r *lossyRelay) addr() netip.AddrPort { return r.front.LocalAddr().(*net.UDPAddr).AddrPort() }

// drop decides whether to lose a data packet (control packets all pass, so
// that the test exercises data recovery).
func (r *lossyRelay) drop(b []byte, towardServer bool) bool {
	if towardServer != r.toServer || len(b) < headerSize || b[0]&0x80 != 0 {
		return false
	}
	if rand.Float64() < r.dropShare {
		r.dropped.Add(1)
		return true
	}
	return false
}

func (r *lossyRelay) forward() {
	buf := make([]byte, 2048)
	for {
		n, from, err := r.front.ReadFromUDPAddrPort(buf)
		if err != nil {
			return
		}
		r.mu.Lock()
		r.client = from
		r.mu.Unlock()
		if !r.drop(buf[:n], true) {
			r.back.WriteToUDPAddrPort(buf[:n], r.server)
		}
	}
}

func (r *lossyRelay) backward() {
	buf := make([]byte, 2048)
	for {
		n, _, err := r.back.ReadFromUDPAddrPort(buf)
		if err != nil {
			return
		}
		r.mu.Lock()
		client := r.client
		r.mu.Unlock()
		if !r.drop(buf[:n], false) {
			r.front.WriteToUDPAddrPort(buf[:n], client)
		}
	}
}

// TestLossIsRecovered: 5% of the data packets are lost on the way, in
// each direction in turn, and every message still arrives, in order, once.
// The latency (1 s) leaves room for packets lost twice on a busy machine.
func TestLossIsRecovered(t *testing.T) {
	for _, dir := range []string{"listener receives", "listener sends"} {
		t.Run(dir, func(t *testing.T) {
			l, err := Listen("127.0.0.1:0", ListenConfig{Latency: time.Second})
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			relay := newLossyRelay(t, l.Addr().(*net.UDPAddr).AddrPort(), 0.05, dir == "listener receives")
			port := int(relay.addr().Port())
			want := messages(2000)
			if dir == "listener receives" {
				tr := startTransmit(t, "file://con", srtURL("127.0.0.1", port, "caller", "latency=1000", "passphrase="+testPassphrase))
				c, _ := acceptOne(t, l, testPassphrase)
				// More messages follow the 2000, so that the loss of the last
				// of them is seen (by a later packet) and repaired like any other.
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				go paced(ctx, append(want, messages(500)...), 8e6, func(m []byte) error { _, err := tr.stdin.Write(m); return err })
				sameMessages(t, readAll(t, c, len(want), 60*time.Second), want)
				if st := c.Stats(); st.PktRecvLoss == 0 || st.PktRecvRetrans == 0 {
					t.Fatalf("no loss seen or recovered: %+v", st)
				}
			} else {
				tr := startTransmit(t, srtURL("127.0.0.1", port, "caller", "latency=1000", "passphrase="+testPassphrase), "file://con")
				c, _ := acceptOne(t, l, testPassphrase)
				if err := paced(context.Background(), want, 8e6, func(m []byte) error { _, err := c.Write(m); return err }); err != nil {
					t.Fatal(err)
				}
				tr.receivedAll(t, c, bytes.Join(want, nil))
				if st := c.Stats(); st.PktRetrans == 0 {
					t.Fatalf("nothing retransmitted: %+v", st)
				}
			}
			if relay.dropped.Load() == 0 {
				t.Fatal("the relay dropped nothing")
			}
		})
	}
}
