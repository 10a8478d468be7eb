package httpguard

import (
	"bufio"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// TestAcceptSurvivesFileDescriptorExhaustion: with every file descriptor of
// the process taken, a connection waits in the backlog while accepting
// pauses (counted); once descriptors are free again it is served, by the
// same server.
func TestAcceptSurvivesFileDescriptorExhaustion(t *testing.T) {
	metrics := NewMetrics(prometheus.NewRegistry())
	g := New(Config{ReadTimeout: 10 * time.Second, WriteTimeout: 10 * time.Second, IdleTimeout: 10 * time.Second}, metrics, slog.New(slog.DiscardHandler))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := g.Server(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, "ok") }))
	served := make(chan error, 1)
	go func() { served <- srv.Serve(g.Listen(ln)) }()
	defer func() { srv.Close(); <-served; g.Wait() }()

	var limit syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &limit); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir("/proc/self/fd")
	lowered := limit
	lowered.Cur = uint64(len(entries) + 50)
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lowered); err != nil {
		t.Fatal(err)
	}
	defer syscall.Setrlimit(syscall.RLIMIT_NOFILE, &limit)

	var hogs []*os.File
	release := func() {
		for _, f := range hogs {
			f.Close()
		}
		hogs = nil
	}
	defer release()
	for {
		f, err := os.Open(os.DevNull)
		if err != nil {
			break
		}
		hogs = append(hogs, f)
	}
	// One descriptor for the client's socket; none is left for accept.
	hogs[len(hogs)-1].Close()
	hogs = hogs[:len(hogs)-1]
	c, err := net.DialTimeout("tcp", ln.Addr().String(), 10*time.Second)
	if err != nil {
		t.Fatalf("dial with one descriptor free: %v", err)
	}
	defer c.Close()
	deadline := time.Now().Add(30 * time.Second)
	for counted(metrics.acceptWaits) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("accept never paused for want of descriptors")
		}
		time.Sleep(10 * time.Millisecond)
	}
	release()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	fmt.Fprint(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("request once descriptors are free: %v %v", resp, err)
	}
	select {
	case err := <-served:
		t.Fatalf("the server stopped: %v", err)
	default:
	}
}

func counted(c prometheus.Counter) float64 {
	var m dto.Metric
	c.Write(&m)
	return m.GetCounter().GetValue()
}
