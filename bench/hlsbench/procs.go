package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// userHZ is the unit of the CPU times in /proc: USER_HZ, 100 on every Linux
// architecture Podium runs on.
const userHZ = 100

// supervisor starts the bench's child processes and makes sure none outlives it.
type supervisor struct {
	mu   sync.Mutex
	live map[*child]struct{}
}

func newSupervisor() *supervisor { return &supervisor{live: make(map[*child]struct{})} }

// child is a running program started by the supervisor.
type child struct {
	name   string
	cmd    *exec.Cmd
	stderr *tail
	done   chan struct{} // closed once the process has exited and been waited for
	err    error
}

// start runs cmd in its own process group (so that a Ctrl-C reaches the bench
// only, which then stops its children in order) and with a parent-death
// signal (so that no child survives the bench being killed).
func (s *supervisor) start(name string, cmd *exec.Cmd) (*child, error) {
	c := &child{name: name, cmd: cmd, done: make(chan struct{})}
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

// pid returns the child's process id.
func (c *child) pid() int { return c.cmd.Process.Pid }

// exited reports whether the child has ended.
func (c *child) exited() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// stop sends the child SIGTERM (nginx and ffmpeg then exit cleanly), and
// kills it if it is still there after a grace period.
func (c *child) stop(grace time.Duration) {
	if c.exited() {
		return
	}
	c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.done:
	case <-time.After(grace):
		c.cmd.Process.Kill()
		<-c.done
	}
}

// why describes how the child ended, with the end of what it wrote on stderr.
func (c *child) why() string {
	msg := fmt.Sprintf("%s exited (%v)", c.name, c.err)
	if c.stderr != nil {
		if s := strings.TrimSpace(c.stderr.String()); s != "" {
			msg += ": " + s
		}
	}
	return msg
}

// stopAll stops every child still running, in parallel.
func (s *supervisor) stopAll() {
	s.mu.Lock()
	children := make([]*child, 0, len(s.live))
	for c := range s.live {
		children = append(children, c)
	}
	s.mu.Unlock()
	var wg sync.WaitGroup
	for _, c := range children {
		wg.Go(func() { c.stop(3 * time.Second) })
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

// cpuTicks returns the user and system CPU time a process has used, in 1/userHZ s.
func cpuTicks(pid int) (uint64, error) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	// The command name, in parentheses, may hold spaces: count fields after it.
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	fields := strings.Fields(string(data[i+1:]))
	// fields[0] is field 3 (state); utime and stime are fields 14 and 15.
	if len(fields) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(fields))
	}
	utime, err1 := strconv.ParseUint(fields[11], 10, 64)
	stime, err2 := strconv.ParseUint(fields[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("/proc/%d/stat: bad CPU times", pid)
	}
	return utime + stime, nil
}

// childPIDs lists the children of a process (nginx's workers, for its
// master), whichever of its threads started them.
func childPIDs(pid int) []int {
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", pid))
	var pids []int
	for _, path := range tasks {
		data, err := os.ReadFile(path)
		if err != nil {
			continue
		}
		for _, f := range strings.Fields(string(data)) {
			if n, err := strconv.Atoi(f); err == nil {
				pids = append(pids, n)
			}
		}
	}
	return pids
}

// treeTicks returns the CPU time of a process and of all its descendants
// alive now (Chromium's many processes, under node), in 1/userHZ s.
func treeTicks(pid int) uint64 {
	ticks, _ := cpuTicks(pid)
	for _, c := range childPIDs(pid) {
		ticks += treeTicks(c)
	}
	return ticks
}

// cpuSnapshot is the CPU time used so far by this process, by each running
// child (with its descendants) by name, and by the machine.
type cpuSnapshot struct {
	at                   time.Time
	self                 uint64
	children             map[string]uint64
	machineBusy, machine uint64
}

func (s *supervisor) cpuSnapshot() cpuSnapshot {
	snap := cpuSnapshot{at: time.Now(), children: map[string]uint64{}}
	snap.self, _ = cpuTicks(os.Getpid())
	s.mu.Lock()
	live := make([]*child, 0, len(s.live))
	for c := range s.live {
		live = append(live, c)
	}
	s.mu.Unlock()
	for _, c := range live {
		snap.children[c.name] += treeTicks(c.pid())
	}
	snap.machineBusy, snap.machine, _ = machineTicks()
	return snap
}

// cpuUse is the CPU used between two snapshots, in cores.
type cpuUse struct {
	self     float64
	children map[string]float64 // children running at both snapshots
	busy     float64            // the machine's busy share
	cpus     int
}

func cpuBetween(a, b cpuSnapshot, cpus int) cpuUse {
	secs := b.at.Sub(a.at).Seconds()
	u := cpuUse{self: float64(b.self-a.self) / userHZ / secs, children: map[string]float64{}, cpus: cpus}
	for name, t := range b.children {
		if t0, ok := a.children[name]; ok && t >= t0 {
			u.children[name] = float64(t-t0) / userHZ / secs
		}
	}
	if b.machine > a.machine {
		u.busy = float64(b.machineBusy-a.machineBusy) / float64(b.machine-a.machine)
	}
	return u
}

// others is the machine's busy time beyond this process and its children, in cores.
func (u cpuUse) others() float64 {
	o := u.busy*float64(u.cpus) - u.self
	for _, c := range u.children {
		o -= c
	}
	return max(0, o)
}

// machineTicks returns the CPU time of the whole machine, busy and in all, from /proc/stat.
func machineTicks() (busy, total uint64, err error) {
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

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
