package demo

import (
	"testing"
	"time"
)

func TestScheduleCoversEveryFeedAtSeeding(t *testing.T) {
	now := time.Date(2028, 7, 14, 19, 52, 0, 0, time.UTC)
	schedule := Schedule(now)
	covered := map[string]bool{}
	for _, s := range schedule {
		if err := s.Validate(); err != nil {
			t.Fatalf("session %s: %v", s.ID, err)
		}
		for _, f := range s.FeedIDs {
			if s.Covers(now) {
				covered[f] = true
			}
		}
	}
	for _, f := range Feeds {
		if !covered[f.ID] {
			t.Errorf("no session of %s at seeding", f.ID)
		}
	}
}
