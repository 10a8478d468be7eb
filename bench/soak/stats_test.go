package main

import (
	"math"
	"testing"
	"time"
)

func TestParseBitrate(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int
		bad  bool
	}{
		{in: "10M", want: 10_000_000},
		{in: "2.5M", want: 2_500_000},
		{in: "800k", want: 800_000},
		{in: "1G", want: 1_000_000_000},
		{in: "10000000", want: 10_000_000},
		{in: " 20M ", want: 20_000_000},
		{in: "", bad: true},
		{in: "M", bad: true},
		{in: "-1M", bad: true},
		{in: "0", bad: true},
		{in: "ten", bad: true},
		{in: "1T", bad: true},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := parseBitrate(tc.in)
			if tc.bad {
				if err == nil {
					t.Fatalf("parseBitrate(%q) = %d, want an error", tc.in, got)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("parseBitrate(%q) = %d, %v; want %d", tc.in, got, err, tc.want)
			}
		})
	}
}

func TestSlope(t *testing.T) {
	for _, tc := range []struct {
		name   string
		xs, ys []float64
		want   float64
		ok     bool
	}{
		{name: "flat", xs: []float64{0, 1, 2, 3}, ys: []float64{5, 5, 5, 5}, want: 0, ok: true},
		{name: "line", xs: []float64{2, 3, 4, 5}, ys: []float64{1, 3, 5, 7}, want: 2, ok: true},
		{name: "falling", xs: []float64{0, 1, 2}, ys: []float64{10, 9, 8}, want: -1, ok: true},
		// Noise around a rise of 0.5 per step: the fit finds the trend.
		{name: "noisy", xs: []float64{0, 1, 2, 3, 4, 5}, ys: []float64{10, 10.9, 10.6, 11.8, 11.7, 12.5}, want: 0.46, ok: true},
		{name: "one point", xs: []float64{1}, ys: []float64{1}},
		{name: "same x", xs: []float64{1, 1}, ys: []float64{1, 2}},
		{name: "mismatch", xs: []float64{1, 2}, ys: []float64{1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := slope(tc.xs, tc.ys)
			if ok != tc.ok || math.Abs(got-tc.want) > 1e-3 {
				t.Fatalf("slope = %.4f, %v; want %.4f, %v", got, ok, tc.want, tc.ok)
			}
		})
	}
}

func TestSlopeWindow(t *testing.T) {
	for _, tc := range []struct{ run, want time.Duration }{
		{10 * time.Minute, 2 * time.Minute},
		{20 * time.Minute, 12 * time.Minute},
		{90 * time.Second, 18 * time.Second},
		{5 * time.Minute, time.Minute},
	} {
		if got := slopeWindow(tc.run); got != tc.want {
			t.Errorf("slopeWindow(%v) = %v, want %v", tc.run, got, tc.want)
		}
	}
}

func TestQuantile(t *testing.T) {
	v := []float64{5, 1, 4, 2, 3}
	for _, tc := range []struct {
		q    float64
		want float64
	}{{0, 1}, {0.5, 3}, {0.9, 5}, {1, 5}} {
		if got := quantile(v, tc.q); got != tc.want {
			t.Errorf("quantile(%v) = %v, want %v", tc.q, got, tc.want)
		}
	}
	if v[0] != 5 {
		t.Error("quantile sorted its argument")
	}
	if got := quantile([]time.Duration(nil), 0.5); got != 0 {
		t.Errorf("quantile of nothing = %v", got)
	}
}
