package config

import (
	"fmt"
	"net/netip"
	"strings"

	"gopkg.in/yaml.v3"
)

// CIDRs is a list of IP networks, kept as its comma-separated text so that
// Config stays comparable. In YAML it is a list (or one comma-separated
// string); in a flag or the environment, comma-separated. A bare address
// is its own /32 or /128.
type CIDRs string

// ParseCIDRs reads a comma-separated list of networks, refusing any entry
// that is not one.
func ParseCIDRs(s string) (CIDRs, error) {
	prefixes, err := CIDRs(s).Prefixes()
	if err != nil {
		return "", err
	}
	texts := make([]string, len(prefixes))
	for i, p := range prefixes {
		texts[i] = p.String()
	}
	return CIDRs(strings.Join(texts, ",")), nil
}

// Prefixes returns the networks of the list.
func (c CIDRs) Prefixes() ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, entry := range strings.Split(string(c), ",") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}
		p, err := netip.ParsePrefix(entry)
		if err != nil {
			a, aerr := netip.ParseAddr(entry)
			if aerr != nil {
				return nil, fmt.Errorf("%q is not a network such as 10.0.0.0/8 or 2001:db8::/32, nor an address", entry)
			}
			p = netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen())
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// UnmarshalYAML takes a list of networks or one comma-separated string.
func (c *CIDRs) UnmarshalYAML(n *yaml.Node) error {
	var text string
	switch n.Kind {
	case yaml.SequenceNode:
		var list []string
		if err := n.Decode(&list); err != nil {
			return err
		}
		text = strings.Join(list, ",")
	default:
		if err := n.Decode(&text); err != nil {
			return err
		}
	}
	parsed, err := ParseCIDRs(text)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	*c = parsed
	return nil
}
