package app_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/podium-broadcast/podium/internal/config"
)

// rawRequest sends a request on c and reads the answer's status and headers.
func rawRequest(t *testing.T, c net.Conn, br *bufio.Reader, method, path string) *http.Response {
	t.Helper()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	fmt.Fprintf(c, "%s %s HTTP/1.1\r\nHost: podium\r\n\r\n", method, path)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("%s %s from %s: %v", method, path, c.LocalAddr(), err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

// dialFrom connects to addr from the loopback address local (127.0.0.x).
func dialFrom(t *testing.T, local, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}, Timeout: 10 * time.Second}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial %s from %s: %v", addr, local, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// TestSlowBodiesAreCut: 50 unauthenticated sign-ins whose 100 KB bodies
// trickle in at a few bytes a second are each answered 408 and closed soon
// after http_read_timeout, and counted.
func TestSlowBodiesAreCut(t *testing.T) {
	p := startPodium(t, options{configure: func(c *config.Config) { c.HTTPReadTimeout = time.Second }})
	const slow = 50
	conns := make([]net.Conn, slow)
	for i := range conns {
		conns[i] = dialFrom(t, "127.0.0.1", p.HTTPAddr())
		fmt.Fprintf(conns[i], "POST /api/v1/session HTTP/1.1\r\nHost: podium\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{")
	}
	stop := make(chan struct{})
	var trickle sync.WaitGroup
	trickle.Go(func() { // 5 bytes a second on each connection, far below 1 KiB/s
		for {
			select {
			case <-stop:
				return
			case <-time.After(200 * time.Millisecond):
			}
			for _, c := range conns {
				c.SetWriteDeadline(time.Now().Add(time.Second))
				c.Write([]byte(" "))
			}
		}
	})
	defer func() { close(stop); trickle.Wait() }()

	start := time.Now()
	statuses := make([]int, slow)
	closed := make([]time.Duration, slow)
	var readers sync.WaitGroup
	for i, c := range conns {
		readers.Go(func() {
			c.SetReadDeadline(time.Now().Add(60 * time.Second))
			br := bufio.NewReader(c)
			if resp, err := http.ReadResponse(br, nil); err == nil {
				statuses[i] = resp.StatusCode
				io.Copy(io.Discard, resp.Body)
			}
			for {
				if _, err := br.ReadByte(); err != nil {
					break
				}
			}
			closed[i] = time.Since(start)
		})
	}
	readers.Wait()
	for i := range slow {
		if statuses[i] != http.StatusRequestTimeout {
			t.Errorf("slow body %d: status %d, want 408", i, statuses[i])
		}
		if closed[i] > 30*time.Second {
			t.Errorf("slow body %d: connection open for %v", i, closed[i])
		}
	}
	if n := p.metric(`podium_http_timeouts_total{kind="body"}`); n != slow {
		t.Errorf("body timeouts counted %v, want %d", n, slow)
	}
	if n := p.metric(`podium_auth_failures_total{protocol="http"}`); n != 0 {
		t.Errorf("slow bodies counted as %v failed authentications", n)
	}
	// A body at a normal pace still goes through.
	if status := p.api("POST", "/api/v1/session", "", map[string]string{"token": p.AdminToken}, nil); status != 200 {
		t.Fatalf("sign-in after the slow bodies: %d", status)
	}
}

// TestHTTPConnectionCapPerAddress: the connection over
// http_max_connections_per_address from one address is answered 503 with
// Retry-After and closed, while another address is served; a closed
// connection frees its place.
func TestHTTPConnectionCapPerAddress(t *testing.T) {
	const perAddress = 4
	p := startPodium(t, options{configure: func(c *config.Config) { c.HTTPMaxConnectionsPerAddr = perAddress }})
	held := make([]net.Conn, perAddress)
	for i := range held {
		held[i] = dialFrom(t, "127.0.0.1", p.HTTPAddr())
		if resp := rawRequest(t, held[i], bufio.NewReader(held[i]), "GET", "/healthz"); resp.StatusCode != 200 {
			t.Fatalf("connection %d: %d", i, resp.StatusCode)
		}
	}
	over := dialFrom(t, "127.0.0.1", p.HTTPAddr())
	resp := rawRequest(t, over, bufio.NewReader(over), "GET", "/healthz")
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("connection over the per-address cap: %d Retry-After %q, want 503 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	if _, err := over.Read(make([]byte, 1)); err == nil {
		t.Fatal("the refused connection is still open")
	}
	other := dialFrom(t, "127.0.0.2", p.HTTPAddr())
	if resp := rawRequest(t, other, bufio.NewReader(other), "GET", "/healthz"); resp.StatusCode != 200 {
		t.Fatalf("another address while the first is at its cap: %d, want 200", resp.StatusCode)
	}
	for _, c := range held {
		c.Close()
	}
	eventually(t, 10*time.Second, "closed connections not released", func() bool {
		c := dialFrom(t, "127.0.0.1", p.HTTPAddr())
		defer c.Close()
		return rawRequest(t, c, bufio.NewReader(c), "GET", "/healthz").StatusCode == 200
	})
	if n := p.metric(`podium_http_connections_refused_total{reason="connections_per_address"}`); n < 1 {
		t.Errorf("per-address refusals counted %v", n)
	}
}

// TestHTTPConnectionCapTotal: past http_max_connections every new
// connection is refused with 503, from any address.
func TestHTTPConnectionCapTotal(t *testing.T) {
	p := startPodium(t, options{configure: func(c *config.Config) { c.HTTPMaxConnections, c.HTTPMaxConnectionsPerAddr = 3, 3 }})
	for i := range 3 {
		c := dialFrom(t, fmt.Sprintf("127.0.0.%d", 10+i), p.HTTPAddr())
		if resp := rawRequest(t, c, bufio.NewReader(c), "GET", "/healthz"); resp.StatusCode != 200 {
			t.Fatalf("connection %d: %d", i, resp.StatusCode)
		}
	}
	c := dialFrom(t, "127.0.0.20", p.HTTPAddr())
	if resp := rawRequest(t, c, bufio.NewReader(c), "GET", "/healthz"); resp.StatusCode != 503 {
		t.Fatalf("connection over the total cap: %d, want 503", resp.StatusCode)
	}
}

// TestIdleKeepAliveIsClosed: a keep-alive connection that sends nothing
// after its answer is closed after http_idle_timeout, and counted.
func TestIdleKeepAliveIsClosed(t *testing.T) {
	p := startPodium(t, options{configure: func(c *config.Config) { c.HTTPIdleTimeout = time.Second }})
	c := dialFrom(t, "127.0.0.1", p.HTTPAddr())
	br := bufio.NewReader(c)
	if resp := rawRequest(t, c, br, "GET", "/healthz"); resp.StatusCode != 200 || resp.Close {
		t.Fatalf("keep-alive request: %d close %v", resp.StatusCode, resp.Close)
	}
	c.SetReadDeadline(time.Now().Add(30 * time.Second))
	if _, err := br.ReadByte(); err != io.EOF {
		t.Fatalf("idle keep-alive connection: %v, want EOF (closed by Podium)", err)
	}
	if n := p.metric(`podium_http_timeouts_total{kind="idle"}`); n != 1 {
		t.Errorf("idle timeouts counted %v, want 1", n)
	}
}
