package main

import "testing"

func TestCount(t *testing.T) {
	for _, tc := range []struct {
		n     int
		thing string
		want  string
	}{
		{1, "feed", "1 feed"},
		{8, "feed", "8 feeds"},
		{0, "receiver", "0 receivers"},
		{2, "primary", "2 primaries"},
		{1, "restarted primary", "1 restarted primary"},
		{3, "unplanned switch", "3 unplanned switches"},
		{176, "SRT peer", "176 SRT peers"},
		{2, "receiver process", "2 receiver processes"},
	} {
		if got := count(tc.n, tc.thing); got != tc.want {
			t.Errorf("count(%d, %q) = %q, want %q", tc.n, tc.thing, got, tc.want)
		}
	}
	if times(1) != "once" || times(2) != "twice" || times(5) != "5 times" {
		t.Errorf("times: %q %q %q", times(1), times(2), times(5))
	}
}
