package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/podium-broadcast/podium/bench/internal/harness"
)

// env is the Podium under test and what the legitimate side uses.
type env struct {
	procs       *harness.Supervisor
	p           *harness.Podium
	client      *http.Client // from clientAddr
	feed        string
	broadcaster string
	passphrase  string
	entitlement string
}

const (
	feedID        = "hostile-mlf"
	broadcasterID = "hostile-rhb"
	feedBitrate   = 2_000_000
)

// setUp creates a live feed (an srt-live-transmit publisher) and a
// broadcaster entitled to it.
func setUp(ctx context.Context, procs *harness.Supervisor, p *harness.Podium, src *harness.Source) (*env, error) {
	dialer := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(clientAddr)}, Timeout: 10 * time.Second}
	e := &env{procs: procs, p: p, feed: feedID, broadcaster: broadcasterID,
		client: &http.Client{Timeout: 2 * time.Minute, Transport: &http.Transport{DialContext: dialer.DialContext, MaxIdleConnsPerHost: 4}}}
	pass, err := p.CreateFeed(ctx, feedID, "Hostile load MLF")
	if err != nil {
		return nil, err
	}
	if e.passphrase, err = p.CreateBroadcaster(ctx, broadcasterID, feedID); err != nil {
		return nil, err
	}
	var ents []struct {
		ID string `json:"id"`
	}
	if err := p.Call(ctx, "GET", "/entitlements?broadcaster_id="+broadcasterID, nil, &ents); err != nil || len(ents) != 1 {
		return nil, fmt.Errorf("the broadcaster's entitlement: %v (%d found)", err, len(ents))
	}
	e.entitlement = ents[0].ID
	if _, err := harness.StartPublisher(procs, src, p.PublishURL(feedID, pass.Primary), feedBitrate); err != nil {
		return nil, err
	}
	// A few clips, so that searches have a library to look through.
	for i := range 20 {
		end := "now"
		body := map[string]any{"feed_id": feedID, "start": "now-4s", "end": &end,
			"title": fmt.Sprintf("Hostile load clip %d final heat podium", i), "tags": []string{"bench"}}
		if err := harness.Sleep(ctx, 200*time.Millisecond); err != nil {
			return nil, err
		}
		if err := p.Call(ctx, "POST", "/clips", body, nil); err != nil {
			fmt.Println("clip not created (searches run over fewer clips):", err)
		}
	}
	return e, nil
}

// call sends an admin request from the legitimate client's address and
// returns its status and how long the answer took.
func (e *env) call(ctx context.Context, method, path string, body any) (int, time.Duration, error) {
	var rd io.Reader
	if body != nil {
		data, _ := json.Marshal(body)
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, e.p.Base+"/api/v1"+path, rd)
	if err != nil {
		return 0, 0, err
	}
	req.Header.Set("Authorization", "Bearer "+e.p.Token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	begun := time.Now()
	resp, err := e.client.Do(req)
	if err != nil {
		return 0, time.Since(begun), err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, time.Since(begun), nil
}

// revoke is one suspension of the broadcaster's entitlement while its
// receiver is live.
type revoke struct {
	connect time.Duration // from starting the receiver to 100 KB received
	patch   time.Duration // the PATCH's answer
	cut     time.Duration // from sending the PATCH to the receiver's exit
	err     string
	late    bool // it ended after the attack had

}

// measurement is what the legitimate side saw over one phase.
type measurement struct {
	revokes   []revoke
	gets      []time.Duration
	getFailed int
}

// measure suspends the entitlement under a live receiver n times, and
// meanwhile GETs /api/v1/feeds every 250 ms. It starts no revoke, and
// stops the GETs, once until is closed (nil: never); a revoke under way
// then is waited for and marked.
func (e *env) measure(ctx context.Context, n int, until <-chan struct{}) (measurement, error) {
	var m measurement
	done := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	wg.Go(func() {
		for {
			status, took, err := e.call(ctx, "GET", "/feeds", nil)
			mu.Lock()
			if err != nil || status != http.StatusOK {
				m.getFailed++
			} else {
				m.gets = append(m.gets, took)
			}
			mu.Unlock()
			select {
			case <-done:
				return
			case <-until:
				return
			case <-ctx.Done():
				return
			case <-time.After(250 * time.Millisecond):
			}
		}
	})
	for i := range n {
		if closed(until) {
			break
		}
		r := e.revokeOnce(ctx, i)
		r.late = closed(until)
		fmt.Printf("revoke %d: connect %v, PATCH %v, cut %v %s\n", i, r.connect.Round(time.Millisecond),
			r.patch.Round(time.Millisecond), r.cut.Round(time.Millisecond), r.err)
		m.revokes = append(m.revokes, r)
		if ctx.Err() != nil {
			break
		}
	}
	close(done)
	wg.Wait()
	return m, ctx.Err()
}

// revokeOnce starts a receiver, waits for the feed to flow, suspends the
// entitlement and waits for the receiver to be cut, then restores it.
func (e *env) revokeOnce(ctx context.Context, i int) revoke {
	var r revoke
	defer func() {
		status, _, err := e.call(ctx, "PATCH", "/entitlements/"+e.entitlement, map[string]string{"status": "active"})
		if err != nil || status != http.StatusOK {
			r.err += fmt.Sprintf(" (re-activating: %d %v)", status, err)
		}
	}()
	url := e.p.PullURL(e.feed, e.broadcaster, e.passphrase) + "&mode=caller&adapter=" + clientAddr
	begun := time.Now()
	rc, err := harness.StartReceiver(e.procs, fmt.Sprintf("receiver-%d", i), url, func(harness.Stamp, time.Time) {})
	if err != nil {
		r.err = err.Error()
		return r
	}
	defer func() {
		rc.Proc.Stop(time.Second)
		<-rc.Drained
	}()
	for rc.Bytes.Load() < 100<<10 {
		if rc.Proc.Exited() {
			r.err = "receiver ended before the feed flowed: " + rc.Proc.Why()
			return r
		}
		if time.Since(begun) > 30*time.Second {
			r.err = "no feed within 30 s"
			return r
		}
		if harness.Sleep(ctx, 5*time.Millisecond) != nil {
			return r
		}
	}
	r.connect = time.Since(begun)
	sent := time.Now()
	status, took, err := e.call(ctx, "PATCH", "/entitlements/"+e.entitlement, map[string]string{"status": "suspended"})
	r.patch = took
	if err != nil || status != http.StatusOK {
		r.err = fmt.Sprintf("PATCH: %d %v", status, err)
		return r
	}
	select {
	case <-rc.Proc.Done():
		r.cut = time.Since(sent)
	case <-time.After(60 * time.Second):
		r.err = "the delivery was not cut within 60 s"
	case <-ctx.Done():
		r.err = ctx.Err().Error()
	}
	return r
}

func closed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}
