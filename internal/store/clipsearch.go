package store

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// ClipRights limits a search to what a broadcaster may see: clips of the
// feeds it is entitled to, and its own.
type ClipRights struct {
	Owner string
	Feeds []string
}

// ClipQuery is a search of the library; zero fields do not filter.
type ClipQuery struct {
	// Text is matched, word by word and by prefix, against the title,
	// description, tags, athletes, sport, event, phase and venue.
	Text string
	// Sport, Event and Athlete match exactly, ignoring the case of ASCII
	// letters (as SQLite's NOCASE does).
	Sport, Event, Athlete string
	FeedID                string
	// From and To: clips overlapping [From, To] (an open clip runs on, up
	// to MaxClipLength from its start).
	From, To time.Time
	// Rights nil: every clip (the operator).
	Rights *ClipRights
	// Limit is the page size (at least 1); Offset skips that many clips.
	Limit, Offset int
}

// Facets the library counts.
const (
	FacetSport   = "sport"
	FacetEvent   = "event"
	FacetAthlete = "athlete"
	FacetFeed    = "feed"
)

// MaxFacetValues is how many values of each facet a search counts: the
// most frequent, ties going to the first by value (ignoring case, but
// for feeds).
const MaxFacetValues = 50

// ClipPage is a page of search results, with the number of clips the
// search selects and, by facet, how many of those carry each value.
// Values are spelt as the first clip that had them; empty sports, events
// and feeds are not counted.
type ClipPage struct {
	Clips  []Clip
	Total  int
	Facets map[string]map[string]int
}

// SearchClips runs a search: a page of clips, newest first (by start), the
// number selected and the facet counts. The text is matched by the FTS5
// index; the rest is filtered and counted in the clip index, and the
// page's clips read by seq. Its reads use the read-only connections: a
// search never holds up a catalog write. A text CheckQueryText refuses is
// an error.
func (s *Store) SearchClips(ctx context.Context, q ClipQuery) (ClipPage, error) {
	if err := CheckQueryText(q.Text); err != nil {
		return ClipPage{}, err
	}
	s.clips.mu.RLock()
	defer s.clips.mu.RUnlock()
	sel := s.clips.selection(q)
	if q.Text != "" && len(queryTerms(q.Text)) > 0 {
		var err error
		if sel.matches, err = s.fullTextMatches(ctx, q.Text); err != nil {
			return ClipPage{}, err
		}
	}
	page, seqs := s.clips.count(sel, max(q.Limit, 1), max(q.Offset, 0))
	if len(seqs) == 0 {
		page.Clips = []Clip{}
		return page, nil
	}
	var err error
	page.Clips, err = queryClips(ctx, s.reads, `SELECT `+clipColumns+` FROM clips c WHERE c.seq IN (`+placeholders(len(seqs))+`)
		ORDER BY c.start_ms DESC, c.seq DESC`, seqs...)
	return page, err
}

// fullTextMatches returns the seqs of the clips whose words match every
// word of text, as a prefix: FTS5's index on SQLite, a tsvector's on PostgreSQL.
func (s *Store) fullTextMatches(ctx context.Context, text string) (seqSet, error) {
	query, match := `SELECT rowid FROM clips_fts WHERE clips_fts MATCH ?`, ftsQuery(text)
	if s.d.name == "postgres" {
		query, match = `SELECT seq FROM clips WHERE search_vector @@ to_tsquery('simple', ?)`, tsQuery(text)
	}
	rows, err := s.reads.QueryContext(ctx, query, match)
	if err != nil {
		return nil, fmt.Errorf("match clips: %w", err)
	}
	defer rows.Close()
	set := seqSet{} // not nil: a text nothing matches selects nothing
	for rows.Next() {
		var seq int64
		if err := rows.Scan(&seq); err != nil {
			return nil, fmt.Errorf("match clips: %w", err)
		}
		set = set.add(seq)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("match clips: %w", err)
	}
	return set, nil
}

// seqSet is a set of clip seqs, a bit each.
type seqSet []uint64

func (s seqSet) add(seq int64) seqSet {
	for int(seq/64) >= len(s) {
		s = append(s, 0)
	}
	s[seq/64] |= 1 << (seq % 64)
	return s
}

func (s seqSet) has(seq int64) bool {
	return seq >= 0 && int(seq/64) < len(s) && s[seq/64]&(1<<(seq%64)) != 0
}

// anyName is a clipSelection's name id that does not filter; a name no
// clip has is -1, which no clip matches.
const anyName = -2

// clipSelection is a search's filters with names resolved to the index's ids.
type clipSelection struct {
	// matches, when not nil, holds the clips the text matches.
	matches                     seqSet
	sport, event, feed, athlete int32
	// A clip overlapping [from, to] starts after startsAfter, is open or
	// ends after endsAfter, and starts at startsBy at the latest.
	from, to               bool
	startsAfter, endsAfter int64
	startsBy               int64
	rights                 bool
	rightsOwner            int32
	rightsFeeds            []bool // by feed id
}

// selection resolves a query's filters, but its text; the caller holds mu.
func (x *clipIndex) selection(q ClipQuery) clipSelection {
	sel := clipSelection{sport: anyName, event: anyName, feed: anyName, athlete: anyName}
	for _, f := range []struct {
		id    *int32
		kind  nameKind
		value string
	}{{&sel.sport, kindSport, q.Sport}, {&sel.event, kindEvent, q.Event}, {&sel.feed, kindFeed, q.FeedID}, {&sel.athlete, kindAthlete, q.Athlete}} {
		if f.value != "" {
			*f.id = x.names[f.kind].lookup(f.value)
		}
	}
	if !q.From.IsZero() {
		// No clip is longer than MaxClipLength, open ones included: an
		// open clip that started earlier has ended.
		sel.from, sel.startsAfter, sel.endsAfter = true, q.From.Add(-MaxClipLength).UnixMilli(), q.From.UnixMilli()
	}
	if !q.To.IsZero() {
		sel.to, sel.startsBy = true, q.To.UnixMilli()
	}
	if r := q.Rights; r != nil {
		sel.rights, sel.rightsOwner = true, x.names[kindOwner].lookup(r.Owner)
		sel.rightsFeeds = make([]bool, len(x.names[kindFeed].keys))
		for _, f := range r.Feeds {
			if id := x.names[kindFeed].lookup(f); id >= 0 {
				sel.rightsFeeds[id] = true
			}
		}
	}
	return sel
}

// selects reports whether the clip passes every filter.
func (sel *clipSelection) selects(c *indexedClip) bool {
	switch {
	case sel.matches != nil && !sel.matches.has(c.seq),
		sel.sport != anyName && c.sport != sel.sport,
		sel.event != anyName && c.event != sel.event,
		sel.feed != anyName && c.feed != sel.feed,
		sel.athlete != anyName && !slices.Contains(c.athletes, sel.athlete),
		sel.from && (c.start <= sel.startsAfter || !c.open && c.end <= sel.endsAfter),
		sel.to && c.start > sel.startsBy,
		sel.rights && c.owner != sel.rightsOwner && !sel.rightsFeeds[c.feed]:
		return false
	}
	return true
}

// count walks the clips newest first: it counts those selected and their
// facets, and returns the seqs of the page's clips; the caller holds mu.
func (x *clipIndex) count(sel clipSelection, limit, offset int) (ClipPage, []any) {
	var counts [nameKinds][]int
	for _, k := range []nameKind{kindSport, kindEvent, kindFeed, kindAthlete} {
		counts[k] = make([]int, len(x.names[k].keys))
	}
	page := ClipPage{}
	var seqs []any
	for _, c := range x.order {
		if !sel.selects(c) {
			continue
		}
		if page.Total >= offset && len(seqs) < limit {
			seqs = append(seqs, c.seq)
		}
		page.Total++
		counts[kindSport][c.sport]++
		counts[kindEvent][c.event]++
		counts[kindFeed][c.feed]++
		for _, a := range c.athletes {
			counts[kindAthlete][a]++
		}
	}
	page.Facets = map[string]map[string]int{
		FacetSport:   x.names[kindSport].top(counts[kindSport], true),
		FacetEvent:   x.names[kindEvent].top(counts[kindEvent], true),
		FacetFeed:    x.names[kindFeed].top(counts[kindFeed], true),
		FacetAthlete: x.names[kindAthlete].top(counts[kindAthlete], false),
	}
	return page, seqs
}

// top returns the MaxFacetValues names counted most, by spelling, ties
// going to the first key; skipEmpty leaves out the empty name.
func (n *names) top(counts []int, skipEmpty bool) map[string]int {
	var ids []int32
	for id, c := range counts {
		if c > 0 && !(skipEmpty && n.keys[id] == "") {
			ids = append(ids, int32(id))
		}
	}
	slices.SortFunc(ids, func(a, b int32) int {
		if c := cmp.Compare(counts[b], counts[a]); c != 0 {
			return c
		}
		return strings.Compare(n.keys[a], n.keys[b])
	})
	out := make(map[string]int, min(len(ids), MaxFacetValues))
	for _, id := range ids[:min(len(ids), MaxFacetValues)] {
		out[n.spellings[id]] = counts[id]
	}
	return out
}

// A search's text is bounded, so that one query's cost is too: the FTS5
// match of n prefix terms grows faster than n.
const (
	MaxQueryBytes = 1000
	MaxQueryTerms = 32
)

// CheckQueryText says why a search text is refused (too long, or too
// many words), or returns nil.
func CheckQueryText(text string) error {
	if len(text) > MaxQueryBytes {
		return fmt.Errorf("a search text is at most %d bytes, not %d", MaxQueryBytes, len(text))
	}
	if n := len(queryTerms(text)); n > MaxQueryTerms {
		return fmt.Errorf("a search text is at most %d words, not %d", MaxQueryTerms, n)
	}
	return nil
}

// queryTerms splits a search text as the index's tokenizer splits.
func queryTerms(text string) []string {
	return strings.FieldsFunc(text, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsNumber(r) })
}

// ftsQuery turns what a user typed into an FTS5 query: every word (split as
// the index's tokenizer splits) must match, as a prefix. Nothing of the
// input is taken as FTS5 syntax.
func ftsQuery(text string) string {
	words := queryTerms(text)
	// A word said twice matches nothing more, but would cost twice.
	seen := make(map[string]bool, len(words))
	var terms []string
	for _, w := range words {
		if key := strings.ToLower(w); !seen[key] {
			seen[key] = true
			terms = append(terms, `"`+w+`"*`)
		}
	}
	return strings.Join(terms, " ")
}

// tsQuery turns what a user typed into a PostgreSQL tsquery matching as
// ftsQuery does: every word, folded as searchWords folds, as a prefix.
func tsQuery(text string) string {
	seen := map[string]bool{}
	var terms []string
	for _, w := range queryTerms(text) {
		if key := foldWord(w); key != "" && !seen[key] {
			seen[key] = true
			terms = append(terms, key+":*")
		}
	}
	return strings.Join(terms, " & ")
}

// searchWords is what PostgreSQL's full-text index holds of a clip: the
// words of the columns SQLite's FTS5 index holds (the same text, the JSON
// of the lists included), split and folded as its unicode61 tokenizer
// with remove_diacritics does, so that both match the same clips.
func searchWords(c Clip) string {
	var words []string
	for _, text := range []string{c.Title, c.Description, jsonList(c.Tags), jsonList(c.Athletes), c.Sport, c.Event, c.Phase, c.Venue} {
		for _, w := range queryTerms(text) {
			if f := foldWord(w); f != "" {
				words = append(words, f)
			}
		}
	}
	return strings.Join(words, " ")
}

// foldWord lowers a word's case and takes the diacritics off its letters.
func foldWord(w string) string {
	var b strings.Builder
	for _, r := range norm.NFD.String(w) {
		if !unicode.Is(unicode.Mn, r) {
			b.WriteRune(unicode.ToLower(r))
		}
	}
	return b.String()
}
