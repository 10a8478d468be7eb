package hls

import (
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"
)

func testSigner(t *testing.T) *Signer {
	t.Helper()
	s, err := NewSigner([]byte(strings.Repeat("k", 32)))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestTokenRoundTripAndRefusals(t *testing.T) {
	s := testSigner(t)
	now := time.Date(2028, 7, 14, 20, 0, 0, 0, time.UTC)
	c := Claims{FeedID: "ath-100m-final", BroadcasterID: "rtv", Generation: 0xfeedc0de12345678, Expires: now.Add(time.Hour)}
	token := s.Sign(c)
	got, err := s.Verify(token, now)
	if err != nil || got.FeedID != c.FeedID || got.BroadcasterID != c.BroadcasterID || got.Generation != c.Generation || !got.Expires.Equal(c.Expires) {
		t.Fatalf("verify: %+v %v", got, err)
	}
	other, _ := NewSigner([]byte(strings.Repeat("x", 32)))
	payload, mac, _ := strings.Cut(token, ".")
	forged := Claims{FeedID: "ath-100m-final", BroadcasterID: "nbc", Expires: c.Expires}
	forgedPayload, _, _ := strings.Cut(s.Sign(forged), ".")
	reborn := c
	reborn.Generation++
	rebornPayload, _, _ := strings.Cut(s.Sign(reborn), ".")
	// The format before generations: feed~broadcaster~expiry, validly signed.
	old := base64.RawURLEncoding.EncodeToString([]byte("ath-100m-final~rtv~" + strconv.FormatInt(c.Expires.Unix(), 10)))
	oldMAC := base64.RawURLEncoding.EncodeToString(s.mac("ath-100m-final~rtv~" + strconv.FormatInt(c.Expires.Unix(), 10)))
	tests := []struct {
		name  string
		token string
		at    time.Time
		want  error
	}{
		{"expired", token, now.Add(time.Hour), ErrTokenExpired},
		{"other key", other.Sign(c), now, ErrTokenSignature},
		{"payload swapped", forgedPayload + "." + mac, now, ErrTokenSignature},
		{"generation changed", rebornPayload + "." + mac, now, ErrTokenSignature},
		{"signed without a generation", old + "." + oldMAC, now, ErrTokenMalformed},
		{"no mac", payload, now, ErrTokenMalformed},
		{"garbage", "%%%.%%%", now, ErrTokenMalformed},
		{"empty", "", now, ErrTokenMalformed},
		{"short mac", payload + "." + mac[:4], now, ErrTokenMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := s.Verify(tc.token, tc.at); !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
}

func FuzzVerify(f *testing.F) {
	s, _ := NewSigner([]byte(strings.Repeat("k", 32)))
	now := time.Unix(1_800_000_000, 0)
	f.Add(s.Sign(Claims{FeedID: "f", BroadcasterID: "b", Expires: now.Add(time.Hour)}))
	f.Add("a.b")
	f.Add("")
	f.Fuzz(func(t *testing.T, token string) {
		c, err := s.Verify(token, now)
		if err == nil && (c.FeedID == "" || !now.Before(c.Expires)) {
			t.Fatalf("accepted %q as %+v", token, c)
		}
	})
}
