// Package harness runs what Podium's benches measure it with: Podium itself
// as its own process, srt-live-transmit publishers fed with a stamped
// transport stream, srt-live-transmit receivers whose output is read back for
// the stamps, and the CPU and memory figures of all of them from /proc. It
// holds no measurement policy: each bench decides what to run, when, and how
// to report it.
package harness

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// UserHZ is the unit of the CPU times in /proc: USER_HZ, 100 on every Linux
// architecture Podium runs on.
const UserHZ = 100

// Supervisor starts the bench's child processes and makes sure none outlives it.
type Supervisor struct {
	mu   sync.Mutex
	live map[*Child]struct{}
}

// NewSupervisor returns a supervisor with no child yet.
func NewSupervisor() *Supervisor { return &Supervisor{live: make(map[*Child]struct{})} }

// Child is a running program started by the supervisor.
type Child struct {
	Name   string
	cmd    *exec.Cmd
	stderr *tail
	done   chan struct{} // closed once the process has exited and been waited for
	err    error
}

// Start runs cmd in its own process group (so that a Ctrl-C reaches the bench
// only, which then stops its children in order) and with a parent-death
// signal (so that no child survives the bench being killed).
func (s *Supervisor) Start(name string, cmd *exec.Cmd) (*Child, error) {
	c := &Child{Name: name, cmd: cmd, done: make(chan struct{})}
	if cmd.Stderr == nil {
		c.stderr = &tail{max: 4096}
		cmd.Stderr = c.stderr
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	s.mu.Lock()
	s.live[c] = struct{}{}
	s.mu.Unlock()
	go func() {
		c.err = cmd.Wait()
		s.mu.Lock()
		delete(s.live, c)
		s.mu.Unlock()
		close(c.done)
	}()
	return c, nil
}

// PID returns the child's process id.
func (c *Child) PID() int { return c.cmd.Process.Pid }

// Exited reports whether the child has ended.
func (c *Child) Exited() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// Stop interrupts the child (srt-live-transmit then closes its SRT
// connection cleanly), and kills it if it is still there after a grace period.
func (c *Child) Stop(grace time.Duration) {
	if c.Exited() {
		return
	}
	c.cmd.Process.Signal(os.Interrupt)
	select {
	case <-c.done:
	case <-time.After(grace):
		c.cmd.Process.Kill()
		<-c.done
	}
}

// Kill ends the child with SIGKILL, which it cannot catch: an encoder
// that dies without a word (no SRT shutdown reaches the other side). It
// returns once the child has been waited for.
func (c *Child) Kill() {
	if c.Exited() {
		return
	}
	c.cmd.Process.Kill()
	<-c.done
}

// Done is closed once the child has exited and been waited for.
func (c *Child) Done() <-chan struct{} { return c.done }

// Err is how the child ended (nil for a clean exit); valid once Done is closed.
func (c *Child) Err() error { return c.err }

// Why describes how the child ended, with the end of what it wrote on stderr.
func (c *Child) Why() string {
	msg := fmt.Sprintf("%s exited (%v)", c.Name, c.err)
	if c.stderr != nil {
		if s := strings.TrimSpace(c.stderr.String()); s != "" {
			msg += ": " + s
		}
	}
	return msg
}

// Running returns the children still running.
func (s *Supervisor) Running() []*Child {
	s.mu.Lock()
	defer s.mu.Unlock()
	children := make([]*Child, 0, len(s.live))
	for c := range s.live {
		children = append(children, c)
	}
	return children
}

// StopAll stops every child still running, all at once.
func (s *Supervisor) StopAll() { StopChildren(s.Running()) }

// StopChildren stops children in parallel.
func StopChildren(children []*Child) {
	var wg sync.WaitGroup
	for _, c := range children {
		wg.Go(func() { c.Stop(3 * time.Second) })
	}
	wg.Wait()
}

// tail keeps the last max bytes written to it.
type tail struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return len(p), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}

// CPUTicks returns the user and system CPU time a process has used, in 1/UserHZ s.
func CPUTicks(pid int) (uint64, error) {
	t, err := readStat(pid)
	return t.utime + t.stime, err
}

// ReapedChildrenTicks returns the user and system CPU time of the children
// that process pid has waited for, in 1/UserHZ s: the CPU of peers that have
// come and gone, which no longer have a /proc entry of their own.
func ReapedChildrenTicks(pid int) (uint64, error) {
	t, err := readStat(pid)
	return t.cutime + t.cstime, err
}

// procStat is the CPU times of /proc/PID/stat.
type procStat struct{ utime, stime, cutime, cstime uint64 }

func readStat(pid int) (procStat, error) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return procStat{}, err
	}
	return parseStat(pid, data)
}

func parseStat(pid int, data []byte) (procStat, error) {
	// The command name, in parentheses, may hold spaces: count fields after it.
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return procStat{}, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	fields := strings.Fields(string(data[i+1:]))
	// fields[0] is field 3 (state); utime, stime, cutime and cstime are fields 14 to 17.
	if len(fields) < 15 {
		return procStat{}, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(fields))
	}
	var v [4]uint64
	for k := range v {
		n, err := strconv.ParseUint(fields[11+k], 10, 64)
		if err != nil {
			return procStat{}, fmt.Errorf("/proc/%d/stat: bad CPU times", pid)
		}
		v[k] = n
	}
	return procStat{utime: v[0], stime: v[1], cutime: v[2], cstime: v[3]}, nil
}

// RSSBytes returns a process's resident set size.
func RSSBytes(pid int) (uint64, error) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, err
	}
	for line := range strings.Lines(string(data)) {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("/proc/%d/status: VmRSS %q", pid, v)
			}
			return kb << 10, nil
		}
	}
	return 0, fmt.Errorf("/proc/%d/status: no VmRSS", pid)
}

// MachineTicks returns the CPU time of the whole machine, busy and in all, from /proc/stat.
func MachineTicks() (busy, total uint64, err error) {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0, err
	}
	line, _, _ := strings.Cut(string(data), "\n")
	fields := strings.Fields(line)
	if len(fields) < 6 || fields[0] != "cpu" {
		return 0, 0, fmt.Errorf("/proc/stat: unexpected first line %q", line)
	}
	// user nice system idle iowait irq softirq steal ...; guest time is already counted in user.
	for i, f := range fields[1:min(len(fields), 9)] {
		v, err := strconv.ParseUint(f, 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("/proc/stat: %q", f)
		}
		total += v
		if i != 3 && i != 4 { // idle, iowait
			busy += v
		}
	}
	return busy, total, nil
}

// SetPipeSize enlarges a pipe's kernel buffer, so that a reader that drains
// it in batches never blocks the writer. It returns the size obtained.
func SetPipeSize(f *os.File, size int) int {
	const fSetPipeSz, fGetPipeSz = 1031, 1032 // F_SETPIPE_SZ, F_GETPIPE_SZ in <fcntl.h>
	got := 0
	raw, err := f.SyscallConn()
	if err != nil {
		return 0
	}
	raw.Control(func(fd uintptr) {
		syscall.Syscall(syscall.SYS_FCNTL, fd, fSetPipeSz, uintptr(size))
		n, _, errno := syscall.Syscall(syscall.SYS_FCNTL, fd, fGetPipeSz, 0)
		if errno == 0 {
			got = int(n)
		}
	})
	return got
}
