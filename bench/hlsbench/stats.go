package main

import (
	"slices"
	"time"
)

// percentile returns the p-th percentile (0 to 100) of values, interpolated
// between the nearest ranks; 0 for none.
func percentile[T ~int64 | ~float64](values []T, p float64) T {
	if len(values) == 0 {
		return 0
	}
	s := slices.Clone(values)
	slices.Sort(s)
	rank := p / 100 * float64(len(s)-1)
	lo := int(rank)
	if lo >= len(s)-1 {
		return s[len(s)-1]
	}
	frac := rank - float64(lo)
	return T(float64(s[lo]) + frac*float64(s[lo+1]-s[lo]))
}

func median[T ~int64 | ~float64](values []T) T { return percentile(values, 50) }

// spread summarises a latency distribution.
type spread struct {
	n             int
	p10, p50, p90 time.Duration
	min, max      time.Duration
}

func spreadOf(d []time.Duration) spread {
	if len(d) == 0 {
		return spread{}
	}
	return spread{n: len(d), p10: percentile(d, 10), p50: percentile(d, 50), p90: percentile(d, 90), min: slices.Min(d), max: slices.Max(d)}
}
