package srtserver

import (
	"testing"
	"time"
)

func TestBackoff(t *testing.T) {
	b := backoff{cfg: DefaultCallConfig}
	var got []time.Duration
	for range 7 {
		got = append(got, b.delay(0))
	}
	want := []time.Duration{500 * time.Millisecond, time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 10 * time.Second, 10 * time.Second}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("waits %v, want %v", got, want)
		}
	}
	if d := b.delay(59 * time.Second); d != 10*time.Second {
		t.Errorf("after a connection of 59 s: %v, want 10s", d)
	}
	if d := b.delay(time.Minute); d != 500*time.Millisecond {
		t.Errorf("after a healthy minute: %v, want 500ms", d)
	}
	if d := b.delay(0); d != time.Second {
		t.Errorf("then: %v, want 1s", d)
	}
}
