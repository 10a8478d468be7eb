package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// highRate is the contribution rate of TestHighRateContributionIsDeliveredWhole:
// a UHD HEVC contribution's, at a size a busy two-core machine (the whole
// suite running beside it) carries through two srt-live-transmit processes
// and Podium, with 400 ms of latency to repair losses in (at 1 s libsrt's
// 8192-packet receive buffer would not hold the latency at this rate)
// (the bench measures 200 and 400 Mbit/s).
const highRate = 100_000_000

// TestHighRateContributionIsDeliveredWhole: srt-live-transmit publishes a
// 100 Mbit/s stream (a real H.264 picture, padded with null packets to the
// rate, as a constant-rate multiplex is) into Podium, built without the race
// detector as it is shipped, and another srt-live-transmit pulls it: the
// receiver gets every byte from its keyframe to the end, nothing dropped.
func TestHighRateContributionIsDeliveredWhole(t *testing.T) {
	const seconds = 4
	stream := filepath.Join(t.TempDir(), "stream.ts")
	if out, err := exec.Command("ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25",
		"-t", strconv.Itoa(seconds), "-c:v", "libx264", "-preset", "ultrafast", "-g", "25", "-b:v", "2M",
		"-muxrate", strconv.Itoa(highRate), "-f", "mpegts", stream).CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v: %s", err, out)
	}
	data, err := os.ReadFile(stream)
	if err != nil {
		t.Fatal(err)
	}
	data = data[:len(data)/1316*1316]

	token := "adm_HIGHRATETESTTOKEN0000000000"
	s := start(t, []string{"PODIUM_ADMIN_TOKEN=" + token}, "serve", "--data-dir", dataDir(t), "--http-addr", "127.0.0.1:0",
		"--srt-addr", "127.0.0.1:0", "--rtmp-addr", "127.0.0.1:0", "--max-publish-bitrate", "0")
	srtAddr := s.srt
	var feed struct {
		Passphrase string `json:"publish_passphrase"`
	}
	call(t, s.http, token, "POST", "/feeds", map[string]string{"id": "uhd-contribution", "name": "UHD", "kind": "multilateral"}, &feed)
	var b struct {
		Passphrase string `json:"srt_passphrase"`
	}
	call(t, s.http, token, "POST", "/broadcasters", map[string]any{"id": "rhb", "name": "RHB", "territories": []string{"FR"}}, &b)
	call(t, s.http, token, "POST", "/entitlements", map[string]string{"broadcaster_id": "rhb", "feed_id": "uhd-contribution"}, nil)

	pub := exec.Command("srt-live-transmit", "-q", "-a:no", "-chunk:1316", "file://con",
		fmt.Sprintf("srt://%s?streamid=#!::r=uhd-contribution,m=publish&passphrase=%s&latency=400", srtAddr, feed.Passphrase))
	pubIn, _ := pub.StdinPipe()
	if err := pub.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pub.Process.Kill(); pub.Wait() })
	recv := exec.Command("srt-live-transmit", "-q", "-a:no",
		fmt.Sprintf("srt://%s?streamid=#!::r=uhd-contribution,u=rhb,m=request&passphrase=%s&latency=400", srtAddr, b.Passphrase), "file://con")
	got := &lockedBuffer{}
	recv.Stdout = got
	if err := recv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { recv.Process.Kill(); recv.Wait() })
	t.Cleanup(func() {
		if t.Failed() {
			for {
				select {
				case line := <-s.logs:
					if strings.Contains(line, "srt ") {
						t.Log(line)
					}
				default:
					return
				}
			}
		}
	})
	waitFor(t, 20*time.Second, "the receiver's delivery did not open", func() bool {
		return strings.Contains(metrics(t, s.http), `podium_deliveries{protocol="srt"} 1`)
	})

	// Real time: chunk i is written at i × its duration, in 1 ms bursts.
	perChunk := time.Second * 1316 * 8 / highRate
	begin := time.Now()
	for off, n := 0, 0; off < len(data); n++ {
		if d := time.Until(begin.Add(time.Duration(n) * perChunk)); d > time.Millisecond {
			time.Sleep(d)
		}
		if _, err := pubIn.Write(data[off : off+1316]); err != nil {
			t.Fatalf("publisher: %v", err)
		}
		off += 1316
	}
	t.Logf("wrote %d bytes in %v (%.0f Mbit/s)", len(data), time.Since(begin).Round(time.Millisecond), float64(len(data)*8)/time.Since(begin).Seconds()/1e6)
	// Podium has all but the last frame, which it holds until the next one
	// starts; then what it delivered is final.
	waitFor(t, 30*time.Second, "Podium did not receive the stream", func() bool {
		return sample(metrics(t, s.http), `podium_feed_bytes_in_total{feed="uhd-contribution"}`) >= float64(len(data)-len(data)/seconds)
	})
	delivered := sample(metrics(t, s.http), `podium_feed_bytes_out_total{feed="uhd-contribution"}`)
	waitFor(t, 30*time.Second, fmt.Sprintf("the receiver got fewer bytes than Podium sent it (%.0f)", delivered), func() bool {
		return float64(got.Len()) >= delivered
	})
	out := []byte(got.String())
	if len(out) < 3*188 || out[0] != 0x47 {
		t.Fatal("the receiver's output is not a transport stream")
	}
	body := out[2*188:] // after the PAT and PMT Podium sends first
	at := bytes.Index(data, body[:7*188])
	if at >= 0 && !bytes.HasPrefix(data[at:], body) {
		i := 0
		for i < len(body) && at+i < len(data) && body[i] == data[at+i] {
			i++
		}
		for _, line := range strings.Split(metrics(t, s.http), "\n") {
			if strings.HasPrefix(line, "podium_srt_packets_") || strings.HasPrefix(line, "podium_feed_bytes") {
				t.Log(line)
			}
		}
		if j := bytes.Index(data[at+i/188*188:], body[i/188*188:i/188*188+188*4]); j >= 0 {
			t.Logf("the stream goes on %d packets later in the publisher's", j/188)
		}
		t.Logf("start at %d, first difference at body offset %d (packet %d); got % x want % x", at, i, i/188, body[i/188*188:i/188*188+8], data[at+i/188*188:at+i/188*188+8])
	}
	if at < 0 || !bytes.HasPrefix(data[at:], body) {
		t.Fatalf("the %d bytes received are not a contiguous part of the %d sent: packets were lost", len(body), len(data))
	}
	if missing := len(data) - at - len(body); missing > len(data)/seconds {
		t.Fatalf("received %d bytes short of the end", missing)
	}
}

func call(t *testing.T, base, token, method, path string, body, out any) {
	t.Helper()
	data, _ := json.Marshal(body)
	req, _ := http.NewRequest(method, base+"/api/v1"+path, bytes.NewReader(data))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		t.Fatalf("%s %s: %s: %s", method, path, resp.Status, answer)
	}
	if out != nil {
		if err := json.Unmarshal(answer, out); err != nil {
			t.Fatal(err)
		}
	}
}

func metrics(t *testing.T, base string) string {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return string(data)
}

// sample returns the value of one sample in a Prometheus exposition, or -1.
func sample(exposition, name string) float64 {
	for _, line := range strings.Split(exposition, "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err == nil {
				return f
			}
		}
	}
	return -1
}

func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(timeout); !cond(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", timeout, what)
		}
	}
}
