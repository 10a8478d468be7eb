package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/podium-broadcast/podium/bench/internal/harness"
	"github.com/podium-broadcast/podium/internal/srt"
)

// load is what the attack did and what Podium answered it.
type load struct {
	sseOpen, sseRefused, sseFailed int64 // streams answered 200, answered otherwise, not answered
	sseStatuses                    map[int]int
	sseHeld                        int64 // of those open, still open at the attack's end

	handshakes      int64
	handshakeReject map[string]int // by rejection reason, "accepted", or the error
	handshakeAnswer []time.Duration

	slowOpened      int64
	slowClosedAfter []time.Duration // when Podium closed a slow body, from its first byte
	slowAnswers     map[string]int  // what Podium answered them

	queryWords    int      // words of the longest q accepted
	queryProbes   []string // the probes that found it
	queryTimes    []time.Duration
	queryStatuses map[string]int

	peakRSS uint64
}

// underAttack runs every load case for o.duration and measures the
// legitimate side meanwhile, from 3 s into the attack.
func (e *env) underAttack(ctx context.Context, o options) (measurement, *load, error) {
	l := &load{sseStatuses: map[int]int{}, handshakeReject: map[string]int{}, slowAnswers: map[string]int{}, queryStatuses: map[string]int{}}
	q, err := e.longestQuery(ctx, l)
	if err != nil {
		return measurement{}, nil, err
	}
	attack, stop := context.WithTimeout(ctx, o.duration)
	defer stop()
	var mu sync.Mutex // guards l's maps and slices
	var wg sync.WaitGroup
	wg.Go(func() { e.sseFlood(attack, o.sse, l, &mu) })
	wg.Go(func() { e.handshakeFlood(attack, o.handshakes, o.handshakeWindow, l, &mu) })
	wg.Go(func() { e.slowBodies(attack, o.slow, l, &mu) })
	for range o.queries {
		wg.Go(func() { e.searchLoop(attack, q, l, &mu) })
	}
	wg.Go(func() {
		for attack.Err() == nil {
			if rss, err := harness.RSSBytes(e.p.Proc.PID()); err == nil {
				mu.Lock()
				l.peakRSS = max(l.peakRSS, rss)
				mu.Unlock()
			}
			harness.Sleep(attack, time.Second)
		}
	})
	var m measurement
	if err = harness.Sleep(attack, 3*time.Second); err == nil {
		m, err = e.measure(ctx, o.revokes, attack.Done())
	} else if ctx.Err() == nil {
		err = nil
	}
	wg.Wait()
	return m, l, err
}

// longestQuery finds the longest q (in words) that GET /api/v1/clips
// accepts, from 100,000 words down by halves.
func (e *env) longestQuery(ctx context.Context, l *load) (string, error) {
	words := make([]string, 100_000)
	for i := range words {
		words[i] = "w" + strconv.Itoa(i%9000+1000)
	}
	for n := len(words); n >= 1; n /= 2 {
		q := strings.Join(words[:n], " ")
		status, took, err := e.attackGET(ctx, "/clips?q="+url.QueryEscape(q))
		if err != nil {
			return "", err
		}
		l.queryProbes = append(l.queryProbes, fmt.Sprintf("%d words: %d in %s", n, status, took.Round(time.Millisecond)))
		if status == http.StatusOK {
			l.queryWords = n
			return q, nil
		}
	}
	return "", errors.New("no clip search was accepted, not even one word")
}

// attackClient is the attack's HTTP client: one connection per request
// in flight, as many as asked.
var attackClient = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16, DisableCompression: true}}

func (e *env) attackGET(ctx context.Context, path string) (int, time.Duration, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", e.p.Base+"/api/v1"+path, nil)
	if err != nil {
		return 0, 0, err
	}
	req.Header.Set("Authorization", "Bearer "+e.p.Token)
	begun := time.Now()
	resp, err := attackClient.Do(req)
	if err != nil {
		return 0, time.Since(begun), err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, time.Since(begun), nil
}

func (e *env) searchLoop(ctx context.Context, q string, l *load, mu *sync.Mutex) {
	for ctx.Err() == nil {
		status, took, err := e.attackGET(ctx, "/clips?q="+url.QueryEscape(q))
		outcome := strconv.Itoa(status)
		switch {
		case ctx.Err() != nil:
			outcome = "still running at the end"
		case err != nil:
			outcome = "no answer"
		}
		mu.Lock()
		l.queryStatuses[outcome]++
		l.queryTimes = append(l.queryTimes, took)
		mu.Unlock()
	}
}

// sseFlood opens n event streams, 50 at a time, and holds them until ctx ends.
func (e *env) sseFlood(ctx context.Context, n int, l *load, mu *sync.Mutex) {
	var wg sync.WaitGroup
	gate := make(chan struct{}, 50)
	for range n {
		select {
		case gate <- struct{}{}:
		case <-ctx.Done():
			wg.Wait()
			return
		}
		wg.Go(func() {
			opened := false
			defer func() {
				if !opened {
					<-gate
				}
			}()
			nc, err := net.DialTimeout("tcp", strings.TrimPrefix(e.p.Base, "http://"), 10*time.Second)
			if err != nil {
				atomic.AddInt64(&l.sseFailed, 1)
				return
			}
			defer nc.Close()
			context.AfterFunc(ctx, func() { nc.Close() })
			fmt.Fprintf(nc, "GET /api/v1/events HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nAccept: text/event-stream\r\n\r\n",
				strings.TrimPrefix(e.p.Base, "http://"), e.p.Token)
			resp, err := http.ReadResponse(bufio.NewReader(nc), nil)
			if err != nil {
				atomic.AddInt64(&l.sseFailed, 1)
				return
			}
			mu.Lock()
			l.sseStatuses[resp.StatusCode]++
			mu.Unlock()
			if resp.StatusCode != http.StatusOK {
				atomic.AddInt64(&l.sseRefused, 1)
				return
			}
			atomic.AddInt64(&l.sseOpen, 1)
			opened = true
			<-gate
			io.Copy(io.Discard, resp.Body)
			if ctx.Err() != nil {
				atomic.AddInt64(&l.sseHeld, 1)
			}
		})
	}
	wg.Wait()
}

// handshakeFlood calls the SRT port with a wrong passphrase, n calls spread
// over each window, window after window until ctx ends.
func (e *env) handshakeFlood(ctx context.Context, n int, window time.Duration, l *load, mu *sync.Mutex) {
	if n == 0 {
		return
	}
	quiet := slog.New(slog.DiscardHandler)
	streamID := fmt.Sprintf("#!::r=%s,u=%s,m=request", e.feed, e.broadcaster)
	var wg sync.WaitGroup
	defer wg.Wait()
	every := window / time.Duration(n)
	for ctx.Err() == nil {
		for range n {
			if harness.Sleep(ctx, every) != nil {
				return
			}
			atomic.AddInt64(&l.handshakes, 1)
			wg.Go(func() {
				begun := time.Now()
				c, err := srt.Dial(ctx, e.p.SRTAddr, srt.DialConfig{StreamID: streamID, Passphrase: "not-the-passphrase-123",
					Timeout: 3 * time.Second, Log: quiet})
				took := time.Since(begun)
				outcome := "accepted"
				var rej *srt.RejectedError
				switch {
				case errors.As(err, &rej):
					outcome = fmt.Sprintf("%d %s", rej.Reason, srt.RejectReasonText(rej.Reason))
				case ctx.Err() != nil:
					return
				case err != nil:
					outcome = "no answer"
				default:
					c.Close()
				}
				mu.Lock()
				l.handshakeReject[outcome]++
				if err == nil || rej != nil {
					l.handshakeAnswer = append(l.handshakeAnswer, took)
				}
				mu.Unlock()
			})
		}
	}
}

// slowBodies opens n sign-ins whose 100 KB body comes at a byte a second,
// and notes when Podium closes each.
func (e *env) slowBodies(ctx context.Context, n int, l *load, mu *sync.Mutex) {
	var wg sync.WaitGroup
	defer wg.Wait()
	host := strings.TrimPrefix(e.p.Base, "http://")
	for range n {
		nc, err := net.DialTimeout("tcp", host, 10*time.Second)
		if err != nil {
			mu.Lock()
			l.slowAnswers["not connected"]++
			mu.Unlock()
			continue
		}
		atomic.AddInt64(&l.slowOpened, 1)
		wg.Go(func() {
			defer nc.Close()
			context.AfterFunc(ctx, func() { nc.Close() })
			begun := time.Now()
			fmt.Fprintf(nc, "POST /api/v1/session HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{", host)
			answered := make(chan string, 1)
			go func() {
				resp, err := http.ReadResponse(bufio.NewReader(nc), nil)
				switch {
				case err != nil:
					answered <- "closed without an answer"
				default:
					resp.Body.Close()
					answered <- resp.Status
				}
			}()
			tick := time.NewTicker(time.Second)
			defer tick.Stop()
			for {
				select {
				case a := <-answered:
					if ctx.Err() != nil {
						return // closed by the bench at the attack's end
					}
					mu.Lock()
					l.slowAnswers[a]++
					l.slowClosedAfter = append(l.slowClosedAfter, time.Since(begun))
					mu.Unlock()
					return
				case <-tick.C:
					nc.Write([]byte{' '})
				case <-ctx.Done():
					mu.Lock()
					l.slowAnswers["still open at the end"]++
					mu.Unlock()
					return
				}
			}
		})
	}
}
