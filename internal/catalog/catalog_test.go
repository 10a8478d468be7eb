package catalog

import (
	"strings"
	"testing"
	"time"
)

func TestRefusal(t *testing.T) {
	now := time.Date(2028, 7, 14, 20, 0, 0, 0, time.UTC)
	feeds := []Feed{{ID: "f"}}
	bcs := []Broadcaster{{ID: "b", APIKeyHash: "h"}}
	tests := []struct {
		name   string
		grants []Entitlement
		want   string // "" means entitled
	}{
		{"open window", []Entitlement{{Status: StatusActive}}, ""},
		{"inside window", []Entitlement{{Status: StatusActive, StartsAt: now.Add(-time.Hour), EndsAt: now.Add(time.Hour)}}, ""},
		{"window starts now", []Entitlement{{Status: StatusActive, StartsAt: now}}, ""},
		{"window ends now", []Entitlement{{Status: StatusActive, EndsAt: now}}, "window ended"},
		{"window not open", []Entitlement{{Status: StatusActive, StartsAt: now.Add(time.Minute)}}, "window opens at"},
		{"suspended", []Entitlement{{Status: StatusSuspended}}, "suspended"},
		{"revoked", []Entitlement{{Status: StatusRevoked}}, "revoked"},
		{"none", nil, "no entitlement"},
		{"one of several covers", []Entitlement{{Status: StatusRevoked}, {Status: StatusActive, EndsAt: now.Add(time.Hour)}}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for i := range tc.grants {
				tc.grants[i].ID, tc.grants[i].BroadcasterID, tc.grants[i].FeedID = "e"+string(rune('0'+i)), "b", "f"
			}
			s := NewSnapshot(feeds, bcs, tc.grants)
			got := s.Refusal("b", "f", now)
			if (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) {
				t.Fatalf("Refusal = %q, want %q", got, tc.want)
			}
			if s.Entitled("b", "f", now) != (tc.want == "") {
				t.Fatal("Entitled disagrees with Refusal")
			}
			if n := len(s.EntitledFeeds("b", now)); n != map[bool]int{true: 1, false: 0}[tc.want == ""] {
				t.Fatalf("EntitledFeeds lists %d feeds", n)
			}
		})
	}
	if r := NewSnapshot(nil, bcs, nil).Refusal("b", "f", now); r != "feed does not exist" {
		t.Fatalf("missing feed: %q", r)
	}
}

func TestValidation(t *testing.T) {
	ok := Feed{ID: "ath-100m-final", Name: "Final", Kind: KindMultilateral, PublishPassphrase: "0123456789", BackupPublishPassphrase: "9876543210"}
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	for field, f := range map[string]Feed{
		"id":                 {ID: "-bad", Name: "x", Kind: KindMultilateral, PublishPassphrase: "0123456789"},
		"name":               {ID: "a", Name: "line\nbreak", Kind: KindMultilateral, PublishPassphrase: "0123456789"},
		"kind":               {ID: "a", Name: "x", Kind: "sports", PublishPassphrase: "0123456789"},
		"publish_passphrase": {ID: "a", Name: "x", Kind: KindMultilateral, PublishPassphrase: "has space 123"},
		"backup_publish_passphrase": {ID: "a", Name: "x", Kind: KindMultilateral, PublishPassphrase: "0123456789",
			BackupPublishPassphrase: "0123456789"},
	} {
		if err := f.Validate(); err == nil || err.Field != field {
			t.Errorf("%s: got %v", field, err)
		}
	}
	if err := (Broadcaster{ID: "b", Name: "B", Territories: []string{"FR", "FR"}, SRTPassphrase: "0123456789"}).Validate(); err == nil || err.Field != "territories[1]" {
		t.Errorf("duplicate territory: %v", err)
	}
}
