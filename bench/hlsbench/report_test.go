package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func sampleReport() *report {
	run := func(rps float64, cores float64) serverRun {
		return serverRun{wrk: wrkResult{RequestsPerS: rps, P50: time.Millisecond, P99: 5 * time.Millisecond}, cores: cores, busy: 0.8}
	}
	pl := &pairing{target: "media playlist", bytes: 2716,
		podium: []serverRun{run(20000, 1), run(30000, 1), run(25000, 1)},
		nginx:  []serverRun{run(50000, 1), run(50000, 1), run(40000, 1)}}
	ms := func(v ...int) []time.Duration {
		var d []time.Duration
		for _, x := range v {
			d = append(d, time.Duration(x)*time.Millisecond)
		}
		return d
	}
	return &report{date: time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC), duration: 150 * time.Second,
		machine: machineInfo{cpus: 2, model: "CPU"}, opts: options{load: wrkLoad{1, 32, 10 * time.Second}, repeats: 3, window: 20 * time.Second},
		throughput: &throughputResult{pairings: []*pairing{pl}},
		latency:    &latencyResult{hls: ms(1200, 1250, 1300), srt: ms(330, 340, 350), browser: browserResult{Waiting: 1}}}
}

func TestReportMarkdown(t *testing.T) {
	md := sampleReport().markdown()
	for _, want := range []string{
		beginMarker, endMarker,
		"**Podium at 0.60× nginx's rate** (median of the paired runs, 0.40–0.62×)",
		"| **media playlist, median** | | **25000** | **50000** | **0.60×** |",
		"| LL-HLS, Chromium + hls.js | 3 | 1210 ms | **1250 ms** | 1290 ms | 1200 ms | 1300 ms |",
		"LL-HLS adds 910 ms to the SRT path",
		"1 stall (",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("report lacks %q:\n%s", want, md)
		}
	}
}

func TestReportWrite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "BENCHMARKS.md")
	other := "# Benchmarks\n\n<!-- srtfanout:begin -->\nSRT\n<!-- srtfanout:end -->\n"
	os.WriteFile(path, []byte(other), 0o644)
	rep := sampleReport()
	if err := rep.write(path); err != nil {
		t.Fatal(err)
	}
	first, _ := os.ReadFile(path)
	if !strings.HasPrefix(string(first), other+"\n"+beginMarker) || !strings.HasSuffix(string(first), endMarker+"\n") {
		t.Fatalf("section not appended after the others:\n%s", first)
	}
	rep.duration = time.Minute
	if err := rep.write(path); err != nil {
		t.Fatal(err)
	}
	second, _ := os.ReadFile(path)
	if strings.Count(string(second), beginMarker) != 1 || !strings.Contains(string(second), "in 1m0s") || !strings.HasPrefix(string(second), other) {
		t.Errorf("section not replaced in place:\n%s", second)
	}
}
