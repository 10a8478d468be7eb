package hls

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Reasons a playback token is refused.
var (
	ErrTokenMalformed = errors.New("malformed playback token")
	ErrTokenSignature = errors.New("playback token signature does not match")
	ErrTokenExpired   = errors.New("playback token expired")
	ErrTokenFeed      = errors.New("playback token is for another feed")
	ErrTokenAccount   = errors.New("playback token is for a broadcaster account that no longer exists")
)

// Claims are what a playback token grants: one feed, to one broadcaster
// account (empty for the operator), until an instant.
type Claims struct {
	FeedID        string
	BroadcasterID string
	// Generation is the broadcaster's creation generation (0 for the
	// operator): the token is void for a broadcaster created again under
	// the same id.
	Generation uint64
	Expires    time.Time
}

// macSize is the length of the truncated HMAC-SHA256 in a token: 128 bits.
const macSize = 16

// Signer seals and checks playback tokens with a secret key. A token is
// base64url(feed "~" broadcaster "~" generation "~" expiry) "."
// base64url(HMAC), the generation in hexadecimal: the server
// checks it on every request from the key alone, with no look-up, so any
// number of origin nodes sharing the key can check each other's URLs.
type Signer struct {
	key []byte
}

// NewSigner returns a signer with the given key (at least 32 bytes).
func NewSigner(key []byte) (*Signer, error) {
	if len(key) < 32 {
		return nil, fmt.Errorf("HLS signing key must be at least 32 bytes, got %d", len(key))
	}
	return &Signer{key: append([]byte(nil), key...)}, nil
}

// Sign returns the token for c.
func (s *Signer) Sign(c Claims) string {
	payload := c.FeedID + "~" + c.BroadcasterID + "~" + strconv.FormatUint(c.Generation, 16) + "~" + strconv.FormatInt(c.Expires.Unix(), 10)
	enc := base64.RawURLEncoding
	return enc.EncodeToString([]byte(payload)) + "." + enc.EncodeToString(s.mac(payload))
}

func (s *Signer) mac(payload string) []byte {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte(payload))
	return m.Sum(nil)[:macSize]
}

// Verify checks token's signature and expiry at instant now and returns its claims.
func (s *Signer) Verify(token string, now time.Time) (Claims, error) {
	enc := base64.RawURLEncoding
	payloadText, macText, ok := strings.Cut(token, ".")
	if !ok || len(token) > 512 {
		return Claims{}, ErrTokenMalformed
	}
	payload, err1 := enc.DecodeString(payloadText)
	mac, err2 := enc.DecodeString(macText)
	if err1 != nil || err2 != nil || len(mac) != macSize {
		return Claims{}, ErrTokenMalformed
	}
	if !hmac.Equal(mac, s.mac(string(payload))) {
		return Claims{}, ErrTokenSignature
	}
	parts := strings.Split(string(payload), "~")
	if len(parts) != 4 || parts[0] == "" {
		return Claims{}, ErrTokenMalformed
	}
	generation, err1 := strconv.ParseUint(parts[2], 16, 64)
	expires, err2 := strconv.ParseInt(parts[3], 10, 64)
	if err1 != nil || err2 != nil {
		return Claims{}, ErrTokenMalformed
	}
	c := Claims{FeedID: parts[0], BroadcasterID: parts[1], Generation: generation, Expires: time.Unix(expires, 0)}
	if !now.Before(c.Expires) {
		return c, ErrTokenExpired
	}
	return c, nil
}

// LoadKey returns the signing key: env if it is set (hex or any text of at
// least 32 bytes, so that several nodes can share one), else the key kept in
// the data directory, created at first start.
func LoadKey(dataDir, env string) ([]byte, error) {
	if env != "" {
		if len(env) < 32 {
			return nil, fmt.Errorf("PODIUM_HLS_SIGNING_KEY must be at least 32 characters")
		}
		return []byte(env), nil
	}
	path := filepath.Join(dataDir, "hls-signing-key")
	data, err := os.ReadFile(path)
	if err == nil && len(strings.TrimSpace(string(data))) >= 32 {
		return []byte(strings.TrimSpace(string(data))), nil
	}
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("read HLS signing key: %w", err)
	}
	key := rand.Text() + rand.Text()
	if err := os.WriteFile(path, []byte(key+"\n"), 0o600); err != nil {
		return nil, fmt.Errorf("write HLS signing key: %w", err)
	}
	return []byte(key), nil
}
