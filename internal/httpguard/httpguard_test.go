package httpguard

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// serve runs a guarded server on 127.0.0.1 that answers with the size of
// the body it read, or 408 when the body was too slow.
func serve(t *testing.T, cfg Config) string {
	t.Helper()
	g := New(cfg, NewMetrics(prometheus.NewRegistry()), slog.New(slog.DiscardHandler))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := g.Server(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, err := io.Copy(io.Discard, r.Body)
		if errors.Is(err, ErrBodyTimeout) {
			w.WriteHeader(http.StatusRequestTimeout)
			return
		}
		fmt.Fprint(w, n)
	}))
	done := make(chan struct{})
	go func() { srv.Serve(g.Listen(ln)); close(done) }()
	t.Cleanup(func() { srv.Close(); <-done; g.Wait() })
	return ln.Addr().String()
}

// post sends a body of size bytes in chunks of chunk bytes every interval.
func post(t *testing.T, addr string, size, chunk int, interval time.Duration) (status int, elapsed time.Duration) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	fmt.Fprintf(c, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n", size)
	go func() {
		buf := make([]byte, chunk)
		for sent := 0; sent < size; sent += chunk {
			if _, err := c.Write(buf[:min(chunk, size-sent)]); err != nil {
				return
			}
			time.Sleep(interval)
		}
	}()
	c.SetReadDeadline(time.Now().Add(60 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("no answer: %v", err)
	}
	return resp.StatusCode, time.Since(start)
}

// TestBodyTimeoutIsRateBased: a body sent at 8 KiB/s for longer than
// ReadTimeout is read whole; one at a few bytes a second is cut after about
// ReadTimeout.
func TestBodyTimeoutIsRateBased(t *testing.T) {
	addr := serve(t, Config{ReadTimeout: time.Second, WriteTimeout: 10 * time.Second, IdleTimeout: 10 * time.Second})
	if status, elapsed := post(t, addr, 24<<10, 2<<10, 250*time.Millisecond); status != 200 || elapsed < 2*time.Second {
		t.Fatalf("body at 8 KiB/s over %v: %d, want 200 after more than ReadTimeout", elapsed, status)
	}
	if status, elapsed := post(t, addr, 10<<10, 1, 100*time.Millisecond); status != http.StatusRequestTimeout {
		t.Fatalf("body at 10 B/s: %d after %v, want 408", status, elapsed)
	}
}
