package catalog

import (
	"maps"
	"slices"
	"strings"
)

// A committed write changes a snapshot into the next with one of the
// With and Without methods below rather than by reading the whole catalog
// again: a write's cost does not grow with the catalog. Each returns a new
// snapshot and leaves s as it is (the maps it changes are copied, the rest
// shared); each mirrors what the database does, cascades included.

func (s *Snapshot) clone() *Snapshot {
	c := *s
	return &c
}

// WithFeed returns the snapshot with f added, or replacing the feed of its id.
func (s *Snapshot) WithFeed(f Feed) *Snapshot {
	c := s.clone()
	c.feeds = maps.Clone(s.feeds)
	c.feeds[f.ID] = &f
	c.feedList = upsertSorted(s.feedList, f, func(f Feed) string { return f.ID })
	return c
}

// WithoutFeed returns the snapshot without the feed, its entitlements,
// its caller source and the destinations it is pushed to.
func (s *Snapshot) WithoutFeed(id string) *Snapshot {
	c := s.clone()
	c.feeds = maps.Clone(s.feeds)
	delete(c.feeds, id)
	c.feedList = removeSorted(s.feedList, id, func(f Feed) string { return f.ID })
	if _, ok := s.callerSources[id]; ok {
		c.callerSources = maps.Clone(s.callerSources)
		delete(c.callerSources, id)
	}
	c.dropEntitlements(func(e Entitlement) bool { return e.FeedID == id })
	c.dropDestinations(func(d Destination) bool { return d.FeedID == id })
	return c
}

// WithBroadcaster returns the snapshot with b added, or replacing the
// broadcaster of its id.
func (s *Snapshot) WithBroadcaster(b Broadcaster) *Snapshot {
	c := s.clone()
	c.broadcasters = maps.Clone(s.broadcasters)
	c.byAPIKeyHash = maps.Clone(s.byAPIKeyHash)
	if old, ok := s.broadcasters[b.ID]; ok {
		delete(c.byAPIKeyHash, old.APIKeyHash)
	}
	c.broadcasters[b.ID] = &b
	c.byAPIKeyHash[b.APIKeyHash] = b.ID
	c.broadcasterList = upsertSorted(s.broadcasterList, b, func(b Broadcaster) string { return b.ID })
	return c
}

// WithoutBroadcaster returns the snapshot without the broadcaster, its
// entitlements and its destinations.
func (s *Snapshot) WithoutBroadcaster(id string) *Snapshot {
	c := s.clone()
	c.broadcasters = maps.Clone(s.broadcasters)
	c.byAPIKeyHash = maps.Clone(s.byAPIKeyHash)
	if old, ok := s.broadcasters[id]; ok {
		delete(c.byAPIKeyHash, old.APIKeyHash)
	}
	delete(c.broadcasters, id)
	c.broadcasterList = removeSorted(s.broadcasterList, id, func(b Broadcaster) string { return b.ID })
	c.dropEntitlements(func(e Entitlement) bool { return e.BroadcasterID == id })
	c.dropDestinations(func(d Destination) bool { return d.BroadcasterID == id })
	return c
}

// WithEntitlement returns the snapshot with e added (the newest), or
// replacing the entitlement of its id (its pair unchanged).
func (s *Snapshot) WithEntitlement(e Entitlement) *Snapshot {
	c := s.clone()
	_, known := s.entitlements[e.ID]
	c.entitlements = maps.Clone(s.entitlements)
	c.entitlements[e.ID] = &e
	if !known {
		// Older snapshots never read past their own length: appending in
		// place (when the array has room) changes nothing they see.
		c.entitlementOrder = append(s.entitlementOrder, e.ID)
	}
	c.grants = maps.Clone(s.grants)
	byFeed := maps.Clone(s.grants[e.BroadcasterID])
	if byFeed == nil {
		byFeed = make(map[string][]Entitlement)
	}
	grants := slices.Clone(byFeed[e.FeedID])
	if i := slices.IndexFunc(grants, func(g Entitlement) bool { return g.ID == e.ID }); i >= 0 {
		grants[i] = e
	} else {
		grants = append(grants, e)
	}
	byFeed[e.FeedID] = grants
	c.grants[e.BroadcasterID] = byFeed
	return c
}

// WithCallerSource returns the snapshot with the feed's caller source set to src.
func (s *Snapshot) WithCallerSource(src CallerSource) *Snapshot {
	c := s.clone()
	c.callerSources = maps.Clone(s.callerSources)
	c.callerSources[src.FeedID] = src
	return c
}

// WithoutCallerSource returns the snapshot without the feed's caller source.
func (s *Snapshot) WithoutCallerSource(feedID string) *Snapshot {
	c := s.clone()
	c.callerSources = maps.Clone(s.callerSources)
	delete(c.callerSources, feedID)
	return c
}

// WithDestination returns the snapshot with d added, the newest.
func (s *Snapshot) WithDestination(d Destination) *Snapshot {
	c := s.clone()
	c.destinations = maps.Clone(s.destinations)
	c.destinations[d.ID] = d
	c.destinationList = append(slices.Clip(s.destinationList), d)
	return c
}

// WithoutDestination returns the snapshot without the destination.
func (s *Snapshot) WithoutDestination(id string) *Snapshot {
	c := s.clone()
	c.dropDestinations(func(d Destination) bool { return d.ID == id })
	return c
}

// dropEntitlements removes, from a snapshot being made, the entitlements
// gone matches; a deletion is rare enough to index the rest again.
func (c *Snapshot) dropEntitlements(gone func(Entitlement) bool) {
	order := make([]string, 0, len(c.entitlementOrder))
	entitlements := make(map[string]*Entitlement, len(c.entitlements))
	grants := make(map[string]map[string][]Entitlement, len(c.grants))
	for _, id := range c.entitlementOrder {
		e := c.entitlements[id]
		if gone(*e) {
			continue
		}
		order = append(order, id)
		entitlements[id] = e
		byFeed := grants[e.BroadcasterID]
		if byFeed == nil {
			byFeed = make(map[string][]Entitlement)
			grants[e.BroadcasterID] = byFeed
		}
		byFeed[e.FeedID] = append(byFeed[e.FeedID], *e)
	}
	c.entitlementOrder, c.entitlements, c.grants = order, entitlements, grants
}

// dropDestinations removes, from a snapshot being made, the destinations gone matches.
func (c *Snapshot) dropDestinations(gone func(Destination) bool) {
	if !slices.ContainsFunc(c.destinationList, gone) {
		return
	}
	c.destinationList = slices.DeleteFunc(slices.Clone(c.destinationList), gone)
	c.destinations = make(map[string]Destination, len(c.destinationList))
	for _, d := range c.destinationList {
		c.destinations[d.ID] = d
	}
}

// upsertSorted returns a copy of a list sorted by key with item put in its place.
func upsertSorted[T any](list []T, item T, key func(T) string) []T {
	i, found := slices.BinarySearchFunc(list, key(item), func(x T, k string) int { return strings.Compare(key(x), k) })
	if found {
		out := slices.Clone(list)
		out[i] = item
		return out
	}
	out := make([]T, 0, len(list)+1)
	return append(append(append(out, list[:i]...), item), list[i:]...)
}

// removeSorted returns a list sorted by key without the item of key k.
func removeSorted[T any](list []T, k string, key func(T) string) []T {
	i, found := slices.BinarySearchFunc(list, k, func(x T, k string) int { return strings.Compare(key(x), k) })
	if !found {
		return list
	}
	return slices.Delete(slices.Clone(list), i, i+1)
}
