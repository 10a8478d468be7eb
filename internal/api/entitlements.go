package api

import (
	"crypto/rand"
	"net/http"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/podium-broadcast/podium/internal/catalog"
)

type entitlementJSON struct {
	ID            string  `json:"id"`
	BroadcasterID string  `json:"broadcaster_id"`
	FeedID        string  `json:"feed_id"`
	StartsAt      *string `json:"starts_at"`
	EndsAt        *string `json:"ends_at"`
	Status        string  `json:"status"`
	// Effective says whether the entitlement grants access right now.
	Effective bool    `json:"effective"`
	CreatedAt *string `json:"created_at"`
	UpdatedAt *string `json:"updated_at"`
}

func (s *server) entitlementJSON(e catalog.Entitlement) entitlementJSON {
	return entitlementJSON{ID: e.ID, BroadcasterID: e.BroadcasterID, FeedID: e.FeedID,
		StartsAt: formatTime(e.StartsAt), EndsAt: formatTime(e.EndsAt), Status: string(e.Status),
		Effective: e.Covers(s.now()), CreatedAt: formatTime(e.CreatedAt), UpdatedAt: formatTime(e.UpdatedAt)}
}

func (s *server) listEntitlements(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	broadcasterID, feedID := q.Get("broadcaster_id"), q.Get("feed_id")
	if p := who(r); !p.admin {
		if broadcasterID != "" && broadcasterID != p.broadcasterID {
			writeError(w, apiError(http.StatusForbidden, "forbidden", "broadcaster_id", "a broadcaster sees only its own entitlements"))
			return
		}
		broadcasterID = p.broadcasterID
	}
	out := []entitlementJSON{}
	for _, e := range s.Store.Snapshot().Entitlements(broadcasterID, feedID) {
		out = append(out, s.entitlementJSON(e))
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *server) getEntitlement(w http.ResponseWriter, r *http.Request) {
	id := chi.URLParam(r, "id")
	e, ok := s.Store.Snapshot().Entitlement(id)
	if p := who(r); !ok || !(p.admin || p.broadcasterID == e.BroadcasterID) {
		writeError(w, notFound("entitlement", id))
		return
	}
	writeJSON(w, http.StatusOK, s.entitlementJSON(e))
}

type createEntitlementRequest struct {
	ID            *string `json:"id"`
	BroadcasterID string  `json:"broadcaster_id"`
	FeedID        string  `json:"feed_id"`
	StartsAt      *string `json:"starts_at"`
	EndsAt        *string `json:"ends_at"`
}

func parseTimeField(field string, v *string) (time.Time, *Error) {
	if v == nil || *v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, *v)
	if err != nil {
		return time.Time{}, badRequest(field, "%s must be an RFC 3339 time such as 2028-07-14T20:00:00Z, not %q", field, *v)
	}
	return t, nil
}

func (s *server) createEntitlement(w http.ResponseWriter, r *http.Request) {
	var req createEntitlementRequest
	if err := decode(r, &req); err != nil {
		writeError(w, err)
		return
	}
	now := s.now()
	e := catalog.Entitlement{ID: "ent-" + strings.ToLower(rand.Text()[:12]), BroadcasterID: req.BroadcasterID, FeedID: req.FeedID,
		Status: catalog.StatusActive, CreatedAt: now, UpdatedAt: now}
	if req.ID != nil {
		e.ID = *req.ID
		if !catalog.ValidID(e.ID) {
			writeError(w, invalid("id", "id must match [a-z0-9][a-z0-9-]{0,62}"))
			return
		}
	}
	var apiErr *Error
	if e.StartsAt, apiErr = parseTimeField("starts_at", req.StartsAt); apiErr != nil {
		writeError(w, apiErr)
		return
	}
	if e.EndsAt, apiErr = parseTimeField("ends_at", req.EndsAt); apiErr != nil {
		writeError(w, apiErr)
		return
	}
	if err := e.Validate(); err != nil {
		s.fail(w, r, err)
		return
	}
	auditTarget(r, "broadcaster", e.BroadcasterID)
	auditTarget(r, "feed", e.FeedID)
	if err := s.Store.CreateEntitlement(r.Context(), e); err != nil {
		s.fail(w, r, err)
		return
	}
	s.Log.Info("entitlement granted", "entitlement", e.ID, "broadcaster", e.BroadcasterID, "feed", e.FeedID,
		"starts_at", windowEnd(e.StartsAt), "ends_at", windowEnd(e.EndsAt))
	w.Header().Set("Location", "/api/v1/entitlements/"+e.ID)
	writeJSON(w, http.StatusCreated, s.entitlementJSON(e))
}

type patchEntitlementRequest struct {
	Status *string `json:"status"`
}

func (s *server) patchEntitlement(w http.ResponseWriter, r *http.Request) {
	id := chi.URLParam(r, "id")
	var req patchEntitlementRequest
	if err := decode(r, &req); err != nil {
		writeError(w, err)
		return
	}
	if req.Status == nil {
		writeError(w, invalid("status", "status is required: active or suspended"))
		return
	}
	status, fieldErr := catalog.ParseStatus(*req.Status)
	if fieldErr != nil {
		s.fail(w, r, fieldErr)
		return
	}
	s.setStatus(w, r, id, status)
}

func (s *server) revokeEntitlement(w http.ResponseWriter, r *http.Request) {
	s.setStatus(w, r, chi.URLParam(r, "id"), catalog.StatusRevoked)
}

func (s *server) setStatus(w http.ResponseWriter, r *http.Request, id string, status catalog.EntitlementStatus) {
	if err := s.Store.SetEntitlementStatus(r.Context(), id, status, s.now()); err != nil {
		s.fail(w, r, err)
		return
	}
	e, _ := s.Store.Snapshot().Entitlement(id)
	auditTarget(r, "broadcaster", e.BroadcasterID)
	auditTarget(r, "feed", e.FeedID)
	s.Log.Info("entitlement "+string(status), "entitlement", id, "broadcaster", e.BroadcasterID, "feed", e.FeedID)
	writeJSON(w, http.StatusOK, s.entitlementJSON(e))
}

// windowEnd writes one end of an entitlement window for the log.
func windowEnd(t time.Time) string {
	if t.IsZero() {
		return "open"
	}
	return t.UTC().Format(time.RFC3339)
}
