package hls

import (
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/podium-broadcast/podium/internal/delivery"
)

// A viewer is one broadcaster's player (one token from one address): it is
// listed among the live deliveries as protocol "hls" from its first request
// until viewerTimeout after its last, and logged at both ends. The rights
// sweep "closes" it like any delivery; since HTTP has no connection to cut,
// that only ends the listing: its next request is refused on its own.
type viewer struct {
	delivery *delivery.Delivery
	last     atomic.Int64
	ended    atomic.Bool
	mu       sync.Mutex
	why      string
	// release gives back the viewer's slot under the viewer limits.
	release func()
}

type viewerKey struct {
	token string
	ip    string
}

func (v *viewer) seen(now time.Time) { v.last.Store(now.UnixNano()) }

func (v *viewer) lastSeen() time.Time { return time.Unix(0, v.last.Load()) }

func (v *viewer) reason() string {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.why
}

// Stats implements delivery.Transport; HTTP has no packet counters.
func (v *viewer) Stats() delivery.TransportStats { return delivery.TransportStats{} }

// Close implements delivery.Transport.
func (v *viewer) Close(reason error) {
	v.mu.Lock()
	if v.why == "" {
		v.why = reason.Error()
	}
	v.mu.Unlock()
	v.ended.Store(true)
}

// viewer returns the viewer of this request, registering it on its first
// request if the viewer limits allow.
func (s *Server) viewer(c Claims, token string, r *http.Request) (*viewer, error) {
	key := viewerKey{token: token, ip: remoteIP(r)}
	now := s.now()
	s.mu.Lock()
	v, ok := s.viewers[key]
	var previous *viewer
	if ok && v.ended.Load() {
		// Ended by a rights change that has since been undone: a new delivery.
		previous, ok = v, false
		delete(s.viewers, key)
		previous.release()
	}
	if !ok {
		release, err := s.cfg.Viewers.Acquire(c.BroadcasterID)
		if err != nil {
			s.mu.Unlock()
			if previous != nil {
				s.endViewer(previous, previous.reason())
			}
			return nil, err
		}
		v = &viewer{delivery: &delivery.Delivery{BroadcasterID: c.BroadcasterID, FeedID: c.FeedID, Protocol: "hls",
			RemoteAddr: key.ip, Since: now}, release: release}
		s.viewers[key] = v
	}
	v.seen(now)
	s.mu.Unlock()
	if previous != nil {
		s.endViewer(previous, previous.reason())
	}
	if !ok {
		s.deliveries.Add(v.delivery, v)
		s.log.Info("hls delivery opened", "id", v.delivery.ID, "feed", c.FeedID, "broadcaster", c.BroadcasterID,
			"remote", key.ip, "user_agent", r.UserAgent())
	}
	return v, nil
}

func (s *Server) endViewer(v *viewer, reason string) {
	s.deliveries.Remove(v.delivery)
	v.release()
	d := v.delivery
	s.log.Info("hls delivery closed", "id", d.ID, "feed", d.FeedID, "broadcaster", d.BroadcasterID, "remote", d.RemoteAddr,
		"reason", reason, "bytes", d.Bytes(), "duration", v.lastSeen().Sub(d.Since).Round(time.Millisecond))
}
