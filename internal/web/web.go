// Package web is the portal: the browser application that broadcasters and
// operators use (hand-written ES modules and CSS, and vendored browser
// libraries), embedded in the binary and served by Handler. It holds no API
// logic: the pages call the REST API under /api/v1 and play HLS from /hls.
package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
	"time"
)

//go:embed static
var static embed.FS

// file is one embedded file, ready to serve.
type file struct {
	data        []byte
	etag        string
	contentType string
	cache       string
}

const (
	// revalidate makes browsers check with Podium before using a cached copy
	// (cheap: a 304 for an unchanged ETag), so a new binary's pages apply at once.
	revalidate = "no-cache"
	// immutable is for vendored libraries, whose URL changes with their version.
	immutable = "public, max-age=31536000, immutable"
)

// contentTypes are the types of the files the portal ships; anything else
// falls back to the mime package, and files without an extension
// (VERSIONS) are plain text.
var contentTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".mjs":  "text/javascript; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".svg":  "image/svg+xml",
	".png":  "image/png",
	".json": "application/json",
	".txt":  "text/plain; charset=utf-8",
	"":      "text/plain; charset=utf-8",
}

// securityHeaders go with every answer. The policy allows scripts and styles
// from Podium only; media and workers from blob: URLs (hls.js feeds the video
// element through Media Source Extensions from a worker); connections
// anywhere, because an hls_url may name a CDN.
var securityHeaders = map[string]string{
	"Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
		"media-src 'self' blob:; worker-src 'self' blob:; connect-src *; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
	"X-Content-Type-Options": "nosniff",
	"Referrer-Policy":        "no-referrer",
	"X-Frame-Options":        "DENY",
}

// Handler serves the portal: the embedded files by path, and index.html for
// every path without a file extension (the application's own routes, such
// as /feeds/ath-100m-final), so that a page can be reloaded or linked to.
// Other unknown paths are 404.
func Handler() http.Handler {
	files, err := load(static)
	if err != nil {
		// The files are embedded at build time: failing here is a build defect.
		panic(err)
	}
	return handler{files: files, index: files["/index.html"]}
}

func load(fsys fs.FS) (map[string]*file, error) {
	root, err := fs.Sub(fsys, "static")
	if err != nil {
		return nil, err
	}
	files := map[string]*file{}
	err = fs.WalkDir(root, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := fs.ReadFile(root, name)
		if err != nil {
			return fmt.Errorf("read embedded %s: %w", name, err)
		}
		sum := sha256.Sum256(data)
		f := &file{data: data, etag: `"` + hex.EncodeToString(sum[:16]) + `"`, contentType: contentType(name), cache: revalidate}
		if strings.HasPrefix(name, "vendor/") {
			f.cache = immutable
		}
		files["/"+name] = f
		return nil
	})
	if err != nil {
		return nil, err
	}
	if files["/index.html"] == nil {
		return nil, fmt.Errorf("embedded portal has no index.html")
	}
	return files, nil
}

func contentType(name string) string {
	ext := path.Ext(name)
	if t, ok := contentTypes[ext]; ok {
		return t
	}
	if t := mime.TypeByExtension(ext); t != "" {
		return t
	}
	return "application/octet-stream"
}

type handler struct {
	files map[string]*file
	index *file
}

func (h handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	for k, v := range securityHeaders {
		w.Header().Set(k, v)
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	p := path.Clean("/" + r.URL.Path)
	f, ok := h.files[p]
	switch {
	case ok:
	case p == "/" || path.Ext(p) == "":
		f = h.index
	default:
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", f.contentType)
	w.Header().Set("Cache-Control", f.cache)
	w.Header().Set("ETag", f.etag)
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(f.data))
}
