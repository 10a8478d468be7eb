package app_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/podium-broadcast/podium/internal/tsloop"
)

// samplePath is the path of a demo sample.
func samplePath(name string) string { return filepath.Join("..", "demo", "samples", name+".ts") }

// publishLoop publishes a transport stream file, looped seamlessly, to the
// feed as its primary or backup source through ffmpeg (stream copy, as a
// contribution encoder's output), until the test ends or the returned peer
// is killed.
func (p *podium) publishLoop(f feedCreds, path, role string, ffmpegArgs ...string) *peer {
	p.t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		p.t.Fatal(err)
	}
	l, err := tsloop.New(data)
	if err != nil {
		p.t.Fatal(err)
	}
	passphrase := f.PublishPassphrase
	if role == "backup" {
		passphrase = f.BackupPublishPassphrase
	}
	url := fmt.Sprintf("srt://%s:%s?streamid=#!::r=%s,m=publish,s=%s&passphrase=%s&pkt_size=1316", p.srtHost, p.srtPort, f.ID, role, passphrase)
	args := append([]string{"-v", "error", "-f", "mpegts", "-i", "pipe:", "-map", "0", "-c", "copy", "-mpegts_copyts", "1"}, ffmpegArgs...)
	pub, pw := startFedPeer(p.t, "ffmpeg", append(args, "-f", "mpegts", url)...)
	ctx, cancel := context.WithCancel(context.Background())
	p.t.Cleanup(cancel)
	go func() {
		defer pw.Close()
		l.Run(ctx, func(chunk []byte) error {
			_, err := pw.Write(chunk)
			return err
		})
	}()
	return pub
}

type sourceStatus struct {
	OnAir   string `json:"on_air"`
	Sources []struct {
		Role    string `json:"role"`
		Healthy bool   `json:"healthy"`
	} `json:"sources"`
	Switching struct {
		Switches uint64 `json:"switches"`
		Mode     string `json:"mode"`
	} `json:"switching"`
}

func (p *podium) sources(feed string) sourceStatus {
	var st sourceStatus
	p.mustAPI("GET", "/api/v1/feeds/"+feed, nil, 200, &st)
	return st
}

// arrivals reads a receiver's output as it comes and keeps the longest
// silence between two reads (logged as a measurement: timing bounds belong
// to make bench).
type arrivals struct {
	mu      sync.Mutex
	data    bytes.Buffer
	last    time.Time
	longest time.Duration
}

func (a *arrivals) Write(p []byte) (int, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := time.Now()
	if !a.last.IsZero() && now.Sub(a.last) > a.longest {
		a.longest = now.Sub(a.last)
	}
	a.last = now
	return a.data.Write(p)
}

func (a *arrivals) reset() {
	a.mu.Lock()
	a.longest, a.last = 0, time.Time{}
	a.mu.Unlock()
}

func (a *arrivals) gap() time.Duration {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.longest
}

func (a *arrivals) size() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.data.Len()
}

// grows waits until the capture has taken n more bytes.
func (a *arrivals) grows(t *testing.T, n int, what string) {
	t.Helper()
	from := a.size()
	eventually(t, 30*time.Second, what, func() bool { return a.size() >= from+n })
}

func TestPrimaryFailsBackupTakesOverAndPrimaryReturns(t *testing.T) {
	p := startPodium(t, options{switchHold: 2 * time.Second})
	var f feedCreds
	p.mustAPI("POST", "/api/v1/feeds", map[string]string{"id": "redundant", "name": "Redundant"}, 201, &f)
	b := p.createBroadcaster("rtv")
	p.grant(b.ID, f.ID)

	primary := p.publishLoop(f, samplePath("ath-100m-final"), "primary")
	eventually(t, 10*time.Second, "primary on air", func() bool { return p.sources(f.ID).OnAir == "primary" })
	// The backup encoder is configured differently: other PIDs.
	p.publishLoop(f, samplePath("bkb-gold-game"), "backup", "-mpegts_pmt_start_pid", "0x1100", "-mpegts_start_pid", "0x300")
	eventually(t, 10*time.Second, "backup healthy", func() bool {
		for _, s := range p.sources(f.ID).Sources {
			if s.Role == "backup" && s.Healthy {
				return true
			}
		}
		return false
	})

	// Two receivers: srt-live-transmit capturing what arrives and when, and
	// ffmpeg decoding every track, complaining of anything.
	capture := &arrivals{}
	receiver := newPeer(t, "srt-live-transmit", "-q", "-a:no", p.pullURL(f.ID, b), "file://con")
	receiver.cmd.Stdout = capture
	receiver.start()
	decoder := startPeer(t, nil, "ffmpeg", "-nostdin", "-v", "error", "-i", p.pullURL(f.ID, b), "-map", "0:v", "-map", "0:a:0", "-map", "0:a:1", "-f", "null", "-")
	capture.grows(t, 1<<20, "the receiver reads the primary")

	capture.reset()
	primary.cmd.Process.Kill() // no SRT shutdown: Podium sees only silence
	killed := time.Now()
	eventually(t, 30*time.Second, "backup on air after the primary died", func() bool { return p.sources(f.ID).OnAir == "backup" })
	capture.grows(t, 512<<10, "the receiver reads the backup")
	t.Logf("backup on air %v after the primary was killed; longest silence at the receiver %v", time.Since(killed).Round(10*time.Millisecond), capture.gap())

	// The primary comes back once Podium has let the dead one go (gosrt's
	// idle timeout); it goes on air after the 2 s hold.
	eventually(t, 15*time.Second, "the dead primary let go", func() bool {
		for _, s := range p.sources(f.ID).Sources {
			if s.Role == "primary" {
				return false
			}
		}
		return true
	})
	capture.reset()
	p.publishLoop(f, samplePath("ath-100m-final"), "primary")
	back := eventually(t, 30*time.Second, "primary back on air", func() bool { return p.sources(f.ID).OnAir == "primary" })
	if back < 2*time.Second {
		t.Errorf("primary back on air after %v, before the 2 s hold", back)
	}
	capture.grows(t, 1<<20, "the receiver reads the primary again")
	t.Logf("longest silence at the receiver across the switch back %v", capture.gap())
	if st := p.sources(f.ID); st.Switching.Switches != 3 || st.Switching.Mode != "auto" {
		t.Errorf("switching state %+v, want 3 switches (first, failover, back) in auto mode", st.Switching)
	}
	if n := p.metric(`podium_feed_source_switches_total{feed="redundant",source="backup"}`); n != 1 {
		t.Errorf("backup switches metric %v, want 1", n)
	}

	// Forcing the backup on air through the API, then back to automatic.
	p.mustAPI("POST", "/api/v1/feeds/"+f.ID+"/switch", map[string]string{"source": "backup"}, 200, nil)
	if st := p.sources(f.ID); st.OnAir != "backup" || st.Switching.Mode != "backup" {
		t.Fatalf("after forcing the backup: %+v", st)
	}
	if status := p.api("POST", "/api/v1/feeds/"+f.ID+"/switch", p.AdminToken, map[string]string{"source": "sideways"}, nil); status != 422 {
		t.Fatalf("forcing an unknown source: %d", status)
	}
	p.mustAPI("POST", "/api/v1/feeds/"+f.ID+"/switch", map[string]string{"source": "auto"}, 200, nil)
	capture.grows(t, 512<<10, "the receiver reads on after the forced switches")

	receiver.stop()
	decoder.stop()
	if msgs := strings.TrimSpace(decoder.stderr.String()); msgs != "" {
		t.Errorf("ffmpeg decoding across the switches complains:\n%s", msgs)
	}
	out := capture.data.Bytes()
	out = out[:len(out)/188*188]
	out = wholeFrames(out)
	checkOneStream(t, out)
	cmd := exec.Command("ffmpeg", "-v", "error", "-i", "pipe:", "-map", "0", "-f", "null", "-")
	cmd.Stdin = bytes.NewReader(out)
	if msgs, err := cmd.CombinedOutput(); err != nil || len(bytes.TrimSpace(msgs)) > 0 {
		t.Errorf("ffmpeg decoding the captured stream: %v\n%s", err, msgs)
	}
}

// checkOneStream checks a receiver's capture: the primary's PIDs only,
// continuity counters without a gap, and PCR and every PID's decoding
// timestamps moving forward.
func checkOneStream(t *testing.T, out []byte) {
	t.Helper()
	cc := map[int]byte{}
	last := map[int]int64{}
	lastPCR := int64(-1)
	for off := 0; off+188 <= len(out); off += 188 {
		pkt := out[off : off+188]
		id := pid(pkt)
		if id != 0 && id != 0x11 && id != 0x1000 && (id < 0x100 || id > 0x103) && id != 0x1FFF {
			t.Fatalf("PID %#x at byte %d: not the primary's layout", id, off)
		}
		if pkt[3]&0x10 != 0 && id != 0x1FFF {
			c := pkt[3] & 0x0F
			if prev, ok := cc[id]; ok && c != (prev+1)&0x0F {
				t.Fatalf("PID %#x: continuity counter %d after %d at byte %d", id, c, prev, off)
			}
			cc[id] = c
		}
		if pkt[3]&0x20 != 0 && pkt[4] >= 7 && pkt[5]&0x10 != 0 {
			b := pkt[6:11]
			pcr := int64(b[0])<<25 | int64(b[1])<<17 | int64(b[2])<<9 | int64(b[3])<<1 | int64(b[4]>>7)
			if lastPCR >= 0 && pcr <= lastPCR {
				t.Fatalf("PCR went back at byte %d", off)
			}
			lastPCR = pcr
		}
		if pkt[1]&0x40 != 0 {
			pay := pkt[4:]
			if pkt[3]&0x20 != 0 {
				pay = pkt[5+int(pkt[4]):]
			}
			if len(pay) >= 19 && pay[0] == 0 && pay[1] == 0 && pay[2] == 1 && pay[7]&0x80 != 0 {
				ts := func(b []byte) int64 {
					return int64(b[0]>>1&7)<<30 | int64(b[1])<<22 | int64(b[2]>>1)<<15 | int64(b[3])<<7 | int64(b[4]>>1)
				}
				v := ts(pay[9:14])
				if pay[7]&0x40 != 0 {
					v = ts(pay[14:19])
				}
				if prev, ok := last[id]; ok && v <= prev {
					t.Fatalf("PID %#x: decoding timestamp went back %d ticks at byte %d", id, v-prev, off)
				}
				last[id] = v
			}
		}
	}
}

// wholeFrames cuts a capture before its last video PES, which the receiver's
// stop may have cut short.
func wholeFrames(out []byte) []byte {
	for off := len(out) - 188; off >= 0; off -= 188 {
		pkt := out[off : off+188]
		if id := pid(pkt); id == 0x100 && pkt[1]&0x40 != 0 {
			return out[:off]
		}
	}
	return out
}

// TestPublishSourceRoleIsChecked refuses a publisher naming no known source
// role, and one using the other role's passphrase.
func TestPublishSourceRoleIsChecked(t *testing.T) {
	p := startPodium(t, options{})
	var f feedCreds
	p.mustAPI("POST", "/api/v1/feeds", map[string]string{"id": "roles", "name": "Roles"}, 201, &f)
	if got := p.probe("#!::r=roles,m=publish,s=tertiary", f.PublishPassphrase); got != "rejected 1400" {
		t.Fatalf("s=tertiary: %q, want rejected 1400", got)
	}
	if got := p.probe("#!::r=roles,m=publish,s=backup", f.PublishPassphrase); got != "rejected 1401" {
		t.Fatalf("backup with the primary's passphrase: %q, want rejected 1401", got)
	}
	if got := p.probe("#!::r=roles,m=publish,s=backup", f.BackupPublishPassphrase); got != "connected" {
		t.Fatalf("backup with its own passphrase: %q, want connected", got)
	}
}
