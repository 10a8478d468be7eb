package harness

import (
	"maps"
	"strings"
	"testing"
)

func TestStampRoundTrip(t *testing.T) {
	media := make([]byte, 20*PacketSize)
	for i := range 20 {
		media[i*PacketSize] = 0x47
		media[i*PacketSize+1] = byte(i) // PIDs 0x000..0x013
	}
	src := &Source{media: media}
	for _, want := range []Stamp{{Session: 1, Seq: 0}, {Session: 7, Seq: 3}, {Session: 0xFFFFFFFF, Seq: 1 << 40}} {
		chunk := src.AppendChunk(nil, want)
		if len(chunk) != ChunkSize {
			t.Fatalf("chunk of %d bytes, want %d", len(chunk), ChunkSize)
		}
		for i := range mediaPerChunk {
			if _, ok := ReadStamp(chunk[i*PacketSize : (i+1)*PacketSize]); ok {
				t.Errorf("media packet %d read as a stamp", i)
			}
		}
		got, ok := ReadStamp(chunk[mediaPerChunk*PacketSize:])
		if !ok || got != want {
			t.Errorf("ReadStamp = %+v, %v; want %+v", got, ok, want)
		}
	}
}

func TestParseStat(t *testing.T) {
	// A command name with spaces and a parenthesis, as /proc allows.
	line := "4242 (srt live (x)) S 1 4242 4242 0 -1 4194560 1234 0 0 0 150 25 7 3 20 0 4 0 123456 1000000 500 18446744073709551615"
	got, err := parseStat(4242, []byte(line))
	if err != nil {
		t.Fatal(err)
	}
	if want := (procStat{utime: 150, stime: 25, cutime: 7, cstime: 3}); got != want {
		t.Errorf("parseStat = %+v, want %+v", got, want)
	}
	for _, bad := range []string{"4242 srt S 1", "4242 (srt) S 1 2 3", "4242 (srt) S 1 4242 4242 0 -1 4194560 1234 0 0 0 x 25 7 3 20"} {
		if _, err := parseStat(4242, []byte(bad)); err == nil {
			t.Errorf("parseStat(%q) gave no error", bad)
		}
	}
}

func TestReplaceSection(t *testing.T) {
	const begin, end = "<!-- x:begin -->", "<!-- x:end -->"
	section := begin + "\nnew\n" + end
	for _, tc := range []struct{ name, doc, want string }{
		{name: "empty", doc: "", want: benchmarksHeader + section + "\n"},
		{name: "replace", doc: "# B\n\n" + begin + "\nold\n" + end + "\n\n<!-- y:begin -->\ny\n<!-- y:end -->\n",
			want: "# B\n\n" + section + "\n\n<!-- y:begin -->\ny\n<!-- y:end -->\n"},
		{name: "append", doc: "# B\n\n<!-- y:begin -->\ny\n<!-- y:end -->\n\n\n",
			want: "# B\n\n<!-- y:begin -->\ny\n<!-- y:end -->\n\n" + section + "\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := replaceSection(tc.doc, begin, end, section); got != tc.want {
				t.Errorf("got\n%s\nwant\n%s", got, tc.want)
			}
		})
	}
}

func TestCountLog(t *testing.T) {
	log := strings.Join([]string{
		`time=2026-11-25T10:19:07.997Z level=INFO msg="srt delivery close" feed=f reason="reader fell too far behind the live edge" bytes=5`,
		`time=2026-11-25T10:19:08.000Z level=INFO msg="srt delivery close" feed=f reason=shutdown bytes=5`,
		`time=2026-11-25T10:19:09.000Z level=INFO msg="srt delivery close" feed=f reason="reader fell too far behind the live edge" bytes=5`,
		`time=2026-11-25T10:19:15.567Z level=INFO msg="feed source on air" feed=f source=primary from=backup reason="backup stalled for 500ms"`,
		`time=2026-11-25T10:19:16.000Z level=INFO msg="srt delivery close" feed=f bytes=5`,
	}, "\n")
	got := countLog(strings.NewReader(log), "srt delivery close", "reason")
	want := map[string]int{"reader fell too far behind the live edge": 2, "shutdown": 1, "?": 1}
	if !maps.Equal(got, want) {
		t.Errorf("closes = %v, want %v", got, want)
	}
	got = countLog(strings.NewReader(log), "feed source on air", "reason")
	if want := map[string]int{"backup stalled for 500ms": 1}; !maps.Equal(got, want) {
		t.Errorf("switches = %v, want %v", got, want)
	}
}

func TestSamplesSum(t *testing.T) {
	s := Samples{
		`podium_feed_readers{feed="a"}`:                                3,
		`podium_feed_readers{feed="b"}`:                                4,
		`podium_feed_readers_cut_lagging_total{feed="a"}`:              9,
		`podium_feed_source_switches_total{feed="a",source="backup"}`:  2,
		`podium_feed_source_switches_total{feed="a",source="primary"}`: 5,
		`go_goroutines`: 70,
		`podium_srt_connections_total{mode="request"}`:                   11,
		`podium_srt_connections_total{mode="publish"}`:                   2,
		`podium_feed_source_switches_total{feed="b",source="backup"}`:    1,
		`podium_feed_bytes_out_total{feed="b"}`:                          1e9,
		`podium_feed_readers_something_else_entirely{feed="c"}`:          100,
		`podium_feed_source_switches_total_created{feed="a",source="x"}`: 100,
	}
	for _, tc := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{name: "podium_feed_readers", want: 7},
		{name: "podium_feed_readers", labels: []string{`feed="b"`}, want: 4},
		{name: "podium_feed_source_switches_total", labels: []string{`source="backup"`}, want: 3},
		{name: "go_goroutines", want: 70},
		{name: "podium_srt_connections_total", labels: []string{`mode="request"`}, want: 11},
		{name: "go_threads", want: 0},
	} {
		if got := s.Sum(tc.name, tc.labels...); got != tc.want {
			t.Errorf("Sum(%s, %v) = %v, want %v", tc.name, tc.labels, got, tc.want)
		}
	}
}
