// Package pgtest runs a real PostgreSQL server for tests: initdb into a
// temporary directory (as the unprivileged postgres user when the tests run
// as root), a loopback port, fsync off. A test package shares one server
// (Shared, stopped by Main) and takes a database of its own per test
// (Database); a test that stops and starts the server takes its own (Start).
// It holds nothing but test support.
package pgtest

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// BinDir is where Debian's PostgreSQL 15 keeps initdb and postgres;
// PODIUM_PG_BIN overrides it.
const BinDir = "/usr/lib/postgresql/15/bin"

// readyTimeout bounds a server's start: generous, for a busy machine.
const readyTimeout = 60 * time.Second

// Server is a PostgreSQL server run by the tests.
type Server struct {
	dir  string
	port int
	cred *syscall.Credential
	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
}

func binDir() string {
	if dir := os.Getenv("PODIUM_PG_BIN"); dir != "" {
		return dir
	}
	return BinDir
}

// Available says why no server can be run here, or returns nil.
func Available() error {
	for _, name := range []string{"initdb", "postgres"} {
		if _, err := os.Stat(filepath.Join(binDir(), name)); err != nil {
			return fmt.Errorf("PostgreSQL is not installed (no %s in %s; scripts/install-test-deps.sh installs it)", name, binDir())
		}
	}
	return nil
}

// Start initialises and starts a server of its own for t, stopped and
// removed when t ends; t is skipped if PostgreSQL is not installed.
func Start(t testing.TB) *Server {
	t.Helper()
	if err := Available(); err != nil {
		t.Skip(err)
	}
	s, err := newServer()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.remove)
	return s
}

var (
	sharedOnce sync.Once
	shared     *Server
	sharedErr  error
	databases  atomic.Int64
)

// Shared returns the package's server, started on first use; Main stops it.
func Shared(t testing.TB) *Server {
	t.Helper()
	if err := Available(); err != nil {
		t.Skip(err)
	}
	sharedOnce.Do(func() { shared, sharedErr = newServer() })
	if sharedErr != nil {
		t.Fatal(sharedErr)
	}
	return shared
}

// Main runs a test package's tests and stops its shared server:
// func TestMain(m *testing.M) { pgtest.Main(m) }.
func Main(m *testing.M) {
	code := m.Run()
	if shared != nil {
		shared.remove()
	}
	os.Exit(code)
}

// Database creates a database of its own for t on the shared server and
// returns its URL.
func Database(t testing.TB) string {
	t.Helper()
	return Shared(t).Database(t)
}

func newServer() (*Server, error) {
	dir, err := os.MkdirTemp("", "podium-pgtest-")
	if err != nil {
		return nil, err
	}
	s := &Server{dir: dir}
	if os.Geteuid() == 0 {
		// initdb and postgres refuse to run as root.
		u, err := user.Lookup("postgres")
		if err != nil {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("tests run as root, and PostgreSQL needs an unprivileged user: %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		s.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		if err := os.Chown(dir, uid, gid); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
	}
	initdb := exec.Command(filepath.Join(binDir(), "initdb"), "-D", s.dataDir(), "-U", "podium", "--auth=trust",
		"--encoding=UTF8", "--locale=C", "--no-sync")
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred}
	if out, err := initdb.CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("initdb: %v\n%s", err, out)
	}
	if s.port, err = freePort(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	if err := s.Start(); err != nil {
		s.remove()
		return nil, err
	}
	return s, nil
}

func (s *Server) dataDir() string { return filepath.Join(s.dir, "data") }

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// Start starts the server (again, after Stop) on its port and waits until
// it takes connections.
func (s *Server) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		return nil
	}
	cmd := exec.Command(filepath.Join(binDir(), "postgres"), "-D", s.dataDir(),
		"-c", "listen_addresses=127.0.0.1", "-c", "port="+strconv.Itoa(s.port), "-c", "unix_socket_directories="+s.dir,
		"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
		"-c", "max_connections=300", "-c", "shared_buffers=32MB")
	log, err := os.OpenFile(filepath.Join(s.dir, "postgres.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer log.Close()
	// Pdeathsig: a test binary killed takes its server with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred, Pdeathsig: syscall.SIGKILL}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start postgres: %w", err)
	}
	done := make(chan struct{})
	go func() {
		cmd.Wait()
		close(done)
	}()
	s.cmd, s.done = cmd, done
	deadline := time.Now().Add(readyTimeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		conn, err := pgx.Connect(ctx, s.URL("postgres"))
		cancel()
		if err == nil {
			conn.Close(context.Background())
			return nil
		}
		select {
		case <-done:
			out, _ := os.ReadFile(filepath.Join(s.dir, "postgres.log"))
			s.cmd = nil
			return fmt.Errorf("postgres exited at start:\n%s", out)
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("postgres not ready after %v: %w", readyTimeout, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Stop stops the server (a fast shutdown: clients are disconnected) and
// waits until it has exited.
func (s *Server) Stop() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return nil
	}
	s.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-s.done:
	case <-time.After(readyTimeout):
		s.cmd.Process.Kill()
		<-s.done
	}
	s.cmd = nil
	return nil
}

func (s *Server) remove() {
	s.Stop()
	os.RemoveAll(s.dir)
}

// Port is the server's loopback port.
func (s *Server) Port() int { return s.port }

// URL is the address of database db on the server.
func (s *Server) URL(db string) string {
	return fmt.Sprintf("postgres://podium:podium@127.0.0.1:%d/%s?sslmode=disable", s.port, db)
}

// Database creates a new database for t and returns its URL.
func (s *Server) Database(t testing.TB) string {
	t.Helper()
	name := fmt.Sprintf("t%d_%s", databases.Add(1), sanitize(t.Name()))
	ctx, cancel := context.WithTimeout(context.Background(), readyTimeout)
	defer cancel()
	conn, err := pgx.Connect(ctx, s.URL("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		t.Fatal(fmt.Errorf("create database %s: %w", name, err))
	}
	return s.URL(name)
}

// sanitize makes a test's name part of a database name (63 bytes at most in all).
func sanitize(name string) string {
	name = strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			return r
		}
		return '_'
	}, strings.ToLower(name))
	if len(name) > 40 {
		name = name[:40]
	}
	return name
}
