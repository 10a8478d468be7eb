package catalog

import (
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"
)

// FieldError says which input field is wrong and why.
type FieldError struct {
	Field   string
	Message string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Message }

func fieldErr(field, format string, args ...any) *FieldError {
	return &FieldError{Field: field, Message: fmt.Sprintf(format, args...)}
}

var idPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)

// ValidID checks an id of a feed, broadcaster or entitlement: lower-case
// letters, digits and dashes, starting with a letter or digit, at most 63 long.
func ValidID(id string) bool { return idPattern.MatchString(id) }

func checkID(field, id string) *FieldError {
	if id == "" {
		return fieldErr(field, "is required")
	}
	if !ValidID(id) {
		return fieldErr(field, "must match [a-z0-9][a-z0-9-]{0,62}")
	}
	return nil
}

func checkName(field, name string) *FieldError {
	if strings.TrimSpace(name) == "" {
		return fieldErr(field, "is required")
	}
	if utf8.RuneCountInString(name) > 200 {
		return fieldErr(field, "must be at most 200 characters")
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7f {
			return fieldErr(field, "must not contain control characters")
		}
	}
	return nil
}

// CheckPassphrase enforces SRT's passphrase rules (10 to 79 printable ASCII
// characters), so a passphrase accepted here is one every SRT implementation takes.
func CheckPassphrase(field, p string) *FieldError {
	if len(p) < 10 || len(p) > 79 {
		return fieldErr(field, "must be 10 to 79 characters (SRT passphrase length)")
	}
	for i := 0; i < len(p); i++ {
		if p[i] < 0x21 || p[i] > 0x7e {
			return fieldErr(field, "must be printable ASCII without spaces")
		}
	}
	return nil
}

// Validate checks a feed as given by an operator.
func (f Feed) Validate() *FieldError {
	if err := checkID("id", f.ID); err != nil {
		return err
	}
	if err := checkName("name", f.Name); err != nil {
		return err
	}
	valid := false
	for _, k := range FeedKinds {
		valid = valid || f.Kind == k
	}
	if !valid {
		return fieldErr("kind", "must be one of %s", joinKinds())
	}
	if err := CheckPassphrase("publish_passphrase", f.PublishPassphrase); err != nil {
		return err
	}
	if err := CheckPassphrase("backup_publish_passphrase", f.BackupPublishPassphrase); err != nil {
		return err
	}
	if f.BackupPublishPassphrase == f.PublishPassphrase {
		return fieldErr("backup_publish_passphrase", "must differ from publish_passphrase: each source has its own")
	}
	return nil
}

func joinKinds() string {
	names := make([]string, len(FeedKinds))
	for i, k := range FeedKinds {
		names[i] = string(k)
	}
	return strings.Join(names, ", ")
}

// Validate checks a broadcaster as given by an operator.
func (b Broadcaster) Validate() *FieldError {
	if err := checkID("id", b.ID); err != nil {
		return err
	}
	if err := checkName("name", b.Name); err != nil {
		return err
	}
	seen := make(map[string]bool, len(b.Territories))
	for i, t := range b.Territories {
		field := fmt.Sprintf("territories[%d]", i)
		if !IsTerritory(t) {
			return fieldErr(field, "%q is not an ISO 3166-1 alpha-2 country code", t)
		}
		if seen[t] {
			return fieldErr(field, "%q is listed twice", t)
		}
		seen[t] = true
	}
	return CheckPassphrase("srt_passphrase", b.SRTPassphrase)
}

// Validate checks the parts of an entitlement that need no other record.
func (e Entitlement) Validate() *FieldError {
	if err := checkID("broadcaster_id", e.BroadcasterID); err != nil {
		return err
	}
	if err := checkID("feed_id", e.FeedID); err != nil {
		return err
	}
	if !e.StartsAt.IsZero() && !e.EndsAt.IsZero() && !e.EndsAt.After(e.StartsAt) {
		return fieldErr("ends_at", "must be after starts_at")
	}
	return nil
}

// ParseStatus reads the status an operator may set on an entitlement:
// active or suspended (revoking is a DELETE).
func ParseStatus(s string) (EntitlementStatus, *FieldError) {
	switch EntitlementStatus(s) {
	case StatusActive, StatusSuspended:
		return EntitlementStatus(s), nil
	case StatusRevoked:
		return "", fieldErr("status", "revoke an entitlement with DELETE")
	}
	return "", fieldErr("status", "must be active or suspended")
}
