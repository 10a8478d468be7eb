package app_test

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/podium-broadcast/podium/internal/config"
)

// freeUDPPort returns a UDP port on 127.0.0.1 that nothing listens on.
func freeUDPPort(t *testing.T) string {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, port, _ := net.SplitHostPort(c.LocalAddr().String())
	return port
}

// startEncoder runs an encoder in SRT listener mode on port (srt-live-transmit)
// sending the fixture, looped in real time, to whoever calls it.
func startEncoder(t *testing.T, port, passphrase string) *peer {
	t.Helper()
	enc, in := startFedPeer(t, "srt-live-transmit", "-chunk:1316", "file://con",
		fmt.Sprintf("srt://127.0.0.1:%s?mode=listener&passphrase=%s", port, passphrase))
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go func() {
		defer in.Close()
		pace(ctx, fixture, true, func(chunk []byte) error {
			_, err := in.Write(chunk)
			return err
		})
	}()
	return enc
}

type callState struct {
	State      string `json:"state"`
	LastError  string `json:"last_error"`
	Reconnects uint64 `json:"reconnects"`
	RemoteAddr string `json:"remote_addr"`
	Bytes      uint64 `json:"bytes"`
	Address    string `json:"address"`
	ID         string `json:"id"`
	DeliveryID uint64 `json:"delivery_id"`
}

func (p *podium) callerSource(feed string) callState {
	p.t.Helper()
	var st callState
	p.mustAPI("GET", "/api/v1/feeds/"+feed+"/source", nil, 200, &st)
	return st
}

// TestCallerSource: Podium pulls a feed from an encoder that listens, a
// broadcaster receives it over SRT, Podium calls again when the encoder
// restarts, a restart of Podium resumes the pull, and DELETE stops it.
func TestCallerSource(t *testing.T) {
	// One data directory for two servers in turn, and a lax lag bound: a
	// busy test machine must not make the receiver look stalled.
	dataDir := t.TempDir()
	opts := options{maxLag: 5 * time.Second, configure: func(c *config.Config) { c.DataDir = dataDir }}
	p := startPodium(t, opts)
	f := p.createFeed("ath-100m-final")
	b := p.createBroadcaster("nbc")
	p.grant(b.ID, f.ID)
	port := freeUDPPort(t)
	const encoderPassphrase = "venue-encoder-secret"
	enc := startEncoder(t, port, encoderPassphrase)

	var set struct {
		callState
		Encrypted bool  `json:"encrypted"`
		LatencyMS int64 `json:"latency_ms"`
		Role      string
	}
	p.mustAPI("PUT", "/api/v1/feeds/"+f.ID+"/source", map[string]any{"address": "srt://127.0.0.1:" + port,
		"passphrase": encoderPassphrase, "latency_ms": 200}, 200, &set)
	if set.Address != "srt://127.0.0.1:"+port || !set.Encrypted || set.LatencyMS != 200 || set.Role != "primary" {
		t.Fatalf("PUT answered %+v", set)
	}
	eventually(t, 10*time.Second, "caller source not connected", func() bool { return p.callerSource(f.ID).State == "connected" })
	eventually(t, 30*time.Second, "feed not live", func() bool { return p.metric(`podium_feed_live{feed="ath-100m-final"}`) == 1 })
	var feed struct {
		Live         bool
		CallerSource *callState `json:"caller_source"`
		Sources      []struct {
			Role       string `json:"role"`
			RemoteAddr string `json:"remote_addr"`
		}
	}
	p.mustAPI("GET", "/api/v1/feeds/"+f.ID, nil, 200, &feed)
	if !feed.Live || feed.CallerSource == nil || feed.CallerSource.State != "connected" ||
		len(feed.Sources) != 1 || feed.Sources[0].RemoteAddr != "srt://127.0.0.1:"+port {
		t.Fatalf("feed while pulled: %+v", feed)
	}
	if p.metric(`podium_srt_caller_state{feed="ath-100m-final",state="connected"}`) != 1 {
		t.Error("caller state metric is not connected")
	}

	rx := p.pull(f.ID, b)
	eventually(t, 10*time.Second, "receiver got too little", func() bool { return rx.stdout.Len() > 300_000 })
	got := streams(t, rx.stdout.Bytes())
	for _, want := range []string{"video:h264", "audio:aac", "audio:ac3"} {
		if !strings.Contains(strings.Join(got, " "), want) {
			t.Errorf("receiver's stream has %v, no %s", got, want)
		}
	}

	// The encoder restarts: Podium calls again; the receiver, kept within
	// the publisher grace, carries on.
	enc.stop()
	eventually(t, 30*time.Second, "caller source still connected after the encoder stopped", func() bool {
		st := p.callerSource(f.ID)
		return st.State != "connected" && st.LastError != ""
	})
	startEncoder(t, port, encoderPassphrase)
	eventually(t, 15*time.Second, "caller source did not reconnect", func() bool { return p.callerSource(f.ID).State == "connected" })
	before := rx.stdout.Len()
	eventually(t, 10*time.Second, "receiver got nothing after the encoder came back", func() bool { return rx.stdout.Len() > before+200_000 })
	if st := p.callerSource(f.ID); st.Reconnects == 0 {
		t.Errorf("reconnects %d", st.Reconnects)
	}
	if p.metric(`podium_srt_caller_reconnects_total{feed="ath-100m-final"}`) < 1 {
		t.Error("no reconnect counted")
	}
	logs := p.logs.String()
	for _, line := range []string{"srt caller source connected", "srt caller source disconnected", "srt caller source retry"} {
		if !strings.Contains(logs, line) {
			t.Errorf("no %q in the log", line)
		}
	}

	// Podium restarts on the same catalog: it pulls again, unasked.
	p.stop()
	p = startPodium(t, opts)
	eventually(t, 15*time.Second, "caller source not resumed after a restart", func() bool { return p.callerSource(f.ID).State == "connected" })

	p.mustAPI("DELETE", "/api/v1/feeds/"+f.ID+"/source", nil, 204, nil)
	eventually(t, 30*time.Second, "feed still live after its caller source was removed", func() bool {
		return p.metric(`podium_feed_live{feed="ath-100m-final"}`) == 0
	})
	p.mustAPI("GET", "/api/v1/feeds/"+f.ID+"/source", nil, 404, nil)
	p.mustAPI("DELETE", "/api/v1/feeds/"+f.ID+"/source", nil, 404, nil)
	if logs := p.logs.String(); !strings.Contains(logs, "caller source removed") {
		t.Error("removal not logged")
	}
}
