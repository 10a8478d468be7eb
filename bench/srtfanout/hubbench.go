package main

import (
	"context"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
)

// hubResult is one line of the hub's Go benchmark, BenchmarkFanOut.
type hubResult struct {
	readers                 int
	nsPerChunk, nsPerReader float64
	bytesPerOp, allocsPerOp float64
}

// runHubBenchmark runs the hub's fan-out micro-benchmark (internal/hub/bench_test.go),
// so that the SRT figures can be set against the cost of the hub alone, measured in the same run.
func runHubBenchmark(ctx context.Context, root string) ([]hubResult, error) {
	cmd := exec.CommandContext(ctx, "go", "test", "-run", "^$", "-bench", "^BenchmarkFanOut$", "-benchmem", "-count", "1", "./internal/hub/")
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("go test -bench ./internal/hub/: %v\n%s", err, out)
	}
	var results []hubResult
	for line := range strings.Lines(string(out)) {
		fields := strings.Fields(line)
		if len(fields) < 4 || !strings.HasPrefix(fields[0], "BenchmarkFanOut/readers=") {
			continue
		}
		name := strings.TrimPrefix(fields[0], "BenchmarkFanOut/readers=")
		name, _, _ = strings.Cut(name, "-") // the GOMAXPROCS suffix
		r := hubResult{}
		if r.readers, err = strconv.Atoi(name); err != nil {
			continue
		}
		// After the name and the iteration count come value and unit pairs.
		for i := 2; i+1 < len(fields); i += 2 {
			v, err := strconv.ParseFloat(fields[i], 64)
			if err != nil {
				continue
			}
			switch fields[i+1] {
			case "ns/op":
				r.nsPerChunk = v
			case "ns/delivery":
				r.nsPerReader = v
			case "B/op":
				r.bytesPerOp = v
			case "allocs/op":
				r.allocsPerOp = v
			}
		}
		results = append(results, r)
	}
	if len(results) == 0 {
		return nil, fmt.Errorf("go test -bench ./internal/hub/: no BenchmarkFanOut results in\n%s", out)
	}
	return results, nil
}
