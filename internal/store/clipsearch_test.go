package store

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/podium-broadcast/podium/internal/catalog"
)

// randomLibrary makes n clips whose names come in several spellings (case
// variants, accents, empty sports and events), some of them open.
func randomLibrary(rnd *rand.Rand, n int, at time.Time) []Clip {
	spell := func(name string) string {
		switch rnd.IntN(6) {
		case 0:
			return strings.ToUpper(name)
		case 1:
			return strings.ToLower(name)
		}
		return name
	}
	sports := []string{"Athletics", "Swimming", "Judo", "Fencing", "Beach Volleyball", ""}
	events := []string{"Men's 100m", "Women's 100m", "Women's Épée", "Mixed Team", "Final Round", ""}
	var athletes []string
	for _, first := range []string{"Noah", "Léon", "Faith", "Mondo", "Ōta", "Summer", "Usain", "Elaine"} {
		for _, last := range []string{"Lyles", "Marchand", "Kipyegon", "Duplantis", "Comăneci", "Bolt", "Thompson", "Rossi", "Kane", "Bol"} {
			athletes = append(athletes, first+" "+last)
		}
	}
	words := []string{"wins", "final", "record", "gold", "stumbles", "celebrates", "relay", "photo", "finish"}
	var clips []Clip
	for i := range n {
		var names []string
		for range 1 + rnd.IntN(4) {
			// A long tail, so that the top 50 is cut among ties.
			names = append(names, spell(athletes[int(float64(len(athletes))*rnd.Float64()*rnd.Float64())]))
		}
		start := at.Add(time.Duration(rnd.Int64N(int64(48 * time.Hour)))).Truncate(time.Millisecond)
		c := Clip{ID: fmt.Sprintf("clip-%05d", i), FeedID: fmt.Sprintf("f%d", rnd.IntN(7)), Owner: []string{"", "", "b1", "b2", "b3"}[rnd.IntN(5)],
			Start: start, End: start.Add(time.Duration(1+rnd.IntN(3*3600)) * time.Second),
			Title:       fmt.Sprintf("%s %s %s", names[0], words[rnd.IntN(len(words))], words[rnd.IntN(len(words))]),
			Description: words[rnd.IntN(len(words))], Tags: []string{words[rnd.IntN(len(words))]}, Athletes: names,
			Sport: spell(sports[rnd.IntN(len(sports))]), Event: spell(events[rnd.IntN(len(events))]),
			Mode: "copy", Format: "mp4", Status: ClipReady, CreatedAt: at, UpdatedAt: at}
		if rnd.IntN(20) == 0 {
			c.End = time.Time{}
		}
		if rnd.IntN(50) == 0 {
			c.FeedID = ""
		}
		clips = append(clips, c)
	}
	return clips
}

// randomQuery filters on a few of what the library holds, spelt as a user might.
func randomQuery(rnd *rand.Rand, clips []Clip, at time.Time) ClipQuery {
	some, open := clips[rnd.IntN(len(clips))], clips[rnd.IntN(len(clips))]
	for !open.Open() {
		open = clips[rnd.IntN(len(clips))]
	}
	q := ClipQuery{Limit: 1 + rnd.IntN(60), Offset: []int{0, 0, 0, 5, 100}[rnd.IntN(5)]}
	for _, set := range []func(){
		func() {
			q.Text = []string{"final", "fin", "gold relay", "léon", "photo finish", "zzz", "bol"}[rnd.IntN(7)]
		},
		func() { q.Sport = strings.ToUpper(some.Sport) },
		func() { q.Event = strings.ToLower(some.Event) },
		func() { q.Athlete = strings.ToUpper(some.Athletes[0]) },
		func() { q.FeedID = some.FeedID },
		func() {
			// On a clip's bounds at times, where < and <= part.
			q.From = []time.Time{at.Add(time.Duration(rnd.Int64N(int64(48 * time.Hour)))), some.End, open.Start.Add(MaxClipLength)}[rnd.IntN(3)]
		},
		func() {
			q.To = []time.Time{at.Add(time.Duration(rnd.Int64N(int64(48 * time.Hour)))), some.Start}[rnd.IntN(2)]
		},
		func() {
			q.Rights = &ClipRights{Owner: []string{"b1", "b2", "nobody"}[rnd.IntN(3)]}
			for f := range 7 {
				if rnd.IntN(3) == 0 {
					q.Rights.Feeds = append(q.Rights.Feeds, fmt.Sprintf("f%d", f))
				}
			}
		},
	} {
		if rnd.IntN(4) == 0 {
			set()
		}
	}
	return q
}

// referenceSearch is a search the straightforward way: one SQL query over
// the clips for the page and the total, and one a facet, each grouping
// by value ignoring case as the filters do. Facet values come back folded.
func referenceSearch(t *testing.T, st *Store, q ClipQuery) (ids []string, total int, facets map[string]map[string]int) {
	t.Helper()
	ctx := context.Background()
	var conds []string
	var args []any
	if match := ftsQuery(q.Text); match != "" {
		conds, args = append(conds, `c.seq IN (SELECT rowid FROM clips_fts WHERE clips_fts MATCH ?)`), append(args, match)
	}
	for _, f := range []struct{ cond, value string }{
		{`c.sport = ? COLLATE NOCASE`, q.Sport},
		{`c.event = ? COLLATE NOCASE`, q.Event},
		{`c.feed_id = ?`, q.FeedID},
		{`c.seq IN (SELECT clip_seq FROM clip_athletes WHERE athlete = ?)`, q.Athlete},
	} {
		if f.value != "" {
			conds, args = append(conds, f.cond), append(args, f.value)
		}
	}
	if !q.From.IsZero() {
		conds = append(conds, `c.start_ms > ? AND (c.end_ms IS NULL OR c.end_ms > ?)`)
		args = append(args, q.From.Add(-MaxClipLength).UnixMilli(), q.From.UnixMilli())
	}
	if !q.To.IsZero() {
		conds, args = append(conds, `c.start_ms <= ?`), append(args, q.To.UnixMilli())
	}
	if r := q.Rights; r != nil {
		cond := `(c.owner = ?`
		args = append(args, r.Owner)
		for _, f := range r.Feeds {
			cond += ` OR c.feed_id = ?`
			args = append(args, f)
		}
		conds = append(conds, cond+`)`)
	}
	where := ` WHERE 1`
	for _, c := range conds {
		where += ` AND ` + c
	}
	rows, err := st.db.QueryContext(ctx, `SELECT c.id FROM clips c`+where+` ORDER BY c.start_ms DESC, c.seq DESC`, args...)
	if err != nil {
		t.Fatal(err)
	}
	var all []string
	for rows.Next() {
		var id string
		rows.Scan(&id)
		all = append(all, id)
	}
	rows.Close()
	ids = all[min(q.Offset, len(all)):min(q.Offset+max(q.Limit, 1), len(all))]
	facets = map[string]map[string]int{}
	for facet, query := range map[string]string{
		FacetSport:   `SELECT c.sport COLLATE NOCASE, count(*) FROM clips c` + where + ` AND c.sport != '' GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 50`,
		FacetEvent:   `SELECT c.event COLLATE NOCASE, count(*) FROM clips c` + where + ` AND c.event != '' GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 50`,
		FacetFeed:    `SELECT c.feed_id, count(*) FROM clips c` + where + ` AND c.feed_id != '' GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 50`,
		FacetAthlete: `SELECT a.athlete, count(*) FROM clips c JOIN clip_athletes a ON a.clip_seq = c.seq` + where + ` GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 50`,
	} {
		rows, err := st.db.QueryContext(ctx, query, args...)
		if err != nil {
			t.Fatal(err)
		}
		counts := map[string]int{}
		for rows.Next() {
			var value string
			var n int
			rows.Scan(&value, &n)
			counts[value] = n
		}
		rows.Close()
		facets[facet] = folded(counts)
	}
	return ids, len(all), facets
}

// folded returns counts by value folded as NOCASE folds it (ASCII letters).
func folded(counts map[string]int) map[string]int {
	out := map[string]int{}
	for v, n := range counts {
		out[strings.Map(func(r rune) rune {
			if 'A' <= r && r <= 'Z' {
				return r + 'a' - 'A'
			}
			return r
		}, v)] += n
	}
	return out
}

// firstSpelling returns how the first clip to carry a value spelt it.
func firstSpelling(t *testing.T, st *Store, facet, value string) string {
	t.Helper()
	query := map[string]string{
		FacetSport:   `SELECT sport FROM clips WHERE sport = ? COLLATE NOCASE ORDER BY seq LIMIT 1`,
		FacetEvent:   `SELECT event FROM clips WHERE event = ? COLLATE NOCASE ORDER BY seq LIMIT 1`,
		FacetFeed:    `SELECT feed_id FROM clips WHERE feed_id = ? ORDER BY seq LIMIT 1`,
		FacetAthlete: `SELECT athlete FROM clip_athletes WHERE athlete = ? ORDER BY clip_seq, rowid LIMIT 1`,
	}[facet]
	var first string
	if err := st.db.QueryRowContext(context.Background(), query, value).Scan(&first); err != nil {
		t.Fatalf("%s %q: %v", facet, value, err)
	}
	return first
}

// TestClipSearchAgreesWithReferenceQueries checks SQLite's searches
// against plain SQL; TestClipSearchIsTheSameOnBothBackends checks
// PostgreSQL's against SQLite's.
func TestClipSearchAgreesWithReferenceQueries(t *testing.T) {
	ctx := context.Background()
	b := newBackend(t, "sqlite")
	st, err := b.open()
	if err != nil {
		t.Fatal(err)
	}
	defer func() { st.Close() }()
	rnd := rand.New(rand.NewPCG(5, 8))
	at := time.Date(2028, 7, 14, 8, 0, 0, 0, time.UTC)
	clips := randomLibrary(rnd, 2000, at)
	for i := 0; i < len(clips); i += 500 {
		if err := st.CreateClips(ctx, clips[i:i+500]...); err != nil {
			t.Fatal(err)
		}
	}
	compare := func(t *testing.T, spellings bool) {
		for i := range 60 {
			q := randomQuery(rnd, clips, at)
			page, err := st.SearchClips(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, c := range page.Clips {
				ids = append(ids, c.ID)
			}
			wantIDs, wantTotal, wantFacets := referenceSearch(t, st, q)
			if !slices.Equal(ids, wantIDs) || page.Total != wantTotal {
				t.Fatalf("search %d %+v: clips %v (total %d), want %v (total %d)", i, q, ids, page.Total, wantIDs, wantTotal)
			}
			for facet, want := range wantFacets {
				if got := folded(page.Facets[facet]); len(got) != len(page.Facets[facet]) || !maps.Equal(got, want) {
					t.Fatalf("search %d %+v: %s facet %v, want %v", i, q, facet, page.Facets[facet], want)
				}
				for value := range page.Facets[facet] {
					if !spellings {
						break
					}
					if first := firstSpelling(t, st, facet, value); value != first {
						t.Fatalf("search %d: %s %q, first spelt %q", i, facet, value, first)
					}
				}
			}
		}
	}
	t.Run("as added", func(t *testing.T) { compare(t, true) })

	// Edits, closes and deletes reach the index as they reach the table.
	for i := range 300 {
		c := clips[rnd.IntN(len(clips))]
		switch i % 3 {
		case 0:
			athletes := []string{clips[rnd.IntN(len(clips))].Athletes[0], strings.ToLower(c.Athletes[0])}
			if _, err := st.EditClip(ctx, c.ID, ClipEdit{Athletes: &athletes}, at); err != nil && !errors.Is(err, catalog.ErrNotFound) {
				t.Fatal(err)
			}
		case 1:
			end := c.Start.Add(time.Minute)
			st.EditClip(ctx, c.ID, ClipEdit{End: &end}, at) // a closed clip is a conflict
		case 2:
			st.DeleteClip(ctx, c.ID) // some twice: not found
		}
	}
	t.Run("edited", func(t *testing.T) { compare(t, false) })

	// The index read back at Open is the one kept by the writes.
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	if st, err = b.open(); err != nil {
		t.Fatal(err)
	}
	t.Run("reopened", func(t *testing.T) { compare(t, false) })
}

func TestClipSearchesRunBesideClipWrites(t *testing.T) {
	backends(t, testClipSearchesRunBesideClipWrites)
}

func testClipSearchesRunBesideClipWrites(t *testing.T, b backend) {
	ctx := context.Background()
	st := openWithFeeds(t, b)
	at := time.Date(2028, 7, 14, 8, 0, 0, 0, time.UTC)
	clips := randomLibrary(rand.New(rand.NewPCG(1, 2)), 200, at)
	done := make(chan error)
	go func() {
		for _, c := range clips {
			if err := st.CreateClips(ctx, c); err != nil {
				done <- err
				return
			}
			if _, err := st.SetClipState(ctx, c.ID, ClipState{Status: ClipRunning, Progress: 0.5}, at); err != nil {
				done <- err
				return
			}
		}
		for _, c := range clips[:100] {
			if err := st.DeleteClip(ctx, c.ID); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	for searching := true; searching; {
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
			searching = false
		default:
		}
		page, err := st.SearchClips(ctx, ClipQuery{Text: "final", Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		if counted := slices.Collect(maps.Values(page.Facets[FacetFeed])); page.Total < len(page.Clips) || sum(counted) > page.Total {
			t.Fatalf("total %d, %d clips, feeds %v", page.Total, len(page.Clips), page.Facets[FacetFeed])
		}
	}
	if page, err := st.SearchClips(ctx, ClipQuery{Limit: 1}); err != nil || page.Total != 100 {
		t.Fatalf("after the writes: %d %v", page.Total, err)
	}
}

func sum(ns []int) int {
	total := 0
	for _, n := range ns {
		total += n
	}
	return total
}

// TestClipSearchIsTheSameOnBothBackends fills a SQLite and a PostgreSQL
// library alike, edits both alike, and checks that every search answers
// the same clips, totals and facets in both: PostgreSQL's full-text index
// matches as FTS5's does.
func TestClipSearchIsTheSameOnBothBackends(t *testing.T) {
	ctx := context.Background()
	lite, pg := openWithFeeds(t, newBackend(t, "sqlite")), openWithFeeds(t, newBackend(t, "postgres"))
	rnd := rand.New(rand.NewPCG(9, 4))
	at := time.Date(2028, 7, 14, 8, 0, 0, 0, time.UTC)
	clips := randomLibrary(rnd, 2000, at)
	clips[0].Title, clips[1].Title = "Ōta Comăneci <relay> & Élan", "ÉLAN MEN'S 100M"
	for _, st := range []*Store{lite, pg} {
		for i := 0; i < len(clips); i += 500 {
			if err := st.CreateClips(ctx, clips[i:i+500]...); err != nil {
				t.Fatal(err)
			}
		}
	}
	compare := func(t *testing.T) {
		texts := []string{"final", "fin", "gold relay", "léon", "LEON", "photo finish", "zzz", "bol", "ota", "comaneci", "élan 100m", "men s", "u003c", "relay", "zoe", "édition nouv"}
		for i := range 80 {
			q := randomQuery(rnd, clips, at)
			if i < len(texts) {
				q = ClipQuery{Text: texts[i], Limit: 50}
			}
			want, err := lite.SearchClips(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			got, err := pg.SearchClips(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			ids := func(p ClipPage) (out []string) {
				for _, c := range p.Clips {
					out = append(out, c.ID)
				}
				return out
			}
			if !slices.Equal(ids(got), ids(want)) || got.Total != want.Total {
				t.Fatalf("search %d %+v: postgres %v (total %d), sqlite %v (total %d)", i, q, ids(got), got.Total, ids(want), want.Total)
			}
			for facet := range want.Facets {
				if !maps.Equal(got.Facets[facet], want.Facets[facet]) {
					t.Fatalf("search %d %+v: %s facet on postgres %v, on sqlite %v", i, q, facet, got.Facets[facet], want.Facets[facet])
				}
			}
		}
	}
	t.Run("as added", compare)
	for i := range 200 {
		c := clips[rnd.IntN(len(clips))]
		for _, st := range []*Store{lite, pg} {
			switch i % 3 {
			case 0:
				title, athletes := "Édition "+c.Title, []string{strings.ToLower(c.Athletes[0]), "Zoë Nouvelle"}
				st.EditClip(ctx, c.ID, ClipEdit{Title: &title, Athletes: &athletes}, at)
			case 1:
				end := c.Start.Add(time.Minute)
				st.EditClip(ctx, c.ID, ClipEdit{End: &end}, at)
			case 2:
				st.DeleteClip(ctx, c.ID)
			}
		}
	}
	t.Run("edited", compare)
}
