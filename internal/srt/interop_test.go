package srt

// Interoperability with libsrt, the reference implementation, through its
// srt-live-transmit: each direction, caller and listener, encrypted and not.

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

const testPassphrase = "interop-passphrase-1"

func needTool(t *testing.T, name string) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		t.Fatalf("this test needs %s (Debian package srt-tools): run scripts/install-test-deps.sh", name)
	}
}

// messages returns n random messages of 1316 bytes.
func messages(n int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		out[i] = make([]byte, 1316)
		rand.Read(out[i])
	}
	return out
}

// paced writes each message with write, at rate bits per second.
func paced(ctx context.Context, msgs [][]byte, rate float64, write func([]byte) error) error {
	start := time.Now()
	sent := 0
	for _, m := range msgs {
		due := start.Add(time.Duration(float64(sent*8) / rate * float64(time.Second)))
		if d := time.Until(due); d > 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(d):
			}
		}
		if err := write(m); err != nil {
			return err
		}
		sent += len(m)
	}
	return nil
}

// transmit is a running srt-live-transmit.
type transmit struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stdout *bytes.Buffer
	stderr *bytes.Buffer
	mu     sync.Mutex
	done   chan struct{}
}

func startTransmit(t *testing.T, args ...string) *transmit {
	t.Helper()
	needTool(t, "srt-live-transmit")
	tr := &transmit{stdout: &bytes.Buffer{}, stderr: &bytes.Buffer{}, done: make(chan struct{})}
	tr.cmd = exec.Command("srt-live-transmit", append([]string{"-q", "-a:no", "-chunk", "1316"}, args...)...)
	stdin, err := tr.cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	tr.stdin = stdin
	stdout, err := tr.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	tr.cmd.Stderr = lockedWriter{&tr.mu, tr.stderr}
	if err := tr.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		io.Copy(lockedWriter{&tr.mu, tr.stdout}, stdout)
		tr.cmd.Wait()
		close(tr.done)
	}()
	t.Cleanup(func() {
		tr.cmd.Process.Kill()
		<-tr.done
		if t.Failed() {
			t.Logf("srt-live-transmit %v stderr:\n%s", args, tr.errors())
		}
	})
	return tr
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.w.Write(p)
}

func (tr *transmit) output() []byte {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return append([]byte(nil), tr.stdout.Bytes()...)
}

// receivedAll checks that srt-live-transmit wrote out want, which c sent:
// as srt-live-transmit holds the last packets for the latency and buffers
// its output in blocks of 4 KiB, c goes on sending filler until want has
// come out whole.
func (tr *transmit) receivedAll(t *testing.T, c *Conn, want []byte) {
	t.Helper()
	filler := make([]byte, 1316)
	deadline := time.Now().Add(30 * time.Second)
	for len(tr.output()) < len(want) && time.Now().Before(deadline) {
		if _, err := c.Write(filler); err != nil {
			t.Fatalf("write filler: %v", err)
		}
		time.Sleep(time.Millisecond)
	}
	if got := tr.output(); len(got) < len(want) || !bytes.Equal(got[:len(want)], want) {
		t.Fatalf("srt-live-transmit received %d bytes, want %d, a prefix: %v", len(got), len(want), bytes.HasPrefix(want, got))
	}
}

func (tr *transmit) errors() string {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return tr.stderr.String()
}

func freePort(t *testing.T) int {
	t.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port
}

func listen(t *testing.T) *Listener {
	t.Helper()
	l, err := Listen("127.0.0.1:0", ListenConfig{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func srtURL(host string, port int, mode string, query ...string) string {
	q := append([]string{"mode=" + mode}, query...)
	return fmt.Sprintf("srt://%s:%d?%s", host, port, strings.Join(q, "&"))
}

// acceptOne accepts the next request with passphrase (none: unencrypted).
func acceptOne(t *testing.T, l *Listener, passphrase string) (*Conn, *Request) {
	t.Helper()
	req, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	if passphrase != "" {
		if err := req.SetPassphrase(passphrase); err != nil {
			t.Fatalf("passphrase: %v", err)
		}
	}
	c, err := req.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, req
}

// readAll reads n messages from c, failing after timeout.
func readAll(t *testing.T, c *Conn, n int, timeout time.Duration) [][]byte {
	t.Helper()
	got := make(chan [][]byte, 1)
	go func() {
		var out [][]byte
		buf := make([]byte, 2000)
		for len(out) < n {
			k, err := c.Read(buf)
			if err != nil {
				break
			}
			out = append(out, append([]byte(nil), buf[:k]...))
		}
		got <- out
	}()
	select {
	case out := <-got:
		return out
	case <-time.After(timeout):
		c.Close()
		return <-got
	}
}

func sameMessages(t *testing.T, got, want [][]byte) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d messages, want %d", len(got), len(want))
	}
	for i := range want {
		if !bytes.Equal(got[i], want[i]) {
			t.Fatalf("message %d differs", i)
		}
	}
}

func TestLibsrtCallerPublishesToListener(t *testing.T) {
	for _, passphrase := range []string{"", testPassphrase} {
		t.Run(fmt.Sprintf("encrypted=%v", passphrase != ""), func(t *testing.T) {
			l := listen(t)
			port := l.Addr().(*net.UDPAddr).Port
			query := []string{"streamid=#!::r=feed,m=publish"}
			if passphrase != "" {
				query = append(query, "passphrase="+passphrase)
			}
			tr := startTransmit(t, "file://con", srtURL("127.0.0.1", port, "caller", query...))
			c, req := acceptOne(t, l, passphrase)
			if req.StreamID() != "#!::r=feed,m=publish" {
				t.Fatalf("streamid %q", req.StreamID())
			}
			want := messages(1500)
			go paced(context.Background(), want, 8e6, func(m []byte) error { _, err := tr.stdin.Write(m); return err })
			sameMessages(t, readAll(t, c, len(want), 30*time.Second), want)
		})
	}
}

func TestLibsrtCallerPullsFromListener(t *testing.T) {
	for _, passphrase := range []string{"", testPassphrase} {
		t.Run(fmt.Sprintf("encrypted=%v", passphrase != ""), func(t *testing.T) {
			l := listen(t)
			port := l.Addr().(*net.UDPAddr).Port
			query := []string{"streamid=#!::r=feed,u=b,m=request"}
			if passphrase != "" {
				query = append(query, "passphrase="+passphrase)
			}
			tr := startTransmit(t, srtURL("127.0.0.1", port, "caller", query...), "file://con")
			c, _ := acceptOne(t, l, passphrase)
			want := messages(1500)
			if err := paced(context.Background(), want, 8e6, func(m []byte) error { _, err := c.Write(m); return err }); err != nil {
				t.Fatal(err)
			}
			tr.receivedAll(t, c, bytes.Join(want, nil))
		})
	}
}

func TestCallerPublishesToLibsrtListener(t *testing.T) {
	for _, passphrase := range []string{"", testPassphrase} {
		t.Run(fmt.Sprintf("encrypted=%v", passphrase != ""), func(t *testing.T) {
			port := freePort(t)
			query := []string{}
			if passphrase != "" {
				query = append(query, "passphrase="+passphrase)
			}
			tr := startTransmit(t, srtURL("127.0.0.1", port, "listener", query...), "file://con")
			var c *Conn
			deadline := time.Now().Add(10 * time.Second)
			for {
				var err error
				c, err = Dial(context.Background(), "127.0.0.1:"+strconv.Itoa(port), DialConfig{StreamID: "cam1", Passphrase: passphrase})
				if err == nil {
					break
				}
				if time.Now().After(deadline) {
					t.Fatal(err)
				}
				time.Sleep(100 * time.Millisecond)
			}
			defer c.Close()
			want := messages(1500)
			if err := paced(context.Background(), want, 8e6, func(m []byte) error { _, err := c.Write(m); return err }); err != nil {
				t.Fatal(err)
			}
			tr.receivedAll(t, c, bytes.Join(want, nil))
		})
	}
}

func TestCallerPullsFromLibsrtListener(t *testing.T) {
	port := freePort(t)
	tr := startTransmit(t, "file://con", srtURL("127.0.0.1", port, "listener", "passphrase="+testPassphrase))
	var c *Conn
	deadline := time.Now().Add(10 * time.Second)
	for {
		var err error
		c, err = Dial(context.Background(), "127.0.0.1:"+strconv.Itoa(port), DialConfig{Passphrase: testPassphrase})
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	defer c.Close()
	want := messages(1500)
	go paced(context.Background(), want, 8e6, func(m []byte) error { _, err := tr.stdin.Write(m); return err })
	sameMessages(t, readAll(t, c, len(want), 30*time.Second), want)
}

func TestWrongPassphraseIsRejected(t *testing.T) {
	l := listen(t)
	port := l.Addr().(*net.UDPAddr).Port
	go func() {
		for {
			req, err := l.Accept()
			if err != nil {
				return
			}
			if err := req.SetPassphrase(testPassphrase); err != nil {
				req.Reject(1401)
				continue
			}
			req.Accept()
		}
	}()
	_, err := Dial(context.Background(), l.Addr().String(), DialConfig{Passphrase: "not-the-passphrase"})
	var rej *RejectedError
	if !errors.As(err, &rej) || rej.Reason != 1401 {
		t.Fatalf("dial with a wrong passphrase: %v, want a rejection 1401", err)
	}
	// srt-live-transmit of libsrt 1.5.1 may go on calling after a
	// rejection (Haivision/srt#2776): what counts is that it reads one.
	tr := startTransmit(t, srtURL("127.0.0.1", port, "caller", "passphrase=not-the-passphrase"), "file://con")
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(tr.errors(), "REJECT") {
		if time.Now().After(deadline) {
			t.Fatal("srt-live-transmit did not report the rejection")
		}
		time.Sleep(20 * time.Millisecond)
	}
	c, err := Dial(context.Background(), l.Addr().String(), DialConfig{Passphrase: testPassphrase})
	if err != nil {
		t.Fatalf("the right passphrase: %v", err)
	}
	c.Close()
}

func TestMain(m *testing.M) {
	os.Exit(m.Run())
}

// TestLibsrtPublishesAtContributionRate: libsrt's sender holds 8192
// packets until they are acknowledged, under a second at 100 Mbit/s. The
// listener must acknowledge from the first packet on (it once waited for
// its keepalive, a second, and libsrt dropped what did not fit), so every
// message of a 100 Mbit/s stream arrives, in order.
func TestLibsrtPublishesAtContributionRate(t *testing.T) {
	const rate = 100_000_000
	l := listen(t)
	port := l.Addr().(*net.UDPAddr).Port
	tr := startTransmit(t, "file://con", srtURL("127.0.0.1", port, "caller", "streamid=#!::r=feed,m=publish", "passphrase="+testPassphrase))
	c, _ := acceptOne(t, l, testPassphrase)
	// 2.5 s of numbered messages, then as many again, so that a loss at
	// the end of the first ones is seen, and repaired, as any other.
	sent := make([][]byte, rate/8/1316*5)
	for i := range sent {
		sent[i] = make([]byte, 1316)
		binary.BigEndian.PutUint32(sent[i], uint32(i))
	}
	want := sent[:len(sent)/2]
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go paced(ctx, sent, rate, func(m []byte) error { _, err := tr.stdin.Write(m); return err })
	got := readAll(t, c, len(want), 60*time.Second)
	for i, m := range got {
		if n := binary.BigEndian.Uint32(m); n != uint32(i) {
			t.Fatalf("message %d is %d: %d messages lost (stats %+v)", i, n, int(n)-i, c.Stats())
		}
	}
	if len(got) != len(want) {
		t.Fatalf("got %d messages of %d (stats %+v)", len(got), len(want), c.Stats())
	}
}
