// Package config holds Podium's settings and reads them from, in increasing
// precedence, built-in defaults, a YAML file, environment variables
// (PODIUM_*) and command-line flags. Each setting is declared once, on the
// Config struct, with its YAML key, flag, environment variable and help text.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"gopkg.in/yaml.v3"
)

// Config is every setting of `podium serve` and `podium demo`.
type Config struct {
	DataDir                      string        `yaml:"data_dir" flag:"data-dir" env:"PODIUM_DATA_DIR" help:"directory of the catalog database and the admin token"`
	HTTPAddr                     string        `yaml:"http_addr" flag:"http-addr" env:"PODIUM_HTTP_ADDR" help:"TCP address of the REST API, metrics and health check"`
	HTTPMaxConnections           int           `yaml:"http_max_connections" flag:"http-max-connections" env:"PODIUM_HTTP_MAX_CONNECTIONS" help:"most HTTP connections open at once (API, portal, HLS); more are refused with 503 (0: no limit)"`
	HTTPMaxConnectionsPerAddr    int           `yaml:"http_max_connections_per_address" flag:"http-max-connections-per-address" env:"PODIUM_HTTP_MAX_CONNECTIONS_PER_ADDRESS" help:"most HTTP connections open at once from one client address (IPv6 by /64); more are refused with 503 (0: no limit)"`
	HTTPReadTimeout              time.Duration `yaml:"http_read_timeout" flag:"http-read-timeout" env:"PODIUM_HTTP_READ_TIMEOUT" help:"time to send a request's header, and its body's first stretch; after it a body must keep up 1 KiB/s or is cut with 408"`
	HTTPWriteTimeout             time.Duration `yaml:"http_write_timeout" flag:"http-write-timeout" env:"PODIUM_HTTP_WRITE_TIMEOUT" help:"time a client has to take each write of an answer before its connection is closed"`
	HTTPIdleTimeout              time.Duration `yaml:"http_idle_timeout" flag:"http-idle-timeout" env:"PODIUM_HTTP_IDLE_TIMEOUT" help:"how long a keep-alive HTTP connection may wait for its next request"`
	MetricsAddr                  string        `yaml:"metrics_addr" flag:"metrics-addr" env:"PODIUM_METRICS_ADDR" help:"TCP address to serve /metrics on instead of http_addr (default: on http_addr)"`
	MetricsToken                 string        `yaml:"metrics_token" flag:"metrics-token" env:"PODIUM_METRICS_TOKEN" help:"bearer token /metrics requires (Authorization: Bearer TOKEN; default: none)"`
	SRTAddr                      string        `yaml:"srt_addr" flag:"srt-addr" env:"PODIUM_SRT_ADDR" help:"UDP address of the SRT listener (publish and pull)"`
	RTMPAddr                     string        `yaml:"rtmp_addr" flag:"rtmp-addr" env:"PODIUM_RTMP_ADDR" help:"TCP address of the RTMP listener, for encoders that publish over RTMP (OBS, vMix): server rtmp://HOST:PORT/live, stream key FEED?key=PUBLISH_PASSPHRASE"`
	PublicHost                   string        `yaml:"public_host" flag:"public-host" env:"PODIUM_PUBLIC_HOST" help:"host name broadcasters reach Podium at, used in printed commands (default: the listen host, or 127.0.0.1)"`
	SRTLatency                   time.Duration `yaml:"srt_latency" flag:"srt-latency" env:"PODIUM_SRT_LATENCY" help:"SRT latency offered to callers (the larger of both sides applies)"`
	PublisherGrace               time.Duration `yaml:"publisher_grace" flag:"publisher-grace" env:"PODIUM_PUBLISHER_GRACE" help:"how long readers stay connected while a feed has no publisher"`
	ReaderMaxLag                 time.Duration `yaml:"reader_max_lag" flag:"reader-max-lag" env:"PODIUM_READER_MAX_LAG" help:"how far a reader may fall behind the live edge before it is cut"`
	SwitchStall                  time.Duration `yaml:"switch_stall" flag:"switch-stall" env:"PODIUM_SWITCH_STALL" help:"how long the on-air source of a feed may send nothing before its backup (or primary) takes over"`
	SwitchHold                   time.Duration `yaml:"switch_hold" flag:"switch-hold" env:"PODIUM_SWITCH_HOLD" help:"how long a returning primary must stay healthy before it goes back on air"`
	SwitchRevertive              bool          `yaml:"switch_revertive" flag:"switch-revertive" env:"PODIUM_SWITCH_REVERTIVE" help:"whether a healthy primary goes back on air after the hold time (false: the backup stays on air)"`
	PublicBaseURL                string        `yaml:"public_base_url" flag:"public-base-url" env:"PODIUM_PUBLIC_BASE_URL" help:"scheme and host clients reach the HTTP side at, such as https://podium.example.com behind a proxy; playback URLs start with it (default: http(s)://public_host:port of http_addr, never the request's Host header)"`
	HLSBaseURL                   string        `yaml:"hls_base_url" flag:"hls-base-url" env:"PODIUM_HLS_BASE_URL" help:"scheme and host put before /hls/ in playback URLs, such as a CDN's (default: public_base_url)"`
	HLSTokenTTL                  time.Duration `yaml:"hls_token_ttl" flag:"hls-token-ttl" env:"PODIUM_HLS_TOKEN_TTL" help:"how long a signed HLS playback URL stays valid (at least; expiries are rounded up to 15 minutes)"`
	HLSPart                      time.Duration `yaml:"hls_part" flag:"hls-part" env:"PODIUM_HLS_PART" help:"LL-HLS part duration (minimum; parts end on frames)"`
	HLSSegment                   time.Duration `yaml:"hls_segment" flag:"hls-segment" env:"PODIUM_HLS_SEGMENT" help:"HLS segment duration (minimum; segments end on keyframes)"`
	LogLevel                     string        `yaml:"log_level" flag:"log-level" env:"PODIUM_LOG_LEVEL" help:"debug, info, warn or error"`
	LogFormat                    string        `yaml:"log_format" flag:"log-format" env:"PODIUM_LOG_FORMAT" help:"text or json"`
	TLSCert                      string        `yaml:"tls_cert" flag:"tls-cert" env:"PODIUM_TLS_CERT" help:"PEM certificate (with its chain) to serve the API, portal and HLS over HTTPS on http_addr, with tls_key; read again when the file changes or on SIGHUP"`
	TLSKey                       string        `yaml:"tls_key" flag:"tls-key" env:"PODIUM_TLS_KEY" help:"PEM private key of tls_cert"`
	AuthMaxFailures              int           `yaml:"auth_max_failures" flag:"auth-max-failures" env:"PODIUM_AUTH_MAX_FAILURES" help:"failed authentications from one address within auth_window that lock it out for auth_window, per protocol (0: no limit)"`
	AuthWindow                   time.Duration `yaml:"auth_window" flag:"auth-window" env:"PODIUM_AUTH_WINDOW" help:"span over which failed authentications are counted, and how long a lockout lasts"`
	MaxConnections               int           `yaml:"max_connections" flag:"max-connections" env:"PODIUM_MAX_CONNECTIONS" help:"most SRT and RTMP connections at once, all together; HLS viewers are counted apart (0: no limit)"`
	MaxConnectionsPerBroadcaster int           `yaml:"max_connections_per_broadcaster" flag:"max-connections-per-broadcaster" env:"PODIUM_MAX_CONNECTIONS_PER_BROADCASTER" help:"most SRT pulls and pushes of one broadcaster at once (0: no limit)"`
	MaxHLSViewers                int           `yaml:"max_hls_viewers" flag:"max-hls-viewers" env:"PODIUM_MAX_HLS_VIEWERS" help:"most HLS viewers at once, all together, counted apart from the SRT connections (0: no limit)"`
	MaxHLSViewersPerBroadcaster  int           `yaml:"max_hls_viewers_per_broadcaster" flag:"max-hls-viewers-per-broadcaster" env:"PODIUM_MAX_HLS_VIEWERS_PER_BROADCASTER" help:"most HLS viewers of one broadcaster at once, counted apart from its SRT pulls and pushes (0: no limit)"`
	TrustedProxies               CIDRs         `yaml:"trusted_proxies" flag:"trusted-proxies" env:"PODIUM_TRUSTED_PROXIES" help:"networks of the reverse proxies and CDN nodes in front of the HTTP side (comma-separated CIDRs); only from them is the client address taken from X-Forwarded-For or Forwarded (default: none)"`
	Record                       bool          `yaml:"record" flag:"record" env:"PODIUM_RECORD" help:"record every feed whose own setting says so (false: record nothing)"`
	Archive                      string        `yaml:"archive" flag:"archive" env:"PODIUM_ARCHIVE" help:"where archive segments are kept: a local directory (default: archive_dir) or s3://BUCKET/PREFIX on S3-compatible object storage (credentials from AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION)"`
	S3Endpoint                   string        `yaml:"s3_endpoint" flag:"s3-endpoint" env:"PODIUM_S3_ENDPOINT" help:"URL of the object store for an s3:// archive other than AWS S3, such as http://127.0.0.1:7070 (default: AWS)"`
	ArchiveSpoolMax              ByteSize      `yaml:"archive_spool_max" flag:"archive-spool-max" env:"PODIUM_ARCHIVE_SPOOL_MAX" help:"with an s3:// archive, bytes of closed segments that wait on local disk for upload before the spool-full alert; beyond it they are indexed from local disk until uploaded (0: no bound)"`
	ArchiveDir                   string        `yaml:"archive_dir" flag:"archive-dir" env:"PODIUM_ARCHIVE_DIR" help:"directory of the archive's index and of the segments being written or waiting for upload, and of every segment unless archive is s3:// (default: DATA_DIR/archive)"`
	ArchiveSegment               time.Duration `yaml:"archive_segment" flag:"archive-segment" env:"PODIUM_ARCHIVE_SEGMENT" help:"least length of an archive segment (segments end on keyframes)"`
	ArchiveMaxAge                time.Duration `yaml:"archive_max_age" flag:"archive-max-age" env:"PODIUM_ARCHIVE_MAX_AGE" help:"how long a feed's recording is kept unless the feed sets its own (0: no limit)"`
	ArchiveMaxBytes              ByteSize      `yaml:"archive_max_bytes" flag:"archive-max-bytes" env:"PODIUM_ARCHIVE_MAX_BYTES" help:"largest archive of one feed unless the feed sets its own, with K, M, G or T (binary; 0: no limit)"`
	ArchiveMinFree               ByteSize      `yaml:"archive_min_free" flag:"archive-min-free" env:"PODIUM_ARCHIVE_MIN_FREE" help:"free disk space below which recording stops (with an alert in logs and metrics) while live delivery goes on"`
	ClipWorkers                  int           `yaml:"clip_workers" flag:"clip-workers" env:"PODIUM_CLIP_WORKERS" help:"clips prepared at once (exact and vertical clips each take an ffmpeg encoder's CPU)"`
	AllowSharedDataDir           bool          `yaml:"allow_shared_data_dir" flag:"allow-shared-data-dir" env:"PODIUM_ALLOW_SHARED_DATA_DIR" help:"start even when the data or archive directory is open to other users (group or others may read, write or enter it), with a warning at every start"`
	AuditRetention               time.Duration `yaml:"audit_retention" flag:"audit-retention" env:"PODIUM_AUDIT_RETENTION" help:"how long audit log entries are kept (0: for ever)"`
	AuditMaxRows                 int           `yaml:"audit_max_rows" flag:"audit-max-rows" env:"PODIUM_AUDIT_MAX_ROWS" help:"most audit log entries kept, the oldest pruned first (0: no bound)"`
	MaxPublishBitrate            Bitrate       `yaml:"max_publish_bitrate" flag:"max-publish-bitrate" env:"PODIUM_MAX_PUBLISH_BITRATE" help:"highest ingest bitrate of a feed, in bit/s with an optional k, M or G; a publisher above it for 2 s is cut (0: no limit)"`
}

// Default is the configuration when nothing is set.
var Default = Config{
	DataDir:  "./podium-data",
	HTTPAddr: ":8080",

	HTTPMaxConnections:        4096,
	HTTPMaxConnectionsPerAddr: 256,
	HTTPReadTimeout:           10 * time.Second,
	HTTPWriteTimeout:          30 * time.Second,
	HTTPIdleTimeout:           2 * time.Minute,

	SRTAddr:         ":6000",
	RTMPAddr:        ":1935",
	SRTLatency:      120 * time.Millisecond,
	PublisherGrace:  10 * time.Second,
	ReaderMaxLag:    time.Second,
	SwitchStall:     500 * time.Millisecond,
	SwitchHold:      5 * time.Second,
	SwitchRevertive: true,
	HLSTokenTTL:     4 * time.Hour,
	HLSPart:         200 * time.Millisecond,
	HLSSegment:      time.Second,
	LogLevel:        "info",
	LogFormat:       "text",

	AuthMaxFailures:              10,
	AuthWindow:                   time.Minute,
	MaxConnections:               1000,
	MaxConnectionsPerBroadcaster: 20,
	MaxHLSViewers:                5000,
	MaxHLSViewersPerBroadcaster:  500,
	MaxPublishBitrate:            100 * Mbps,

	Record:          true,
	ArchiveSegment:  4 * time.Second,
	ArchiveMaxAge:   7 * 24 * time.Hour,
	ArchiveMinFree:  2 * GiB,
	ArchiveSpoolMax: 4 * GiB,
	ClipWorkers:     2,

	AuditRetention: 90 * 24 * time.Hour,
	AuditMaxRows:   1_000_000,
}

// Setting describes one field of Config.
type Setting struct {
	Field, YAML, Flag, Env, Help string
}

// Settings lists every setting in declaration order.
func Settings() []Setting {
	t := reflect.TypeFor[Config]()
	out := make([]Setting, t.NumField())
	for i := range t.NumField() {
		f := t.Field(i)
		out[i] = Setting{Field: f.Name, YAML: f.Tag.Get("yaml"), Flag: f.Tag.Get("flag"), Env: f.Tag.Get("env"), Help: f.Tag.Get("help")}
	}
	return out
}

// Flags registers a flag for every setting on fs, plus --config.
func Flags(fs *pflag.FlagSet) {
	fs.String("config", "", "YAML configuration file (see podium.example.yml)")
	v := reflect.ValueOf(Default)
	for i, s := range Settings() {
		help := s.Help + " (env " + s.Env + ")"
		switch d := v.Field(i).Interface().(type) {
		case string:
			fs.String(s.Flag, d, help)
		case time.Duration:
			fs.Duration(s.Flag, d, help)
		case bool:
			fs.Bool(s.Flag, d, help)
		case int:
			fs.Int(s.Flag, d, help)
		case Bitrate:
			fs.String(s.Flag, d.String(), help)
		case ByteSize:
			fs.String(s.Flag, d.String(), help)
		case CIDRs:
			fs.String(s.Flag, string(d), help)
		}
	}
}

// Load builds the configuration from defaults, the --config file, the
// environment (getenv) and the flags that were set on fs.
func Load(fs *pflag.FlagSet, getenv func(string) string) (Config, error) {
	cfg := Default
	path, _ := fs.GetString("config")
	if path == "" {
		path = getenv("PODIUM_CONFIG")
	}
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return cfg, fmt.Errorf("config file: %w", err)
		}
		if err := decodeYAML(data, &cfg); err != nil {
			return cfg, fmt.Errorf("config file %s: %w", path, err)
		}
	}
	v := reflect.ValueOf(&cfg).Elem()
	for i, s := range Settings() {
		raw, source := getenv(s.Env), s.Env
		if f := fs.Lookup(s.Flag); f != nil && f.Changed {
			raw, source = f.Value.String(), "--"+s.Flag
		}
		if raw == "" {
			continue
		}
		if err := set(v.Field(i), raw); err != nil {
			return cfg, fmt.Errorf("%s: %w", source, err)
		}
	}
	return cfg, cfg.Validate()
}

func decodeYAML(data []byte, cfg *Config) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(cfg); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	return nil
}

func set(field reflect.Value, raw string) error {
	switch field.Interface().(type) {
	case time.Duration:
		d, err := time.ParseDuration(raw)
		if err != nil {
			return fmt.Errorf("%q is not a duration such as 10s or 500ms", raw)
		}
		field.SetInt(int64(d))
	case bool:
		b, err := strconv.ParseBool(raw)
		if err != nil {
			return fmt.Errorf("%q is not true or false", raw)
		}
		field.SetBool(b)
	case int:
		n, err := strconv.Atoi(raw)
		if err != nil {
			return fmt.Errorf("%q is not a whole number", raw)
		}
		field.SetInt(int64(n))
	case Bitrate:
		b, err := ParseBitrate(raw)
		if err != nil {
			return err
		}
		field.SetInt(int64(b))
	case ByteSize:
		b, err := ParseByteSize(raw)
		if err != nil {
			return err
		}
		field.SetInt(int64(b))
	case CIDRs:
		c, err := ParseCIDRs(raw)
		if err != nil {
			return err
		}
		field.SetString(string(c))
	default:
		field.SetString(raw)
	}
	return nil
}

// Validate checks that the settings make sense together.
func (c Config) Validate() error {
	if c.DataDir == "" {
		return errors.New("data_dir must not be empty")
	}
	for _, a := range []struct{ name, addr string }{{"http_addr", c.HTTPAddr}, {"srt_addr", c.SRTAddr}, {"rtmp_addr", c.RTMPAddr}} {
		if _, port, err := net.SplitHostPort(a.addr); err != nil {
			return fmt.Errorf("%s %q is not host:port: %w", a.name, a.addr, err)
		} else if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
			return fmt.Errorf("%s %q has no valid port", a.name, a.addr)
		}
	}
	for _, d := range []struct {
		name string
		v    time.Duration
		min  time.Duration
	}{{"srt_latency", c.SRTLatency, 20 * time.Millisecond}, {"publisher_grace", c.PublisherGrace, 0}, {"reader_max_lag", c.ReaderMaxLag, 100 * time.Millisecond},
		{"switch_stall", c.SwitchStall, 100 * time.Millisecond}, {"switch_hold", c.SwitchHold, 0},
		{"hls_token_ttl", c.HLSTokenTTL, time.Minute}, {"hls_part", c.HLSPart, 100 * time.Millisecond}, {"hls_segment", c.HLSSegment, 500 * time.Millisecond},
		{"archive_segment", c.ArchiveSegment, time.Second}, {"archive_max_age", c.ArchiveMaxAge, 0}} {
		if d.v < d.min {
			return fmt.Errorf("%s %v must be at least %v", d.name, d.v, d.min)
		}
	}
	if err := c.validateArchive(); err != nil {
		return err
	}
	if c.HLSPart > c.HLSSegment {
		return fmt.Errorf("hls_part %v must not be longer than hls_segment %v", c.HLSPart, c.HLSSegment)
	}
	for _, b := range []struct{ name, url string }{{"public_base_url", c.PublicBaseURL}, {"hls_base_url", c.HLSBaseURL}} {
		if b.url == "" {
			continue
		}
		u, err := url.Parse(b.url)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil {
			return fmt.Errorf("%s %q must be http(s)://host[:port], without a path", b.name, b.url)
		}
	}
	switch strings.ToLower(c.LogLevel) {
	case "debug", "info", "warn", "error":
	default:
		return fmt.Errorf("log_level %q must be debug, info, warn or error", c.LogLevel)
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		return fmt.Errorf("log_format %q must be text or json", c.LogFormat)
	}
	if err := c.validateHTTP(); err != nil {
		return err
	}
	return c.validateSecurity()
}

// ArchiveS3 reports whether archive names object storage (s3://).
func (c Config) ArchiveS3() bool { return strings.HasPrefix(c.Archive, "s3://") }

func (c Config) validateArchive() error {
	s3 := c.ArchiveS3()
	switch {
	case s3 && strings.SplitN(strings.TrimPrefix(c.Archive, "s3://"), "/", 2)[0] == "":
		return fmt.Errorf("archive %q has no bucket: s3://BUCKET/PREFIX", c.Archive)
	case !s3 && strings.Contains(c.Archive, "://"):
		return fmt.Errorf("archive %q must be a directory or s3://BUCKET/PREFIX", c.Archive)
	case !s3 && c.Archive != "" && c.ArchiveDir != "" && filepath.Clean(c.Archive) != filepath.Clean(c.ArchiveDir):
		return fmt.Errorf("archive %q and archive_dir %q name two directories: set one", c.Archive, c.ArchiveDir)
	case c.S3Endpoint != "" && !s3:
		return fmt.Errorf("s3_endpoint is set but archive %q is not s3://BUCKET/PREFIX", c.Archive)
	}
	if c.S3Endpoint != "" {
		u, err := url.Parse(c.S3Endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil {
			return fmt.Errorf("s3_endpoint %q must be http(s)://host[:port], without a path", c.S3Endpoint)
		}
	}
	return nil
}

func (c Config) validateHTTP() error {
	for _, n := range []struct {
		name string
		v    int
	}{{"http_max_connections", c.HTTPMaxConnections}, {"http_max_connections_per_address", c.HTTPMaxConnectionsPerAddr}} {
		if n.v < 0 {
			return fmt.Errorf("%s %d must not be negative (0 means no limit)", n.name, n.v)
		}
	}
	if c.HTTPMaxConnections > 0 && c.HTTPMaxConnectionsPerAddr > c.HTTPMaxConnections {
		return fmt.Errorf("http_max_connections_per_address %d must not be above http_max_connections %d", c.HTTPMaxConnectionsPerAddr, c.HTTPMaxConnections)
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"http_read_timeout", c.HTTPReadTimeout}, {"http_write_timeout", c.HTTPWriteTimeout}, {"http_idle_timeout", c.HTTPIdleTimeout}} {
		if d.v < 100*time.Millisecond || d.v > 24*time.Hour {
			return fmt.Errorf("%s %v must be between 100ms and 24h", d.name, d.v)
		}
	}
	if c.MetricsAddr != "" {
		if _, port, err := net.SplitHostPort(c.MetricsAddr); err != nil {
			return fmt.Errorf("metrics_addr %q is not host:port: %w", c.MetricsAddr, err)
		} else if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
			return fmt.Errorf("metrics_addr %q has no valid port", c.MetricsAddr)
		}
		if c.MetricsAddr == c.HTTPAddr {
			return fmt.Errorf("metrics_addr %q is http_addr: leave metrics_addr empty to serve /metrics there", c.MetricsAddr)
		}
	}
	if c.MetricsToken != "" && (len(c.MetricsToken) < 16 || strings.ContainsAny(c.MetricsToken, " \t\r\n")) {
		return errors.New("metrics_token must be at least 16 characters, without spaces")
	}
	return nil
}

func (c Config) validateSecurity() error {
	if (c.TLSCert == "") != (c.TLSKey == "") {
		return fmt.Errorf("tls_cert and tls_key go together: set both to serve HTTPS, or neither for plain HTTP (tls_cert %q, tls_key %q)", c.TLSCert, c.TLSKey)
	}
	for _, n := range []struct {
		name string
		v    int64
	}{{"auth_max_failures", int64(c.AuthMaxFailures)}, {"max_connections", int64(c.MaxConnections)},
		{"max_connections_per_broadcaster", int64(c.MaxConnectionsPerBroadcaster)},
		{"max_hls_viewers", int64(c.MaxHLSViewers)}, {"max_hls_viewers_per_broadcaster", int64(c.MaxHLSViewersPerBroadcaster)}, {"max_publish_bitrate", int64(c.MaxPublishBitrate)},
		{"archive_max_bytes", int64(c.ArchiveMaxBytes)}, {"archive_min_free", int64(c.ArchiveMinFree)}, {"archive_spool_max", int64(c.ArchiveSpoolMax)},
		{"audit_retention", int64(c.AuditRetention)}, {"audit_max_rows", int64(c.AuditMaxRows)}} {
		if n.v < 0 {
			return fmt.Errorf("%s %d must not be negative (0 means no limit)", n.name, n.v)
		}
	}
	if c.ClipWorkers < 1 || c.ClipWorkers > 64 {
		return fmt.Errorf("clip_workers %d must be between 1 and 64", c.ClipWorkers)
	}
	if _, err := c.TrustedProxies.Prefixes(); err != nil {
		return fmt.Errorf("trusted_proxies: %w", err)
	}
	if c.AuthWindow < time.Second {
		return fmt.Errorf("auth_window %v must be at least 1s", c.AuthWindow)
	}
	return nil
}

// Host returns the host name to print in commands for addr (host:port).
func (c Config) Host(addr string) string {
	if c.PublicHost != "" {
		return c.PublicHost
	}
	host, _, _ := net.SplitHostPort(addr)
	if host == "" || host == "0.0.0.0" || host == "::" {
		return "127.0.0.1"
	}
	return host
}
