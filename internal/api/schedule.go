package api

import (
	"bytes"
	"errors"
	"io"
	"mime"
	"net/http"
	"strconv"
	"time"

	"github.com/podium-broadcast/podium/internal/catalog"
	"github.com/podium-broadcast/podium/internal/store"
)

// maxScheduleBody bounds a schedule import: some 20,000 sessions.
const maxScheduleBody = 8 << 20

type scheduleSessionJSON struct {
	ID      string   `json:"id"`
	Sport   string   `json:"sport"`
	Event   string   `json:"event"`
	Phase   string   `json:"phase"`
	Venue   string   `json:"venue"`
	Start   *string  `json:"start"`
	End     *string  `json:"end"`
	FeedIDs []string `json:"feed_ids"`
}

type importJSON struct {
	Imported int `json:"imported"`
	Created  int `json:"created"`
	Updated  int `json:"updated"`
}

// importSchedule adds sessions to the schedule, or replaces those with the
// same id, from a JSON array or from CSV. A fault anywhere refuses the
// whole import with 422, naming the line and the field.
func (s *server) importSchedule(w http.ResponseWriter, r *http.Request) {
	mediaType, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mediaType != "application/json" && mediaType != "text/csv" {
		writeError(w, apiError(http.StatusUnsupportedMediaType, "unsupported_media_type", "",
			"send the schedule as application/json (an array of sessions) or text/csv, not %q", mediaType))
		return
	}
	if r.ContentLength > maxScheduleBody {
		writeError(w, errTooLarge(maxScheduleBody))
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, maxScheduleBody))
	if e := bodyError(err); e != nil {
		writeError(w, e)
		return
	}
	if err != nil {
		writeError(w, badRequest("", "reading the body: %v", err))
		return
	}
	var sessions []catalog.Session
	var lines []int
	if mediaType == "text/csv" {
		sessions, lines, err = catalog.ParseScheduleCSV(bytes.NewReader(body))
	} else {
		sessions, lines, err = catalog.ParseScheduleJSON(body)
	}
	if err != nil {
		writeError(w, importError(err))
		return
	}
	created, updated, err := s.Store.ImportSchedule(r.Context(), sessions, s.now())
	var refused *store.ImportError
	var ref *store.RefError
	if errors.As(err, &refused) && errors.As(err, &ref) {
		e := fromDomain(ref)
		e.Line = lines[refused.Index]
		writeError(w, e)
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.Log.Info("schedule imported", "sessions", len(sessions), "created", created, "updated", updated)
	writeJSON(w, http.StatusOK, importJSON{Imported: len(sessions), Created: created, Updated: updated})
}

// importError answers a refused import: 422 naming the line and field, or
// 400 for a document that is not an array at all.
func importError(err error) *Error {
	var rowErr *catalog.RowError
	if !errors.As(err, &rowErr) {
		return badRequest("", "%v", err)
	}
	if rowErr.Line == 0 {
		return badRequest(rowErr.Field, "%s", rowErr.Message)
	}
	e := invalid(rowErr.Field, "%s", rowErr.Error())
	e.Line = rowErr.Line
	return e
}

// defaultSessionPage and maxSessionPage bound GET /sessions pages.
const (
	defaultSessionPage = 100
	maxSessionPage     = 1000
)

type sessionPageJSON struct {
	Sessions []scheduleSessionJSON `json:"sessions"`
	Total    int                   `json:"total"`
	Limit    int                   `json:"limit"`
	Offset   int                   `json:"offset"`
	// Next is the offset of the next page; null on the last.
	Next *int `json:"next"`
}

// listSessions lists a page of the schedule's sessions overlapping [from,
// to], by sport and venue. Broadcasters see every session (the schedule is
// public) but, of the feeds carrying it, only those they are entitled to now.
func (s *server) listSessions(w http.ResponseWriter, r *http.Request) {
	q := store.SessionQuery{Sport: r.URL.Query().Get("sport"), Venue: r.URL.Query().Get("venue")}
	var apiErr *Error
	if q.From, q.To, apiErr = s.queryRange(r); apiErr != nil {
		writeError(w, apiErr)
		return
	}
	limit, offset := defaultSessionPage, 0
	for _, f := range []struct {
		name     string
		min, max int
		dst      *int
	}{{"limit", 1, maxSessionPage, &limit}, {"offset", 0, 1 << 30, &offset}} {
		if text := r.URL.Query().Get(f.name); text != "" {
			n, err := strconv.Atoi(text)
			if err != nil || n < f.min || n > f.max {
				writeError(w, badRequest(f.name, "%s must be an integer from %d to %d", f.name, f.min, f.max))
				return
			}
			*f.dst = n
		}
	}
	sessions, err := s.Store.Sessions(r.Context(), q)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := sessionPageJSON{Sessions: []scheduleSessionJSON{}, Total: len(sessions), Limit: limit, Offset: offset}
	page := sessions[min(offset, len(sessions)):min(offset+limit, len(sessions))]
	snap := s.Store.Snapshot()
	for _, ses := range page {
		feeds := []string{}
		for _, id := range ses.FeedIDs {
			if s.visibleFeed(r, snap, id) {
				feeds = append(feeds, id)
			}
		}
		out.Sessions = append(out.Sessions, scheduleSessionJSON{ID: ses.ID, Sport: ses.Sport, Event: ses.Event, Phase: ses.Phase, Venue: ses.Venue,
			Start: formatTime(ses.Start), End: formatTime(ses.End), FeedIDs: feeds})
	}
	if next := offset + len(page); next < len(sessions) && len(page) > 0 {
		out.Next = &next
	}
	writeJSON(w, http.StatusOK, out)
}

// queryRange reads a request's ?from= and ?to= with queryTime.
func (s *server) queryRange(r *http.Request) (from, to time.Time, err *Error) {
	if from, err = s.queryTime(r, "from"); err != nil {
		return from, to, err
	}
	to, err = s.queryTime(r, "to")
	return from, to, err
}

// queryTime reads an optional time parameter: RFC 3339, or "now" with an
// optional offset ("now-30s").
func (s *server) queryTime(r *http.Request, name string) (time.Time, *Error) {
	text := r.URL.Query().Get(name)
	if text == "" {
		return time.Time{}, nil
	}
	t, ok := parseInstant(text, s.now())
	if !ok {
		return time.Time{}, badRequest(name, `%s must be an RFC 3339 time or "now", not %q`, name, text)
	}
	return t, nil
}
