package web

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path"
	"regexp"
	"strings"
	"testing"
)

func get(t *testing.T, method, target string, header http.Header) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, target, nil)
	for k, v := range header {
		req.Header[k] = v
	}
	rec := httptest.NewRecorder()
	Handler().ServeHTTP(rec, req)
	return rec
}

func TestHandler(t *testing.T) {
	index, err := static.ReadFile("static/index.html")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, method, path string
		status             int
		contentType, cache string
		index              bool
	}{
		{"root", "GET", "/", 200, "text/html; charset=utf-8", revalidate, true},
		{"index itself", "GET", "/index.html", 200, "text/html; charset=utf-8", revalidate, true},
		{"route falls back to index", "GET", "/feeds/ath-100m-final", 200, "text/html; charset=utf-8", revalidate, true},
		{"route with trailing slash", "GET", "/feeds/", 200, "text/html; charset=utf-8", revalidate, true},
		{"head of a route", "HEAD", "/operator", 200, "text/html; charset=utf-8", revalidate, false},
		{"module", "GET", "/assets/app.js", 200, "text/javascript; charset=utf-8", revalidate, false},
		{"style", "GET", "/assets/portal.css", 200, "text/css; charset=utf-8", revalidate, false},
		{"icon", "GET", "/assets/favicon.svg", 200, "image/svg+xml", revalidate, false},
		{"vendored library", "GET", "/vendor/hls.min.js", 200, "text/javascript; charset=utf-8", immutable, false},
		{"vendored licence", "GET", "/vendor/hls.js.LICENSE.txt", 200, "text/plain; charset=utf-8", immutable, false},
		{"versions", "GET", "/vendor/VERSIONS", 200, "text/plain; charset=utf-8", immutable, false},
		{"missing file", "GET", "/assets/nope.js", 404, "", "", false},
		{"missing map", "GET", "/vendor/hls.min.js.map", 404, "", "", false},
		{"dot segments stay inside", "GET", "/assets/../../web.go", 404, "", "", false},
		{"post", "POST", "/", 405, "", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := get(t, tt.method, tt.path, nil)
			if rec.Code != tt.status {
				t.Fatalf("status %d, want %d", rec.Code, tt.status)
			}
			if tt.status != 200 {
				return
			}
			if got := rec.Header().Get("Content-Type"); got != tt.contentType {
				t.Errorf("Content-Type %q, want %q", got, tt.contentType)
			}
			if got := rec.Header().Get("Cache-Control"); got != tt.cache {
				t.Errorf("Cache-Control %q, want %q", got, tt.cache)
			}
			if rec.Header().Get("ETag") == "" || rec.Header().Get("X-Content-Type-Options") != "nosniff" {
				t.Errorf("headers %v: want an ETag and nosniff", rec.Header())
			}
			if tt.index && rec.Body.String() != string(index) {
				t.Errorf("body is not index.html")
			}
		})
	}
}

func TestHandlerRevalidates(t *testing.T) {
	first := get(t, "GET", "/assets/app.js", nil)
	etag := first.Header().Get("ETag")
	again := get(t, "GET", "/assets/app.js", http.Header{"If-None-Match": {etag}})
	if again.Code != http.StatusNotModified {
		t.Fatalf("If-None-Match %s: status %d, want 304", etag, again.Code)
	}
}

// TestVendorVersions checks that the vendored files are those recorded by
// scripts/vendor-web.sh, and that index.html asks for the recorded version
// of hls.js (its URL carries the version, so browsers may cache it for good).
func TestVendorVersions(t *testing.T) {
	data, err := static.ReadFile("static/vendor/VERSIONS")
	if err != nil {
		t.Fatal(err)
	}
	index, _ := static.ReadFile("static/index.html")
	lock, err := os.ReadFile("../../web/package-lock.json")
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(strings.NewReader(string(data)))
	n := 0
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") || line == "" {
			continue
		}
		var pkg, version, name, sum string
		if f := strings.Fields(line); len(f) == 4 {
			pkg, version, name, sum = f[0], f[1], f[2], f[3]
		} else {
			t.Fatalf("VERSIONS line %q: want package version file sha256", line)
		}
		file, err := static.ReadFile("static/vendor/" + name)
		if err != nil {
			t.Fatalf("VERSIONS names %s: %v", name, err)
		}
		if got := sha256.Sum256(file); hex.EncodeToString(got[:]) != sum {
			t.Errorf("%s: sha256 differs from VERSIONS: run scripts/vendor-web.sh", name)
		}
		locked := regexp.MustCompile(`"node_modules/` + regexp.QuoteMeta(pkg) + `":\s*\{\s*"version":\s*"([^"]+)"`).FindSubmatch(lock)
		if locked == nil || string(locked[1]) != version {
			t.Errorf("%s %s in VERSIONS, but web/package-lock.json has %q: run scripts/vendor-web.sh", pkg, version, locked)
		}
		if name == "hls.min.js" && !strings.Contains(string(index), "/vendor/hls.min.js?v="+version+`"`) {
			t.Errorf("index.html does not load /vendor/hls.min.js?v=%s", version)
		}
		n++
	}
	if n == 0 {
		t.Fatal("VERSIONS lists nothing")
	}
}

// TestModuleImports checks that every relative import of the portal's
// modules names an embedded file, so a typo fails here and not in a browser.
func TestModuleImports(t *testing.T) {
	imports := regexp.MustCompile(`(?m)^import .* from '(\./[^']+)';$`)
	err := fs.WalkDir(static, "static/assets", func(name string, d fs.DirEntry, err error) error {
		if err != nil || path.Ext(name) != ".js" {
			return err
		}
		src, _ := static.ReadFile(name)
		for _, m := range imports.FindAllSubmatch(src, -1) {
			target := path.Join(path.Dir(name), string(m[1]))
			if _, err := fs.Stat(static, target); err != nil {
				t.Errorf("%s imports %s: %v", name, m[1], err)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
