package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/podium-broadcast/podium/bench/internal/harness"
)

// slot is one of a feed's receivers: an srt-live-transmit caller pulling the
// feed as one broadcaster, started again after it ends (Podium cut it, say)
// as an IRD would reconnect, and the tracker of everything it received.
type slot struct {
	feed  *feed
	index int // among the feed's receivers
	url   string
	track *tracker

	mu    sync.Mutex
	exits []slotExit
}

// slotExit is the end of one of the slot's receiver processes before the
// soak's end.
type slotExit struct {
	at  time.Time
	why string
}

func (s *slot) name() string { return fmt.Sprintf("%s receiver %d", s.feed.id, s.index+1) }

// run keeps a receiver on the feed until ctx ends, starting it again rejoin
// after it ends (never again if rejoin is 0).
func (s *slot) run(ctx context.Context, procs *harness.Supervisor, rejoin time.Duration) {
	for ctx.Err() == nil {
		s.track.connect()
		r, err := harness.StartReceiver(procs, s.name(), s.url, s.track.add)
		if err != nil {
			s.noteExit(err.Error())
		} else {
			select {
			case <-r.Proc.Done():
				<-r.Drained
				s.noteExit(r.Proc.Why())
			case <-ctx.Done():
				harness.StopReceivers([]*harness.Receiver{r})
				return
			}
		}
		if rejoin == 0 || harness.Sleep(ctx, rejoin) != nil {
			return
		}
	}
}

func (s *slot) noteExit(why string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.exits = append(s.exits, slotExit{at: time.Now(), why: why})
}

// exitsBetween counts the slot's receiver exits in [from, to).
func (s *slot) exitsBetween(from, to time.Time) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, e := range s.exits {
		if !e.at.Before(from) && e.at.Before(to) {
			n++
		}
	}
	return n
}
