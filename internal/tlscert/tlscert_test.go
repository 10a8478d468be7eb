package tlscert_test

import (
	"bytes"
	"crypto/tls"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/podium-broadcast/podium/internal/tlscert"
	"github.com/podium-broadcast/podium/internal/tlscert/tlscerttest"
)

// serve runs a TLS listener on 127.0.0.1 with r's configuration, completing handshakes.
func serve(t *testing.T, r *tlscert.Reloader) string {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", r.TLSConfig())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.(*tls.Conn).Handshake()
			c.Close()
		}
	}()
	return ln.Addr().String()
}

func TestCertificateIsReloadedWhenTheFilesChange(t *testing.T) {
	dir := t.TempDir()
	certPath, keyPath := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	tlscerttest.Write(t, certPath, keyPath, "podium-a")
	var logs bytes.Buffer
	r, err := tlscert.New(certPath, keyPath, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	addr := serve(t, r)
	if got := tlscerttest.ServedName(t, addr); got != "podium-a" {
		t.Fatalf("served %q, want podium-a", got)
	}
	tlscerttest.Write(t, certPath, keyPath, "podium-b")
	if got := tlscerttest.ServedName(t, addr); got != "podium-b" {
		t.Fatalf("after replacing the files: served %q, want podium-b", got)
	}

	// A half-written renewal (new certificate, old key) keeps the previous
	// pair in service, logged once; the pair is taken once whole.
	certC, keyC := tlscerttest.Pair(t, "podium-c")
	os.WriteFile(certPath, certC, 0o600)
	for range 3 {
		if got := tlscerttest.ServedName(t, addr); got != "podium-b" {
			t.Fatalf("with a mismatched pair: served %q, want podium-b", got)
		}
	}
	if n := strings.Count(logs.String(), "tls certificate not reloaded"); n != 1 {
		t.Fatalf("failed reload logged %d times, want once:\n%s", n, logs.String())
	}
	os.WriteFile(keyPath, keyC, 0o600)
	if got := tlscerttest.ServedName(t, addr); got != "podium-c" {
		t.Fatalf("after the key: served %q, want podium-c", got)
	}
}

func TestReloadOnDemand(t *testing.T) {
	dir := t.TempDir()
	certPath, keyPath := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	tlscerttest.Write(t, certPath, keyPath, "podium-a")
	var logs bytes.Buffer
	r, err := tlscert.New(certPath, keyPath, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	tlscerttest.Write(t, certPath, keyPath, "podium-b")
	if err := r.Reload("SIGHUP"); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), `msg="tls certificate reloaded" reason=SIGHUP`) || !strings.Contains(logs.String(), "CN=podium-b") {
		t.Fatalf("reload not logged: %s", logs.String())
	}
	os.Remove(keyPath)
	if err := r.Reload("SIGHUP"); err == nil || !strings.Contains(err.Error(), "tls_key") {
		t.Fatalf("reload without a key: %v", err)
	}
	addr := serve(t, r)
	if got := tlscerttest.ServedName(t, addr); got != "podium-b" {
		t.Fatalf("after a failed reload: served %q, want podium-b", got)
	}
}

func TestBadFilesAreRefusedAtStart(t *testing.T) {
	dir := t.TempDir()
	certPath, keyPath := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	certA, _ := tlscerttest.Pair(t, "a")
	_, keyB := tlscerttest.Pair(t, "b")
	os.WriteFile(certPath, certA, 0o600)
	os.WriteFile(keyPath, keyB, 0o600)
	log := slog.New(slog.DiscardHandler)
	for name, paths := range map[string][2]string{
		"missing certificate": {filepath.Join(dir, "nope.pem"), keyPath},
		"mismatched pair":     {certPath, keyPath},
		"not PEM":             {keyPath, certPath},
	} {
		if _, err := tlscert.New(paths[0], paths[1], log); err == nil {
			t.Errorf("%s: accepted", name)
		} else if !strings.Contains(err.Error(), "tls_") {
			t.Errorf("%s: error does not name the setting: %v", name, err)
		}
	}
}
