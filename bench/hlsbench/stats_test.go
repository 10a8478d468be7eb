package main

import (
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	v := []float64{5, 1, 4, 2, 3}
	for p, want := range map[float64]float64{0: 1, 50: 3, 100: 5, 10: 1.4, 90: 4.6} {
		if got := percentile(v, p); got != want {
			t.Errorf("p%v = %v, want %v", p, got, want)
		}
	}
	if got := median([]float64{1, 2, 3, 10}); got != 2.5 {
		t.Errorf("median of 4 = %v", got)
	}
	if got := median([]time.Duration(nil)); got != 0 {
		t.Errorf("median of none = %v", got)
	}
	if v[0] != 5 {
		t.Error("percentile sorted its input")
	}
}
