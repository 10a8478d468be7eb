package main

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// parseBitrate reads a bitrate in bit/s, with an optional k, M or G suffix
// (powers of 1000): "10M", "2.5M", "800k", "10000000".
func parseBitrate(s string) (int, error) {
	s = strings.TrimSpace(s)
	mult := 1.0
	switch {
	case strings.HasSuffix(s, "k"), strings.HasSuffix(s, "K"):
		mult = 1e3
	case strings.HasSuffix(s, "M"):
		mult = 1e6
	case strings.HasSuffix(s, "G"):
		mult = 1e9
	}
	if mult > 1 {
		s = s[:len(s)-1]
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || v <= 0 || math.IsInf(v, 0) || v*mult > 1e11 {
		return 0, fmt.Errorf("bitrate %q: want a positive number of bit/s, e.g. 10M", s)
	}
	return int(math.Round(v * mult)), nil
}

// slope fits y = a + b·x by least squares and returns b; ok is false with
// fewer than two distinct x.
func slope(xs, ys []float64) (b float64, ok bool) {
	n := float64(len(xs))
	if len(xs) < 2 || len(xs) != len(ys) {
		return 0, false
	}
	var sx, sy float64
	for i := range xs {
		sx += xs[i]
		sy += ys[i]
	}
	mx, my := sx/n, sy/n
	var sxx, sxy float64
	for i := range xs {
		sxx += (xs[i] - mx) * (xs[i] - mx)
		sxy += (xs[i] - mx) * (ys[i] - my)
	}
	if sxx == 0 {
		return 0, false
	}
	return sxy / sxx, true
}

// slopeWindow is the part of a run over which memory's slope is fitted: the
// last eight minutes, but never the first fifth of the run, where Podium's
// buffers and the Go heap are still growing to their working size.
func slopeWindow(duration time.Duration) (from time.Duration) {
	return max(duration/5, duration-8*time.Minute)
}

// quantile returns the q-quantile (0 ≤ q ≤ 1) of v by the nearest rank; v
// need not be sorted. It returns 0 for no values.
func quantile[T int64 | float64 | time.Duration](v []T, q float64) T {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	i := int(math.Ceil(q*float64(len(s)))) - 1
	return s[min(max(i, 0), len(s)-1)]
}
