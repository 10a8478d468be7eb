package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
	"gopkg.in/yaml.v3"
)

func flags(t *testing.T, args ...string) *pflag.FlagSet {
	t.Helper()
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	Flags(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	return fs
}

func env(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

func TestPrecedence(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "podium.yml")
	os.WriteFile(file, []byte("http_addr: \":9000\"\nsrt_addr: \":7000\"\npublisher_grace: 30s\n"), 0o600)
	cfg, err := Load(flags(t, "--config", file, "--srt-addr", ":7001"),
		env(map[string]string{"PODIUM_HTTP_ADDR": ":9001", "PODIUM_READER_MAX_LAG": "2s"}))
	if err != nil {
		t.Fatal(err)
	}
	want := Default
	want.HTTPAddr = ":9001"                // environment over file
	want.SRTAddr = ":7001"                 // flag over file
	want.PublisherGrace = 30 * time.Second // file over default
	want.ReaderMaxLag = 2 * time.Second
	if cfg != want {
		t.Fatalf("got %+v\nwant %+v", cfg, want)
	}
}

func TestBadSettingsAreRefused(t *testing.T) {
	dir := t.TempDir()
	unknown := filepath.Join(dir, "unknown.yml")
	os.WriteFile(unknown, []byte("http_adr: \":9000\"\n"), 0o600)
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"unknown key in file", []string{"--config", unknown}, nil, "http_adr"},
		{"missing file", []string{"--config", filepath.Join(dir, "nope.yml")}, nil, "no such file"},
		{"bad duration", nil, map[string]string{"PODIUM_PUBLISHER_GRACE": "ten seconds"}, "PODIUM_PUBLISHER_GRACE"},
		{"bad address", []string{"--http-addr", "8080"}, nil, "http_addr"},
		{"lag too small", []string{"--reader-max-lag", "1ms"}, nil, "reader_max_lag"},
		{"bad log level", nil, map[string]string{"PODIUM_LOG_LEVEL": "loud"}, "log_level"},
		{"certificate without key", []string{"--tls-cert", "cert.pem"}, nil, "tls_cert and tls_key go together"},
		{"key without certificate", nil, map[string]string{"PODIUM_TLS_KEY": "key.pem"}, "tls_cert and tls_key go together"},
		{"not a number", nil, map[string]string{"PODIUM_MAX_CONNECTIONS": "many"}, "PODIUM_MAX_CONNECTIONS"},
		{"negative limit", nil, map[string]string{"PODIUM_MAX_CONNECTIONS_PER_BROADCASTER": "-1"}, "max_connections_per_broadcaster"},
		{"bad bitrate", nil, map[string]string{"PODIUM_MAX_PUBLISH_BITRATE": "fast"}, "PODIUM_MAX_PUBLISH_BITRATE"},
		{"auth window too short", []string{"--auth-window", "10ms"}, nil, "auth_window"},
		{"negative http connections", nil, map[string]string{"PODIUM_HTTP_MAX_CONNECTIONS": "-1"}, "http_max_connections"},
		{"per-address cap above total", []string{"--http-max-connections", "10", "--http-max-connections-per-address", "11"}, nil, "http_max_connections_per_address 11 must not be above"},
		{"read timeout zero", []string{"--http-read-timeout", "0s"}, nil, "http_read_timeout"},
		{"idle timeout too long", nil, map[string]string{"PODIUM_HTTP_IDLE_TIMEOUT": "48h"}, "http_idle_timeout"},
		{"write timeout not a duration", nil, map[string]string{"PODIUM_HTTP_WRITE_TIMEOUT": "30"}, "PODIUM_HTTP_WRITE_TIMEOUT"},
		{"metrics address", []string{"--metrics-addr", "9100"}, nil, "metrics_addr"},
		{"metrics on the API's address", []string{"--metrics-addr", ":8080"}, nil, "metrics_addr \":8080\" is http_addr"},
		{"short metrics token", nil, map[string]string{"PODIUM_METRICS_TOKEN": "abc"}, "metrics_token"},
		{"bad trusted proxy", nil, map[string]string{"PODIUM_TRUSTED_PROXIES": "10.0.0.0/8,nginx"}, `"nginx" is not a network`},
		{"public base url with a path", []string{"--public-base-url", "https://podium.example.com/api"}, nil, "public_base_url"},
		{"negative viewer limit", []string{"--max-hls-viewers-per-broadcaster", "-1"}, nil, "max_hls_viewers_per_broadcaster"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(flags(t, tc.args...), env(tc.env))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want mention of %q", err, tc.want)
			}
		})
	}
}

// TestSampleConfigAndDocsAgree keeps podium.example.yml, the README and the
// Config struct in agreement: every setting is in the sample with its default
// and its environment variable, and in the README.
func TestSampleConfigAndDocsAgree(t *testing.T) {
	sample, err := os.ReadFile("../../podium.example.yml")
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	var fromSample Config
	if err := yaml.Unmarshal(sample, &fromSample); err != nil {
		t.Fatalf("sample: %v", err)
	}
	if fromSample != Default {
		t.Errorf("sample values differ from the defaults:\nsample  %+v\ndefault %+v", fromSample, Default)
	}
	for _, s := range Settings() {
		if !strings.Contains(string(sample), s.YAML+":") || !strings.Contains(string(sample), s.Env) {
			t.Errorf("podium.example.yml lacks %s or %s", s.YAML, s.Env)
		}
		for _, name := range []string{"--" + s.Flag, s.Env, s.YAML} {
			if !strings.Contains(string(readme), name) {
				t.Errorf("README.md does not mention %s", name)
			}
		}
	}
}

func TestSecuritySettings(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "podium.yml")
	os.WriteFile(file, []byte("tls_cert: /etc/podium/cert.pem\ntls_key: /etc/podium/key.pem\nmax_publish_bitrate: 50M\nmax_connections: 10\n"), 0o600)
	cfg, err := Load(flags(t, "--config", file, "--auth-max-failures", "3"),
		env(map[string]string{"PODIUM_MAX_CONNECTIONS_PER_BROADCASTER": "4", "PODIUM_AUTH_WINDOW": "2s"}))
	if err != nil {
		t.Fatal(err)
	}
	want := Default
	want.TLSCert, want.TLSKey = "/etc/podium/cert.pem", "/etc/podium/key.pem"
	want.MaxPublishBitrate, want.MaxConnections, want.MaxConnectionsPerBroadcaster = 50*Mbps, 10, 4
	want.AuthMaxFailures, want.AuthWindow = 3, 2*time.Second
	if cfg != want {
		t.Fatalf("got %+v\nwant %+v", cfg, want)
	}
}

// TestTrustedProxies: a YAML list or a comma-separated string, networks or
// bare addresses, all come out as one normalised list.
func TestTrustedProxies(t *testing.T) {
	file := filepath.Join(t.TempDir(), "podium.yml")
	os.WriteFile(file, []byte("trusted_proxies: [10.1.2.3/8, \"192.0.2.7\", \"2001:db8::/32\"]\n"), 0o600)
	cfg, err := Load(flags(t, "--config", file), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.TrustedProxies != "10.0.0.0/8,192.0.2.7/32,2001:db8::/32" {
		t.Fatalf("from YAML: %q", cfg.TrustedProxies)
	}
	cfg, err = Load(flags(t), env(map[string]string{"PODIUM_TRUSTED_PROXIES": "127.0.0.1, ::1"}))
	if err != nil || cfg.TrustedProxies != "127.0.0.1/32,::1/128" {
		t.Fatalf("from the environment: %q %v", cfg.TrustedProxies, err)
	}
	bad := filepath.Join(t.TempDir(), "bad.yml")
	os.WriteFile(bad, []byte("trusted_proxies:\n  - 10.0.0.0/33\n"), 0o600)
	if _, err := Load(flags(t, "--config", bad), env(nil)); err == nil || !strings.Contains(err.Error(), "10.0.0.0/33") {
		t.Fatalf("bad network in YAML: %v", err)
	}
}

func TestBitrate(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Bitrate
	}{{"100M", 100 * Mbps}, {"100Mbit/s", 100 * Mbps}, {"2500k", 2500 * Kbps}, {"1G", Gbps}, {"64000", 64 * Kbps}, {"0", 0}, {" 8 Mbps", 8 * Mbps}} {
		got, err := ParseBitrate(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("ParseBitrate(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
		if again, err := ParseBitrate(got.String()); err != nil || again != got {
			t.Errorf("%v does not read back: %v %v", got, again, err)
		}
	}
	for _, bad := range []string{"", "M", "-1M", "1.5M", "100m", "9999999999G", "fast"} {
		if _, err := ParseBitrate(bad); err == nil {
			t.Errorf("ParseBitrate(%q) accepted", bad)
		}
	}
}

func TestByteSize(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want ByteSize
	}{{"0", 0}, {"2G", 2 * GiB}, {"2GiB", 2 * GiB}, {"500GB", 500 * GiB}, {"1t", TiB}, {"64K", 64 * KiB}, {"1000", 1000}} {
		got, err := ParseByteSize(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("ParseByteSize(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"", "-1", "G", "1.5G", "1P", "lots"} {
		if _, err := ParseByteSize(bad); err == nil {
			t.Errorf("ParseByteSize(%q) accepted", bad)
		}
	}
}
