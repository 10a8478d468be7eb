package api

import (
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/podium-broadcast/podium/internal/catalog"
)

type broadcasterJSON struct {
	ID            string   `json:"id"`
	Name          string   `json:"name"`
	Territories   []string `json:"territories"`
	CreatedAt     *string  `json:"created_at"`
	SRTPassphrase string   `json:"srt_passphrase,omitempty"`
	APIKey        string   `json:"api_key,omitempty"`
}

func toBroadcasterJSON(b catalog.Broadcaster) broadcasterJSON {
	territories := b.Territories
	if territories == nil {
		territories = []string{}
	}
	return broadcasterJSON{ID: b.ID, Name: b.Name, Territories: territories, CreatedAt: formatTime(b.CreatedAt)}
}

func (s *server) listBroadcasters(w http.ResponseWriter, r *http.Request) {
	out := []broadcasterJSON{}
	p := who(r)
	for _, b := range s.Store.Snapshot().Broadcasters() {
		if p.admin || b.ID == p.broadcasterID {
			out = append(out, toBroadcasterJSON(b))
		}
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *server) getBroadcaster(w http.ResponseWriter, r *http.Request) {
	id := chi.URLParam(r, "id")
	p := who(r)
	b, ok := s.Store.Snapshot().Broadcaster(id)
	if !ok || !(p.admin || p.broadcasterID == id) {
		writeError(w, notFound("broadcaster", id))
		return
	}
	writeJSON(w, http.StatusOK, toBroadcasterJSON(b))
}

type createBroadcasterRequest struct {
	ID            string   `json:"id"`
	Name          string   `json:"name"`
	Territories   []string `json:"territories"`
	SRTPassphrase *string  `json:"srt_passphrase"`
}

func (s *server) createBroadcaster(w http.ResponseWriter, r *http.Request) {
	var req createBroadcasterRequest
	if err := decode(r, &req); err != nil {
		writeError(w, err)
		return
	}
	apiKey := catalog.NewAPIKey()
	b := catalog.Broadcaster{ID: req.ID, Name: req.Name, Territories: req.Territories,
		SRTPassphrase: catalog.NewPassphrase(), APIKeyHash: catalog.HashAPIKey(apiKey), CreatedAt: s.now()}
	if req.SRTPassphrase != nil {
		b.SRTPassphrase = *req.SRTPassphrase
	}
	if b.Territories == nil {
		b.Territories = []string{}
	}
	if err := b.Validate(); err != nil {
		s.fail(w, r, err)
		return
	}
	if err := s.Store.CreateBroadcaster(r.Context(), b); err != nil {
		s.fail(w, r, err)
		return
	}
	s.Log.Info("broadcaster created", "broadcaster", b.ID)
	out := toBroadcasterJSON(b)
	out.SRTPassphrase, out.APIKey = b.SRTPassphrase, apiKey
	w.Header().Set("Location", "/api/v1/broadcasters/"+b.ID)
	writeJSON(w, http.StatusCreated, out)
}

func (s *server) deleteBroadcaster(w http.ResponseWriter, r *http.Request) {
	id := chi.URLParam(r, "id")
	if err := s.Store.DeleteBroadcaster(r.Context(), id); err != nil {
		s.fail(w, r, err)
		return
	}
	s.Log.Info("broadcaster deleted", "broadcaster", id)
	w.WriteHeader(http.StatusNoContent)
}
