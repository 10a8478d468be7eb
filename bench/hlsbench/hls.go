package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// multivariant is what the bench needs of a multivariant playlist.
type multivariant struct {
	variants []string // media playlist URIs of the EXT-X-STREAM-INF entries, as written
	audio    []string // URIs of the EXT-X-MEDIA audio renditions
}

// parseMultivariant reads a multivariant playlist.
func parseMultivariant(text string) (multivariant, error) {
	var m multivariant
	if !strings.HasPrefix(text, "#EXTM3U") {
		return m, fmt.Errorf("not a playlist: %.60q", text)
	}
	lines := strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n")
	for i := 0; i < len(lines); i++ {
		line := strings.TrimSpace(lines[i])
		switch {
		case strings.HasPrefix(line, "#EXT-X-STREAM-INF:"):
			for i+1 < len(lines) {
				i++
				if next := strings.TrimSpace(lines[i]); next != "" && !strings.HasPrefix(next, "#") {
					m.variants = append(m.variants, next)
					break
				}
			}
		case strings.HasPrefix(line, "#EXT-X-MEDIA:"):
			attrs := parseAttributes(strings.TrimPrefix(line, "#EXT-X-MEDIA:"))
			if attrs["TYPE"] == "AUDIO" && attrs["URI"] != "" {
				m.audio = append(m.audio, attrs["URI"])
			}
		}
	}
	if len(m.variants) == 0 {
		return m, fmt.Errorf("multivariant playlist without EXT-X-STREAM-INF")
	}
	return m, nil
}

// mediaPlaylist is what the bench needs of a (low-latency) media playlist.
type mediaPlaylist struct {
	initURI        string   // EXT-X-MAP
	segments       []string // complete segments, oldest first
	parts          []string // complete parts (EXT-X-PART), oldest first; no preload hint
	targetDuration float64
	partTarget     float64
	serverControl  string // EXT-X-SERVER-CONTROL attributes, as written
}

// parseMedia reads a media playlist.
func parseMedia(text string) (mediaPlaylist, error) {
	var m mediaPlaylist
	if !strings.HasPrefix(text, "#EXTM3U") {
		return m, fmt.Errorf("not a playlist: %.60q", text)
	}
	for line := range strings.Lines(text) {
		line = strings.TrimSpace(line)
		tag, value, _ := strings.Cut(line, ":")
		switch tag {
		case "":
		case "#EXT-X-MAP":
			m.initURI = parseAttributes(value)["URI"]
		case "#EXT-X-PART":
			if uri := parseAttributes(value)["URI"]; uri != "" {
				m.parts = append(m.parts, uri)
			}
		case "#EXT-X-TARGETDURATION":
			m.targetDuration, _ = strconv.ParseFloat(value, 64)
		case "#EXT-X-PART-INF":
			m.partTarget, _ = strconv.ParseFloat(parseAttributes(value)["PART-TARGET"], 64)
		case "#EXT-X-SERVER-CONTROL":
			m.serverControl = value
		default:
			if !strings.HasPrefix(line, "#") {
				m.segments = append(m.segments, line)
			}
		}
	}
	if m.initURI == "" {
		return m, fmt.Errorf("media playlist without EXT-X-MAP (not fMP4)")
	}
	return m, nil
}

// parseAttributes reads an HLS attribute list: KEY=value,KEY="quoted, value".
func parseAttributes(list string) map[string]string {
	attrs := map[string]string{}
	for list != "" {
		key, rest, ok := strings.Cut(list, "=")
		if !ok {
			break
		}
		var value string
		if strings.HasPrefix(rest, `"`) {
			end := strings.IndexByte(rest[1:], '"')
			if end < 0 {
				break
			}
			value, rest = rest[1:1+end], rest[2+end:]
		} else {
			value, rest, _ = strings.Cut(rest, ",")
			rest = "," + rest
		}
		attrs[strings.TrimSpace(key)] = value
		_, list, _ = strings.Cut(rest, ",")
	}
	return attrs
}

// resolve returns ref relative to base, as a player resolves playlist URIs.
func resolve(base, ref string) (string, error) {
	b, err := url.Parse(base)
	if err != nil {
		return "", err
	}
	r, err := url.Parse(ref)
	if err != nil {
		return "", err
	}
	return b.ResolveReference(r).String(), nil
}

// fetch GETs url and returns its body; any status but 200 is an error.
func fetch(ctx context.Context, url string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s: %.200s", url, resp.Status, body)
	}
	return body, nil
}
