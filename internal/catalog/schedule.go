package catalog

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// Session is one entry of the Games schedule: an event's phase at a venue,
// between two instants, and the feeds that carry it. A clip cut from one of
// those feeds within the session inherits its sport, event, phase and venue.
type Session struct {
	ID    string
	Sport string
	Event string
	// Phase is optional ("Heats", "Final").
	Phase string
	Venue string
	// Start is inclusive, End exclusive; End is after Start.
	Start, End time.Time
	// FeedIDs may be empty: a session nobody carries yet.
	FeedIDs []string
}

// Schedule limits.
const (
	// MaxScheduleRows is the most sessions one import may carry.
	MaxScheduleRows = 20000
	// MaxSessionFeeds is the most feeds one session may name.
	MaxSessionFeeds = 64
	maxSessionText  = 200
)

// ScheduleColumns are the fields of a session, in the order of the CSV
// header and of the JSON objects of an import.
var ScheduleColumns = []string{"id", "sport", "event", "phase", "venue", "start", "end", "feed_ids"}

var sessionIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$`)

// Validate checks a session on its own; whether its feeds exist is the store's to check.
func (s Session) Validate() *FieldError {
	if s.ID == "" {
		return fieldErr("id", "is required")
	}
	if !sessionIDPattern.MatchString(s.ID) {
		return fieldErr("id", "must match [A-Za-z0-9][A-Za-z0-9._:-]{0,127}")
	}
	for _, f := range []struct {
		field, value string
		required     bool
	}{{"sport", s.Sport, true}, {"event", s.Event, true}, {"phase", s.Phase, false}, {"venue", s.Venue, true}} {
		if f.value == "" && !f.required {
			continue
		}
		if err := checkName(f.field, f.value); err != nil {
			return err
		}
	}
	if s.Start.IsZero() {
		return fieldErr("start", "is required")
	}
	if s.End.IsZero() {
		return fieldErr("end", "is required")
	}
	if !s.End.After(s.Start) {
		return fieldErr("end", "must be after start")
	}
	if len(s.FeedIDs) > MaxSessionFeeds {
		return fieldErr("feed_ids", "must name at most %d feeds", MaxSessionFeeds)
	}
	seen := make(map[string]bool, len(s.FeedIDs))
	for _, id := range s.FeedIDs {
		if !ValidID(id) {
			return fieldErr("feed_ids", "%q is not a feed id", id)
		}
		if seen[id] {
			return fieldErr("feed_ids", "names %q twice", id)
		}
		seen[id] = true
	}
	return nil
}

// Covers reports whether instant t falls within the session.
func (s Session) Covers(t time.Time) bool { return !t.Before(s.Start) && t.Before(s.End) }

// RowError is a schedule import's fault: the line it is on (1-based: a JSON
// array's element number, or a CSV line counting the header; 0 for the
// document as a whole) and the field at fault, if any.
type RowError struct {
	Line    int
	Field   string
	Message string
}

func (e *RowError) Error() string {
	var b strings.Builder
	if e.Line > 0 {
		fmt.Fprintf(&b, "line %d: ", e.Line)
	}
	if e.Field != "" {
		b.WriteString(e.Field + ": ")
	}
	b.WriteString(e.Message)
	return b.String()
}

func rowErr(line int, field, format string, args ...any) *RowError {
	return &RowError{Line: line, Field: field, Message: fmt.Sprintf(format, args...)}
}

// ParseScheduleJSON reads a schedule import given as a JSON array of
// {"id","sport","event","phase","venue","start","end","feed_ids"} objects
// (RFC 3339 times). Every session is validated and ids must be unique;
// the first fault is returned as a *RowError. lines[i] is the line of
// sessions[i]: its element number.
func ParseScheduleJSON(data []byte) (sessions []Session, lines []int, err error) {
	var elems []json.RawMessage
	if err := json.Unmarshal(data, &elems); err != nil {
		return nil, nil, rowErr(0, "", "not a JSON array of sessions: %v", err)
	}
	if len(elems) > MaxScheduleRows {
		return nil, nil, rowErr(0, "", "at most %d sessions per import, not %d", MaxScheduleRows, len(elems))
	}
	out := make([]Session, 0, len(elems))
	for i, elem := range elems {
		var row struct {
			ID      string   `json:"id"`
			Sport   string   `json:"sport"`
			Event   string   `json:"event"`
			Phase   string   `json:"phase"`
			Venue   string   `json:"venue"`
			Start   string   `json:"start"`
			End     string   `json:"end"`
			FeedIDs []string `json:"feed_ids"`
		}
		dec := json.NewDecoder(bytes.NewReader(elem))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&row); err != nil {
			return nil, nil, jsonRowError(i+1, err)
		}
		s := Session{ID: row.ID, Sport: row.Sport, Event: row.Event, Phase: row.Phase, Venue: row.Venue, FeedIDs: row.FeedIDs}
		if err := parseSessionTimes(&s, row.Start, row.End); err != nil {
			err.Line = i + 1
			return nil, nil, err
		}
		out = append(out, s)
		lines = append(lines, i+1)
	}
	if err := checkSessions(out, lines); err != nil {
		return nil, nil, err
	}
	return out, lines, nil
}

func jsonRowError(line int, err error) *RowError {
	var typeErr *json.UnmarshalTypeError
	switch {
	case errors.As(err, &typeErr) && typeErr.Field != "":
		field, _, _ := strings.Cut(typeErr.Field, ".")
		want := "a string"
		if field == "feed_ids" {
			want = "an array of feed ids"
		}
		return rowErr(line, field, "must be %s, not %s", want, typeErr.Value)
	case errors.As(err, &typeErr):
		return rowErr(line, "", "must be an object, not %s", typeErr.Value)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		field := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return rowErr(line, field, "unknown field (the fields are %s)", strings.Join(ScheduleColumns, ", "))
	}
	return rowErr(line, "", "%v", err)
}

// ParseScheduleCSV reads a schedule import given as CSV: a header row
// naming the columns (id, sport, event, phase, venue, start, end, feed_ids,
// in any order; phase and feed_ids may be left out), then a session per
// row, with feed_ids separated by ";". Lines are counted from the header's,
// 1, and follow quoted line breaks; lines[i] is the line sessions[i] starts on.
func ParseScheduleCSV(r io.Reader) (sessions []Session, lines []int, err error) {
	cr := csv.NewReader(r)
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, nil, rowErr(1, "", "empty CSV: expected a header row (%s)", strings.Join(ScheduleColumns, ","))
	}
	if err != nil {
		return nil, nil, csvError(err)
	}
	column := make(map[string]int, len(header))
	for i, name := range header {
		name = strings.TrimSpace(strings.TrimPrefix(name, "\ufeff"))
		if !slices.Contains(ScheduleColumns, name) {
			return nil, nil, rowErr(1, name, "unknown column (the columns are %s)", strings.Join(ScheduleColumns, ", "))
		}
		if _, dup := column[name]; dup {
			return nil, nil, rowErr(1, name, "column named twice")
		}
		column[name] = i
	}
	for _, name := range []string{"id", "sport", "event", "venue", "start", "end"} {
		if _, ok := column[name]; !ok {
			return nil, nil, rowErr(1, name, "missing column")
		}
	}
	var out []Session
	for {
		record, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, nil, csvError(err)
		}
		line, _ := cr.FieldPos(0)
		if len(out) == MaxScheduleRows {
			return nil, nil, rowErr(line, "", "at most %d sessions per import", MaxScheduleRows)
		}
		get := func(name string) string {
			if i, ok := column[name]; ok {
				return strings.TrimSpace(record[i])
			}
			return ""
		}
		s := Session{ID: get("id"), Sport: get("sport"), Event: get("event"), Phase: get("phase"), Venue: get("venue")}
		if ids := get("feed_ids"); ids != "" {
			for id := range strings.SplitSeq(ids, ";") {
				s.FeedIDs = append(s.FeedIDs, strings.TrimSpace(id))
			}
		}
		if err := parseSessionTimes(&s, get("start"), get("end")); err != nil {
			err.Line = line
			return nil, nil, err
		}
		out = append(out, s)
		lines = append(lines, line)
	}
	if err := checkSessions(out, lines); err != nil {
		return nil, nil, err
	}
	return out, lines, nil
}

func csvError(err error) *RowError {
	var parseErr *csv.ParseError
	if errors.As(err, &parseErr) {
		return rowErr(parseErr.Line, "", "bad CSV: %v", parseErr.Err)
	}
	return rowErr(0, "", "bad CSV: %v", err)
}

// parseSessionTimes sets s.Start and s.End from RFC 3339 texts; an empty
// text leaves the time zero for Validate to report.
func parseSessionTimes(s *Session, start, end string) *RowError {
	for _, f := range []struct {
		field, text string
		dst         *time.Time
	}{{"start", start, &s.Start}, {"end", end, &s.End}} {
		if f.text == "" {
			continue
		}
		t, err := time.Parse(time.RFC3339, f.text)
		if err != nil {
			return rowErr(0, f.field, "must be an RFC 3339 time (2028-07-14T20:00:00Z), not %q", truncate(f.text, 40))
		}
		*f.dst = t
	}
	return nil
}

// checkSessions validates every session and the uniqueness of their ids;
// lines[i] is the line reported for sessions[i].
func checkSessions(sessions []Session, lines []int) *RowError {
	first := make(map[string]int, len(sessions))
	for i, s := range sessions {
		if err := s.Validate(); err != nil {
			return rowErr(lines[i], err.Field, "%s", err.Message)
		}
		if j, dup := first[s.ID]; dup {
			return rowErr(lines[i], "id", "%q is already on line %d of this import", s.ID, lines[j])
		}
		first[s.ID] = i
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
