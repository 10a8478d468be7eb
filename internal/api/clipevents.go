package api

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/podium-broadcast/podium/internal/catalog"
	"github.com/podium-broadcast/podium/internal/store"
)

// ClipUpdate is what the clip engine reports of a clip's export. It has
// the clip engine's Update fields, in its order, so that the one converts
// into the other.
type ClipUpdate struct {
	ClipID string
	// Status is queued, running, ready or failed.
	Status string
	// Progress runs from 0 to 1.
	Progress float64
	Error    string
	// Path, Size and Duration are the exported file's, once ready.
	Path     string
	Size     int64
	Duration time.Duration
	// Thumbnail is the JPEG still's path.
	Thumbnail string
}

// ClipUpdates carries the state of clip exports from the engine to the
// library and to the portal's event streams: the app creates it before the
// engine, gives UpdateClip to the engine as its update callback, and passes
// it to Handler in Deps.
type ClipUpdates struct {
	store *store.Store
	log   *slog.Logger

	mu   sync.Mutex
	next uint64
	subs map[uint64]func(clipEvent)
}

// NewClipUpdates returns the updates of the library kept in st.
func NewClipUpdates(st *store.Store, log *slog.Logger) *ClipUpdates {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &ClipUpdates{store: st, log: log, subs: make(map[uint64]func(clipEvent))}
}

// clipEvent is a change of a clip the event streams tell the portal of.
type clipEvent struct {
	clip    store.Clip
	deleted bool
}

// UpdateClip records what the engine reports of a clip and tells the event
// streams. A clip deleted meanwhile is let go of quietly.
func (u *ClipUpdates) UpdateClip(up ClipUpdate) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := u.store.SetClipState(ctx, up.ClipID, store.ClipState{Status: up.Status, Progress: up.Progress, Error: up.Error,
		Path: up.Path, Size: up.Size, Duration: up.Duration, Thumbnail: up.Thumbnail}, time.Now())
	if errors.Is(err, catalog.ErrNotFound) {
		return
	}
	if err != nil {
		u.log.Error("clip update not recorded", "clip", up.ClipID, "status", up.Status, "err", err)
		return
	}
	if up.Status == store.ClipReady || up.Status == store.ClipFailed {
		u.log.Info("clip "+up.Status, "clip", c.ID, "feed", c.FeedID, "size", c.Size, "duration", c.Duration, "error", c.Error)
	}
	u.publish(clipEvent{clip: c})
}

func (u *ClipUpdates) publish(e clipEvent) {
	u.mu.Lock()
	defer u.mu.Unlock()
	for _, fn := range u.subs {
		fn(e)
	}
}

// subscribe calls fn, which must not block, with every clip change until
// the returned function is called.
func (u *ClipUpdates) subscribe(fn func(clipEvent)) (unsubscribe func()) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.next++
	id := u.next
	u.subs[id] = fn
	return func() {
		u.mu.Lock()
		delete(u.subs, id)
		u.mu.Unlock()
	}
}

// clipFollower gathers the clip changes an event stream has yet to send,
// keeping only the latest of each clip so that a slow stream skips
// intermediate progress rather than falling behind.
type clipFollower struct {
	mu      sync.Mutex
	pending map[string]clipEvent
	order   []string
	ready   chan struct{}
}

func newClipFollower() *clipFollower {
	return &clipFollower{pending: map[string]clipEvent{}, ready: make(chan struct{}, 1)}
}

func (f *clipFollower) add(e clipEvent) {
	f.mu.Lock()
	if _, ok := f.pending[e.clip.ID]; !ok {
		f.order = append(f.order, e.clip.ID)
	}
	f.pending[e.clip.ID] = e
	f.mu.Unlock()
	select {
	case f.ready <- struct{}{}:
	default:
	}
}

// take returns the changes gathered, in the order their clips first changed.
func (f *clipFollower) take() []clipEvent {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]clipEvent, 0, len(f.order))
	for _, id := range f.order {
		out = append(out, f.pending[id])
	}
	f.pending, f.order = map[string]clipEvent{}, nil
	return out
}

type clipDeletedJSON struct {
	ID      string `json:"id"`
	Deleted bool   `json:"deleted"`
}

// sendClips sends a "clips" event for each change of a clip the caller may see.
func (s *server) sendClips(p principal, events []clipEvent, send func(string, any) bool) bool {
	for _, e := range events {
		if !s.visibleClip(p, e.clip) {
			continue
		}
		var payload any = toClipJSON(e.clip)
		if e.deleted {
			payload = clipDeletedJSON{ID: e.clip.ID, Deleted: true}
		}
		if !send("clips", payload) {
			return false
		}
	}
	return true
}
