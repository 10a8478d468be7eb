// Package tlscert serves a TLS certificate from PEM files that may be
// replaced while the server runs, as a renewal by certbot or cert-manager
// does: the files are read again when the modification time or size of
// either changes, checked at each new TLS connection, or on Reload (SIGHUP).
// A pair that does not load (a key written after its certificate, say)
// leaves the previous certificate in service until the files are whole.
package tlscert

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"
)

// Reloader holds the certificate of a certificate file and a key file.
type Reloader struct {
	certPath, keyPath string
	log               *slog.Logger

	mu     sync.Mutex
	cert   *tls.Certificate
	loaded stamp // of the files cert was read from
	// failed and failedErr are the last failed reload, logged once.
	failed    stamp
	failedErr string
}

// stamp tells versions of the two files apart.
type stamp struct {
	certMod, keyMod   time.Time
	certSize, keySize int64
}

// New reads the certificate and key, failing with a message that names
// the files if they do not make a valid pair.
func New(certPath, keyPath string, log *slog.Logger) (*Reloader, error) {
	r := &Reloader{certPath: certPath, keyPath: keyPath, log: log}
	st, err := r.stat()
	if err == nil {
		err = r.load(st)
	}
	if err != nil {
		return nil, err
	}
	leaf := r.cert.Leaf
	log.Info("tls certificate loaded", "cert", certPath, "subject", leaf.Subject.String(), "dns_names", leaf.DNSNames,
		"not_after", leaf.NotAfter.UTC().Format(time.RFC3339))
	if time.Now().After(leaf.NotAfter) {
		log.Warn("tls certificate has expired", "cert", certPath, "not_after", leaf.NotAfter.UTC().Format(time.RFC3339))
	}
	return r, nil
}

// TLSConfig returns a server configuration that serves the current certificate.
func (r *Reloader) TLSConfig() *tls.Config {
	return &tls.Config{GetCertificate: r.GetCertificate, MinVersion: tls.VersionTLS12}
}

// GetCertificate implements tls.Config.GetCertificate: the current
// certificate, read again first if the files changed.
func (r *Reloader) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	st, err := r.stat()
	if err == nil && (st == r.loaded || st == r.failed) {
		// Unchanged, or a version already found bad and logged.
		return r.cert, nil
	}
	if err == nil {
		if err = r.load(st); err == nil {
			r.logReload("files changed")
			return r.cert, nil
		}
	}
	r.failedTo(st, err, "files changed")
	return r.cert, nil
}

// Reload reads the files again now, whether or not they changed. On error
// the previous certificate stays in service.
func (r *Reloader) Reload(reason string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	st, err := r.stat()
	if err == nil {
		err = r.load(st)
	}
	if err != nil {
		r.failed, r.failedErr = stamp{}, ""
		r.failedTo(st, err, reason)
		return err
	}
	r.logReload(reason)
	return nil
}

// failedTo logs a failed reload once per version of the files and error.
func (r *Reloader) failedTo(st stamp, err error, reason string) {
	if st == r.failed && err.Error() == r.failedErr {
		return
	}
	r.failed, r.failedErr = st, err.Error()
	r.log.Warn("tls certificate not reloaded: serving the previous one", "reason", reason, "cert", r.certPath, "key", r.keyPath, "err", err)
}

func (r *Reloader) logReload(reason string) {
	leaf := r.cert.Leaf
	r.log.Info("tls certificate reloaded", "reason", reason, "cert", r.certPath, "subject", leaf.Subject.String(),
		"not_after", leaf.NotAfter.UTC().Format(time.RFC3339))
}

func (r *Reloader) stat() (stamp, error) {
	c, err := os.Stat(r.certPath)
	if err != nil {
		return stamp{}, fmt.Errorf("tls_cert: %w", err)
	}
	k, err := os.Stat(r.keyPath)
	if err != nil {
		return stamp{}, fmt.Errorf("tls_key: %w", err)
	}
	return stamp{certMod: c.ModTime(), keyMod: k.ModTime(), certSize: c.Size(), keySize: k.Size()}, nil
}

// load reads the pair; r.mu is held, or r is not shared yet.
func (r *Reloader) load(st stamp) error {
	cert, err := tls.LoadX509KeyPair(r.certPath, r.keyPath)
	if err != nil {
		return fmt.Errorf("tls_cert %s and tls_key %s are not a valid PEM certificate and key pair: %w", r.certPath, r.keyPath, err)
	}
	r.cert, r.loaded, r.failed, r.failedErr = &cert, st, stamp{}, ""
	return nil
}
