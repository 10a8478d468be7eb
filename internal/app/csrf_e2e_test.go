package app_test

import (
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// attackerPage is served from another port of 127.0.0.1: same site as the
// portal, so its SameSite=Strict cookie goes along. Its requests are those
// any page may send anywhere: no-cors, with credentials, Blob bodies (no
// Content-Type, or text/plain).
const attackerPage = `<!doctype html><title>prize draw</title><script>
const target = new URLSearchParams(location.search).get('target');
const attempts = [
  ['/api/v1/broadcasters', new Blob([JSON.stringify({id: 'csrf-evil', name: 'Evil', srt_passphrase: 'chosen-by-the-attacker'})])],
  ['/api/v1/entitlements', new Blob([JSON.stringify({broadcaster_id: 'csrf-b', feed_id: 'csrf-feed'})])],
  ['/api/v1/broadcasters', new Blob([JSON.stringify({id: 'csrf-evil2', name: 'Evil'})], {type: 'text/plain'})],
];
window.__attackResults = [];
(async () => {
  for (const [path, body] of attempts) {
    try {
      const resp = await fetch(target + path, {method: 'POST', mode: 'no-cors', credentials: 'include', body});
      window.__attackResults.push('sent ' + path + ' (' + resp.type + ')');
    } catch (err) {
      window.__attackResults.push('failed ' + path + ': ' + err.message);
    }
  }
  window.__attackDone = true;
})();
</script>`

// TestCrossSiteRequestsInBrowser: with the operator signed in to the portal
// in Chromium, a page on another port of the same host sends writes with the
// session cookie (web/e2e/csrf.mjs); they reach Podium signed in and are
// refused, nothing is created, and the portal's own page still writes.
func TestCrossSiteRequestsInBrowser(t *testing.T) {
	browserTestDeps(t)
	p := startPodium(t, options{})
	p.createFeed("csrf-feed")
	p.createBroadcaster("csrf-b")

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	page := &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write([]byte(attackerPage))
	})}
	served := make(chan struct{})
	go func() { page.Serve(ln); close(served) }()
	t.Cleanup(func() { page.Close(); <-served })

	p.runBrowserScript("csrf", 2*time.Minute, []string{"PODIUM_ATTACKER=http://" + ln.Addr().String() + "/"}, nil)

	for _, id := range []string{"csrf-evil", "csrf-evil2"} {
		if status := p.api("GET", "/api/v1/broadcasters/"+id, p.AdminToken, nil, nil); status != 404 {
			t.Errorf("broadcaster %s: %d, want 404 (created by the attacker's page)", id, status)
		}
	}
	var grants []struct{ ID string }
	p.mustAPI("GET", "/api/v1/entitlements?broadcaster_id=csrf-b", nil, 200, &grants)
	if len(grants) != 0 {
		t.Errorf("the attacker's page granted %v", grants)
	}
	p.mustAPI("GET", "/api/v1/feeds/csrf-own", nil, 200, nil)
	// The requests came with the operator's session (else the test proves
	// nothing): the audit log has them, refused.
	var audit []struct {
		Actor, Method, Path string
		Status              int
	}
	p.mustAPI("GET", "/api/v1/audit?limit=50", nil, 200, &audit)
	refused := 0
	for _, e := range audit {
		if e.Actor == "admin" && e.Method == "POST" && e.Status == 403 && strings.HasPrefix(e.Path, "/api/v1/") {
			refused++
		}
	}
	if refused != 3 {
		t.Errorf("%d of the attacker's 3 requests were refused with the operator's session, want 3: %+v", refused, audit)
	}
	if !strings.Contains(p.logs.String(), "cross-site request refused") {
		t.Error("no cross-site refusal logged")
	}
}
