package api

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"math"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/podium-broadcast/podium/internal/catalog"
)

// SessionCookie is the cookie that carries a portal session.
const SessionCookie = "podium_session"

// sessionTTL bounds a portal session; signing in again starts a new one.
const sessionTTL = 12 * time.Hour

// maxSessions bounds the sessions kept, so that signing in over and over
// (with a valid key: sign-ins are not otherwise limited) cannot exhaust
// memory; past it, the session closest to its end is dropped.
const maxSessions = 10000

// sessions holds the portal's signed-in browsers. A session is a random id
// kept in an HttpOnly cookie; the server keeps only its hash, so that signing
// out really ends it. Sessions live in memory: a restart signs everyone out.
type sessions struct {
	now func() time.Time
	max int
	mu  sync.Mutex
	m   map[string]session // by sha256 of the cookie value
}

type session struct {
	principal
	expires time.Time
}

func newSessions(now func() time.Time) *sessions {
	return &sessions{now: now, max: maxSessions, m: make(map[string]session)}
}

func sessionKey(value string) string {
	sum := sha256.Sum256([]byte(value))
	return hex.EncodeToString(sum[:])
}

// create starts a session for p and returns the cookie value.
func (s *sessions) create(p principal) (string, time.Time) {
	value := rand.Text() + rand.Text()
	expires := s.now().Add(sessionTTL)
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, old := range s.m {
		if !s.now().Before(old.expires) {
			delete(s.m, k)
		}
	}
	if len(s.m) >= s.max {
		var oldest string
		for k, sess := range s.m {
			if oldest == "" || sess.expires.Before(s.m[oldest].expires) {
				oldest = k
			}
		}
		delete(s.m, oldest)
	}
	s.m[sessionKey(value)] = session{principal: p, expires: expires}
	return value, expires
}

func (s *sessions) lookup(value string) (principal, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sess, ok := s.m[sessionKey(value)]
	if !ok || !s.now().Before(sess.expires) {
		return principal{}, false
	}
	return sess.principal, true
}

func (s *sessions) end(value string) {
	s.mu.Lock()
	delete(s.m, sessionKey(value))
	s.mu.Unlock()
}

// tokenPrincipal returns who the admin token or a broadcaster API key belongs to.
func (s *server) tokenPrincipal(token string) (principal, bool) {
	if token == "" {
		return principal{}, false
	}
	if subtle.ConstantTimeCompare([]byte(token), []byte(s.AdminToken)) == 1 {
		return principal{admin: true}, true
	}
	if b, found := s.Store.Snapshot().BroadcasterByAPIKeyHash(catalog.HashAPIKey(token)); found {
		return principal{broadcasterID: b.ID}, true
	}
	return principal{}, false
}

// sessionPrincipal returns who the request's session cookie belongs to. A
// broadcaster's session ends with the broadcaster.
func (s *server) sessionPrincipal(r *http.Request) (principal, bool) {
	c, err := r.Cookie(SessionCookie)
	if err != nil || c.Value == "" {
		return principal{}, false
	}
	p, ok := s.sessions.lookup(c.Value)
	if !ok {
		return principal{}, false
	}
	if !p.admin {
		if _, exists := s.Store.Snapshot().Broadcaster(p.broadcasterID); !exists {
			s.sessions.end(c.Value)
			return principal{}, false
		}
	}
	return p, true
}

type sessionJSON struct {
	Role        string           `json:"role"`
	Broadcaster *broadcasterJSON `json:"broadcaster,omitempty"`
}

func (s *server) sessionJSON(p principal) sessionJSON {
	if p.admin {
		return sessionJSON{Role: "admin"}
	}
	out := sessionJSON{Role: "broadcaster"}
	if b, ok := s.Store.Snapshot().Broadcaster(p.broadcasterID); ok {
		j := toBroadcasterJSON(b)
		out.Broadcaster = &j
	}
	return out
}

type signInRequest struct {
	Token string `json:"token"`
}

// signIn exchanges the admin token or an API key for a session cookie.
func (s *server) signIn(w http.ResponseWriter, r *http.Request) {
	// A page of another origin must not sign a browser in, to an account of its choosing, either.
	if refuseCrossSite(w, r) {
		return
	}
	var req signInRequest
	if err := decode(r, &req); err != nil {
		writeError(w, err)
		return
	}
	req.Token = strings.TrimSpace(req.Token)
	if req.Token == "" {
		writeError(w, invalid("token", "token is required: the admin token or a broadcaster API key"))
		return
	}
	p, ok := s.tokenPrincipal(req.Token)
	if s.lockedOut(w, r, ok) {
		return
	}
	if rec := auditOf(r); rec != nil {
		rec.signIn = true
	}
	if ok {
		audited(r, p)
	}
	if !ok {
		s.Log.Info("portal sign-in refused", "remote", r.RemoteAddr, "reason", "unknown token")
		writeError(w, apiError(http.StatusUnauthorized, "unauthorized", "token", "unknown token: use the admin token or a broadcaster API key"))
		return
	}
	value, expires := s.sessions.create(p)
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: value, Path: "/", Expires: expires,
		HttpOnly: true, Secure: secureCookie(r), SameSite: http.SameSiteStrictMode})
	s.Log.Info("portal signed in", "remote", r.RemoteAddr, "role", s.sessionJSON(p).Role, "broadcaster", p.broadcasterID)
	writeJSON(w, http.StatusOK, s.sessionJSON(p))
}

func (s *server) getSession(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.sessionJSON(who(r)))
}

func (s *server) signOut(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(SessionCookie); err == nil {
		s.sessions.end(c.Value)
	}
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: secureCookie(r), SameSite: http.SameSiteStrictMode})
	s.Log.Info("portal signed out", "remote", r.RemoteAddr, "broadcaster", who(r).broadcasterID)
	w.WriteHeader(http.StatusNoContent)
}

// lockedOut tells the limiter whether the request's credential was right
// and, for a wrong one from a client locked out, answers 429 and reports
// true. A right credential is never refused for its address: behind a
// proxy every client may share one, and a wrong guess at a 128-bit or
// longer secret cannot become a right one, so refusing it would only let
// one client lock out the others.
func (s *server) lockedOut(w http.ResponseWriter, r *http.Request, ok bool) bool {
	if ok {
		s.Auth.Succeed(r.RemoteAddr)
		return false
	}
	if retry, allowed := s.Auth.Check(r.RemoteAddr); !allowed {
		writeLockedOut(w, retry)
		return true
	}
	s.Auth.Fail(r.RemoteAddr)
	return false
}

// writeLockedOut refuses a request from an address locked out after too
// many failed authentications, saying when to come back.
func writeLockedOut(w http.ResponseWriter, retry time.Duration) {
	seconds := max(1, int(math.Ceil(retry.Seconds())))
	w.Header().Set("Retry-After", strconv.Itoa(seconds))
	writeError(w, apiError(http.StatusTooManyRequests, "too_many_requests", "",
		"too many failed authentications from this address: it is locked out, try again in %d s", seconds))
}

// secureCookie says whether the session cookie gets the Secure attribute:
// always over HTTPS (directly or behind a proxy that says so) and on
// loopback, where browsers accept it over plain HTTP. Elsewhere over plain
// HTTP a browser would drop a Secure cookie and the portal could not sign in;
// put Podium behind HTTPS there (README, "The portal").
func secureCookie(r *http.Request) bool {
	if r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https") {
		return true
	}
	host, _, err := net.SplitHostPort(r.Host)
	if err != nil {
		host = r.Host
	}
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}
