package main

import (
	"context"
	"fmt"
	"time"

	"github.com/podium-broadcast/podium/bench/internal/harness"
)

// switchEvent is one planned outage of a feed's primary: killed, then
// started again, and what Podium and the receivers did about it.
type switchEvent struct {
	feed   *feed
	killAt time.Time
	// onAirBefore is the source Podium had on air just before the kill: the
	// backup, when the primary had stalled on its own, leaves no failover
	// to time.
	onAirBefore string
	// killed and spare are the sessions of the primary killed and of the
	// backup that took over; restarted is the primary started again.
	killed, spare, restarted uint32
	// failover is from the kill to Podium reporting the backup on air.
	failover    time.Duration
	failoverErr error
	restartAt   time.Time
	// restartFailures says why restarted primaries ended before they went
	// on air, each started again a second later.
	restartFailures []string
	// switchBack is from the primary's (last) restart to Podium reporting it
	// on air, less the configured hold. Early: on air before the hold was
	// over, for another reason (the backup stalled).
	switchBack    time.Duration
	early         bool
	switchBackErr error
	// skipped says why the event did not happen; cutShort, that the soak
	// ended or stopped before it did.
	skipped  string
	cutShort bool
}

// eventTime is how long an event lasts, kill to switch-back, with a margin.
func (c config) eventTime() time.Duration { return c.outage + c.hold + 10*time.Second }

// schedule returns the planned kills: one every switchEvery, the feeds in
// turn, the first a quarter period into the soak, each one only if it can
// complete before the end.
func (c config) schedule() []time.Duration {
	var at []time.Duration
	for t := c.switchEvery / 4; t+c.eventTime() <= c.duration; t += c.switchEvery {
		at = append(at, t)
	}
	return at
}

// runEvent kills the feed's primary, waits for the backup to go on air,
// brings the primary back after the outage, and waits for it to go back on air.
func (r *soakRun) runEvent(ctx context.Context, ev *switchEvent) {
	f := ev.feed
	f.mu.Lock()
	victim, spare := f.primaryPub, f.backupPub
	f.primaryPub, f.outage = nil, true
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		f.outage = false
		f.mu.Unlock()
	}()
	if victim == nil || victim.Proc.Exited() {
		ev.skipped = "the primary was not running"
		return
	}
	if st, err := r.status(ctx, f); err == nil {
		ev.onAirBefore = st.OnAir
	}
	ev.killed, ev.spare = victim.Session, spare.Session
	ev.killAt = time.Now()
	victim.Kill()
	seen, err := r.waitFor(ctx, f, 10*time.Second, onAir(backup), nil)
	switch {
	case ctx.Err() != nil:
		ev.cutShort = true
		return
	case err != nil:
		ev.failoverErr = err
	default:
		ev.failover = seen.Sub(ev.killAt)
	}
	if harness.SleepUntil(ctx, ev.killAt.Add(r.cfg.outage)) != nil {
		ev.cutShort = true
		return
	}
	r.restartPrimary(ctx, ev)
}

// restartPrimary starts the feed's primary again and measures its return on
// air; a restarted primary that ends before it is on air (refused while the
// killed one is still attached, say) is started again a second later.
func (r *soakRun) restartPrimary(ctx context.Context, ev *switchEvent) {
	f := ev.feed
	deadline := time.Now().Add(r.cfg.hold + 20*time.Second)
	for ctx.Err() == nil {
		pub, err := r.startPublisher(f, primary)
		if err != nil {
			ev.switchBackErr = err
			return
		}
		ev.restartAt, ev.restarted = pub.Start, pub.Session
		seen, err := r.waitFor(ctx, f, time.Until(deadline), onAir(primary), exitedCheck(pub))
		switch {
		case ctx.Err() != nil:
			ev.cutShort = true
			return
		case err == nil:
			ev.switchBack = seen.Sub(ev.restartAt) - r.cfg.hold
			ev.early = ev.switchBack < 0
			return
		case pub.Proc.Exited() && time.Now().Before(deadline):
			ev.restartFailures = append(ev.restartFailures, oneLine(pub.Proc.Why()))
			if harness.Sleep(ctx, time.Second) != nil {
				ev.cutShort = true
				return
			}
		default:
			ev.switchBackErr = err
			return
		}
	}
	ev.cutShort = true
}

// describe is the event's progress line.
func (ev *switchEvent) describe(hold time.Duration) string {
	s := fmt.Sprintf("%s: primary killed", ev.feed.id)
	switch {
	case ev.onAirBefore != primary:
		s += fmt.Sprintf(" while %q was on air (no failover to time)", ev.onAirBefore)
	case ev.failoverErr != nil:
		s += fmt.Sprintf(", backup NOT on air: %v", ev.failoverErr)
	default:
		s += fmt.Sprintf(", backup on air after %v", ev.failover.Round(time.Millisecond))
	}
	if n := len(ev.restartFailures); n > 0 {
		s += fmt.Sprintf("; %d restarted primaries ended (%s)", n, ev.restartFailures[0])
	}
	switch {
	case ev.cutShort:
		s += "; cut short by the soak's end"
	case ev.switchBackErr != nil:
		s += fmt.Sprintf("; primary NOT back on air: %v", ev.switchBackErr)
	case ev.restartAt.IsZero():
		s += "; primary not restarted"
	case ev.early:
		s += fmt.Sprintf("; primary back on air %v after its restart, before the hold: the backup had stalled", (hold + ev.switchBack).Round(time.Millisecond))
	default:
		s += fmt.Sprintf("; primary back on air %v + %v after its restart", hold, ev.switchBack.Round(time.Millisecond))
	}
	return s
}
