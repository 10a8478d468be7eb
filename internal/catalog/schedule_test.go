package catalog

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestParseScheduleReadsJSONAndCSVAlike(t *testing.T) {
	jsonDoc := `[
	 {"id":"ATH-M100-SF","sport":"Athletics","event":"Men's 100m","phase":"Semi-final","venue":"Olympic Stadium",
	  "start":"2028-07-14T19:00:00Z","end":"2028-07-14T19:30:00Z","feed_ids":["ath-100m-final","venue-ols-mlf"]},
	 {"id":"ATH-M100-F","sport":"Athletics","event":"Men's 100m","venue":"Olympic Stadium",
	  "start":"2028-07-14T21:50:00+02:00","end":"2028-07-14T22:10:00+02:00"}
	]`
	csvDoc := "id,sport,event,phase,venue,start,end,feed_ids\n" +
		"ATH-M100-SF,Athletics,Men's 100m,Semi-final,Olympic Stadium,2028-07-14T19:00:00Z,2028-07-14T19:30:00Z,ath-100m-final;venue-ols-mlf\n" +
		"ATH-M100-F,Athletics,Men's 100m,,Olympic Stadium,2028-07-14T21:50:00+02:00,2028-07-14T22:10:00+02:00,\n"
	fromJSON, _, err := ParseScheduleJSON([]byte(jsonDoc))
	if err != nil {
		t.Fatal(err)
	}
	fromCSV, lines, err := ParseScheduleCSV(strings.NewReader(csvDoc))
	if err != nil {
		t.Fatal(err)
	}
	if len(lines) != 2 || lines[1] != 3 {
		t.Fatalf("CSV lines: %v", lines)
	}
	for _, got := range [][]Session{fromJSON, fromCSV} {
		if len(got) != 2 || got[0].Phase != "Semi-final" || len(got[0].FeedIDs) != 2 || got[0].FeedIDs[1] != "venue-ols-mlf" ||
			!got[1].Start.Equal(time.Date(2028, 7, 14, 19, 50, 0, 0, time.UTC)) || len(got[1].FeedIDs) != 0 {
			t.Fatalf("parsed: %+v", got)
		}
	}
}

func TestParseScheduleNamesLineAndField(t *testing.T) {
	const head = "id,sport,event,phase,venue,start,end,feed_ids\n"
	const good = "A,Athletics,100m,Final,Stadium,2028-07-14T19:00:00Z,2028-07-14T19:30:00Z,f1\n"
	tests := []struct {
		name  string
		csv   bool
		doc   string
		line  int
		field string
	}{
		{"json: not an array", false, `{"id":"A"}`, 0, ""},
		{"json: element not an object", false, `[1]`, 1, ""},
		{"json: missing sport", false, `[{"id":"A","event":"e","venue":"v","start":"2028-07-14T19:00:00Z","end":"2028-07-14T20:00:00Z"}]`, 1, "sport"},
		{"json: unknown field", false, `[{"id":"A","colour":"red"}]`, 1, "colour"},
		{"json: wrong type", false, `[{"id":"A","feed_ids":"f1"}]`, 1, "feed_ids"},
		{"json: bad time on the second", false, `[{"id":"A","sport":"s","event":"e","venue":"v","start":"2028-07-14T19:00:00Z","end":"2028-07-14T20:00:00Z"},
			{"id":"B","sport":"s","event":"e","venue":"v","start":"tomorrow","end":"2028-07-14T20:00:00Z"}]`, 2, "start"},
		{"json: end before start", false, `[{"id":"A","sport":"s","event":"e","venue":"v","start":"2028-07-14T19:00:00Z","end":"2028-07-14T19:00:00Z"}]`, 1, "end"},
		{"json: duplicate id", false, `[{"id":"A","sport":"s","event":"e","venue":"v","start":"2028-07-14T19:00:00Z","end":"2028-07-14T20:00:00Z"},
			{"id":"A","sport":"s","event":"e","venue":"v","start":"2028-07-14T19:00:00Z","end":"2028-07-14T20:00:00Z"}]`, 2, "id"},
		{"csv: empty", true, "", 1, ""},
		{"csv: unknown column", true, "id,sport,event,venue,start,end,colour\n", 1, "colour"},
		{"csv: missing column", true, "id,sport,event,venue,start\n", 1, "end"},
		{"csv: wrong field count", true, head + good + "B,Athletics\n", 3, ""},
		{"csv: bad quote", true, head + good + "\"B,Athletics\n", 3, ""},
		{"csv: missing venue", true, head + good + "B,Athletics,100m,Final,,2028-07-14T19:00:00Z,2028-07-14T19:30:00Z,f1\n", 3, "venue"},
		{"csv: bad feed id", true, head + "B,Athletics,100m,Final,V,2028-07-14T19:00:00Z,2028-07-14T19:30:00Z,f1;Bad Feed\n", 2, "feed_ids"},
		{"csv: duplicate id", true, head + good + good, 3, "id"},
		{"csv: line after a quoted line break", true, head + "\"A\",\"Ath\nletics\",100m,,V,2028-07-14T19:00:00Z,2028-07-14T19:30:00Z,\n" +
			"B,Athletics,100m,,V,2028-07-14T19:00:00Z,soon,\n", 4, "end"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			if tc.csv {
				_, _, err = ParseScheduleCSV(strings.NewReader(tc.doc))
			} else {
				_, _, err = ParseScheduleJSON([]byte(tc.doc))
			}
			var rowErr *RowError
			if !errors.As(err, &rowErr) || rowErr.Line != tc.line || rowErr.Field != tc.field || rowErr.Message == "" {
				t.Fatalf("%v (%#v), want line %d field %q", err, rowErr, tc.line, tc.field)
			}
		})
	}
}

// checkParsed holds for every schedule a parser accepts: each session is
// valid on its own and the ids are unique.
func checkParsed(t *testing.T, sessions []Session, err error) {
	t.Helper()
	if err != nil {
		var rowErr *RowError
		if !errors.As(err, &rowErr) || rowErr.Line < 0 || rowErr.Message == "" {
			t.Fatalf("error is not a RowError with a line: %#v", err)
		}
		return
	}
	ids := map[string]bool{}
	for _, s := range sessions {
		if err := s.Validate(); err != nil {
			t.Fatalf("accepted an invalid session %+v: %v", s, err)
		}
		if ids[s.ID] {
			t.Fatalf("accepted id %q twice", s.ID)
		}
		ids[s.ID] = true
	}
}

// FuzzParseScheduleJSON: any input is refused with a RowError or read into valid sessions with unique ids.
func FuzzParseScheduleJSON(f *testing.F) {
	f.Add([]byte(`[{"id":"A","sport":"s","event":"e","venue":"v","start":"2028-07-14T19:00:00Z","end":"2028-07-14T20:00:00Z","feed_ids":["f1"]}]`))
	f.Add([]byte(`[{"id":"A"},{"id":"A"}]`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, doc []byte) {
		sessions, _, err := ParseScheduleJSON(doc)
		checkParsed(t, sessions, err)
	})
}

// FuzzParseScheduleCSV: any input is refused with a RowError or read into valid sessions with unique ids.
func FuzzParseScheduleCSV(f *testing.F) {
	f.Add("id,sport,event,phase,venue,start,end,feed_ids\nA,s,e,,v,2028-07-14T19:00:00Z,2028-07-14T20:00:00Z,f1;f2\n")
	f.Add("id,sport,event,venue,start,end\n\"A\nB\",s,e,v,2028-07-14T19:00:00Z,2028-07-14T20:00:00Z\n")
	f.Add("\ufeffid,sport\n")
	f.Fuzz(func(t *testing.T, doc string) {
		sessions, _, err := ParseScheduleCSV(strings.NewReader(doc))
		checkParsed(t, sessions, err)
	})
}
