// Package catalog holds Podium's domain: feeds, broadcasters and entitlements,
// the rules that validate them and the rule that decides who may receive what,
// when. It does no I/O: persistence lives in package store, enforcement in the
// media plane.
package catalog

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"time"
)

// Sentinel errors that callers branch on.
var (
	// ErrNotFound is returned when a referenced feed, broadcaster or entitlement does not exist.
	ErrNotFound = errors.New("not found")
	// ErrConflict is returned when an id is already taken or a state change is not allowed.
	ErrConflict = errors.New("conflict")
)

// FeedKind says what a feed carries.
type FeedKind string

// The kinds of feed a Games distributes.
const (
	KindMultilateral FeedKind = "multilateral" // MLF: the host's world feed of a venue or event
	KindMultiClip    FeedKind = "multi-clip"   // MCF: unilateral-ready isolated coverage
	KindVenueISO     FeedKind = "venue-iso"    // one camera or venue isolated signal
	KindPresentation FeedKind = "presentation" // ceremonies, studio, presentation
)

// FeedKinds lists the valid kinds, in the order they are documented.
var FeedKinds = []FeedKind{KindMultilateral, KindMultiClip, KindVenueISO, KindPresentation}

// Feed is one live signal with a stable id.
type Feed struct {
	ID                string
	Name              string
	Kind              FeedKind
	PublishPassphrase string
	// BackupPublishPassphrase is the backup source's: a leaked key opens one source.
	BackupPublishPassphrase string
	// Recording is whether and how long the feed is archived.
	Recording RecordingPolicy
	CreatedAt time.Time
}

// RecordingPolicy is a feed's archive setting.
type RecordingPolicy struct {
	Enabled bool
	// MaxAge and MaxBytes bound the feed's archive; 0 takes the server's default.
	MaxAge   time.Duration
	MaxBytes int64
}

// DefaultRecording is a new feed's: recorded, with the server's retention.
var DefaultRecording = RecordingPolicy{Enabled: true}

// Broadcaster is a rights-holding broadcaster: a tenant with its own SRT
// passphrase and API key.
type Broadcaster struct {
	ID            string
	Name          string
	Territories   []string
	SRTPassphrase string
	// APIKeyHash is the SHA-256 of the API key; the key itself is shown once, at creation.
	APIKeyHash string
	CreatedAt  time.Time
	// Generation tells this account from an earlier one of the same id: a
	// random value drawn when the broadcaster is created (never 0), sealed
	// into the URLs signed for it, so that deleting a broadcaster and
	// creating its id again revives none of them.
	Generation uint64
}

// EntitlementStatus is the state of an entitlement.
type EntitlementStatus string

// Entitlement states. Revoked is final.
const (
	StatusActive    EntitlementStatus = "active"
	StatusSuspended EntitlementStatus = "suspended"
	StatusRevoked   EntitlementStatus = "revoked"
)

// Entitlement is a broadcaster's right to a feed over an optional time window.
type Entitlement struct {
	ID            string
	BroadcasterID string
	FeedID        string
	// StartsAt and EndsAt bound the window; a zero value leaves that side open.
	StartsAt  time.Time
	EndsAt    time.Time
	Status    EntitlementStatus
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Covers reports whether the entitlement grants access at instant now:
// it must be active and its window must contain now (start inclusive, end exclusive).
func (e Entitlement) Covers(now time.Time) bool {
	if e.Status != StatusActive {
		return false
	}
	if !e.StartsAt.IsZero() && now.Before(e.StartsAt) {
		return false
	}
	if !e.EndsAt.IsZero() && !now.Before(e.EndsAt) {
		return false
	}
	return true
}

// NewAPIKey returns a fresh broadcaster API key.
func NewAPIKey() string { return "pk_" + rand.Text() + rand.Text() }

// NewPassphrase returns a fresh SRT passphrase (26 characters, 130 bits).
func NewPassphrase() string { return rand.Text() }

// HashAPIKey is how broadcaster API keys are stored and looked up.
func HashAPIKey(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}
