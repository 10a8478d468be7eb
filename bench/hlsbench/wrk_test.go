package main

import (
	"context"
	"net/http"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/podium-broadcast/podium/bench/internal/harness"
)

// wrkReport is what wrk 4.1.0 printed against nginx on the development machine.
const wrkReport = `Running 2s test @ http://127.0.0.1:40123/hls/f/t/video.m3u8
  1 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   635.91us    0.89ms  12.92ms   93.69%
    Req/Sec    56.20k     4.28k   62.47k    81.00%
  Latency Distribution
     50%  431.00us
     75%  600.00us
     90%    1.06ms
     99%    4.53ms
  112005 requests in 2.00s, 83.16MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 12
Requests/sec:  55877.43
Transfer/sec:      8.31MB
`

func TestParseWrk(t *testing.T) {
	r, err := parseWrk(wrkReport)
	if err != nil {
		t.Fatal(err)
	}
	want := wrkResult{Requests: 112005, Elapsed: 2 * time.Second, RequestsPerS: 55877.43,
		P50: 431 * time.Microsecond, P75: 600 * time.Microsecond, P90: 1060 * time.Microsecond, P99: 4530 * time.Microsecond,
		Non2xx: 12, SocketErrors: 3}
	if r != want {
		t.Errorf("parseWrk:\n got %+v\nwant %+v", r, want)
	}
}

func TestParseWrkRejects(t *testing.T) {
	for name, report := range map[string]string{
		"empty":              "",
		"no latency":         "  112005 requests in 2.00s, 83.16MB read\nRequests/sec:  55877.43\n",
		"bad unit":           wrkReport[:len(wrkReport)-90] + "     99%    4.53xs\n",
		"connection refused": "unable to connect to 127.0.0.1:1 Connection refused\n",
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := parseWrk(report); err == nil {
				t.Error("parseWrk accepted it")
			}
		})
	}
}

func TestParseWrkDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"431.00us": 431 * time.Microsecond, "1.06ms": 1060 * time.Microsecond,
		"2.00s": 2 * time.Second, "1.50m": 90 * time.Second, "0.00us": 0,
	} {
		if got, err := parseWrkDuration(in); err != nil || got != want {
			t.Errorf("parseWrkDuration(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
}

// TestNginxAndWrk runs the real nginx with the bench's configuration and
// loads it with the real wrk for a second.
func TestNginxAndWrk(t *testing.T) {
	for _, tool := range []string{nginxPath, "wrk"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("needs %s", tool)
		}
	}
	procs := harness.NewSupervisor()
	defer procs.StopAll()
	dir := t.TempDir()
	root := dir + "/www"
	os.MkdirAll(root, 0o755)
	n, err := startNginx(context.Background(), procs, dir+"/nginx", root)
	if err != nil {
		t.Fatal(err)
	}
	defer n.stop()
	body := []byte("#EXTM3U\n#EXT-X-VERSION:9\n")
	if err := n.put("/hls/f/t/index.m3u8", body); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(n.base + "/hls/f/t/index.m3u8")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/vnd.apple.mpegurl" || resp.ContentLength != int64(len(body)) {
		t.Fatalf("nginx: %s, %q, %d bytes", resp.Status, resp.Header.Get("Content-Type"), resp.ContentLength)
	}
	if err := n.put("/../escape", body); err == nil {
		t.Error("put wrote outside the served directory")
	}
	r, err := runWrk(context.Background(), procs, wrkLoad{threads: 1, connections: 4, duration: time.Second}, n.base+"/hls/f/t/index.m3u8")
	if err != nil {
		t.Fatal(err)
	}
	if r.Requests < 100 || r.Non2xx != 0 || r.P50 <= 0 || r.P99 < r.P50 {
		t.Errorf("wrk against nginx: %+v", r)
	}
	if workers := childPIDs(n.proc.PID()); len(workers) != 1 {
		t.Errorf("nginx workers %v: want one", workers)
	}
}
