package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/podium-broadcast/podium/bench/internal/harness"
)

// userHZ is the unit of the CPU times in /proc: USER_HZ, 100 on every Linux
// architecture Podium runs on.
const userHZ = 100

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
	ticks, _ := harness.CPUTicks(pid)
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

func takeCPUSnapshot(s *harness.Supervisor) cpuSnapshot {
	snap := cpuSnapshot{at: time.Now(), children: map[string]uint64{}}
	snap.self, _ = harness.CPUTicks(os.Getpid())
	for _, c := range s.Running() {
		snap.children[c.Name] += treeTicks(c.PID())
	}
	snap.machineBusy, snap.machine, _ = harness.MachineTicks()
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
