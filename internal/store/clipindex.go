package store

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"slices"
	"sync"
)

// clipIndex holds in memory what a search filters, orders and counts of
// every clip: its start and end, feed, owner, sport, event and athletes,
// names interned. Counting a facet over tens of thousands of clips is
// then a walk over a slice, where SQLite would look up and sort as many
// rows for each facet. The clips table stays the record, and full-text
// matching stays with its FTS5 index: the index is loaded from the table
// at Open and changed by the store's clip writes.
//
// A clip write holds mu from before its transaction begins until the
// index has its change; a search holds it for reading while it reads the
// database. So a search sees the index and the database agree, and, as
// both take mu before the store's one connection, neither waits on the
// other while holding what the other needs.
type clipIndex struct {
	mu    sync.RWMutex
	bySeq map[int64]*indexedClip
	// order is every clip, newest first: by start, then seq, descending.
	order []*indexedClip
	names [nameKinds]*names
}

// indexedClip is what the index holds of a clip.
type indexedClip struct {
	seq          int64
	start, end   int64 // Unix milliseconds
	open         bool  // no end yet
	feed, owner  int32
	sport, event int32
	athletes     []int32 // each once
}

// newer reports the order of clips in a search's results.
func newer(a, b *indexedClip) int {
	if c := cmp.Compare(b.start, a.start); c != 0 {
		return c
	}
	return cmp.Compare(b.seq, a.seq)
}

// nameKind is what a name names.
type nameKind int

const (
	kindFeed nameKind = iota
	kindOwner
	kindSport
	kindEvent
	kindAthlete
	nameKinds
)

// names interns one kind of name: an id for each key, and the first
// spelling met of each. A key is the name itself or, for names matched
// ignoring case, the name folded as SQLite's NOCASE folds it (ASCII
// letters only), so that the index matches as the database's filters and
// unique keys do. Ids are never reused, nor names forgotten.
type names struct {
	foldCase  bool
	ids       map[string]int32
	keys      []string
	spellings []string
}

func newNames(foldCase bool) *names { return &names{foldCase: foldCase, ids: map[string]int32{}} }

func (n *names) key(name string) string {
	if !n.foldCase {
		return name
	}
	return foldASCII(name)
}

// lookup returns the id of name's key, -1 if no clip ever had it.
func (n *names) lookup(name string) int32 {
	if id, ok := n.ids[n.key(name)]; ok {
		return id
	}
	return -1
}

func (n *names) intern(name string) int32 {
	key := n.key(name)
	if id, ok := n.ids[key]; ok {
		return id
	}
	id := int32(len(n.keys))
	n.ids[key] = id
	n.keys, n.spellings = append(n.keys, key), append(n.spellings, name)
	return id
}

// foldASCII folds ASCII capitals to lower case and leaves every other byte be.
func foldASCII(s string) string {
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if 'A' <= b[j] && b[j] <= 'Z' {
					b[j] += 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}

func newClipIndex() *clipIndex {
	x := &clipIndex{bySeq: map[int64]*indexedClip{}}
	for k := range nameKinds {
		x.names[k] = newNames(k == kindSport || k == kindEvent || k == kindAthlete)
	}
	return x
}

// loadClipIndex reads the index of the clips in the database, names
// interned in the order the clips and their athletes were added.
func loadClipIndex(ctx context.Context, db queryer, d *dialect) (*clipIndex, error) {
	x := newClipIndex()
	rows, err := db.QueryContext(ctx, `SELECT seq, start_ms, end_ms, feed_id, owner, sport, event FROM clips ORDER BY seq`)
	if err != nil {
		return nil, fmt.Errorf("load clip index: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		c := &indexedClip{}
		var end sql.NullInt64
		var feed, owner, sport, event string
		if err := rows.Scan(&c.seq, &c.start, &end, &feed, &owner, &sport, &event); err != nil {
			return nil, fmt.Errorf("load clip index: %w", err)
		}
		c.end, c.open = end.Int64, !end.Valid
		c.feed, c.owner = x.names[kindFeed].intern(feed), x.names[kindOwner].intern(owner)
		c.sport, c.event = x.names[kindSport].intern(sport), x.names[kindEvent].intern(event)
		x.bySeq[c.seq] = c
		x.order = append(x.order, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("load clip index: %w", err)
	}
	// In rowid order, each clip's athletes come in the order they were added.
	athletes, err := db.QueryContext(ctx, `SELECT clip_seq, athlete FROM clip_athletes ORDER BY `+d.athleteOrder())
	if err != nil {
		return nil, fmt.Errorf("load clip athletes: %w", err)
	}
	defer athletes.Close()
	for athletes.Next() {
		var seq int64
		var name string
		if err := athletes.Scan(&seq, &name); err != nil {
			return nil, fmt.Errorf("load clip athletes: %w", err)
		}
		if c := x.bySeq[seq]; c != nil {
			c.addAthlete(x.names[kindAthlete].intern(name))
		}
	}
	if err := athletes.Err(); err != nil {
		return nil, fmt.Errorf("load clip athletes: %w", err)
	}
	slices.SortFunc(x.order, newer)
	return x, nil
}

// replace makes the index hold what other holds.
func (x *clipIndex) replace(other *clipIndex) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.bySeq, x.order, x.names = other.bySeq, other.order, other.names
}

func (c *indexedClip) addAthlete(id int32) {
	if !slices.Contains(c.athletes, id) {
		c.athletes = append(c.athletes, id)
	}
}

// entry makes the index's entry of a clip; the caller holds mu.
func (x *clipIndex) entry(seq int64, c Clip) *indexedClip {
	e := &indexedClip{seq: seq, start: c.Start.UnixMilli(), open: c.Open(),
		feed: x.names[kindFeed].intern(c.FeedID), owner: x.names[kindOwner].intern(c.Owner),
		sport: x.names[kindSport].intern(c.Sport), event: x.names[kindEvent].intern(c.Event)}
	if !e.open {
		e.end = c.End.UnixMilli()
	}
	for _, a := range c.Athletes {
		e.addAthlete(x.names[kindAthlete].intern(a))
	}
	return e
}

// put adds the clip stored at seq, or replaces what the index had of it;
// the caller holds mu.
func (x *clipIndex) put(seq int64, c Clip) {
	x.remove(seq)
	e := x.entry(seq, c)
	x.bySeq[seq] = e
	i, _ := slices.BinarySearchFunc(x.order, e, newer)
	x.order = slices.Insert(x.order, i, e)
}

// remove drops the clip stored at seq, if the index has it; the caller holds mu.
func (x *clipIndex) remove(seq int64) {
	e := x.bySeq[seq]
	if e == nil {
		return
	}
	delete(x.bySeq, seq)
	if i, found := slices.BinarySearchFunc(x.order, e, newer); found {
		x.order = slices.Delete(x.order, i, i+1)
	}
}
