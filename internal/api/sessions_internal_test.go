package api

import (
	"testing"
	"time"
)

func TestSessionsAreBounded(t *testing.T) {
	now := time.Date(2028, 7, 14, 20, 0, 0, 0, time.UTC)
	s := newSessions(func() time.Time { return now })
	s.max = 50
	var values []string
	for range 60 {
		v, _ := s.create(principal{admin: true})
		values = append(values, v)
		now = now.Add(time.Second)
	}
	if len(s.m) != 50 {
		t.Fatalf("%d sessions kept, bound 50", len(s.m))
	}
	if _, ok := s.lookup(values[0]); ok {
		t.Fatal("the oldest session outlived the bound")
	}
	if _, ok := s.lookup(values[59]); !ok {
		t.Fatal("the newest session was dropped")
	}
}
