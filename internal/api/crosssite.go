package api

import (
	"net/http"
	"net/url"
	"strings"
)

// stateChanging reports whether a request of this method may change something.
func stateChanging(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return false
	}
	return true
}

// requestOrigin is the origin (scheme://host[:port], default port left out)
// a request was sent to: https over TLS, or behind a proxy that says so.
func requestOrigin(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https") {
		scheme = "https"
	}
	return normalOrigin(scheme, r.Host)
}

// normalOrigin lower-cases scheme and host and drops the scheme's default port.
func normalOrigin(scheme, host string) string {
	scheme, host = strings.ToLower(scheme), strings.ToLower(host)
	if (scheme == "http" && strings.HasSuffix(host, ":80")) || (scheme == "https" && strings.HasSuffix(host, ":443")) {
		host = host[:strings.LastIndexByte(host, ':')]
	}
	return scheme + "://" + host
}

// crossSite says why a cookie-authenticated write is refused as cross-site,
// or "" to let it through. Browsers send Sec-Fetch-Site and Origin on such
// requests and a page cannot forge them: a write is refused when
// Sec-Fetch-Site names another origin (a page on another port of the same
// host is "same-site", and SameSite cookies do not stop it), or when Origin
// is not the request's own origin (own: requestOrigin). Clients that send
// neither (curl, scripts) are not browsers a page can drive.
func crossSite(secFetchSite, origin, own string) string {
	switch secFetchSite {
	case "", "same-origin", "none":
	default:
		return "the request comes from another site or origin (Sec-Fetch-Site: " + clip(secFetchSite) + ")"
	}
	if origin == "" {
		return ""
	}
	u, err := url.Parse(origin)
	if err != nil || u.Scheme == "" || u.Host == "" || u.Path != "" || u.RawQuery != "" || u.User != nil ||
		normalOrigin(u.Scheme, u.Host) != own {
		return "the request comes from the page of another origin (Origin: " + clip(origin) + ", this server: " + own + ")"
	}
	return ""
}

func clip(s string) string {
	if len(s) > 100 {
		return s[:100] + "…"
	}
	return s
}

// refuseCrossSite answers a cookie-authenticated write from another origin
// with 403 cross_site, and returns true; false lets it through.
func refuseCrossSite(w http.ResponseWriter, r *http.Request) bool {
	if !stateChanging(r.Method) {
		return false
	}
	reason := crossSite(r.Header.Get("Sec-Fetch-Site"), r.Header.Get("Origin"), requestOrigin(r))
	if reason == "" {
		return false
	}
	writeError(w, apiError(http.StatusForbidden, "cross_site", "", "%s: a signed-in portal accepts writes only from its own pages", reason))
	return true
}
