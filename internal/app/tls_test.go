package app_test

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/podium-broadcast/podium/internal/config"
	"github.com/podium-broadcast/podium/internal/tlscert/tlscerttest"
)

// TestHTTPSWithCertificateReload: with tls_cert and tls_key, the API, the
// portal and HLS URLs are HTTPS, the session cookie is Secure whatever the
// host, and a certificate replaced on disk is served from the next connection.
func TestHTTPSWithCertificateReload(t *testing.T) {
	dir := t.TempDir()
	certPath, keyPath := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	tlscerttest.Write(t, certPath, keyPath, "podium-a")
	p := startPodium(t, options{configure: func(c *config.Config) { c.TLSCert, c.TLSKey = certPath, keyPath }})
	if !strings.HasPrefix(p.HTTPURL(), "https://") {
		t.Fatalf("HTTPURL %q", p.HTTPURL())
	}
	if got := tlscerttest.ServedName(t, p.HTTPAddr()); got != "podium-a" {
		t.Fatalf("served %q, want podium-a", got)
	}

	certA, err := tls.LoadX509KeyPair(certPath, keyPath)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(certA.Leaf)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}
	defer client.CloseIdleConnections()
	base := p.HTTPURL()
	get := func(path string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest("GET", base+path, nil)
		req.Header.Set("Authorization", "Bearer "+p.AdminToken)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		return resp
	}
	req, _ := http.NewRequest("POST", base+"/api/v1/feeds", strings.NewReader(`{"id":"ath-100m-final","name":"100m"}`))
	req.Header.Set("Authorization", "Bearer "+p.AdminToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil || resp.StatusCode != 201 {
		t.Fatalf("create a feed over HTTPS: %v %v", resp, err)
	}
	resp.Body.Close()
	resp = get("/api/v1/feeds/ath-100m-final/playback")
	var playback struct {
		HLSURL string `json:"hls_url"`
	}
	json.NewDecoder(resp.Body).Decode(&playback)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(playback.HLSURL, base+"/hls/") {
		t.Fatalf("playback over HTTPS: %d %q", resp.StatusCode, playback.HLSURL)
	}
	resp = get("/")
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(page), "<html") {
		t.Fatalf("portal over HTTPS: %d", resp.StatusCode)
	}

	// Signed in under a public host name (plain HTTP would not get Secure there).
	req, _ = http.NewRequest("POST", base+"/api/v1/session", strings.NewReader(`{"token":"`+p.AdminToken+`"}`))
	req.Host = "podium.example.com"
	req.Header.Set("Content-Type", "application/json")
	resp, err = client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if cookies := resp.Cookies(); resp.StatusCode != 200 || len(cookies) != 1 || !cookies[0].Secure || !cookies[0].HttpOnly {
		t.Fatalf("session cookie over HTTPS: %d %+v", resp.StatusCode, cookies)
	}

	tlscerttest.Write(t, certPath, keyPath, "podium-b")
	if got := tlscerttest.ServedName(t, p.HTTPAddr()); got != "podium-b" {
		t.Fatalf("after replacing the files: served %q, want podium-b", got)
	}
	if !strings.Contains(p.logs.String(), `msg="tls certificate reloaded" reason="files changed"`) {
		t.Error("reload not logged")
	}
}
