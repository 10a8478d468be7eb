package api

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/go-chi/chi/v5"

	"github.com/podium-broadcast/podium/internal/catalog"
	"github.com/podium-broadcast/podium/internal/store"
)

// ClipSpec is a clip for the engine to cut. It has the clip engine's Spec
// fields, in its order, so that the one converts into the other.
type ClipSpec struct {
	ClipID, FeedID string
	// End is zero for an open clip: the engine waits for SetEnd.
	Start, End time.Time
	// Mode is copy, exact or vertical.
	Mode string
	// Format is mp4 or ts.
	Format string
	// Owner is the broadcaster whose clip it is ("" for the operator's).
	Owner string
}

// Clips is the clip engine as the API drives it.
type Clips interface {
	// Submit queues a clip's export.
	Submit(spec ClipSpec) error
	// SetEnd marks the end of an open clip.
	SetEnd(clipID string, end time.Time) error
	// Cancel stops a clip's export and removes its files.
	Cancel(clipID string) error
}

// Clip limits.
const (
	// MaxClipLength is the longest clip that may be cut.
	MaxClipLength = store.MaxClipLength
	maxClipTitle  = 200
	maxClipText   = 5000
	maxClipLabels = 32
	maxClipLabel  = 100
	// defaultClipPage and maxClipPage bound GET /clips pages.
	defaultClipPage = 50
	maxClipPage     = 200
)

// Clip modes and formats; the first of each is the default.
var (
	clipModes   = []string{"copy", "exact", "vertical"}
	clipFormats = []string{"mp4", "ts"}
)

type clipJSON struct {
	ID     string `json:"id"`
	FeedID string `json:"feed_id"`
	// BroadcasterID is who cut the clip; null for the operator.
	BroadcasterID *string  `json:"broadcaster_id"`
	Start         *string  `json:"start"`
	End           *string  `json:"end"`
	Title         string   `json:"title"`
	Description   string   `json:"description"`
	Tags          []string `json:"tags"`
	Athletes      []string `json:"athletes"`
	SessionID     string   `json:"session_id,omitempty"`
	Sport         string   `json:"sport"`
	Event         string   `json:"event"`
	Phase         string   `json:"phase"`
	Venue         string   `json:"venue"`
	Mode          string   `json:"mode"`
	Format        string   `json:"format"`
	Status        string   `json:"status"`
	Progress      float64  `json:"progress"`
	Error         string   `json:"error,omitempty"`
	// Duration is in seconds.
	Duration     float64 `json:"duration"`
	Size         int64   `json:"size"`
	DownloadURL  string  `json:"download_url,omitempty"`
	ThumbnailURL string  `json:"thumbnail_url,omitempty"`
	CreatedAt    *string `json:"created_at"`
	UpdatedAt    *string `json:"updated_at"`
}

func toClipJSON(c store.Clip) clipJSON {
	out := clipJSON{ID: c.ID, FeedID: c.FeedID, Start: clipTime(c.Start), End: clipTime(c.End), Title: c.Title,
		Description: c.Description, Tags: nonNil(c.Tags), Athletes: nonNil(c.Athletes), SessionID: c.SessionID, Sport: c.Sport,
		Event: c.Event, Phase: c.Phase, Venue: c.Venue, Mode: c.Mode, Format: c.Format, Status: c.Status, Progress: c.Progress,
		Error: c.Error, Duration: c.Duration.Seconds(), Size: c.Size, CreatedAt: formatTime(c.CreatedAt), UpdatedAt: formatTime(c.UpdatedAt)}
	if c.Owner != "" {
		owner := c.Owner
		out.BroadcasterID = &owner
	}
	if c.Status == store.ClipReady {
		out.DownloadURL = "/api/v1/clips/" + c.ID + "/download"
	}
	if c.Thumbnail != "" {
		out.ThumbnailURL = "/api/v1/clips/" + c.ID + "/thumbnail.jpg"
	}
	return out
}

// clipTime formats a clip's bounds to the millisecond they are kept to.
func clipTime(t time.Time) *string {
	if t.IsZero() {
		return nil
	}
	s := t.UTC().Format("2006-01-02T15:04:05.000Z07:00")
	return &s
}

func nonNil(items []string) []string {
	if items == nil {
		return []string{}
	}
	return items
}

// parseInstant reads an RFC 3339 time, or "now" with an optional signed
// Go duration after it ("now-30s"), relative to now.
func parseInstant(text string, now time.Time) (time.Time, bool) {
	if rest, ok := strings.CutPrefix(strings.ToLower(text), "now"); ok {
		if rest == "" {
			return now, true
		}
		if rest[0] != '-' && rest[0] != '+' {
			return time.Time{}, false
		}
		d, err := time.ParseDuration(rest)
		return now.Add(d), err == nil
	}
	t, err := time.Parse(time.RFC3339Nano, text)
	return t, err == nil
}

type clipRequest struct {
	FeedID      string   `json:"feed_id"`
	Start       string   `json:"start"`
	End         *string  `json:"end"`
	Title       string   `json:"title"`
	Description string   `json:"description"`
	Tags        []string `json:"tags"`
	Athletes    []string `json:"athletes"`
	Mode        string   `json:"mode"`
	Format      string   `json:"format"`
}

// createClip registers a clip of a feed the caller may see and hands it to
// the engine: 202, the clip queued. Its sport, event, phase and venue come
// from the schedule session covering its start on the feed.
func (s *server) createClip(w http.ResponseWriter, r *http.Request) {
	if s.Clips == nil {
		writeError(w, apiError(http.StatusServiceUnavailable, "unavailable", "", "clip cutting is off on this server"))
		return
	}
	var req clipRequest
	if err := decode(r, &req); err != nil {
		writeError(w, err)
		return
	}
	now := s.now()
	c, apiErr := s.parseClip(req, now)
	if apiErr != nil {
		writeError(w, apiErr)
		return
	}
	snap := s.Store.Snapshot()
	feed, ok := snap.Feed(c.FeedID)
	if !ok || !s.visibleFeed(r, snap, c.FeedID) {
		writeError(w, notFound("feed", c.FeedID))
		return
	}
	auditTarget(r, "feed", c.FeedID)
	if ses, ok, err := s.Store.SessionAt(r.Context(), c.FeedID, c.Start); err != nil {
		s.fail(w, r, err)
		return
	} else if ok {
		c.SessionID, c.Sport, c.Event, c.Phase, c.Venue = ses.ID, ses.Sport, ses.Event, ses.Phase, ses.Venue
	}
	if c.Title == "" {
		c.Title = defaultClipTitle(c, feed)
	}
	c.ID, c.Owner, c.Status, c.CreatedAt, c.UpdatedAt = newClipID(), who(r).broadcasterID, store.ClipQueued, now, now
	if err := s.Store.CreateClips(r.Context(), c); err != nil {
		s.fail(w, r, err)
		return
	}
	if err := s.Clips.Submit(clipSpec(c)); err != nil {
		if err := s.Store.DeleteClip(context.WithoutCancel(r.Context()), c.ID); err != nil {
			s.Log.Error("clip refused by the engine not removed", "clip", c.ID, "err", err)
		}
		writeError(w, apiError(http.StatusServiceUnavailable, "unavailable", "", "the clip engine refused the clip: %v", err))
		return
	}
	s.Log.Info("clip submitted", "clip", c.ID, "feed", c.FeedID, "owner", c.Owner, "start", c.Start, "open", c.Open(), "mode", c.Mode, "format", c.Format)
	s.ClipUpdates.publish(clipEvent{clip: c})
	w.Header().Set("Location", "/api/v1/clips/"+c.ID)
	writeJSON(w, http.StatusAccepted, toClipJSON(c))
}

// A clip starts within what an archive can hold: not before Podium's
// time, nor further ahead than a clip set up before its event.
var earliestClipStart = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

const latestClipStart = 24 * time.Hour

// parseClip checks a clip request; times are kept to the millisecond.
func (s *server) parseClip(req clipRequest, now time.Time) (store.Clip, *Error) {
	c := store.Clip{FeedID: req.FeedID, Title: strings.TrimSpace(req.Title), Description: req.Description, Mode: req.Mode, Format: req.Format}
	if c.FeedID == "" {
		return c, invalid("feed_id", "feed_id is required")
	}
	if req.Start == "" {
		return c, invalid("start", `start is required: an RFC 3339 time or "now"`)
	}
	start, ok := parseInstant(req.Start, now)
	if !ok {
		return c, badRequest("start", `start must be an RFC 3339 time or "now" (or "now-30s"), not %q`, req.Start)
	}
	c.Start = start.Truncate(time.Millisecond)
	if c.Start.Before(earliestClipStart) || c.Start.After(now.Add(latestClipStart)) {
		return c, invalid("start", "start must be from %s to %s from now, not %s",
			earliestClipStart.Format(time.RFC3339), latestClipStart, c.Start.UTC().Format(time.RFC3339Nano))
	}
	if req.End != nil {
		end, apiErr := checkClipEnd(*req.End, c.Start, now)
		if apiErr != nil {
			return c, apiErr
		}
		c.End = end
	}
	var apiErr *Error
	if c.Mode, apiErr = oneOf("mode", c.Mode, clipModes); apiErr != nil {
		return c, apiErr
	}
	if c.Format, apiErr = oneOf("format", c.Format, clipFormats); apiErr != nil {
		return c, apiErr
	}
	if apiErr = checkClipText(req.Title, req.Description); apiErr != nil {
		return c, apiErr
	}
	if c.Tags, apiErr = cleanLabels("tags", req.Tags); apiErr != nil {
		return c, apiErr
	}
	if c.Athletes, apiErr = cleanLabels("athletes", req.Athletes); apiErr != nil {
		return c, apiErr
	}
	return c, nil
}

// checkClipEnd reads a clip's end: after its start, at most MaxClipLength later.
func checkClipEnd(text string, start, now time.Time) (time.Time, *Error) {
	end, ok := parseInstant(text, now)
	if !ok {
		return time.Time{}, badRequest("end", `end must be an RFC 3339 time or "now", not %q`, text)
	}
	end = end.Truncate(time.Millisecond)
	if !end.After(start) {
		return time.Time{}, invalid("end", "end must be after start (%s)", start.UTC().Format(time.RFC3339Nano))
	}
	if end.Sub(start) > MaxClipLength {
		return time.Time{}, invalid("end", "a clip is at most %v long, not %v", MaxClipLength, end.Sub(start).Round(time.Second))
	}
	return end, nil
}

func oneOf(field, value string, allowed []string) (string, *Error) {
	if value == "" {
		return allowed[0], nil
	}
	for _, a := range allowed {
		if value == a {
			return value, nil
		}
	}
	return "", invalid(field, "%s must be one of %s, not %q", field, strings.Join(allowed, ", "), value)
}

func checkClipText(title, description string) *Error {
	if utf8.RuneCountInString(title) > maxClipTitle {
		return invalid("title", "title must be at most %d characters", maxClipTitle)
	}
	if strings.ContainsFunc(title, unicode.IsControl) {
		return invalid("title", "title must not contain control characters")
	}
	if utf8.RuneCountInString(description) > maxClipText {
		return invalid("description", "description must be at most %d characters", maxClipText)
	}
	return nil
}

// cleanLabels trims tags or athletes and drops empty and repeated ones
// (ignoring case), in their order.
func cleanLabels(field string, labels []string) ([]string, *Error) {
	out := []string{}
	seen := map[string]bool{}
	for i, l := range labels {
		l = strings.TrimSpace(l)
		if utf8.RuneCountInString(l) > maxClipLabel || strings.ContainsFunc(l, unicode.IsControl) {
			return nil, invalid(fmt.Sprintf("%s[%d]", field, i), "%s must be at most %d characters, without control characters", field, maxClipLabel)
		}
		if l == "" || seen[strings.ToLower(l)] {
			continue
		}
		seen[strings.ToLower(l)] = true
		out = append(out, l)
	}
	if len(out) > maxClipLabels {
		return nil, invalid(field, "at most %d %s", maxClipLabels, field)
	}
	return out, nil
}

func defaultClipTitle(c store.Clip, feed catalog.Feed) string {
	name := feed.Name
	if c.Event != "" {
		name = strings.TrimSpace(c.Event + " " + c.Phase)
	}
	return name + " " + c.Start.UTC().Format("15:04:05")
}

func newClipID() string { return "clip-" + strings.ToLower(rand.Text()[:16]) }

func clipSpec(c store.Clip) ClipSpec {
	return ClipSpec{ClipID: c.ID, FeedID: c.FeedID, Start: c.Start, End: c.End, Mode: c.Mode, Format: c.Format, Owner: c.Owner}
}

// visibleClip reports whether the caller may see the clip: the operator
// sees all, a broadcaster its own and those of feeds it is entitled to now.
func (s *server) visibleClip(p principal, c store.Clip) bool {
	return p.admin || c.Owner == p.broadcasterID || s.Store.Snapshot().Entitled(p.broadcasterID, c.FeedID, s.now())
}

// clipOf loads the path's clip for a caller who may see it; for a change
// (mine) the caller must also own it or be the operator.
func (s *server) clipOf(w http.ResponseWriter, r *http.Request, mine bool) (store.Clip, bool) {
	id := chi.URLParam(r, "id")
	c, err := s.Store.Clip(r.Context(), id)
	if errors.Is(err, catalog.ErrNotFound) || (err == nil && !s.visibleClip(who(r), c)) {
		writeError(w, notFound("clip", id))
		return c, false
	}
	if err != nil {
		s.fail(w, r, err)
		return c, false
	}
	if p := who(r); mine && !p.admin && c.Owner != p.broadcasterID {
		writeError(w, apiError(http.StatusForbidden, "forbidden", "", "clip %s was cut by another broadcaster: only it, or the operator, may change it", id))
		return c, false
	}
	return c, true
}

func (s *server) getClip(w http.ResponseWriter, r *http.Request) {
	if c, ok := s.clipOf(w, r, false); ok {
		writeJSON(w, http.StatusOK, toClipJSON(c))
	}
}

type clipPatch struct {
	End         *string   `json:"end"`
	Title       *string   `json:"title"`
	Description *string   `json:"description"`
	Tags        *[]string `json:"tags"`
	Athletes    *[]string `json:"athletes"`
}

// patchClip edits a clip's metadata and marks the end of an open clip.
func (s *server) patchClip(w http.ResponseWriter, r *http.Request) {
	c, ok := s.clipOf(w, r, true)
	if !ok {
		return
	}
	var req clipPatch
	if err := decode(r, &req); err != nil {
		writeError(w, err)
		return
	}
	var edit store.ClipEdit
	var apiErr *Error
	if req.Title != nil {
		title := strings.TrimSpace(*req.Title)
		if title == "" {
			writeError(w, invalid("title", "title must not be empty"))
			return
		}
		edit.Title = &title
	}
	if req.Description != nil {
		edit.Description = req.Description
	}
	if apiErr = checkClipText(deref(edit.Title), deref(edit.Description)); apiErr != nil {
		writeError(w, apiErr)
		return
	}
	for _, f := range []struct {
		field string
		in    *[]string
		out   **[]string
	}{{"tags", req.Tags, &edit.Tags}, {"athletes", req.Athletes, &edit.Athletes}} {
		if f.in == nil {
			continue
		}
		labels, apiErr := cleanLabels(f.field, *f.in)
		if apiErr != nil {
			writeError(w, apiErr)
			return
		}
		*f.out = &labels
	}
	if req.End != nil {
		if !c.Open() {
			writeError(w, apiError(http.StatusConflict, "conflict", "end", "clip %s already ends at %s", c.ID, *clipTime(c.End)))
			return
		}
		end, apiErr := checkClipEnd(*req.End, c.Start, s.now())
		if apiErr != nil {
			writeError(w, apiErr)
			return
		}
		if s.Clips == nil {
			writeError(w, apiError(http.StatusServiceUnavailable, "unavailable", "", "clip cutting is off on this server"))
			return
		}
		if err := s.Clips.SetEnd(c.ID, end); err != nil {
			writeError(w, apiError(http.StatusConflict, "conflict", "end", "the clip engine refused the end: %v", err))
			return
		}
		edit.End = &end
	}
	c, err := s.Store.EditClip(r.Context(), c.ID, edit, s.now())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.ClipUpdates.publish(clipEvent{clip: c})
	writeJSON(w, http.StatusOK, toClipJSON(c))
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// deleteClip stops the clip's export, removes its files and its entry.
func (s *server) deleteClip(w http.ResponseWriter, r *http.Request) {
	c, ok := s.clipOf(w, r, true)
	if !ok {
		return
	}
	if s.Clips != nil {
		if err := s.Clips.Cancel(c.ID); err != nil {
			s.Log.Warn("clip cancel failed", "clip", c.ID, "err", err)
		}
	}
	for _, path := range []string{c.Path, c.Thumbnail} {
		if path == "" {
			continue
		}
		if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			s.Log.Warn("clip file not removed", "clip", c.ID, "path", path, "err", err)
		}
	}
	if err := s.Store.DeleteClip(r.Context(), c.ID); err != nil {
		s.fail(w, r, err)
		return
	}
	s.Log.Info("clip deleted", "clip", c.ID, "feed", c.FeedID)
	s.ClipUpdates.publish(clipEvent{clip: c, deleted: true})
	w.WriteHeader(http.StatusNoContent)
}

// downloadClip serves a ready clip as an attachment, with HTTP ranges.
func (s *server) downloadClip(w http.ResponseWriter, r *http.Request) {
	c, ok := s.clipOf(w, r, false)
	if !ok {
		return
	}
	if c.Status != store.ClipReady || c.Path == "" {
		msg := fmt.Sprintf("clip %s is %s (%.0f%%), not ready", c.ID, c.Status, c.Progress*100)
		if c.Status == store.ClipFailed {
			msg = fmt.Sprintf("clip %s failed: %s", c.ID, c.Error)
		}
		writeError(w, apiError(http.StatusConflict, "not_ready", "", "%s", msg))
		return
	}
	contentType := "video/mp4"
	if c.Format == "ts" {
		contentType = "video/mp2t"
	}
	w.Header().Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": clipFilename(c)}))
	s.serveFile(w, r, c.Path, contentType)
}

// thumbnail serves the clip's JPEG still once the engine has made it.
func (s *server) thumbnail(w http.ResponseWriter, r *http.Request) {
	c, ok := s.clipOf(w, r, false)
	if !ok {
		return
	}
	if c.Thumbnail == "" {
		writeError(w, apiError(http.StatusNotFound, "not_found", "", "clip %s has no thumbnail yet", c.ID))
		return
	}
	w.Header().Set("Cache-Control", "private, max-age=60")
	s.serveFile(w, r, c.Thumbnail, "image/jpeg")
}

func (s *server) serveFile(w http.ResponseWriter, r *http.Request, path, contentType string) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		w.Header().Del("Content-Disposition")
		writeError(w, apiError(http.StatusGone, "gone", "", "the clip's file is missing on the server"))
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", contentType)
	http.ServeContent(w, r, "", info.ModTime(), f)
}

// clipFilename is a download's name: the title in plain ASCII, then the id.
func clipFilename(c store.Clip) string {
	var b strings.Builder
	dash := false
	for _, r := range c.Title {
		switch {
		case r < utf8.RuneSelf && (unicode.IsLetter(r) || unicode.IsDigit(r)):
			b.WriteRune(r)
			dash = false
		case !dash && b.Len() > 0:
			b.WriteByte('-')
			dash = true
		}
		if b.Len() >= 60 {
			break
		}
	}
	name := strings.Trim(b.String(), "-")
	if name != "" {
		name += "-"
	}
	return name + c.ID + "." + c.Format
}

type clipPageJSON struct {
	Clips  []clipJSON                `json:"clips"`
	Facets map[string]map[string]int `json:"facets"`
	Total  int                       `json:"total"`
	Limit  int                       `json:"limit"`
	Offset int                       `json:"offset"`
	// Next is the offset of the next page; null on the last.
	Next *int `json:"next"`
}

// listClips searches the library: full text (q), filters, facet counts
// under the same filters, and pages. A broadcaster searches the clips of
// the feeds it is entitled to now, and its own.
func (s *server) listClips(w http.ResponseWriter, r *http.Request) {
	params := r.URL.Query()
	q := store.ClipQuery{Text: params.Get("q"), Sport: params.Get("sport"), Event: params.Get("event"),
		Athlete: params.Get("athlete"), FeedID: params.Get("feed"), Limit: defaultClipPage}
	if err := store.CheckQueryText(q.Text); err != nil {
		writeError(w, badRequest("q", "%v", err))
		return
	}
	var apiErr *Error
	if q.From, q.To, apiErr = s.queryRange(r); apiErr != nil {
		writeError(w, apiErr)
		return
	}
	for _, f := range []struct {
		name     string
		min, max int
		dst      *int
	}{{"limit", 1, maxClipPage, &q.Limit}, {"offset", 0, 1 << 30, &q.Offset}} {
		if text := params.Get(f.name); text != "" {
			n, err := strconv.Atoi(text)
			if err != nil || n < f.min || n > f.max {
				writeError(w, badRequest(f.name, "%s must be an integer from %d to %d", f.name, f.min, f.max))
				return
			}
			*f.dst = n
		}
	}
	if p := who(r); !p.admin {
		rights := &store.ClipRights{Owner: p.broadcasterID}
		for _, f := range s.Store.Snapshot().EntitledFeeds(p.broadcasterID, s.now()) {
			rights.Feeds = append(rights.Feeds, f.ID)
		}
		q.Rights = rights
	}
	page, err := s.Store.SearchClips(r.Context(), q)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := clipPageJSON{Clips: make([]clipJSON, 0, len(page.Clips)), Facets: page.Facets, Total: page.Total, Limit: q.Limit, Offset: q.Offset}
	for _, c := range page.Clips {
		out.Clips = append(out.Clips, toClipJSON(c))
	}
	if next := q.Offset + len(page.Clips); next < page.Total && len(page.Clips) > 0 {
		out.Next = &next
	}
	writeJSON(w, http.StatusOK, out)
}

// ResubmitClips hands the engine again the clips a stop left queued or
// running, from their start (an open clip stays open: its end comes with a
// PATCH). The app calls it once at start, once the engine runs. A clip the
// engine refuses is marked failed. It returns how many were resubmitted.
func ResubmitClips(ctx context.Context, st *store.Store, engine Clips, updates *ClipUpdates) (int, error) {
	pending, err := st.ClipsWithStatus(ctx, store.ClipQueued, store.ClipRunning)
	if err != nil {
		return 0, fmt.Errorf("resubmit clips: %w", err)
	}
	n := 0
	for _, c := range pending {
		updates.UpdateClip(ClipUpdate{ClipID: c.ID, Status: store.ClipQueued})
		if err := engine.Submit(clipSpec(c)); err != nil {
			updates.UpdateClip(ClipUpdate{ClipID: c.ID, Status: store.ClipFailed, Error: "not resubmitted after a restart: " + err.Error()})
			continue
		}
		n++
	}
	return n, nil
}
