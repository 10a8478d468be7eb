package api

import (
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/podium-broadcast/podium/internal/archive"
	"github.com/podium-broadcast/podium/internal/catalog"
)

// Archive reports what is recorded of each feed.
type Archive interface {
	Status(feedID string) archive.Status
	Ranges(feedID string, from, to time.Time) []archive.Range
}

// recordingPolicyJSON is a feed's archive setting; max_age "0" or max_bytes 0 take the server's default.
// State is what the recorder is doing, in answers only.
type recordingPolicyJSON struct {
	Enabled  *bool   `json:"enabled"`
	MaxAge   *string `json:"max_age"`
	MaxBytes *int64  `json:"max_bytes"`
	State    *string `json:"state,omitempty"`
}

func recordingPolicyOut(p catalog.RecordingPolicy) *recordingPolicyJSON {
	age := p.MaxAge.String()
	if p.MaxAge == 0 {
		age = "0"
	}
	return &recordingPolicyJSON{Enabled: &p.Enabled, MaxAge: &age, MaxBytes: &p.MaxBytes}
}

// apply sets the fields present in j on p.
func (j *recordingPolicyJSON) apply(p *catalog.RecordingPolicy) *Error {
	if j == nil {
		return nil
	}
	if j.Enabled != nil {
		p.Enabled = *j.Enabled
	}
	if j.MaxAge != nil {
		age, err := time.ParseDuration(*j.MaxAge)
		if *j.MaxAge == "0" {
			age, err = 0, nil
		}
		if err != nil || age < 0 || (age > 0 && age < time.Minute) {
			return invalid("recording.max_age", `recording.max_age must be a duration of at least 1m such as "168h", or "0" for the server's default, not %q`, *j.MaxAge)
		}
		p.MaxAge = age.Truncate(time.Second)
	}
	if j.MaxBytes != nil {
		if *j.MaxBytes < 0 {
			return invalid("recording.max_bytes", "recording.max_bytes must be 0 (the server's default) or a number of bytes")
		}
		p.MaxBytes = *j.MaxBytes
	}
	return nil
}

type patchFeedRequest struct {
	Recording *recordingPolicyJSON `json:"recording"`
}

// patchFeed changes a feed's settings; today its archive setting.
func (s *server) patchFeed(w http.ResponseWriter, r *http.Request) {
	id := chi.URLParam(r, "id")
	f, ok := s.Store.Snapshot().Feed(id)
	if !ok {
		writeError(w, notFound("feed", id))
		return
	}
	var req patchFeedRequest
	if err := decode(r, &req); err != nil {
		writeError(w, err)
		return
	}
	if req.Recording == nil {
		writeError(w, invalid("recording", "nothing to change: send {\"recording\":{\"enabled\":true|false,\"max_age\":\"168h\",\"max_bytes\":N}}"))
		return
	}
	policy := f.Recording
	if err := req.Recording.apply(&policy); err != nil {
		writeError(w, err)
		return
	}
	if err := s.Store.SetRecording(r.Context(), id, policy); err != nil {
		s.fail(w, r, err)
		return
	}
	s.Log.Info("feed recording changed", "feed", id, "enabled", policy.Enabled, "max_age", policy.MaxAge, "max_bytes", policy.MaxBytes)
	f.Recording = policy
	writeJSON(w, http.StatusOK, s.feedJSON(f, true))
}

type recordingRangeJSON struct {
	From string `json:"from"`
	To   string `json:"to"`
}

type recordingJSON struct {
	FeedID   string               `json:"feed_id"`
	Enabled  bool                 `json:"enabled"`
	State    string               `json:"state"`
	From     *string              `json:"from"`
	To       *string              `json:"to"`
	Bytes    int64                `json:"bytes"`
	Segments int                  `json:"segments"`
	Ranges   []recordingRangeJSON `json:"ranges"`
}

// getRecording reports what the archive holds of a feed: its extent and its continuous ranges.
func (s *server) getRecording(w http.ResponseWriter, r *http.Request) {
	f, ok := s.pathFeed(w, r)
	if !ok {
		return
	}
	id := f.ID
	if s.Archive == nil {
		writeError(w, apiError(http.StatusServiceUnavailable, "unavailable", "", "recording is off on this server"))
		return
	}
	from, to, apiErr := s.queryRange(r)
	if apiErr != nil {
		writeError(w, apiErr)
		return
	}
	if from.IsZero() {
		from = time.Unix(0, 0)
	}
	if to.IsZero() {
		to = s.now().Add(time.Hour)
	}
	if !to.After(from) {
		writeError(w, badRequest("to", "to must be after from"))
		return
	}
	st := s.Archive.Status(id)
	ranges := s.Archive.Ranges(id, from, to)
	out := recordingJSON{FeedID: id, Enabled: f.Recording.Enabled, State: st.State, Bytes: st.Bytes, Segments: st.Segments,
		From: formatMillis(st.From), To: formatMillis(st.To), Ranges: []recordingRangeJSON{}}
	for _, rg := range ranges {
		out.Ranges = append(out.Ranges, recordingRangeJSON{From: *formatMillis(rg.From), To: *formatMillis(rg.To)})
	}
	writeJSON(w, http.StatusOK, out)
}

// formatMillis writes t in RFC 3339 with milliseconds, nil for the zero time.
func formatMillis(t time.Time) *string {
	if t.IsZero() {
		return nil
	}
	s := t.UTC().Format("2006-01-02T15:04:05.000Z07:00")
	return &s
}
