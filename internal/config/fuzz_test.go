package config

import (
	"os"
	"strings"
	"testing"
)

// FuzzConfigYAML reads arbitrary configuration files: an error or a
// configuration, never a panic; whatever is accepted validates without one.
func FuzzConfigYAML(f *testing.F) {
	sample, err := os.ReadFile("../../podium.example.yml")
	if err != nil {
		f.Fatal(err)
	}
	// The sample without its comments: small inputs minimize fast.
	var settings []string
	for _, line := range strings.Split(string(sample), "\n") {
		if line != "" && !strings.HasPrefix(line, "#") {
			settings = append(settings, line)
		}
	}
	f.Add([]byte(strings.Join(settings, "\n")))
	for _, s := range []string{"", "http_addr: [1, 2]", "max_publish_bitrate: {a: b}", "max_connections: 1e9",
		"auth_window: -5s", "tls_cert: a\ntls_key: b", "hls_base_url: 'http://[::1'", "&a [*a]", "max_publish_bitrate: 99999999999G"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg := Default
		if err := decodeYAML(data, &cfg); err != nil {
			return
		}
		cfg.Validate()
		cfg.Host(cfg.SRTAddr)
	})
}

// FuzzParseBitrate: whatever reads as a bitrate writes back as the same one.
func FuzzParseBitrate(f *testing.F) {
	for _, s := range []string{"100M", "2500k", "1G", "0", "8 Mbps", "100Mbit/s", "-1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b, err := ParseBitrate(s)
		if err != nil {
			return
		}
		if b < 0 {
			t.Fatalf("%q read as %d", s, b)
		}
		if again, err := ParseBitrate(b.String()); err != nil || again != b {
			t.Fatalf("%q read as %d, written %q, read back %d %v", s, b, b.String(), again, err)
		}
	})
}

func FuzzParseByteSize(f *testing.F) {
	for _, s := range []string{"500G", "2GiB", "1T", "0", "64K", "100MB", "-1", "9223372036854775807", "4611686018427387904"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b, err := ParseByteSize(s)
		if err != nil {
			return
		}
		if b < 0 {
			t.Fatalf("%q read as %d", s, b)
		}
		if again, err := ParseByteSize(b.String()); err != nil || again != b {
			t.Fatalf("%q read as %d, written %q, read back %d %v", s, b, b.String(), again, err)
		}
	})
}
