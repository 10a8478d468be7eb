package main

import (
	"bufio"
	"context"
	"fmt"
	"math"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/podium-broadcast/podium/bench/internal/harness"
)

// wrkResult is what one wrk run reports.
type wrkResult struct {
	Requests     int64
	Elapsed      time.Duration
	RequestsPerS float64
	// Latency percentiles from wrk's --latency distribution.
	P50, P75, P90, P99 time.Duration
	// Non2xx counts answers that were neither 2xx nor 3xx.
	Non2xx int64
	// SocketErrors sums wrk's connect, read, write and timeout errors.
	SocketErrors int64
	// CPU is the user and system time wrk itself used (not in its report).
	CPU time.Duration
}

// wrkLoad is the load wrk puts on a server: fixed, so that runs compare.
type wrkLoad struct {
	threads, connections int
	duration             time.Duration
}

func (l wrkLoad) String() string {
	return fmt.Sprintf("wrk -t%d -c%d -d%v --latency", l.threads, l.connections, l.duration)
}

// runWrk loads url with wrk and parses its report.
func runWrk(ctx context.Context, procs *harness.Supervisor, load wrkLoad, url string) (wrkResult, error) {
	cmd := exec.Command("wrk", "-t"+strconv.Itoa(load.threads), "-c"+strconv.Itoa(load.connections),
		"-d"+strconv.Itoa(int(load.duration.Seconds()))+"s", "--latency", "--timeout", "5s", url)
	var out strings.Builder
	cmd.Stdout = &out
	c, err := procs.Start("wrk", cmd)
	if err != nil {
		return wrkResult{}, err
	}
	select {
	case <-c.Done():
	case <-ctx.Done():
		c.Stop(time.Second)
		return wrkResult{}, ctx.Err()
	}
	if c.Err() != nil {
		return wrkResult{}, fmt.Errorf("%s\n%s", c.Why(), out.String())
	}
	r, err := parseWrk(out.String())
	if err != nil {
		return r, fmt.Errorf("wrk %s: %w\n%s", url, err, out.String())
	}
	r.CPU = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	return r, nil
}

// parseWrk reads the report wrk 4 prints with --latency.
func parseWrk(report string) (wrkResult, error) {
	var r wrkResult
	var haveRate, haveP50, haveP99, haveCount bool
	sc := bufio.NewScanner(strings.NewReader(report))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		fields := strings.Fields(line)
		switch {
		case strings.HasPrefix(line, "Requests/sec:") && len(fields) == 2:
			v, err := strconv.ParseFloat(fields[1], 64)
			if err != nil {
				return r, fmt.Errorf("requests/sec %q: %w", fields[1], err)
			}
			r.RequestsPerS, haveRate = v, true
		case len(fields) == 2 && strings.HasSuffix(fields[0], "%"):
			d, err := parseWrkDuration(fields[1])
			if err != nil {
				return r, fmt.Errorf("latency percentile %q: %w", line, err)
			}
			switch fields[0] {
			case "50%":
				r.P50, haveP50 = d, true
			case "75%":
				r.P75 = d
			case "90%":
				r.P90 = d
			case "99%":
				r.P99, haveP99 = d, true
			}
		case len(fields) >= 4 && fields[1] == "requests" && fields[2] == "in":
			n, err := strconv.ParseInt(fields[0], 10, 64)
			if err != nil {
				return r, fmt.Errorf("request count %q: %w", line, err)
			}
			d, err := parseWrkDuration(strings.TrimSuffix(fields[3], ","))
			if err != nil {
				return r, fmt.Errorf("elapsed %q: %w", line, err)
			}
			r.Requests, r.Elapsed, haveCount = n, d, true
		case strings.HasPrefix(line, "Non-2xx or 3xx responses:") && len(fields) == 5:
			n, err := strconv.ParseInt(fields[4], 10, 64)
			if err != nil {
				return r, fmt.Errorf("non-2xx count %q: %w", line, err)
			}
			r.Non2xx = n
		case strings.HasPrefix(line, "Socket errors:"):
			// Socket errors: connect 0, read 0, write 0, timeout 0
			for i := 2; i+1 < len(fields); i += 2 {
				n, err := strconv.ParseInt(strings.TrimSuffix(fields[i+1], ","), 10, 64)
				if err != nil {
					return r, fmt.Errorf("socket errors %q: %w", line, err)
				}
				r.SocketErrors += n
			}
		}
	}
	if !haveRate || !haveP50 || !haveP99 || !haveCount {
		return r, fmt.Errorf("not a wrk --latency report (requests/sec %v, 50%% %v, 99%% %v, count %v)", haveRate, haveP50, haveP99, haveCount)
	}
	return r, nil
}

// parseWrkDuration reads a duration as wrk prints it: "431.00us", "1.06ms", "10.00s", "1.50m".
func parseWrkDuration(s string) (time.Duration, error) {
	units := []struct {
		suffix string
		unit   time.Duration
	}{{"us", time.Microsecond}, {"ms", time.Millisecond}, {"s", time.Second}, {"m", time.Minute}, {"h", time.Hour}}
	for _, u := range units {
		if num, ok := strings.CutSuffix(s, u.suffix); ok {
			v, err := strconv.ParseFloat(num, 64)
			if err != nil {
				return 0, err
			}
			return time.Duration(math.Round(v * float64(u.unit))), nil
		}
	}
	return 0, fmt.Errorf("no unit in %q", s)
}
