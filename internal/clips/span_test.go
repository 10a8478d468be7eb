package clips

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/podium-broadcast/podium/internal/archive"
)

// fakeSegments returns n segments of 4 s with a keyframe every second; each
// GOP is 1000 bytes after 376 bytes of PSI, and PTS starts at 900000.
func fakeSegments(n int) []archive.Segment {
	const psi, gopBytes = 376, 1000
	var segs []archive.Segment
	for i := range n {
		s := archive.Segment{Feed: "f", Seq: int64(i + 1), Start: t0.Add(time.Duration(4*i) * time.Second),
			Duration: 4 * time.Second, PTS: int64(900000 + 4*i*archive.PTSClock), Key: fmt.Sprintf("/seg/%d.ts", i+1),
			Size: psi + 4*gopBytes}
		s.End = s.Start.Add(s.Duration)
		for k := range 4 {
			s.Keyframes = append(s.Keyframes, archive.Keyframe{Offset: int64(psi + k*gopBytes), PTS: s.PTS + int64(k*archive.PTSClock)})
		}
		segs = append(segs, s)
	}
	return segs
}

func TestPlanSpanCoversTheRangeWithWholeGOPs(t *testing.T) {
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	cases := []struct {
		name       string
		start, end time.Time
		ranges     string
		duration   time.Duration
	}{
		{"inside one GOP", at(1200), at(1800), "/seg/1.ts 0+376 /seg/1.ts 1376+1000", time.Second},
		{"keyframe aligned", at(1000), at(2000), "/seg/1.ts 0+376 /seg/1.ts 1376+1000", time.Second},
		{"across segments", at(2500), at(9500), "/seg/1.ts 0+376 /seg/1.ts 2376+2000 /seg/2.ts 376+4000 /seg/3.ts 376+2000", 8 * time.Second},
		{"end on a segment boundary", at(6000), at(8000), "/seg/2.ts 0+376 /seg/2.ts 2376+2000", 2 * time.Second},
		{"start before the recording", at(-5000), at(500), "/seg/1.ts 0+376 /seg/1.ts 376+1000", time.Second},
		{"end past the last keyframe", at(10200), at(20000), "/seg/3.ts 0+376 /seg/3.ts 2376+2000", 2 * time.Second},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			sp, err := planSpan(fakeSegments(3), c.start, c.end)
			if err != nil {
				t.Fatal(err)
			}
			got := ""
			var size int64
			for i, r := range sp.ranges {
				if i > 0 {
					got += " "
				}
				got += fmt.Sprintf("%s %d+%d", r.key, r.off, r.len)
				size += r.len
			}
			if got != c.ranges || sp.duration != c.duration || sp.size != size {
				t.Fatalf("ranges %q, %s, size %d; want %q, %s", got, sp.duration, sp.size, c.ranges, c.duration)
			}
		})
	}
}

func TestPlanSpanKeepsThePSIOfADiscontinuity(t *testing.T) {
	segs := fakeSegments(2)
	segs[1].Discontinuity = true
	sp, err := planSpan(segs, t0.Add(3500*time.Millisecond), t0.Add(4500*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	if len(sp.ranges) != 3 || sp.ranges[2] != (fileRange{key: "/seg/2.ts", off: 0, len: 1376}) {
		t.Fatalf("ranges %+v: want the second segment from its PAT", sp.ranges)
	}
}

func TestPlanSpanWithoutMedia(t *testing.T) {
	if _, err := planSpan(fakeSegments(1), t0.Add(-2*time.Second), t0.Add(-time.Second)); !errors.Is(err, archive.ErrNoMedia) {
		t.Fatalf("range before the first keyframe: %v, want ErrNoMedia", err)
	}
	if _, err := planSpan([]archive.Segment{{Key: "/empty.ts"}}, t0, t0.Add(time.Second)); !errors.Is(err, archive.ErrNoMedia) {
		t.Fatalf("segment without keyframes: %v, want ErrNoMedia", err)
	}
}

func TestPackLanguage(t *testing.T) {
	for lang, want := range map[string]uint16{"und": 0x55C4, "eng": 0x15C7, "FRA": 0x1A41} {
		if got, ok := packLanguage(lang); !ok || got != want {
			t.Errorf("packLanguage(%q) = %#x, %v; want %#x", lang, got, ok, want)
		}
	}
	for _, bad := range []string{"", "en", "e1g", "engl"} {
		if _, ok := packLanguage(bad); ok {
			t.Errorf("packLanguage(%q) accepted", bad)
		}
	}
}

func TestSubmitRejectsBadSpecs(t *testing.T) {
	e := New(Config{Dir: t.TempDir()}, nil, nil, nil)
	good := Spec{ClipID: "c1", FeedID: "f", Start: t0, End: t0.Add(time.Second)}
	for name, change := range map[string]func(*Spec){
		"id with a slash": func(s *Spec) { s.ClipID = "../x" },
		"no feed":         func(s *Spec) { s.FeedID = "" },
		"mode":            func(s *Spec) { s.Mode = "slow" },
		"format":          func(s *Spec) { s.Format = "mkv" },
		"no start":        func(s *Spec) { s.Start = time.Time{} },
		"end before":      func(s *Spec) { s.End = t0.Add(-time.Second) },
	} {
		s := good
		change(&s)
		if err := e.Submit(s); !errors.Is(err, ErrInvalidSpec) {
			t.Errorf("%s: %v, want ErrInvalidSpec", name, err)
		}
	}
	if err := e.Submit(good); err != nil {
		t.Fatal(err)
	}
	if err := e.Submit(good); !errors.Is(err, ErrInvalidSpec) {
		t.Errorf("second submit of a queued clip: %v", err)
	}
	if err := e.SetEnd("nope", t0.Add(time.Hour)); !errors.Is(err, ErrUnknownClip) {
		t.Errorf("SetEnd of an unknown clip: %v", err)
	}
	if err := e.Cancel(good.ClipID); err != nil {
		t.Fatal(err)
	}
}
