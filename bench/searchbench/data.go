package main

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/podium-broadcast/podium/internal/store"
)

// sport is a sport of the generated Games: its venue and events.
type sport struct {
	name, venue string
	events      []string
}

var sports = []sport{
	{"Athletics", "Olympic Stadium", []string{"Men's 100m", "Women's 100m", "Men's 400m Hurdles", "Women's Long Jump", "Men's Marathon", "Women's 4x100m Relay", "Men's Pole Vault", "Women's Javelin"}},
	{"Swimming", "Aquatics Centre", []string{"Women's 200m Freestyle", "Men's 100m Butterfly", "Women's 400m Individual Medley", "Men's 4x100m Freestyle Relay", "Men's 1500m Freestyle"}},
	{"Basketball", "Basketball Arena", []string{"Men's Tournament", "Women's Tournament"}},
	{"Gymnastics", "Gymnastics Hall", []string{"Women's All-Around", "Men's Rings", "Women's Balance Beam", "Men's Floor Exercise"}},
	{"Cycling Track", "Velodrome", []string{"Men's Sprint", "Women's Keirin", "Men's Team Pursuit"}},
	{"Football", "National Stadium", []string{"Men's Tournament", "Women's Tournament"}},
	{"Tennis", "Tennis Centre", []string{"Men's Singles", "Women's Singles", "Mixed Doubles"}},
	{"Rowing", "Regatta Course", []string{"Men's Single Sculls", "Women's Eight", "Men's Coxless Four"}},
	{"Judo", "Judo Hall", []string{"Men's -73 kg", "Women's -57 kg", "Mixed Team"}},
	{"Fencing", "Fencing Hall", []string{"Men's Sabre Individual", "Women's Épée Individual", "Men's Foil Team"}},
	{"Volleyball", "Volleyball Arena", []string{"Men's Tournament", "Women's Tournament"}},
	{"Beach Volleyball", "Beach Arena", []string{"Men's Tournament", "Women's Tournament"}},
	{"Diving", "Aquatics Centre", []string{"Women's 10m Platform", "Men's 3m Springboard", "Men's Synchronised 10m Platform"}},
	{"Boxing", "Boxing Arena", []string{"Men's 57 kg", "Women's 60 kg", "Men's +92 kg"}},
	{"Weightlifting", "Exhibition Hall", []string{"Men's 73 kg", "Women's 59 kg", "Women's +87 kg"}},
	{"Sailing", "Marina", []string{"Men's Dinghy", "Women's Skiff", "Mixed Multihull"}},
}

var phases = []string{"Heats", "Round 1", "Repechage", "Quarter-final", "Semi-final", "Final", "Bronze Medal Match", "Gold Medal Match", "Preliminary Round"}

var firstNames = []string{"Noah", "Usain", "Yohan", "Shelly-Ann", "Elaine", "Sifan", "Faith", "Mondo", "Katie", "Ariarne", "Léon", "Summer",
	"Caeleb", "Kristóf", "Simone", "Rebeca", "Daiki", "Nadia", "Harry", "Emma", "Jakob", "Mutaz", "Yaroslava", "Karsten", "Wayde",
	"Sydney", "Femke", "Gianmarco", "Julien", "Kishane", "Letsile", "Marileidy", "Tobi", "Zharnel", "Jasmine", "Oblique", "Ryan",
	"Tatjana", "Mykhailo", "Andre", "Anna", "Chloé", "Diego", "Elena", "Fabio", "Greta", "Hiroshi", "Ines", "Jonas", "Kenji"}

var lastNames = []string{"Lyles", "Bolt", "Blake", "Fraser-Pryce", "Thompson", "Hassan", "Kipyegon", "Duplantis", "Ledecky", "Titmus",
	"Marchand", "McIntosh", "Dressel", "Milák", "Biles", "Andrade", "Hashimoto", "Comăneci", "Kane", "Hayes", "Ingebrigtsen", "Barshim",
	"Mahuchikh", "Warholm", "Van Niekerk", "McLaughlin-Levrone", "Bol", "Tamberi", "Alfred", "Thompson-Herah", "Tebogo", "Paulino",
	"Amusan", "Hughes", "Camacho-Quinn", "Seville", "Crouser", "Schoenmaker", "Mudryk", "De Grasse", "Kiesenhofer", "Nakamura",
	"Okafor", "Rossi", "Schmidt", "Tanaka", "Costa", "Novak", "Larsen", "Moreau"}

var verbs = []string{"wins", "takes gold in", "breaks the record in", "celebrates after", "stumbles in", "reacts to", "leads", "qualifies from",
	"comes from behind in", "sets a personal best in", "is disqualified from", "on the podium of"}

var tagWords = []string{"highlight", "medal", "gold", "silver", "bronze", "record", "reaction", "celebration", "interview", "crowd",
	"replay", "slow-motion", "finish", "start", "podium", "anthem", "upset", "photo-finish", "injury", "emotion"}

var descriptionTails = []string{"Wide shot from the finish line, then the athlete's reaction.", "Close-up of the start, with the stadium's roar.",
	"The decisive moment and the replay from the second camera.", "Post-race interview in the mixed zone, in English.",
	"The crowd on its feet as the result is confirmed.", "Medal ceremony: podium, flags and anthem.", "Coach and team celebrating pitch-side."}

// generator makes a reproducible library of clips for a Games of 16 days.
type generator struct {
	rnd      *rand.Rand
	athletes []string
	feeds    []string
	owners   []string
	start    time.Time
}

func newGenerator(seed uint64, feeds int) *generator {
	g := &generator{rnd: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), start: time.Date(2028, 7, 14, 8, 0, 0, 0, time.UTC)}
	for _, f := range firstNames {
		for _, l := range lastNames {
			g.athletes = append(g.athletes, f+" "+l)
		}
	}
	for i := range feeds {
		g.feeds = append(g.feeds, fmt.Sprintf("feed-%02d", i+1))
	}
	g.owners = []string{"", "", "", "ebu", "nbc", "nhk", "bbc", "cbc", "sbs", "globo", "ard", "francetv"}
	return g
}

// athlete picks from the pool with a long tail: a few stars are in many clips.
func (g *generator) athlete() string {
	i := int(float64(len(g.athletes)) * g.rnd.Float64() * g.rnd.Float64() * g.rnd.Float64())
	return g.athletes[i]
}

func (g *generator) clip(i int) store.Clip {
	sp := sports[g.rnd.IntN(len(sports))]
	event, phase := sp.events[g.rnd.IntN(len(sp.events))], phases[g.rnd.IntN(len(phases))]
	athletes := []string{g.athlete()}
	for g.rnd.IntN(3) == 0 && len(athletes) < 4 {
		if a := g.athlete(); a != athletes[0] {
			athletes = append(athletes, a)
		}
	}
	tags := []string{tagWords[g.rnd.IntN(len(tagWords))]}
	if g.rnd.IntN(2) == 0 {
		tags = append(tags, tagWords[g.rnd.IntN(len(tagWords))])
	}
	start := g.start.Add(time.Duration(g.rnd.Int64N(int64(16 * 24 * time.Hour)))).Truncate(time.Millisecond)
	length := time.Duration(5+g.rnd.IntN(175)) * time.Second
	created := start.Add(length + time.Minute)
	return store.Clip{
		ID:          fmt.Sprintf("clip-%08d", i),
		FeedID:      g.feeds[g.rnd.IntN(len(g.feeds))],
		Owner:       g.owners[g.rnd.IntN(len(g.owners))],
		Start:       start,
		End:         start.Add(length),
		Title:       fmt.Sprintf("%s %s %s %s", athletes[0], verbs[g.rnd.IntN(len(verbs))], event, strings.ToLower(phase)),
		Description: fmt.Sprintf("%s, %s at %s. %s", event, phase, sp.venue, descriptionTails[g.rnd.IntN(len(descriptionTails))]),
		Tags:        tags,
		Athletes:    athletes,
		SessionID:   fmt.Sprintf("%s-%s-%d", strings.ToUpper(sp.name[:3]), strings.ToUpper(phase[:2]), start.YearDay()),
		Sport:       sp.name,
		Event:       event,
		Phase:       phase,
		Venue:       sp.venue,
		Mode:        []string{"copy", "copy", "copy", "exact", "vertical"}[g.rnd.IntN(5)],
		Format:      "mp4",
		Status:      store.ClipReady,
		Progress:    1,
		Duration:    length,
		Size:        int64(length.Seconds() * 20e6 / 8),
		Path:        "/data/clips/" + fmt.Sprintf("clip-%08d", i) + ".mp4",
		CreatedAt:   created,
		UpdatedAt:   created,
	}
}
