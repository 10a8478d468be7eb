// Package clientaddr finds the address of an HTTP request's client when
// Podium sits behind reverse proxies or a CDN. Only a connection from a
// trusted proxy is believed about who it forwards for: from anyone else,
// X-Forwarded-For and Forwarded are ignored, so that a client cannot pick
// the address it is rate-limited, locked out and logged under.
//
// It holds no state beyond the trusted networks and knows nothing of what
// the address is used for.
package clientaddr

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// Resolver finds client addresses behind the trusted proxies.
type Resolver struct {
	trusted []netip.Prefix
}

// New returns a resolver that believes the forwarding headers of the
// connections from trusted; with none, every request's client is its peer.
func New(trusted []netip.Prefix) *Resolver {
	return &Resolver{trusted: trusted}
}

// Handler rewrites each request's RemoteAddr to its client's address
// (host:port as the connection's, or the forwarded address alone) before
// next sees it, so that every limiter, log and audit record downstream uses
// it.
func (res *Resolver) Handler(next http.Handler) http.Handler {
	if len(res.trusted) == 0 {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if client, ok := res.Client(r); ok {
			r2 := *r
			r2.RemoteAddr = client.String()
			r = &r2
		}
		next.ServeHTTP(w, r)
	})
}

// Client returns the address r's client has when r comes from a trusted
// proxy that says whom it forwards for: walking the forwarding chain from
// the right, the first hop outside the trusted networks (or the leftmost
// hop, when every hop is trusted). X-Forwarded-For is read when present,
// else Forwarded (RFC 7239): nearly every proxy and CDN appends to
// X-Forwarded-For, and many pass a client's own Forwarded through
// untouched, which must not be believed. ok is false when the peer is not
// trusted or says nothing usable: then the peer is the client.
func (res *Resolver) Client(r *http.Request) (client netip.Addr, ok bool) {
	peer, valid := parseHost(r.RemoteAddr)
	if !valid || !res.isTrusted(peer) {
		return netip.Addr{}, false
	}
	hops := xForwardedFor(r.Header.Values("X-Forwarded-For"))
	if len(hops) == 0 {
		hops = forwardedFor(r.Header.Values("Forwarded"))
	}
	for i := len(hops) - 1; i >= 0; i-- {
		hop, valid := parseHost(hops[i])
		if !valid {
			// Only a hop to the left of every trusted proxy's can be garbage:
			// the client wrote it. The hop to its right is the client.
			break
		}
		client, ok = hop, true
		if !res.isTrusted(hop) {
			return client, true
		}
	}
	return client, ok
}

func (res *Resolver) isTrusted(a netip.Addr) bool {
	for _, p := range res.trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// xForwardedFor lists the hops of X-Forwarded-For headers, leftmost first.
func xForwardedFor(values []string) []string {
	var hops []string
	for _, v := range values {
		for _, hop := range strings.Split(v, ",") {
			hops = append(hops, strings.TrimSpace(hop))
		}
	}
	return hops
}

// forwardedFor lists the for= parameters of Forwarded headers, leftmost
// first; an element without one counts as an unusable hop.
func forwardedFor(values []string) []string {
	var hops []string
	for _, v := range values {
		for _, element := range strings.Split(v, ",") {
			hop := ""
			for _, pair := range strings.Split(element, ";") {
				name, value, _ := strings.Cut(strings.TrimSpace(pair), "=")
				if strings.EqualFold(name, "for") {
					hop = strings.Trim(value, `"`)
				}
			}
			hops = append(hops, hop)
		}
	}
	return hops
}

// parseHost reads an address given as host, host:port, [v6] or [v6]:port.
func parseHost(s string) (netip.Addr, bool) {
	s = strings.TrimSpace(s)
	if len(s) > 64 {
		return netip.Addr{}, false
	}
	if host, _, err := net.SplitHostPort(s); err == nil {
		s = host
	}
	a, err := netip.ParseAddr(strings.Trim(s, "[]"))
	if err != nil {
		return netip.Addr{}, false
	}
	return a.Unmap().WithZone(""), true
}
