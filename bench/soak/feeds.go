package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/podium-broadcast/podium/bench/internal/harness"
)

// The sources of a feed, as Podium names them.
const (
	primary = "primary"
	backup  = "backup"
)

// feed is one soak feed and its primary and backup encoders
// (srt-live-transmit publishers fed with the stamped source).
type feed struct {
	id          string
	passphrases harness.FeedPassphrases

	mu         sync.Mutex
	primaryPub *harness.Publisher // the primary's publisher; nil while killed
	backupPub  *harness.Publisher // the backup's
	outage     bool               // a planned outage of the primary is under way
}

// feedStatus is the part of GET /api/v1/feeds/{id} (admin) the soak reads.
type feedStatus struct {
	OnAir   string `json:"on_air"`
	Readers int    `json:"readers"`
	Sources []struct {
		Role    string `json:"role"`
		Healthy bool   `json:"healthy"`
	} `json:"sources"`
}

func (s feedStatus) healthy(role string) bool {
	for _, src := range s.Sources {
		if src.Role == role {
			return src.Healthy
		}
	}
	return false
}

// sessions maps each publisher session to its publisher, to tell which
// source a receiver's chunk came from and when it was sent.
type sessions struct {
	mu   sync.Mutex
	byID map[uint32]sessionInfo
}

// sessionInfo is one publisher: which feed and source, and its schedule.
type sessionInfo struct {
	feed     string
	role     string
	start    time.Time
	interval time.Duration
}

// due returns when the publisher sent chunk seq.
func (s sessionInfo) due(seq uint64) time.Time { return s.start.Add(time.Duration(seq) * s.interval) }

func (ss *sessions) add(feed, role string, p *harness.Publisher) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	ss.byID[p.Session] = sessionInfo{feed: feed, role: role, start: p.Start, interval: p.Interval}
}

func (ss *sessions) get(id uint32) (sessionInfo, bool) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	s, ok := ss.byID[id]
	return s, ok
}

// status reads the feed's switching state from the REST API.
func (r *soakRun) status(ctx context.Context, f *feed) (feedStatus, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	var st feedStatus
	err := r.podium.Call(ctx, "GET", "/feeds/"+f.id, nil, &st)
	return st, err
}

// statusPoll is how often the bench asks for a feed's state while it waits
// for a switch: the resolution of the measured switch times.
const statusPoll = 25 * time.Millisecond

// waitFor polls the feed's state until cond holds, and returns the instant it
// was seen. check, if set, is called at each poll and ends the wait with its
// error.
func (r *soakRun) waitFor(ctx context.Context, f *feed, timeout time.Duration, cond func(feedStatus) bool, check func() error) (time.Time, error) {
	deadline := time.Now().Add(timeout)
	for {
		st, err := r.status(ctx, f)
		seen := time.Now()
		if err == nil && cond(st) {
			return seen, nil
		}
		if ctx.Err() != nil {
			return time.Time{}, ctx.Err()
		}
		if check != nil {
			if err := check(); err != nil {
				return time.Time{}, err
			}
		}
		if seen.After(deadline) {
			if err == nil {
				err = fmt.Errorf("on air: %q", st.OnAir)
			}
			return time.Time{}, fmt.Errorf("feed %s: not so after %v (%w)", f.id, timeout, err)
		}
		if err := harness.Sleep(ctx, statusPoll); err != nil {
			return time.Time{}, err
		}
	}
}

func onAir(role string) func(feedStatus) bool {
	return func(st feedStatus) bool { return st.OnAir == role }
}

func exitedCheck(p *harness.Publisher) func() error {
	return func() error {
		if p.Proc.Exited() {
			return errors.New(p.Proc.Why())
		}
		return nil
	}
}

// startSources starts the feed's primary, waits until it is on air, then
// starts the backup and waits until it is healthy.
func (r *soakRun) startSources(ctx context.Context, f *feed) error {
	first, err := r.startPublisher(f, primary)
	if err != nil {
		return err
	}
	if _, err := r.waitFor(ctx, f, 15*time.Second, onAir(primary), exitedCheck(first)); err != nil {
		return fmt.Errorf("primary: %w", err)
	}
	second, err := r.startPublisher(f, backup)
	if err != nil {
		return err
	}
	healthy := func(st feedStatus) bool { return st.healthy(backup) }
	if _, err := r.waitFor(ctx, f, 15*time.Second, healthy, exitedCheck(second)); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	return nil
}

// startPublisher starts the feed's source in role and registers its session.
func (r *soakRun) startPublisher(f *feed, role string) (*harness.Publisher, error) {
	url := r.podium.PublishURL(f.id, f.passphrases.Primary)
	if role == backup {
		url = r.podium.BackupPublishURL(f.id, f.passphrases.Backup)
	}
	p, err := harness.StartPublisher(r.procs, r.src, url, r.cfg.bitrate)
	if err != nil {
		return nil, err
	}
	r.sessions.add(f.id, role, p)
	f.mu.Lock()
	if role == primary {
		f.primaryPub = p
	} else {
		f.backupPub = p
	}
	f.mu.Unlock()
	return p, nil
}

// stopSources stops the feed's publishers cleanly.
func (f *feed) stopSources() {
	f.mu.Lock()
	pubs := []*harness.Publisher{f.primaryPub, f.backupPub}
	f.mu.Unlock()
	for _, p := range pubs {
		if p != nil {
			p.Stop()
		}
	}
}

// pacerLate is the worst lateness of the feed's publishers since the last call.
func (f *feed) pacerLate() time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	var late time.Duration
	for _, p := range []*harness.Publisher{f.primaryPub, f.backupPub} {
		if p != nil {
			late = max(late, p.TakeMaxLate())
		}
	}
	return late
}

// revive starts again the feed's publishers that ended on their own (not in
// a planned outage), as an encoder reconnects, and returns why they ended.
func (r *soakRun) revive(f *feed) []string {
	f.mu.Lock()
	var dead []string
	if f.primaryPub != nil && !f.outage && f.primaryPub.Proc.Exited() {
		dead = append(dead, primary)
	}
	if f.backupPub != nil && f.backupPub.Proc.Exited() {
		dead = append(dead, backup)
	}
	pubs := map[string]*harness.Publisher{primary: f.primaryPub, backup: f.backupPub}
	f.mu.Unlock()
	var why []string
	for _, role := range dead {
		why = append(why, fmt.Sprintf("%s %s: %s", f.id, role, oneLine(pubs[role].Proc.Why())))
		pubs[role].Stop()
		if _, err := r.startPublisher(f, role); err != nil {
			why = append(why, fmt.Sprintf("%s %s not started again: %v", f.id, role, err))
		}
	}
	return why
}
