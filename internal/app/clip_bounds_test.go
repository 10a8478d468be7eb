package app_test

import "testing"

// TestClipFarOutsideTheArchiveIsRefusedAsTheCallersMistake asks the real
// clip engine for clips in year 1 and far ahead: each is the caller's
// mistake (422 naming start), not the server's (503), and none is kept.
func TestClipFarOutsideTheArchiveIsRefusedAsTheCallersMistake(t *testing.T) {
	p := startPodium(t, options{})
	f := p.createFeed("ath-100m-final")
	for _, body := range []string{
		`{"feed_id":"` + f.ID + `","start":"0001-01-01T00:00:00Z","end":"0001-01-01T00:00:10Z"}`,
		`{"feed_id":"` + f.ID + `","start":"0001-01-01T00:00:00Z"}`,
		`{"feed_id":"` + f.ID + `","start":"9999-12-31T23:00:00Z"}`,
	} {
		var refusal struct{ Error struct{ Code, Field string } }
		if status := p.api("POST", "/api/v1/clips", p.AdminToken, body, &refusal); status != 422 || refusal.Error.Field != "start" {
			t.Fatalf("%s: %d %+v, want 422 naming start", body, status, refusal)
		}
	}
	var page struct{ Total int }
	p.mustAPI("GET", "/api/v1/clips", nil, 200, &page)
	if page.Total != 0 {
		t.Fatalf("%d refused clips are in the library", page.Total)
	}
}
