package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/podium-broadcast/podium/internal/catalog"
	"github.com/podium-broadcast/podium/internal/hub"
)

// eventsPeriod is how often the event stream sends feed health and deliveries.
const eventsPeriod = time.Second

type historyJSON struct {
	IntervalMillis int64               `json:"interval_ms"`
	Feeds          map[string][]uint64 `json:"feeds"`
}

// events streams what the portal shows live, as server-sent events: feed
// health and deliveries every second, the bitrate history once, a
// "catalog" event whenever the catalog changes, and a "clips" event for
// every change of a clip the caller may see. It ends when the caller's
// session or broadcaster does.
func (s *server) events(w http.ResponseWriter, r *http.Request) {
	flusher, ok := w.(http.Flusher)
	if !ok {
		writeError(w, apiError(http.StatusInternalServerError, "internal", "", "streaming is not supported by this connection"))
		return
	}
	p := who(r)
	changed := make(chan struct{}, 1)
	unsubscribe := s.subscribe(func() {
		select {
		case changed <- struct{}{}:
		default:
		}
	})
	defer unsubscribe()
	clips := newClipFollower()
	defer s.ClipUpdates.subscribe(clips.add)()

	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	send := func(event string, v any) bool {
		data, err := json.Marshal(v)
		if err != nil {
			return false
		}
		if _, err := fmt.Fprintf(w, "event: %s\ndata: %s\n\n", event, data); err != nil {
			return false
		}
		flusher.Flush()
		return true
	}
	hello := map[string]string{"role": "admin"}
	if !p.admin {
		hello = map[string]string{"role": "broadcaster", "broadcaster_id": p.broadcasterID}
	}
	if !send("hello", hello) || !send("history", s.history(r)) || !s.sendLive(r, send) {
		return
	}
	tick := time.NewTicker(eventsPeriod)
	defer tick.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-changed:
			if !s.stillSignedIn(r) || !send("catalog", struct{}{}) {
				return
			}
		case <-tick.C:
			if !s.stillSignedIn(r) || !s.sendLive(r, send) {
				return
			}
		case <-clips.ready:
			if !s.stillSignedIn(r) || !s.sendClips(p, clips.take(), send) {
				return
			}
		}
	}
}

func (s *server) sendLive(r *http.Request, send func(string, any) bool) bool {
	return send("feeds", s.visibleFeeds(r)) && send("deliveries", s.visibleDeliveries(r))
}

// stillSignedIn reports whether the stream's caller may still read: a
// session that was signed out, or a broadcaster that was deleted, may not.
func (s *server) stillSignedIn(r *http.Request) bool {
	if _, err := r.Cookie(SessionCookie); err == nil && r.Header.Get("Authorization") == "" {
		_, ok := s.sessionPrincipal(r)
		return ok
	}
	p := who(r)
	if p.admin {
		return true
	}
	_, ok := s.Store.Snapshot().Broadcaster(p.broadcasterID)
	return ok
}

func (s *server) history(r *http.Request) historyJSON {
	out := historyJSON{IntervalMillis: hub.HistoryInterval.Milliseconds(), Feeds: map[string][]uint64{}}
	snap := s.Store.Snapshot()
	for _, f := range snap.Feeds() {
		if !s.visibleFeed(r, snap, f.ID) {
			continue
		}
		if live, ok := s.Hub.Lookup(f.ID); ok {
			out.Feeds[f.ID] = live.BitrateHistory()
		}
	}
	return out
}

// subscribe calls fn after every catalog change until the returned function is called.
func (s *server) subscribe(fn func()) (unsubscribe func()) {
	s.subsMu.Lock()
	defer s.subsMu.Unlock()
	s.nextSub++
	id := s.nextSub
	s.subs[id] = fn
	return func() {
		s.subsMu.Lock()
		delete(s.subs, id)
		s.subsMu.Unlock()
	}
}

// CatalogChanged tells the event streams that the catalog changed. It never blocks.
func (s *server) catalogChanged(*catalog.Snapshot) {
	s.subsMu.Lock()
	defer s.subsMu.Unlock()
	for _, fn := range s.subs {
		fn()
	}
}
