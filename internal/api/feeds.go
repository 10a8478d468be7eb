package api

import (
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/podium-broadcast/podium/internal/catalog"
	"github.com/podium-broadcast/podium/internal/hub"
	"github.com/podium-broadcast/podium/internal/srtserver"
)

type feedJSON struct {
	ID         string         `json:"id"`
	Name       string         `json:"name"`
	Kind       string         `json:"kind"`
	Live       bool           `json:"live"`
	BitrateBPS uint64         `json:"bitrate_bps"`
	Readers    int            `json:"readers"`
	Publisher  *publisherJSON `json:"publisher"`
	// OnAir and Sources: primary/backup switching, admin only.
	OnAir     *string        `json:"on_air,omitempty"`
	Switching *switchingJSON `json:"switching,omitempty"`
	Sources   []sourceJSON   `json:"sources,omitempty"`
	// CallerSource is the encoder Podium pulls the feed from, admin only.
	CallerSource            *callerSourceJSON `json:"caller_source,omitempty"`
	PublishPassphrase       string            `json:"publish_passphrase,omitempty"`
	BackupPublishPassphrase string            `json:"backup_publish_passphrase,omitempty"`
	// Health says whether the feed's output is cleanly decodable.
	Health healthJSON `json:"health"`
	// Recording is the feed's archive setting.
	Recording *recordingPolicyJSON `json:"recording"`
	CreatedAt *string              `json:"created_at"`
}

// healthJSON is a feed's output health: "ok", "degraded" (with the
// reasons) or "offline".
type healthJSON struct {
	State   string   `json:"state"`
	Reasons []string `json:"reasons"`
}

type switchingJSON struct {
	Mode         string  `json:"mode"`
	Revertive    bool    `json:"revertive"`
	Switches     uint64  `json:"switches"`
	LastSwitchAt *string `json:"last_switch_at"`
}

type sourceJSON struct {
	Role       string  `json:"role"`
	RemoteAddr string  `json:"remote_addr"`
	Since      *string `json:"since"`
	BytesIn    uint64  `json:"bytes_in"`
	LastDataAt *string `json:"last_data_at"`
	Healthy    bool    `json:"healthy"`
	OnAir      bool    `json:"on_air"`
}

type publisherJSON struct {
	RemoteAddr           string  `json:"remote_addr"`
	Since                *string `json:"since"`
	BytesIn              uint64  `json:"bytes_in"`
	PacketsLost          uint64  `json:"packets_lost"`
	PacketsRetransmitted uint64  `json:"packets_retransmitted"`
}

func (s *server) feedJSON(f catalog.Feed, admin bool) feedJSON {
	out := feedJSON{ID: f.ID, Name: f.Name, Kind: string(f.Kind), Recording: recordingPolicyOut(f.Recording), CreatedAt: formatTime(f.CreatedAt),
		Health: healthJSON{State: "offline", Reasons: []string{}}}
	if s.Archive != nil {
		state := s.Archive.Status(f.ID).State
		out.Recording.State = &state
	}
	if admin && s.Sources != nil {
		if st, ok := s.Sources.Status(f.ID); ok {
			onAir := st.OnAir
			out.OnAir = &onAir
			out.Switching = &switchingJSON{Mode: st.Mode, Revertive: st.Revertive, Switches: st.Switches, LastSwitchAt: formatTime(st.LastSwitch)}
			for _, src := range st.Sources {
				out.Sources = append(out.Sources, sourceJSON{Role: src.Role, RemoteAddr: src.RemoteAddr, Since: formatTime(src.Since),
					BytesIn: src.BytesIn, LastDataAt: formatTime(src.LastData), Healthy: src.Healthy, OnAir: src.OnAir})
			}
		}
	}
	if src, ok := s.Store.Snapshot().CallerSource(f.ID); ok && admin {
		caller := s.callerSourceJSON(src)
		out.CallerSource = &caller
	}
	live, ok := s.Hub.Lookup(f.ID)
	if !ok {
		return out
	}
	st := live.Stats()
	out.Live, out.BitrateBPS, out.Readers = st.Live, st.BitrateBPS, st.Readers
	if s.Deliveries != nil {
		// HLS viewers read through the feed's one muxer, not a reader each.
		out.Readers += s.Deliveries.Count(f.ID, "hls")
	}
	if st.Live {
		out.Health.State = "ok"
		if s.Sources != nil {
			if sw, ok := s.Sources.Status(f.ID); ok && len(sw.Health) > 0 {
				out.Health = healthJSON{State: "degraded", Reasons: sw.Health}
			}
		}
	}
	if st.Publisher != nil && admin {
		p := &publisherJSON{RemoteAddr: st.Publisher.RemoteAddr, Since: formatTime(st.Publisher.Since), BytesIn: st.Publisher.BytesIn}
		if srt, ok := s.Ingest.PublisherStats(f.ID); ok {
			p.PacketsLost, p.PacketsRetransmitted = srt.PacketsLost, srt.PacketsRetransmitted
		} else if out.CallerSource != nil && out.CallerSource.State == srtserver.StateConnected {
			p.PacketsLost, p.PacketsRetransmitted = out.CallerSource.PacketsLost, out.CallerSource.PacketsRetransmitted
		}
		out.Publisher = p
	}
	return out
}

func (s *server) listFeeds(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.visibleFeeds(r))
}

// visibleFeeds lists the feeds the caller may see, with their live state.
func (s *server) visibleFeeds(r *http.Request) []feedJSON {
	snap := s.Store.Snapshot()
	out := []feedJSON{}
	for _, f := range snap.Feeds() {
		if s.visibleFeed(r, snap, f.ID) {
			out = append(out, s.feedJSON(f, who(r).admin))
		}
	}
	return out
}

func (s *server) getFeed(w http.ResponseWriter, r *http.Request) {
	f, ok := s.pathFeed(w, r)
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, s.feedJSON(f, who(r).admin))
}

type createFeedRequest struct {
	ID                      string               `json:"id"`
	Name                    string               `json:"name"`
	Kind                    *string              `json:"kind"`
	PublishPassphrase       *string              `json:"publish_passphrase"`
	BackupPublishPassphrase *string              `json:"backup_publish_passphrase"`
	Recording               *recordingPolicyJSON `json:"recording"`
}

func (s *server) createFeed(w http.ResponseWriter, r *http.Request) {
	var req createFeedRequest
	if err := decode(r, &req); err != nil {
		writeError(w, err)
		return
	}
	f := catalog.Feed{ID: req.ID, Name: req.Name, Kind: catalog.KindMultilateral, PublishPassphrase: catalog.NewPassphrase(),
		BackupPublishPassphrase: catalog.NewPassphrase(), Recording: catalog.DefaultRecording, CreatedAt: s.now()}
	if err := req.Recording.apply(&f.Recording); err != nil {
		writeError(w, err)
		return
	}
	if req.Kind != nil {
		f.Kind = catalog.FeedKind(*req.Kind)
	}
	if req.PublishPassphrase != nil {
		f.PublishPassphrase = *req.PublishPassphrase
	}
	if req.BackupPublishPassphrase != nil {
		f.BackupPublishPassphrase = *req.BackupPublishPassphrase
	}
	if err := f.Validate(); err != nil {
		s.fail(w, r, err)
		return
	}
	if err := s.Store.CreateFeed(r.Context(), f); err != nil {
		s.fail(w, r, err)
		return
	}
	s.Log.Info("feed created", "feed", f.ID, "kind", f.Kind)
	out := s.feedJSON(f, true)
	out.PublishPassphrase, out.BackupPublishPassphrase = f.PublishPassphrase, f.BackupPublishPassphrase
	w.Header().Set("Location", "/api/v1/feeds/"+f.ID)
	writeJSON(w, http.StatusCreated, out)
}

func (s *server) deleteFeed(w http.ResponseWriter, r *http.Request) {
	id := chi.URLParam(r, "id")
	if err := s.Store.DeleteFeed(r.Context(), id); err != nil {
		s.fail(w, r, err)
		return
	}
	s.Hub.Remove(id, hub.ErrFeedRemoved)
	if s.Sources != nil {
		s.Sources.Forget(id)
	}
	s.Log.Info("feed deleted", "feed", id)
	w.WriteHeader(http.StatusNoContent)
}

type switchRequest struct {
	Source string `json:"source"`
}

// switchSource pins the primary or the backup on air, or returns the feed to automatic switching.
func (s *server) switchSource(w http.ResponseWriter, r *http.Request) {
	id := chi.URLParam(r, "id")
	f, ok := s.Store.Snapshot().Feed(id)
	if !ok {
		writeError(w, notFound("feed", id))
		return
	}
	var req switchRequest
	if err := decode(r, &req); err != nil {
		writeError(w, err)
		return
	}
	switch req.Source {
	case "primary", "backup", "auto":
	default:
		writeError(w, invalid("source", `source must be "primary", "backup" or "auto"`))
		return
	}
	if s.Sources == nil {
		writeError(w, apiError(http.StatusServiceUnavailable, "unavailable", "", "source switching is off on this server"))
		return
	}
	if err := s.Sources.Force(id, req.Source); err != nil {
		writeError(w, apiError(http.StatusConflict, "conflict", "source", "%v", err))
		return
	}
	s.Log.Info("feed source switch forced", "feed", id, "source", req.Source)
	writeJSON(w, http.StatusOK, s.feedJSON(f, true))
}
