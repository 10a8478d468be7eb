// Package s3test runs a real S3-compatible server for tests: versitygw
// serving a temporary directory, where a bucket is a folder. It builds and
// downloads nothing: scripts/install-test-deps.sh installs versitygw, and a
// test without it is skipped with a message saying so.
package s3test

import (
	"bytes"
	"fmt"
	"go/build"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// Credentials of the server's root account.
const (
	AccessKey = "podium-test"
	SecretKey = "podium-test-secret"
)

// Server is a running versitygw.
type Server struct {
	// Endpoint is http://127.0.0.1:PORT; Dir holds the buckets.
	Endpoint, Dir string

	bin, addr string
	mu        sync.Mutex
	cmd       *exec.Cmd
	exited    chan struct{}
}

// Binary finds versitygw on PATH or in Go's bin directory.
func Binary() (string, bool) {
	if p, err := exec.LookPath("versitygw"); err == nil {
		return p, true
	}
	dirs := []string{os.Getenv("GOBIN")}
	for _, gopath := range filepath.SplitList(build.Default.GOPATH) {
		dirs = append(dirs, filepath.Join(gopath, "bin"))
	}
	for _, d := range dirs {
		if d == "" {
			continue
		}
		p := filepath.Join(d, "versitygw")
		if info, err := os.Stat(p); err == nil && info.Mode()&0o111 != 0 {
			return p, true
		}
	}
	return "", false
}

// Start runs versitygw on a free loopback port over a temporary directory
// with the given buckets, waits until it answers, and stops it when the
// test ends. Without the binary the test is skipped.
func Start(t testing.TB, buckets ...string) *Server {
	t.Helper()
	bin, ok := Binary()
	if !ok {
		t.Skip("versitygw is not installed: scripts/install-test-deps.sh installs it (go install github.com/versity/versitygw/cmd/versitygw@v1.8.0)")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	s := &Server{Endpoint: "http://" + addr, Dir: t.TempDir(), bin: bin, addr: addr}
	for _, b := range buckets {
		if err := os.Mkdir(filepath.Join(s.Dir, b), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	s.Restart(t)
	t.Cleanup(func() { s.Stop(t) })
	return s
}

// Stop kills the server (as a crash or an outage would) and waits until it is gone.
func (s *Server) Stop(t testing.TB) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	s.cmd.Process.Kill()
	<-s.exited
	s.cmd = nil
}

// Restart starts the server again on the same port and directory and waits
// until it answers HTTP.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		return
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		err := s.startLocked()
		if err == nil {
			return
		}
		// The port may linger a moment after a kill.
		if time.Now().After(deadline) {
			t.Fatalf("versitygw did not start: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func (s *Server) startLocked() error {
	cmd := exec.Command(s.bin, "--port", s.addr, "posix", s.Dir)
	cmd.Env = append(os.Environ(), "ROOT_ACCESS_KEY="+AccessKey, "ROOT_SECRET_KEY="+SecretKey)
	log := &syncWriter{}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan struct{})
	go func() {
		cmd.Wait()
		close(exited)
	}()
	client := &http.Client{Timeout: 2 * time.Second}
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); {
		select {
		case <-exited:
			return fmt.Errorf("versitygw exited: %s", log)
		default:
		}
		if resp, err := client.Get(s.Endpoint + "/"); err == nil {
			resp.Body.Close()
			s.cmd, s.exited = cmd, exited
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	cmd.Process.Kill()
	<-exited
	return fmt.Errorf("versitygw did not answer on %s: %s", s.addr, log)
}

// syncWriter keeps the server's output, for errors.
type syncWriter struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (w *syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.b.Len() > 64<<10 {
		w.b.Reset()
	}
	return w.b.Write(p)
}

func (w *syncWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}
