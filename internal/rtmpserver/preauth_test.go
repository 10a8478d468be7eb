package rtmpserver

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"os/exec"
	"runtime"
	"testing"
	"time"

	"github.com/bluenviron/gortmplib/pkg/bytecounter"
	"github.com/bluenviron/gortmplib/pkg/handshake"
	"github.com/bluenviron/gortmplib/pkg/rawmessage"
)

// setChunkSize is a Set Chunk Size message on the control chunk stream.
func setChunkSize(size uint32) []byte {
	return []byte{0x02, 0, 0, 0, 0, 0, 4, 1, 0, 0, 0, 0,
		byte(size >> 24), byte(size >> 16), byte(size >> 8), byte(size)}
}

// hugeCommand is the header of a type 0 chunk announcing a 16 MB AMF0
// command, whose body never comes.
var hugeCommand = []byte{0x03, 0, 0, 0, 0xff, 0xff, 0xff, 20, 0, 0, 0, 0}

// attack opens a connection, shakes hands and sends what, then keeps the
// connection open; closed is sent to once the server has closed it.
func attack(t *testing.T, addr string, what []byte, closed chan<- struct{}) net.Conn {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := handshake.DoClient(nc, false, false); err != nil {
		nc.Close()
		t.Fatal(err)
	}
	if _, err := nc.Write(what); err != nil {
		nc.Close()
		t.Fatal(err)
	}
	go func() {
		io.Copy(io.Discard, nc)
		closed <- struct{}{}
	}()
	return nc
}

// TestOversizedChunksBeforePublishAreCut: 100 connections without a key
// set a 10 MiB chunk size and announce a 16 MB message (gortmplib alone
// reserved 10 MiB for each); the server closes them, counts them, and
// holds little memory meanwhile, and an ffmpeg publish still works.
func TestOversizedChunksBeforePublishAreCut(t *testing.T) {
	const conns = 100
	const heapMargin = 64 << 20
	srv := startServerWith(t, Config{Timeout: 20 * time.Second})
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	baseline := ms.HeapInuse

	closed := make(chan struct{}, conns)
	payload := append(setChunkSize(10<<20), hugeCommand...)
	for range conns {
		nc := attack(t, srv.Addr().String(), payload, closed)
		defer nc.Close()
	}
	deadline := time.After(30 * time.Second)
	var peak uint64
	for n := 0; n < conns; {
		select {
		case <-closed:
			n++
		case <-deadline:
			t.Fatalf("%d of %d connections still open after 30 s (heap in use peaked %d MB over the baseline)", conns-n, conns, (peak-baseline)>>20)
		case <-time.After(10 * time.Millisecond):
		}
		runtime.ReadMemStats(&ms)
		peak = max(peak, ms.HeapInuse)
		if peak > baseline+heapMargin {
			t.Fatalf("heap in use rose from %d MB to %d MB with %d connections without a key", baseline>>20, peak>>20, conns)
		}
	}
	if got := srv.rejections(t, reasonOversized); got != conns {
		t.Errorf("podium_rtmp_rejections_total{reason=%q} = %v, want %d", reasonOversized, got, conns)
	}
	t.Logf("heap in use: %d MB before, at most %d MB with %d connections", baseline>>20, peak>>20, conns)

	publishWithFFmpeg(t, srv)
}

// TestPreAuthBounds: each bound on its own closes the connection and is
// counted, at the default chunk size too.
func TestPreAuthBounds(t *testing.T) {
	srv := startServerWith(t, Config{Timeout: 20 * time.Second})
	tests := []struct {
		name   string
		send   []byte
		reason string
	}{
		{"16 MB message", hugeCommand, reasonOversized},
		{"message over 64 KiB", []byte{0x03, 0, 0, 0, 0x01, 0x00, 0x01, 20, 0, 0, 0, 0}, reasonOversized},
		{"chunk size over 65536", setChunkSize(65537), reasonOversized},
		{"chunk size 0", setChunkSize(0), reasonOversized},
		{"two-byte chunk stream id", []byte{0x00, 0x10}, reasonBadRequest},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := srv.rejections(t, tc.reason)
			closed := make(chan struct{}, 1)
			nc := attack(t, srv.Addr().String(), tc.send, closed)
			defer nc.Close()
			select {
			case <-closed:
			case <-time.After(15 * time.Second):
				t.Fatal("connection still open after 15 s")
			}
			if got := srv.rejections(t, tc.reason) - before; got != 1 {
				t.Errorf("podium_rtmp_rejections_total{reason=%q} rose by %v, want 1", tc.reason, got)
			}
		})
	}
	t.Run("RTMPE", func(t *testing.T) {
		before := srv.rejections(t, reasonBadRequest)
		nc, err := net.Dial("tcp", srv.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		nc.Write(append([]byte{rtmpeVersion}, make([]byte, 1536)...))
		nc.SetReadDeadline(time.Now().Add(15 * time.Second))
		if n, _ := io.Copy(io.Discard, nc); n != 0 {
			t.Errorf("the server answered an RTMPE handshake with %d bytes", n)
		}
		if got := srv.rejections(t, reasonBadRequest) - before; got != 1 {
			t.Errorf("podium_rtmp_rejections_total{reason=%q} rose by %v, want 1", reasonBadRequest, got)
		}
	})
	// A chunk size of 65536, as gortmplib's client and some encoders send it, passes.
	publishWithFFmpeg(t, srv)
}

// publishWithFFmpeg publishes 3 s of H.264 and AAC with ffmpeg's RTMP
// client and checks that a transport stream reached the feed.
func publishWithFFmpeg(t *testing.T, srv *testServer) {
	t.Helper()
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		t.Skip("ffmpeg not installed")
	}
	before := len(srv.sources.attached())
	url := fmt.Sprintf("rtmp://%s/%s/%s?key=%s", srv.Addr(), App, testFeed.ID, testFeed.PublishPassphrase)
	out, err := exec.Command("ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25",
		"-f", "lavfi", "-i", "sine=frequency=1000:sample_rate=48000", "-t", "4",
		"-c:v", "libx264", "-preset", "ultrafast", "-g", "25", "-c:a", "aac", "-f", "flv", url).CombinedOutput()
	if err != nil {
		t.Fatalf("ffmpeg publish: %v: %s", err, out)
	}
	var rec *recorder
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if all := srv.sources.attached(); len(all) > before {
			rec = all[len(all)-1]
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("ffmpeg's publish did not reach the feed")
		}
	}
	select {
	case <-rec.detached:
	case <-time.After(10 * time.Second):
		t.Fatal("ffmpeg's publish did not end within 10 s of ffmpeg")
	}
	stream := rec.stream()
	if len(stream) < 188*10 || !bytes.Equal(stream[:1], []byte{0x47}) {
		t.Fatalf("ffmpeg's publish gave %d bytes of transport stream", len(stream))
	}
}

// FuzzChunkGuard writes messages within the bounds with gortmplib's own
// chunk writer (chunk types 0 to 3, extended timestamps, Set Chunk Size
// from 1 to 65536, several chunk streams) and feeds them to the guard in
// pieces of any size: it must refuse none and end at a chunk boundary,
// which shows that it reads chunk headers as the library writes them.
// Each 4 bytes of input are one message: chunk stream, size, timestamp step.
func FuzzChunkGuard(f *testing.F) {
	f.Add([]byte{3, 0x10, 0x00, 40, 0xff, 0xff, 0xff, 0xff, 4, 0x00, 0x80, 40, 0, 0x00, 0x10, 0x00, 5, 0xff, 0xf0, 0})
	f.Add([]byte{0, 0xff, 0xff, 0, 3, 0xff, 0xff, 1, 3, 0x00, 0x01, 0xff, 0, 0x00, 0x01, 0, 7, 0x12, 0x34, 0x80})
	f.Fuzz(func(t *testing.T, data []byte) {
		var buf bytes.Buffer
		buf.WriteByte(3)
		buf.Write(make([]byte, handshakeLen-1))
		bcw := bytecounter.NewWriter(&buf)
		w := rawmessage.NewWriter(bcw, bcw, false)
		var at time.Duration
		for i := 0; i+4 <= len(data) && buf.Len() < 4<<20; i += 4 {
			op := data[i : i+4]
			size := uint32(op[1])<<8 | uint32(op[2])
			if op[0] == 0 {
				// Set Chunk Size, 1 to 65536.
				chunk := size + 1
				err := w.Write(&rawmessage.Message{ChunkStreamID: 2, Type: 1,
					Body: []byte{byte(chunk >> 24), byte(chunk >> 16), byte(chunk >> 8), byte(chunk)}})
				if err != nil {
					t.Fatal(err)
				}
				w.SetChunkSize(chunk)
				continue
			}
			// The timestamp steps by op[3] ms, or past 0xFFFFFF ms (extended timestamps).
			at += time.Duration(op[3]) * time.Millisecond
			if op[3] == 0xff {
				at += 0x1000000 * time.Millisecond
			}
			msg := &rawmessage.Message{ChunkStreamID: 3 + op[0]%61, Timestamp: at, Type: 8 + op[0]%13,
				MessageStreamID: 1, Body: make([]byte, size)}
			if err := w.Write(msg); err != nil {
				t.Fatal(err)
			}
		}
		g := newChunkGuard()
		stream := buf.Bytes()
		for piece := 1; len(stream) > 0; piece = piece*7%1500 + 1 {
			n := min(piece, len(stream))
			if rej := g.scan(stream[:n]); rej != nil {
				t.Fatalf("the guard refused gortmplib's own chunks, %d bytes before the end: %v", len(stream), rej)
			}
			stream = stream[n:]
		}
		if g.headerLen != 0 || g.inBody {
			t.Fatalf("the guard is inside a chunk at the end of the stream (header %d bytes, body %d left)", g.headerLen, g.bodyLeft)
		}
	})
}
