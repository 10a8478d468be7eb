package demo

import (
	"time"

	"github.com/podium-broadcast/podium/internal/catalog"
)

// session is a demo schedule entry, placed relative to the quarter hour of seeding.
type session struct {
	id, sport, event, phase, venue string
	from, to                       time.Duration
	feeds                          []string
}

var sessions = []session{
	{"ATH-M100-R1", "Athletics", "Men's 100m", "Round 1", "Olympic Stadium", -3 * time.Hour, -time.Hour, []string{"ath-100m-final", "venue-ols-mlf"}},
	{"ATH-M100-SF", "Athletics", "Men's 100m", "Semi-final", "Olympic Stadium", -time.Hour, 0, []string{"ath-100m-final", "venue-ols-mlf"}},
	{"ATH-M100-F", "Athletics", "Men's 100m", "Final", "Olympic Stadium", 0, time.Hour, []string{"ath-100m-final", "venue-ols-mlf"}},
	{"ATH-WLJ-F", "Athletics", "Women's Long Jump", "Final", "Olympic Stadium", time.Hour, 3 * time.Hour, []string{"venue-ols-mlf"}},
	{"SWM-W200FR-H", "Swimming", "Women's 200m Freestyle", "Heats", "Aquatics Centre", -2 * time.Hour, time.Hour, []string{"swm-200fr-heats"}},
	{"SWM-W200FR-SF", "Swimming", "Women's 200m Freestyle", "Semi-finals", "Aquatics Centre", time.Hour, 3 * time.Hour, []string{"swm-200fr-heats"}},
	{"BKB-M-GOLD", "Basketball", "Men's Tournament", "Gold Medal Game", "Basketball Arena", -30 * time.Minute, 2 * time.Hour, []string{"bkb-gold-game"}},
}

// Schedule is the demo's schedule around instant now: every demo feed
// carries a session at now, and most carry others before and after, so
// that clips cut from the demo feeds inherit a sport, event, phase and venue.
func Schedule(now time.Time) []catalog.Session {
	base := now.UTC().Truncate(15 * time.Minute)
	out := make([]catalog.Session, 0, len(sessions))
	for _, s := range sessions {
		out = append(out, catalog.Session{ID: s.id, Sport: s.sport, Event: s.event, Phase: s.phase, Venue: s.venue,
			Start: base.Add(s.from), End: base.Add(s.to), FeedIDs: s.feeds})
	}
	return out
}
