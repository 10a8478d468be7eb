package config

import (
	"fmt"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// ByteSize is a quantity of storage in bytes. It is written as a whole
// number with an optional binary suffix K, M, G or T (powers of 1024, with
// or without "iB"/"B"): 500G, 500GiB and 536870912000 are the same.
type ByteSize int64

// Byte size units.
const (
	KiB ByteSize = 1 << 10
	MiB          = 1 << 20
	GiB          = 1 << 30
	TiB          = 1 << 40
)

var byteUnits = []struct {
	unit   ByteSize
	suffix string
}{{TiB, "T"}, {GiB, "G"}, {MiB, "M"}, {KiB, "K"}}

// ParseByteSize reads a ByteSize.
func ParseByteSize(s string) (ByteSize, error) {
	text := strings.TrimSpace(s)
	for _, unit := range []string{"iB", "B"} {
		if t, ok := strings.CutSuffix(text, unit); ok {
			text = t
			break
		}
	}
	multiplier := ByteSize(1)
	for _, u := range byteUnits {
		if t, ok := strings.CutSuffix(strings.ToUpper(text), u.suffix); ok {
			text, multiplier = t, u.unit
			break
		}
	}
	n, err := strconv.ParseInt(strings.TrimSpace(text), 10, 64)
	if err != nil || n < 0 || n > int64(1<<62)/int64(multiplier) {
		return 0, fmt.Errorf("%q is not a size such as 500G, 2G or 0", s)
	}
	return ByteSize(n) * multiplier, nil
}

// String writes b with the largest suffix that keeps it whole.
func (b ByteSize) String() string {
	for _, u := range byteUnits {
		if b != 0 && b%u.unit == 0 {
			return strconv.FormatInt(int64(b/u.unit), 10) + u.suffix
		}
	}
	return strconv.FormatInt(int64(b), 10)
}

// UnmarshalYAML reads a ByteSize from YAML: a number or a string such as 500G.
func (b *ByteSize) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: a size must be a number or a string such as 500G", n.Line)
	}
	v, err := ParseByteSize(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	*b = v
	return nil
}
