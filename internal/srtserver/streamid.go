package srtserver

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// StreamID is an SRT access-control stream id: `#!::r=FEED,m=publish` or
// `#!::r=FEED,u=BROADCASTER,m=request`.
type StreamID struct {
	Resource string // r: the feed id
	Mode     string // m: request (the default) or publish
	User     string // u: the broadcaster id of a request
	Host     string // h: the virtual host, ignored
	Session  string // s: the session id
	Type     string // t: stream (the default)
}

// Stream id modes.
const (
	ModeRequest = "request"
	ModePublish = "publish"
)

const streamIDPrefix = "#!::"

// ParseStreamID reads a stream id in SRT access-control syntax. Its errors
// are *Rejection values carrying the SRT reject code to answer with.
func ParseStreamID(s string) (StreamID, error) {
	if s == "" {
		return StreamID{}, reject(RejectBadRequest, "no streamid: expected %sr=FEED,m=publish or %sr=FEED,u=BROADCASTER,m=request", streamIDPrefix, streamIDPrefix)
	}
	// GStreamer's srtsrc passes on a streamid whose # was escaped in its
	// URI (where # would start the fragment) as it was written.
	if rest, ok := strings.CutPrefix(s, "%23!::"); ok {
		s = streamIDPrefix + rest
	}
	if !strings.HasPrefix(s, streamIDPrefix) {
		return StreamID{}, reject(RejectBadRequest, "streamid %q is not in SRT access-control syntax (%sr=FEED,...)", truncate(s), streamIDPrefix)
	}
	id := StreamID{Mode: ModeRequest, Type: "stream"}
	seen := map[string]bool{}
	for _, pair := range strings.Split(s[len(streamIDPrefix):], ",") {
		key, value, ok := strings.Cut(pair, "=")
		if !ok || key == "" {
			return StreamID{}, reject(RejectBadRequest, "streamid item %q is not key=value", truncate(pair))
		}
		if seen[key] {
			return StreamID{}, reject(RejectBadRequest, "streamid key %q given twice", truncate(key))
		}
		seen[key] = true
		if value == "" {
			return StreamID{}, reject(RejectBadRequest, "streamid key %q has an empty value", truncate(key))
		}
		switch key {
		case "r":
			id.Resource = value
		case "m":
			id.Mode = value
		case "u":
			id.User = value
		case "h":
			id.Host = value
		case "s":
			id.Session = value
		case "t":
			id.Type = value
		default:
			return StreamID{}, reject(RejectBadRequest, "streamid key %q is not supported (use r, m, u, h, s, t)", truncate(key))
		}
	}
	if id.Resource == "" {
		return StreamID{}, reject(RejectBadRequest, "streamid has no r= (the feed id)")
	}
	if id.Type != "stream" {
		return StreamID{}, reject(RejectUnsupportedMedia, "streamid t=%q is not supported: only t=stream", truncate(id.Type))
	}
	switch id.Mode {
	case ModePublish:
	case ModeRequest:
		if id.User == "" {
			return StreamID{}, reject(RejectBadRequest, "streamid m=request needs u= (the broadcaster id)")
		}
	default:
		return StreamID{}, reject(RejectBadMode, "streamid m=%q is not supported: use m=publish or m=request", truncate(id.Mode))
	}
	return id, nil
}

// String writes the stream id back in access-control syntax.
func (id StreamID) String() string {
	var b strings.Builder
	b.WriteString(streamIDPrefix + "r=" + id.Resource)
	if id.User != "" {
		b.WriteString(",u=" + id.User)
	}
	if id.Session != "" {
		b.WriteString(",s=" + id.Session)
	}
	b.WriteString(",m=" + id.Mode)
	return b.String()
}

// truncate keeps hostile input short in logs and rejection messages.
func truncate(s string) string {
	const limit = 64
	if len(s) <= limit {
		return s
	}
	cut := limit
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// RejectCode is an SRT access-control rejection reason (SRT_REJX_*), as
// libsrt, ffmpeg and srt-live-transmit report it to the caller.
type RejectCode uint32

// The rejection reasons Podium answers with.
const (
	RejectBadRequest       RejectCode = 1400
	RejectUnauthorized     RejectCode = 1401
	RejectOverload         RejectCode = 1402
	RejectForbidden        RejectCode = 1403
	RejectNotFound         RejectCode = 1404
	RejectBadMode          RejectCode = 1405
	RejectConflict         RejectCode = 1407
	RejectUnsupportedMedia RejectCode = 1415
	// RejectLocked refuses an address locked out after too many failed
	// authentications (SRT_REJX_LOCKED: "locked for any access").
	RejectLocked   RejectCode = 1423
	RejectInternal RejectCode = 1500
)

// String names the code as the SRT access-control specification does.
func (c RejectCode) String() string {
	switch c {
	case RejectBadRequest:
		return "bad request"
	case RejectUnauthorized:
		return "unauthorized"
	case RejectOverload:
		return "overload"
	case RejectForbidden:
		return "forbidden"
	case RejectNotFound:
		return "not found"
	case RejectBadMode:
		return "bad mode"
	case RejectConflict:
		return "conflict"
	case RejectUnsupportedMedia:
		return "unsupported media"
	case RejectLocked:
		return "locked"
	case RejectInternal:
		return "internal server error"
	}
	return fmt.Sprintf("reject %d", uint32(c))
}

// Rejection is a refused connection: the code sent to the caller and the reason logged.
type Rejection struct {
	Code   RejectCode
	Reason string
}

func (r *Rejection) Error() string {
	return fmt.Sprintf("%s (%d): %s", r.Code, uint32(r.Code), r.Reason)
}

func reject(code RejectCode, format string, args ...any) *Rejection {
	return &Rejection{Code: code, Reason: fmt.Sprintf(format, args...)}
}
