package app_test

import (
	"encoding/binary"
	"net"
	"testing"
	"time"
)

// conclusion returns an SRT handshake conclusion request (HSv5) to the
// listener (destination socket 0) whose extension area is ext.
func conclusion(ext []byte) []byte {
	pkt := make([]byte, 16+48, 16+48+len(ext))
	binary.BigEndian.PutUint16(pkt[0:], 0x8000) // control packet, type handshake
	cif := pkt[16:]
	binary.BigEndian.PutUint32(cif[0:], 5)           // version
	binary.BigEndian.PutUint16(cif[6:], 1)           // extension field: HSREQ
	binary.BigEndian.PutUint32(cif[8:], 12345)       // initial sequence number
	binary.BigEndian.PutUint32(cif[12:], 1500)       // MTU
	binary.BigEndian.PutUint32(cif[16:], 8192)       // flow window
	binary.BigEndian.PutUint32(cif[20:], 0xFFFFFFFF) // conclusion
	binary.BigEndian.PutUint32(cif[24:], 0x2A2A2A2A) // socket id
	return append(pkt, ext...)
}

// TestMalformedHandshakesAreDroppedAndCounted: the datagrams that panicked
// the SRT library Podium used before, inside its accept loop (an extension
// area of 1-3 bytes; a valid HSREQ followed by 2 stray bytes), are dropped
// and counted, and the listener goes on accepting and refusing with reasons.
func TestMalformedHandshakesAreDroppedAndCounted(t *testing.T) {
	p := startPodium(t, options{})
	f := p.createFeed("ath-100m-final")
	hsreq := []byte{0, 1, 0, 3, 0, 1, 5, 1, 0, 0, 0, 0xBF, 0, 120, 0, 120}
	bad := [][]byte{
		conclusion([]byte{1}),
		conclusion([]byte{1, 2}),
		conclusion([]byte{0, 1, 0}),
		conclusion(append(hsreq, 0, 0)),
	}
	if n := len(bad[0]); n != 65 {
		t.Fatalf("the reported packet is 65 bytes, made %d", n)
	}
	c, err := net.Dial("udp", net.JoinHostPort(p.srtHost, p.srtPort))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, pkt := range bad {
		if _, err := c.Write(pkt); err != nil {
			t.Fatal(err)
		}
	}
	// A malformed conclusion gets no answer, so the count is what tells
	// that the listener saw them all.
	eventually(t, 10*time.Second, "malformed handshakes counted", func() bool {
		return p.metric(`podium_srt_discarded_datagrams_total{reason="malformed"}`) >= float64(len(bad))
	})
	if got := p.probe("#!::r="+f.ID+",m=publish", "wrong-passphrase-1"); got != "rejected 1401" {
		t.Fatalf("after the malformed handshakes, a wrong passphrase: %q, want rejected 1401", got)
	}
	if got := p.probe("#!::r="+f.ID+",m=publish", f.PublishPassphrase); got != "connected" {
		t.Fatalf("after the malformed handshakes, the publish passphrase: %q, want connected", got)
	}
	if code, _, _ := fetch(t, p.base+"/healthz"); code != 200 {
		t.Fatalf("healthz after the malformed handshakes: %d", code)
	}
}
