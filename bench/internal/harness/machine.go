package harness

import (
	"os"
	"os/exec"
	"runtime"
	"strings"
)

// MachineInfo describes where the figures were measured.
type MachineInfo struct {
	CPUs      int
	Model     string
	Kernel    string
	GoVersion string
	LibSRT    string // srt-live-transmit's libsrt version
	Commit    string // Podium's commit, marked when the work tree differs
}

// DescribeMachine describes this machine and the repository at root.
func DescribeMachine(root string) MachineInfo {
	m := MachineInfo{CPUs: runtime.NumCPU(), GoVersion: runtime.Version(), Model: "unknown CPU", Kernel: "unknown", LibSRT: "unknown", Commit: "unknown"}
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.Lines(string(data)) {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.Model = strings.TrimSpace(v)
				break
			}
		}
	}
	if data, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(data))
	}
	if out, err := exec.Command("srt-live-transmit", "-version").CombinedOutput(); err == nil || len(out) > 0 {
		for line := range strings.Lines(string(out)) {
			if v, ok := strings.CutPrefix(line, "SRT Library version: "); ok {
				m.LibSRT, _, _ = strings.Cut(strings.TrimSpace(v), ",")
				break
			}
		}
	}
	if out, err := exec.Command("git", "-C", root, "rev-parse", "--short", "HEAD").Output(); err == nil {
		m.Commit = strings.TrimSpace(string(out))
		if out, err := exec.Command("git", "-C", root, "status", "--porcelain", "--untracked-files=no").Output(); err == nil && len(out) > 0 {
			m.Commit += " with uncommitted changes"
		}
	}
	return m
}

// benchmarksHeader starts BENCHMARKS.md when a bench creates it.
const benchmarksHeader = `# Benchmarks

Performance is measured by benchmarks, never asserted by tests. Each section
below is written by the program named in it; its figures come from one run on
one machine, and only its ratios (against a baseline measured in the same run)
travel to other machines.

`

// WriteSection puts section, which starts with begin and ends with end,
// into the file at path: in place of the text between those markers if the
// file has them, else at its end. Every other section is kept.
func WriteSection(path, begin, end, section string) error {
	doc, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(replaceSection(string(doc), begin, end, section)), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func replaceSection(text, begin, end, section string) string {
	b, e := strings.Index(text, begin), strings.Index(text, end)
	switch {
	case b >= 0 && e > b:
		return text[:b] + section + text[e+len(end):]
	case strings.TrimSpace(text) == "":
		return benchmarksHeader + section + "\n"
	default:
		return strings.TrimRight(text, "\n") + "\n\n" + section + "\n"
	}
}
