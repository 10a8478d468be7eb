package catalog

import (
	"crypto/rand"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Podium is the SRT caller in two cases: it pulls a feed from an encoder that
// listens (a caller source), and it pushes a feed to a broadcaster's receiver
// that listens (a destination).

// Source roles a caller source may take in its feed.
const (
	RolePrimary = "primary"
	RoleBackup  = "backup"
)

// Limits of what Podium accepts when it is told where to call.
const (
	// MaxStreamID is libsrt's limit on a streamid (SRT_STREAMID_MAX).
	MaxStreamID = 512
	// MinLatency and MaxLatency bound the SRT latency an operator may ask for.
	MinLatency = 20 * time.Millisecond
	MaxLatency = 10 * time.Second
	// MaxDestinations is the most destinations one broadcaster may register.
	MaxDestinations = 32
	maxAddress      = 300
)

// CallerSource is a feed's contribution that Podium pulls by calling an
// encoder in SRT listener mode. A feed has at most one.
type CallerSource struct {
	FeedID string
	// Role is RolePrimary or RoleBackup: the source's place in the feed's switching.
	Role string
	// Address is the encoder's srt://host:port.
	Address    string
	StreamID   string
	Passphrase string
	// Latency is the SRT latency Podium asks for; zero means the server's.
	Latency   time.Duration
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Destination is a broadcaster's receiver, in SRT listener mode, that Podium
// pushes a feed to while the broadcaster is entitled to the feed.
type Destination struct {
	ID            string
	BroadcasterID string
	FeedID        string
	// Address is the receiver's srt://host:port.
	Address    string
	StreamID   string
	Passphrase string
	// Latency is the SRT latency Podium asks for; zero means the server's.
	Latency   time.Duration
	CreatedAt time.Time
}

// NewDestinationID returns a fresh destination id.
func NewDestinationID() string { return "dst-" + strings.ToLower(rand.Text()[:12]) }

// ParseSRTAddress reads an address to call, srt://host:port, and returns it
// in canonical form (lower-case host, IPv6 in brackets) and as the host:port
// to dial. SRT options have fields of their own, so a query is refused.
func ParseSRTAddress(field, address string) (canonical, hostPort string, err *FieldError) {
	const form = "must be srt://host:port"
	if address == "" {
		return "", "", fieldErr(field, "is required: srt://host:port of a listener")
	}
	if len(address) > maxAddress {
		return "", "", fieldErr(field, "must be at most %d characters", maxAddress)
	}
	rest, ok := strings.CutPrefix(address, "srt://")
	if !ok {
		return "", "", fieldErr(field, "%s (scheme srt)", form)
	}
	if strings.ContainsAny(rest, "?#") {
		return "", "", fieldErr(field, "%s without a query: give streamid, passphrase and latency_ms as fields", form)
	}
	if strings.ContainsAny(rest, "/@") {
		return "", "", fieldErr(field, "%s, without a path or user", form)
	}
	u, perr := url.Parse(address)
	if perr != nil || u.Host != rest {
		return "", "", fieldErr(field, form)
	}
	host, port := u.Hostname(), u.Port()
	if port == "" || !strings.HasSuffix(rest, ":"+port) {
		return "", "", fieldErr(field, "%s: the port is required", form)
	}
	n, perr := strconv.Atoi(port)
	if perr != nil || n < 1 || n > 65535 || port[0] == '0' {
		return "", "", fieldErr(field, "%s: port must be 1 to 65535", form)
	}
	if host == "" {
		return "", "", fieldErr(field, "%s: the host is required (Podium calls it)", form)
	}
	host = strings.ToLower(host)
	if strings.HasPrefix(rest, "[") {
		if ip := net.ParseIP(host); ip == nil || ip.To4() != nil {
			return "", "", fieldErr(field, "%s: [%s] is not an IPv6 address", form, host)
		}
	} else if strings.Contains(host, ":") {
		return "", "", fieldErr(field, "%s: an IPv6 address goes in brackets, srt://[%s]:%s", form, host, port)
	}
	if ip := net.ParseIP(host); ip != nil {
		if ip.IsUnspecified() || ip.IsMulticast() {
			return "", "", fieldErr(field, "%s: %s is not a host to call", form, host)
		}
		hostPort = net.JoinHostPort(ip.String(), port)
		return "srt://" + hostPort, hostPort, nil
	}
	if !validHostname(host) {
		return "", "", fieldErr(field, "%s: %q is not a host name or IP address", form, host)
	}
	hostPort = net.JoinHostPort(host, port)
	return "srt://" + hostPort, hostPort, nil
}

// validHostname checks a DNS name: dot-separated labels of letters, digits
// and inner hyphens, each 1 to 63 long, 253 at most in all, the last not all
// digits (so that a mistyped IPv4 address is not taken for a name).
func validHostname(h string) bool {
	h = strings.TrimSuffix(h, ".")
	if h == "" || len(h) > 253 {
		return false
	}
	last := h[strings.LastIndexByte(h, '.')+1:]
	if strings.Trim(last, "0123456789") == "" {
		return false
	}
	for label := range strings.SplitSeq(h, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}

// checkStreamID checks an SRT streamid: at most 512 bytes of UTF-8 text
// without control characters.
func checkStreamID(field, s string) *FieldError {
	if len(s) > MaxStreamID {
		return fieldErr(field, "must be at most %d bytes", MaxStreamID)
	}
	if !utf8.ValidString(s) {
		return fieldErr(field, "must be UTF-8 text")
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return fieldErr(field, "must not contain control characters")
		}
	}
	return nil
}

func checkLatency(field string, d time.Duration) *FieldError {
	if d != 0 && (d < MinLatency || d > MaxLatency) {
		return fieldErr(field, "must be %d to %d (milliseconds)", MinLatency.Milliseconds(), MaxLatency.Milliseconds())
	}
	return nil
}

// checkCallee checks where Podium calls: the address (made canonical in
// place), streamid, passphrase (none, or SRT's 10 to 79 characters) and latency.
func checkCallee(address *string, streamID, passphrase string, latency time.Duration) *FieldError {
	canonical, _, err := ParseSRTAddress("address", *address)
	if err != nil {
		return err
	}
	*address = canonical
	if err := checkStreamID("streamid", streamID); err != nil {
		return err
	}
	if passphrase != "" {
		if err := CheckPassphrase("passphrase", passphrase); err != nil {
			return err
		}
	}
	return checkLatency("latency_ms", latency)
}

// Validate checks a caller source as given by an operator and makes its
// address canonical.
func (s *CallerSource) Validate() *FieldError {
	if err := checkID("feed_id", s.FeedID); err != nil {
		return err
	}
	if s.Role != RolePrimary && s.Role != RoleBackup {
		return fieldErr("role", "must be primary or backup")
	}
	return checkCallee(&s.Address, s.StreamID, s.Passphrase, s.Latency)
}

// Validate checks a destination as given by a broadcaster or an operator and
// makes its address canonical.
func (d *Destination) Validate() *FieldError {
	if err := checkID("broadcaster_id", d.BroadcasterID); err != nil {
		return err
	}
	if err := checkID("feed_id", d.FeedID); err != nil {
		return err
	}
	return checkCallee(&d.Address, d.StreamID, d.Passphrase, d.Latency)
}

// DialAddress returns the host:port of a canonical srt:// address.
func DialAddress(address string) string { return strings.TrimPrefix(address, "srt://") }
