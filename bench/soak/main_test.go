package main

import (
	"strings"
	"testing"
	"time"
)

func TestParseFlags(t *testing.T) {
	o, err := parseFlags(nil)
	if err != nil {
		t.Fatal(err)
	}
	if o.feeds != 8 || o.readers != 20 || o.bitrate != 10_000_000 || o.duration != 10*time.Minute || o.out != "BENCHMARKS.md" ||
		o.sampleEvery != 10*time.Second || o.hold != 5*time.Second || o.flat != 1 || o.scaledReaders != 2 {
		t.Errorf("defaults: %+v", o)
	}
	// The default run: 10 planned outages, the last one ending before the soak does.
	if at := o.schedule(); len(at) != 10 || at[0] != 15*time.Second || at[9]+o.eventTime() > o.duration {
		t.Errorf("schedule %v", at)
	}
	o, err = parseFlags([]string{"-duration", "90s", "-feeds", "2", "-readers", "3", "-switch-every", "30s", "-bitrate", "2.5M"})
	if err != nil {
		t.Fatal(err)
	}
	if o.feeds != 2 || o.readers != 3 || o.bitrate != 2_500_000 || len(o.schedule()) != 2 {
		t.Errorf("short run: %+v, schedule %v", o, o.schedule())
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-bitrate", "500k"}, "at least 1M"},
		{[]string{"-bitrate", "fast"}, "-bitrate"},
		{[]string{"-readers", "0"}, "at least 1"},
		{[]string{"-duration", "30s"}, "-duration"},
		{[]string{"-sample", "5m"}, "-sample"},
		{[]string{"-feeds", "1", "-switch-every", "20s"}, "-switch-every × -feeds"},
		{[]string{"-rejoin", "-1s"}, "-rejoin"},
		{[]string{"-outage", "0s"}, "-outage"},
	} {
		if _, err := parseFlags(tc.args); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("parseFlags(%q) = %v, want an error about %s", tc.args, err, tc.want)
		}
	}
}
