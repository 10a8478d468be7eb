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
