package api

import (
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/podium-broadcast/podium/internal/catalog"
	"github.com/podium-broadcast/podium/internal/srtserver"
)

type destinationRequest struct {
	FeedID     string  `json:"feed_id"`
	Address    string  `json:"address"`
	StreamID   *string `json:"streamid"`
	Passphrase *string `json:"passphrase"`
	LatencyMS  *int64  `json:"latency_ms"`
}

type destinationJSON struct {
	ID            string `json:"id"`
	BroadcasterID string `json:"broadcaster_id"`
	FeedID        string `json:"feed_id"`
	Address       string `json:"address"`
	StreamID      string `json:"streamid"`
	Encrypted     bool   `json:"encrypted"`
	LatencyMS     int64  `json:"latency_ms"`
	callJSON
	// DeliveryID is the push's entry in GET /deliveries while it is connected.
	DeliveryID *uint64 `json:"delivery_id"`
	CreatedAt  *string `json:"created_at"`
}

// parseDestination reads the body of POST /broadcasters/{id}/destinations
// into a destination of the broadcaster, checked and with a canonical address.
func parseDestination(r *http.Request, broadcasterID string) (catalog.Destination, *Error) {
	var req destinationRequest
	if err := decode(r, &req); err != nil {
		return catalog.Destination{}, err
	}
	d := catalog.Destination{BroadcasterID: broadcasterID, FeedID: req.FeedID}
	c := callee{address: req.Address, streamID: req.StreamID, passphrase: req.Passphrase, latencyMS: req.LatencyMS}
	if err := c.apply(&d.Address, &d.StreamID, &d.Passphrase, &d.Latency); err != nil {
		return catalog.Destination{}, err
	}
	if err := d.Validate(); err != nil {
		return catalog.Destination{}, fromDomain(err)
	}
	return d, nil
}

func (s *server) destinationJSON(d catalog.Destination) destinationJSON {
	out := destinationJSON{ID: d.ID, BroadcasterID: d.BroadcasterID, FeedID: d.FeedID, Address: d.Address, StreamID: d.StreamID,
		Encrypted: d.Passphrase != "", LatencyMS: s.latency(d.Latency).Milliseconds(), CreatedAt: formatTime(d.CreatedAt)}
	st, ok := srtserver.CallStatus{}, false
	if s.Pushes != nil {
		st, ok = s.Pushes.Status(d.ID)
	}
	if !ok {
		// Registered a moment ago: the push has not started yet.
		st = srtserver.CallStatus{State: srtserver.StateConnecting, Since: s.now()}
		if refusal := s.Store.Snapshot().Refusal(d.BroadcasterID, d.FeedID, s.now()); refusal != "" {
			st.State, st.LastError = srtserver.StateNotEntitled, refusal
		}
	}
	out.callJSON = toCallJSON(st)
	if st.DeliveryID != 0 {
		out.DeliveryID = &st.DeliveryID
	}
	return out
}

// ownBroadcaster lets through the operator, and a broadcaster acting on
// itself; to another broadcaster the path's broadcaster does not exist.
func (s *server) ownBroadcaster(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id := chi.URLParam(r, "id")
		p := who(r)
		if _, ok := s.Store.Snapshot().Broadcaster(id); !ok || !(p.admin || p.broadcasterID == id) {
			writeError(w, notFound("broadcaster", id))
			return
		}
		h(w, r)
	}
}

func (s *server) listDestinations(w http.ResponseWriter, r *http.Request) {
	out := []destinationJSON{}
	for _, d := range s.Store.Snapshot().Destinations(chi.URLParam(r, "id")) {
		out = append(out, s.destinationJSON(d))
	}
	writeJSON(w, http.StatusOK, out)
}

// createDestination registers a receiver the feed is pushed to while the
// broadcaster is entitled to it. A broadcaster may name only a feed it holds
// a right to now or later (an active, scheduled or suspended entitlement);
// the operator may name any feed. Entitlement, not registration, governs
// whether the push runs.
func (s *server) createDestination(w http.ResponseWriter, r *http.Request) {
	broadcasterID := chi.URLParam(r, "id")
	d, apiErr := parseDestination(r, broadcasterID)
	if apiErr != nil {
		writeError(w, apiErr)
		return
	}
	now := s.now()
	if !who(r).admin && !s.Store.Snapshot().Holds(broadcasterID, d.FeedID, now) {
		// Said alike for a feed that does not exist, so that feed ids cannot be probed.
		writeError(w, apiError(http.StatusUnprocessableEntity, "not_entitled", "feed_id",
			"broadcaster %s holds no entitlement to feed %q (active, scheduled or suspended)", broadcasterID, d.FeedID))
		return
	}
	auditTarget(r, "feed", d.FeedID)
	d.ID, d.CreatedAt = catalog.NewDestinationID(), now
	if err := s.Store.CreateDestination(r.Context(), d); err != nil {
		s.fail(w, r, err)
		return
	}
	s.Log.Info("destination registered", "destination", d.ID, "broadcaster", broadcasterID, "feed", d.FeedID,
		"address", d.Address, "encrypted", d.Passphrase != "")
	w.Header().Set("Location", "/api/v1/broadcasters/"+broadcasterID+"/destinations/"+d.ID)
	writeJSON(w, http.StatusCreated, s.destinationJSON(d))
}

func (s *server) getDestination(w http.ResponseWriter, r *http.Request) {
	id := chi.URLParam(r, "did")
	d, ok := s.Store.Snapshot().Destination(id)
	if !ok || d.BroadcasterID != chi.URLParam(r, "id") {
		writeError(w, notFound("destination", id))
		return
	}
	writeJSON(w, http.StatusOK, s.destinationJSON(d))
}

func (s *server) deleteDestination(w http.ResponseWriter, r *http.Request) {
	broadcasterID, id := chi.URLParam(r, "id"), chi.URLParam(r, "did")
	if err := s.Store.DeleteDestination(r.Context(), broadcasterID, id); err != nil {
		s.fail(w, r, err)
		return
	}
	s.Log.Info("destination removed", "destination", id, "broadcaster", broadcasterID)
	w.WriteHeader(http.StatusNoContent)
}
