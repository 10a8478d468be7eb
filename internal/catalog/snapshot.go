package catalog

import (
	"sort"
	"time"
)

// Snapshot is an immutable, in-memory view of the whole catalog. The media
// plane consults it on every connection and on every rights sweep, so it
// answers without touching the database.
type Snapshot struct {
	feedList        []Feed
	broadcasterList []Broadcaster
	// entitlementOrder holds the entitlements' ids in creation order. Only
	// the newest snapshot appends to its array, beyond the length older
	// snapshots see (see WithEntitlement).
	entitlementOrder []string
	// The maps hold pointers so that a write's copy of a map is small.
	entitlements map[string]*Entitlement

	feeds        map[string]*Feed
	broadcasters map[string]*Broadcaster
	byAPIKeyHash map[string]string
	// grants maps broadcaster id, then feed id, to that pair's entitlements.
	grants map[string]map[string][]Entitlement

	// What Podium calls: caller sources by feed, destinations by id and in creation order.
	callerSources   map[string]CallerSource
	destinations    map[string]Destination
	destinationList []Destination
}

// NewSnapshot indexes the given catalog contents.
func NewSnapshot(feeds []Feed, broadcasters []Broadcaster, entitlements []Entitlement) *Snapshot {
	s := &Snapshot{
		feedList:         sortedBy(feeds, func(f Feed) string { return f.ID }),
		broadcasterList:  sortedBy(broadcasters, func(b Broadcaster) string { return b.ID }),
		entitlementOrder: make([]string, 0, len(entitlements)),
		entitlements:     make(map[string]*Entitlement, len(entitlements)),
		feeds:            make(map[string]*Feed, len(feeds)),
		broadcasters:     make(map[string]*Broadcaster, len(broadcasters)),
		byAPIKeyHash:     make(map[string]string, len(broadcasters)),
		grants:           make(map[string]map[string][]Entitlement),
	}
	for _, f := range feeds {
		s.feeds[f.ID] = &f
	}
	for _, b := range broadcasters {
		s.broadcasters[b.ID] = &b
		s.byAPIKeyHash[b.APIKeyHash] = b.ID
	}
	for _, e := range entitlements {
		s.entitlementOrder = append(s.entitlementOrder, e.ID)
		s.entitlements[e.ID] = &e
		byFeed := s.grants[e.BroadcasterID]
		if byFeed == nil {
			byFeed = make(map[string][]Entitlement)
			s.grants[e.BroadcasterID] = byFeed
		}
		byFeed[e.FeedID] = append(byFeed[e.FeedID], e)
	}
	return s
}

// Feed returns the feed with the given id.
func (s *Snapshot) Feed(id string) (Feed, bool) {
	f, ok := s.feeds[id]
	if !ok {
		return Feed{}, false
	}
	return *f, true
}

// Broadcaster returns the broadcaster with the given id.
func (s *Snapshot) Broadcaster(id string) (Broadcaster, bool) {
	b, ok := s.broadcasters[id]
	if !ok {
		return Broadcaster{}, false
	}
	return *b, true
}

// BroadcasterByAPIKeyHash returns the broadcaster whose API key hashes to h.
func (s *Snapshot) BroadcasterByAPIKeyHash(h string) (Broadcaster, bool) {
	id, ok := s.byAPIKeyHash[h]
	if !ok {
		return Broadcaster{}, false
	}
	return s.Broadcaster(id)
}

// Entitled reports whether the broadcaster may receive the feed at instant now.
func (s *Snapshot) Entitled(broadcasterID, feedID string, now time.Time) bool {
	if _, ok := s.feeds[feedID]; !ok {
		return false
	}
	for _, e := range s.grants[broadcasterID][feedID] {
		if e.Covers(now) {
			return true
		}
	}
	return false
}

// Refusal explains, in words an operator reads in a log, why the broadcaster
// may not receive the feed at instant now; it is empty when access is granted.
func (s *Snapshot) Refusal(broadcasterID, feedID string, now time.Time) string {
	if s.Entitled(broadcasterID, feedID, now) {
		return ""
	}
	if _, ok := s.feeds[feedID]; !ok {
		return "feed does not exist"
	}
	if _, ok := s.broadcasters[broadcasterID]; !ok {
		return "broadcaster does not exist"
	}
	grants := s.grants[broadcasterID][feedID]
	if len(grants) == 0 {
		return "no entitlement to this feed"
	}
	reason := "entitlement revoked"
	for _, e := range grants {
		switch {
		case e.Status == StatusSuspended:
			reason = "entitlement suspended"
		case e.Status == StatusActive && !e.StartsAt.IsZero() && now.Before(e.StartsAt):
			return "entitlement window opens at " + e.StartsAt.UTC().Format(time.RFC3339)
		case e.Status == StatusActive && !e.EndsAt.IsZero() && !now.Before(e.EndsAt):
			reason = "entitlement window ended at " + e.EndsAt.UTC().Format(time.RFC3339)
		}
	}
	return reason
}

// EntitledFeeds lists, sorted by id, the feeds the broadcaster may receive at instant now.
func (s *Snapshot) EntitledFeeds(broadcasterID string, now time.Time) []Feed {
	var out []Feed
	for feedID := range s.grants[broadcasterID] {
		if s.Entitled(broadcasterID, feedID, now) {
			out = append(out, *s.feeds[feedID])
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

func sortedBy[T any](items []T, key func(T) string) []T {
	out := append([]T(nil), items...)
	sort.SliceStable(out, func(i, j int) bool { return key(out[i]) < key(out[j]) })
	return out
}

// Feeds lists every feed, sorted by id. The slice must not be modified.
func (s *Snapshot) Feeds() []Feed { return s.feedList }

// Broadcasters lists every broadcaster, sorted by id. The slice must not be modified.
func (s *Snapshot) Broadcasters() []Broadcaster { return s.broadcasterList }

// Entitlement returns the entitlement with the given id.
func (s *Snapshot) Entitlement(id string) (Entitlement, bool) {
	e, ok := s.entitlements[id]
	if !ok {
		return Entitlement{}, false
	}
	return *e, true
}

// Entitlements lists entitlements in creation order, filtered by broadcaster
// and feed when those are not empty.
func (s *Snapshot) Entitlements(broadcasterID, feedID string) []Entitlement {
	var out []Entitlement
	for _, id := range s.entitlementOrder {
		e := *s.entitlements[id]
		if (broadcasterID == "" || e.BroadcasterID == broadcasterID) && (feedID == "" || e.FeedID == feedID) {
			out = append(out, e)
		}
	}
	return out
}

// WithCallers adds to a snapshot being built the feeds' caller sources and
// the broadcasters' push destinations, and returns it. It must be called
// before the snapshot is shared.
func (s *Snapshot) WithCallers(sources []CallerSource, destinations []Destination) *Snapshot {
	s.callerSources = make(map[string]CallerSource, len(sources))
	for _, src := range sources {
		s.callerSources[src.FeedID] = src
	}
	s.destinations = make(map[string]Destination, len(destinations))
	s.destinationList = destinations
	for _, d := range destinations {
		s.destinations[d.ID] = d
	}
	return s
}

// CallerSource returns the feed's caller source.
func (s *Snapshot) CallerSource(feedID string) (CallerSource, bool) {
	src, ok := s.callerSources[feedID]
	return src, ok
}

// CallerSources lists every caller source, sorted by feed id.
func (s *Snapshot) CallerSources() []CallerSource {
	out := make([]CallerSource, 0, len(s.callerSources))
	for _, src := range s.callerSources {
		out = append(out, src)
	}
	return sortedBy(out, func(src CallerSource) string { return src.FeedID })
}

// Destination returns the destination with the given id.
func (s *Snapshot) Destination(id string) (Destination, bool) {
	d, ok := s.destinations[id]
	return d, ok
}

// Destinations lists in creation order the destinations of the broadcaster,
// or every destination when broadcasterID is empty.
func (s *Snapshot) Destinations(broadcasterID string) []Destination {
	var out []Destination
	for _, d := range s.destinationList {
		if broadcasterID == "" || d.BroadcasterID == broadcasterID {
			out = append(out, d)
		}
	}
	return out
}

// Holds reports whether the broadcaster holds a right to the feed that
// grants access now or may later: an entitlement that is not revoked and
// whose window has not ended (active, scheduled or suspended).
func (s *Snapshot) Holds(broadcasterID, feedID string, now time.Time) bool {
	if _, ok := s.feeds[feedID]; !ok {
		return false
	}
	for _, e := range s.grants[broadcasterID][feedID] {
		if e.Status != StatusRevoked && (e.EndsAt.IsZero() || now.Before(e.EndsAt)) {
			return true
		}
	}
	return false
}
