package rtmpserver

import (
	"crypto/subtle"
	"fmt"
	"net/url"
	"strings"

	"github.com/podium-broadcast/podium/internal/catalog"
	"github.com/podium-broadcast/podium/internal/ingest"
)

// App is the one RTMP application Podium serves: encoders publish to
// rtmp://HOST:PORT/live with the stream key FEED?key=PUBLISH_PASSPHRASE.
const App = "live"

// streamName is what a publisher asked for: rtmp://HOST:PORT/APP/FEED?key=KEY,
// that is the server URL (tcUrl) joined with the stream key.
type streamName struct {
	App, Feed, Key string
}

// parseStreamName splits the URL a publisher asked for. It fails when the
// path is not APP/FEED; the app and the feed are checked by the caller.
func parseStreamName(u *url.URL) (streamName, error) {
	app, feed, ok := strings.Cut(strings.TrimPrefix(u.Path, "/"), "/")
	if !ok || feed == "" || strings.Contains(feed, "/") {
		return streamName{App: app}, fmt.Errorf("stream %q is not %s/FEED: the server is rtmp://HOST:PORT/%s and the stream key FEED?key=PASSPHRASE",
			truncate(strings.TrimPrefix(u.Path, "/")), App, App)
	}
	return streamName{App: app, Feed: feed, Key: queryKey(u.RawQuery)}, nil
}

// queryKey returns the key= parameter of a raw query. RTMP clients send the
// stream key as typed, so the value is taken as it is; a percent-encoded one
// is decoded.
func queryKey(rawQuery string) string {
	for param := range strings.SplitSeq(rawQuery, "&") {
		if v, ok := strings.CutPrefix(param, "key="); ok {
			if strings.Contains(v, "%") {
				if dec, err := url.PathUnescape(v); err == nil {
					return dec
				}
			}
			return v
		}
	}
	return ""
}

// role says which source of the feed key opens: its primary publish
// passphrase opens the primary, its backup one the backup. ok is false for
// any other key.
func role(f catalog.Feed, key string) (r string, ok bool) {
	switch {
	case key == "":
		return "", false
	case equal(key, f.PublishPassphrase):
		return ingest.Primary, true
	case f.BackupPublishPassphrase != "" && equal(key, f.BackupPublishPassphrase):
		return ingest.Backup, true
	}
	return "", false
}

// equal compares secrets in constant time.
func equal(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }

// truncate bounds what a peer sent before it goes into a log line.
func truncate(s string) string {
	const max = 80
	if len(s) > max {
		return s[:max] + "…"
	}
	return s
}
