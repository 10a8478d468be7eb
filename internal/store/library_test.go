package store

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/podium-broadcast/podium/internal/catalog"
)

func openWithFeeds(t *testing.T, b backend, feeds ...string) *Store {
	t.Helper()
	st, err := b.open()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	for _, id := range feeds {
		if err := st.CreateFeed(context.Background(), catalog.Feed{ID: id, Name: id, Kind: catalog.KindMultilateral, PublishPassphrase: "pppppppppp"}); err != nil {
			t.Fatal(err)
		}
	}
	return st
}

func TestScheduleImportIsAllOrNothingAndUpdatesByID(t *testing.T) {
	backends(t, testScheduleImportIsAllOrNothingAndUpdatesByID)
}

func testScheduleImportIsAllOrNothingAndUpdatesByID(t *testing.T, b backend) {
	ctx := context.Background()
	st := openWithFeeds(t, b, "f1", "f2")
	at := time.Date(2028, 7, 14, 19, 0, 0, 0, time.UTC)
	heats := catalog.Session{ID: "H", Sport: "Athletics", Event: "100m", Phase: "Heats", Venue: "Stadium", Start: at, End: at.Add(time.Hour), FeedIDs: []string{"f2", "f1"}}
	final := catalog.Session{ID: "F", Sport: "Athletics", Event: "100m", Phase: "Final", Venue: "Stadium", Start: at.Add(2 * time.Hour), End: at.Add(3 * time.Hour), FeedIDs: []string{"f1"}}
	created, updated, err := st.ImportSchedule(ctx, []catalog.Session{heats, final}, at)
	if err != nil || created != 2 || updated != 0 {
		t.Fatalf("first import: %d %d %v", created, updated, err)
	}
	// A bad session anywhere refuses the whole import.
	moved := final
	moved.Venue = "Elsewhere"
	bad := catalog.Session{ID: "X", Sport: "s", Event: "e", Venue: "v", Start: at, End: at.Add(time.Hour), FeedIDs: []string{"nope"}}
	_, _, err = st.ImportSchedule(ctx, []catalog.Session{moved, bad}, at)
	var importErr *ImportError
	var ref *RefError
	if !errors.As(err, &importErr) || importErr.Index != 1 || !errors.As(err, &ref) || ref.Field != "feed_ids" {
		t.Fatalf("import naming an unknown feed: %v", err)
	}
	all, err := st.Sessions(ctx, SessionQuery{})
	if err != nil || len(all) != 2 || all[1].Venue != "Stadium" {
		t.Fatalf("after a refused import: %+v %v", all, err)
	}
	created, updated, err = st.ImportSchedule(ctx, []catalog.Session{moved}, at)
	if err != nil || created != 0 || updated != 1 {
		t.Fatalf("re-import: %d %d %v", created, updated, err)
	}
	all, _ = st.Sessions(ctx, SessionQuery{})
	if len(all) != 2 || all[0].ID != "H" || !slices.Equal(all[0].FeedIDs, []string{"f2", "f1"}) || all[1].Venue != "Elsewhere" {
		t.Fatalf("sessions: %+v", all)
	}
	if got, _ := st.Sessions(ctx, SessionQuery{From: at.Add(90 * time.Minute), To: at.Add(4 * time.Hour)}); len(got) != 1 || got[0].ID != "F" {
		t.Fatalf("overlapping: %+v", got)
	}
	if got, _ := st.Sessions(ctx, SessionQuery{Sport: "athletics", Venue: "stadium"}); len(got) != 1 || got[0].ID != "H" {
		t.Fatalf("by sport and venue: %+v", got)
	}
	if ses, ok, err := st.SessionAt(ctx, "f2", at.Add(30*time.Minute)); !ok || err != nil || ses.ID != "H" || ses.Phase != "Heats" {
		t.Fatalf("session of f2 at 19:30: %+v %v %v", ses, ok, err)
	}
	if _, ok, _ := st.SessionAt(ctx, "f2", at.Add(2*time.Hour)); ok {
		t.Fatal("f2 does not carry the final")
	}
	if _, ok, _ := st.SessionAt(ctx, "f1", at.Add(time.Hour)); ok {
		t.Fatal("the heats end (exclusively) at 20:00")
	}
	// A deleted feed leaves the sessions that named it.
	if err := st.DeleteFeed(ctx, "f2"); err != nil {
		t.Fatal(err)
	}
	if all, _ := st.Sessions(ctx, SessionQuery{}); !slices.Equal(all[0].FeedIDs, []string{"f1"}) {
		t.Fatalf("after deleting f2: %+v", all[0])
	}
}

func testClip(i int, at time.Time) Clip {
	sports := []string{"Athletics", "Swimming", "Basketball"}
	return Clip{ID: fmt.Sprintf("clip-%03d", i), FeedID: fmt.Sprintf("f%d", i%2+1), Owner: []string{"", "b1", "b2"}[i%3],
		Start: at.Add(time.Duration(i) * time.Minute), End: at.Add(time.Duration(i)*time.Minute + 30*time.Second),
		Title: fmt.Sprintf("Highlight %d", i), Tags: []string{"tag" + fmt.Sprint(i%4)}, Athletes: []string{fmt.Sprintf("Athlete %d", i%5)},
		Sport: sports[i%3], Event: "Event " + fmt.Sprint(i%2), Mode: "copy", Format: "mp4", Status: ClipQueued, CreatedAt: at, UpdatedAt: at}
}

func TestClipLibrarySearchesFiltersCountsAndPages(t *testing.T) {
	backends(t, testClipLibrarySearchesFiltersCountsAndPages)
}

func testClipLibrarySearchesFiltersCountsAndPages(t *testing.T, b backend) {
	ctx := context.Background()
	st := openWithFeeds(t, b)
	at := time.Date(2028, 7, 14, 19, 0, 0, 0, time.UTC)
	var clips []Clip
	for i := range 30 {
		clips = append(clips, testClip(i, at))
	}
	clips[7].Title, clips[7].Description, clips[7].Athletes = "Bolt wins the final", "A lightning start", []string{"Usain Bolt", "Yohan Blake"}
	clips[8].End = time.Time{}
	if err := st.CreateClips(ctx, clips...); err != nil {
		t.Fatal(err)
	}
	if err := st.CreateClips(ctx, clips[0]); !errors.Is(err, catalog.ErrConflict) {
		t.Fatalf("duplicate clip: %v", err)
	}
	got, err := st.Clip(ctx, "clip-008")
	if err != nil || !got.Open() || !got.Start.Equal(at.Add(8*time.Minute)) || got.Tags[0] != "tag0" {
		t.Fatalf("open clip read back: %+v %v", got, err)
	}
	if _, err := st.Clip(ctx, "nope"); !errors.Is(err, catalog.ErrNotFound) {
		t.Fatalf("unknown clip: %v", err)
	}

	search := func(q ClipQuery) ClipPage {
		t.Helper()
		if q.Limit == 0 {
			q.Limit = 50
		}
		page, err := st.SearchClips(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		return page
	}
	ids := func(page ClipPage) []string {
		var out []string
		for _, c := range page.Clips {
			out = append(out, c.ID)
		}
		return out
	}
	all := search(ClipQuery{})
	if all.Total != 30 || len(all.Clips) != 30 || all.Clips[0].ID != "clip-029" {
		t.Fatalf("everything, newest first: %d %v", all.Total, ids(all))
	}
	if all.Facets[FacetSport]["Athletics"] != 10 || all.Facets[FacetFeed]["f1"] != 15 || all.Facets[FacetAthlete]["Usain Bolt"] != 1 || all.Facets[FacetEvent]["Event 0"] != 15 {
		t.Fatalf("facets: %v", all.Facets)
	}
	for _, tc := range []struct {
		name string
		q    ClipQuery
		want []string
	}{
		{"word prefix", ClipQuery{Text: "lightn"}, []string{"clip-007"}},
		{"athlete in the text", ClipQuery{Text: "bolt"}, []string{"clip-007"}},
		{"words, any order, diacritics folded", ClipQuery{Text: "FINAL bólt"}, []string{"clip-007"}},
		{"FTS syntax is text", ClipQuery{Text: `bolt" OR "x`}, nil},
		{"athlete filter", ClipQuery{Athlete: "yohan blake"}, []string{"clip-007"}},
		{"feed and sport", ClipQuery{FeedID: "f2", Sport: "athletics", To: at.Add(10 * time.Minute)}, []string{"clip-009", "clip-003"}},
		{"time range, open clip runs on", ClipQuery{From: at.Add(8*time.Minute + 45*time.Second), To: at.Add(9 * time.Minute)}, []string{"clip-009", "clip-008"}},
		{"rights: own and entitled feed", ClipQuery{Rights: &ClipRights{Owner: "b1", Feeds: []string{"f1"}}, To: at.Add(5 * time.Minute)},
			[]string{"clip-004", "clip-002", "clip-001", "clip-000"}},
		{"rights: own only", ClipQuery{Rights: &ClipRights{Owner: "b2"}, To: at.Add(9 * time.Minute)}, []string{"clip-008", "clip-005", "clip-002"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			page := search(tc.q)
			if !slices.Equal(ids(page), tc.want) || page.Total != len(tc.want) {
				t.Fatalf("got %v (total %d), want %v", ids(page), page.Total, tc.want)
			}
		})
	}
	filtered := search(ClipQuery{Sport: "Swimming"})
	if filtered.Total != 10 || !maps.Equal(filtered.Facets[FacetSport], map[string]int{"Swimming": 10}) || filtered.Facets[FacetFeed]["f1"]+filtered.Facets[FacetFeed]["f2"] != 10 {
		t.Fatalf("facets under a filter: %d %v", filtered.Total, filtered.Facets)
	}
	first, second := search(ClipQuery{Limit: 7}), search(ClipQuery{Limit: 7, Offset: 7})
	if first.Total != 30 || len(first.Clips) != 7 || second.Clips[0].ID != "clip-022" || first.Clips[6].ID != "clip-023" {
		t.Fatalf("pages: %v %v", ids(first), ids(second))
	}

	// Edits reach the index; state updates keep the files they do not name.
	title, athletes, end := "Photo finish", []string{"Noah Lyles"}, at.Add(10*time.Minute)
	edited, err := st.EditClip(ctx, "clip-008", ClipEdit{Title: &title, Athletes: &athletes, End: &end}, at)
	if err != nil || edited.Title != title || !edited.End.Equal(end) {
		t.Fatalf("edit: %+v %v", edited, err)
	}
	if _, err := st.EditClip(ctx, "clip-008", ClipEdit{End: &end}, at); !errors.Is(err, catalog.ErrConflict) {
		t.Fatalf("closing a closed clip: %v", err)
	}
	if page := search(ClipQuery{Text: "photo lyles"}); !slices.Equal(ids(page), []string{"clip-008"}) {
		t.Fatalf("edited text: %v", ids(page))
	}
	if page := search(ClipQuery{Athlete: "Athlete 3"}); slices.Contains(ids(page), "clip-008") {
		t.Fatal("replaced athlete still found")
	}
	if _, err := st.SetClipState(ctx, "clip-008", ClipState{Status: ClipReady, Progress: 1, Path: "/data/clips/clip-008.mp4", Size: 1234, Duration: 2 * time.Minute, Thumbnail: "/t.jpg"}, at); err != nil {
		t.Fatal(err)
	}
	c, err := st.SetClipState(ctx, "clip-008", ClipState{Status: ClipReady, Progress: 1}, at)
	if err != nil || c.Path != "/data/clips/clip-008.mp4" || c.Size != 1234 || c.Duration != 2*time.Minute || c.Thumbnail != "/t.jpg" {
		t.Fatalf("state: %+v %v", c, err)
	}
	if _, err := st.SetClipState(ctx, "nope", ClipState{Status: ClipReady}, at); !errors.Is(err, catalog.ErrNotFound) {
		t.Fatalf("state of an unknown clip: %v", err)
	}
	pending, err := st.ClipsWithStatus(ctx, ClipQueued, ClipRunning)
	if err != nil || len(pending) != 29 || pending[0].ID != "clip-000" {
		t.Fatalf("pending: %d %v", len(pending), err)
	}
	if err := st.DeleteClip(ctx, "clip-007"); err != nil {
		t.Fatal(err)
	}
	if page := search(ClipQuery{Text: "bolt"}); page.Total != 0 {
		t.Fatalf("deleted clip still found: %v", ids(page))
	}
	if err := st.DeleteClip(ctx, "clip-007"); !errors.Is(err, catalog.ErrNotFound) {
		t.Fatalf("deleting twice: %v", err)
	}
}
