package config

import (
	"fmt"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Bitrate is a rate in bits per second. It is written as a whole number
// with an optional decimal suffix k, M or G, and an optional "bit/s" or
// "bps": 100M, 100Mbit/s and 100000000 are the same.
type Bitrate int64

// Bitrate units.
const (
	Kbps Bitrate = 1000
	Mbps         = 1000 * Kbps
	Gbps         = 1000 * Mbps
)

// ParseBitrate reads a Bitrate.
func ParseBitrate(s string) (Bitrate, error) {
	text := strings.TrimSpace(s)
	for _, unit := range []string{"bit/s", "bps"} {
		text = strings.TrimSuffix(text, unit)
	}
	multiplier := Bitrate(1)
	if n := len(text); n > 0 {
		switch text[n-1] {
		case 'k', 'K':
			multiplier = Kbps
		case 'M':
			multiplier = Mbps
		case 'G':
			multiplier = Gbps
		}
		if multiplier != 1 {
			text = text[:n-1]
		}
	}
	n, err := strconv.ParseInt(strings.TrimSpace(text), 10, 64)
	if err != nil || n < 0 || n > int64(1<<62)/int64(multiplier) {
		return 0, fmt.Errorf("%q is not a bitrate such as 100M, 2500k or 0", s)
	}
	return Bitrate(n) * multiplier, nil
}

// String writes b with the largest suffix that keeps it whole.
func (b Bitrate) String() string {
	for _, u := range []struct {
		unit   Bitrate
		suffix string
	}{{Gbps, "G"}, {Mbps, "M"}, {Kbps, "k"}} {
		if b != 0 && b%u.unit == 0 {
			return strconv.FormatInt(int64(b/u.unit), 10) + u.suffix
		}
	}
	return strconv.FormatInt(int64(b), 10)
}

// UnmarshalYAML reads a Bitrate from YAML: a number or a string such as 100M.
func (b *Bitrate) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: a bitrate must be a number or a string such as 100M", n.Line)
	}
	v, err := ParseBitrate(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	*b = v
	return nil
}
