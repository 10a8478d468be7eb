package main

import (
	"bytes"
	"encoding/json"
	"io"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// dataDir is a data directory for a test's server, not made yet: the
// server makes it, 0700 (a t.TempDir follows the umask, and Podium
// refuses a data directory other users may enter).
func dataDir(t *testing.T) string {
	return filepath.Join(t.TempDir(), "podium-data")
}

// modesOpenToOthers lists every file under dir that is not 0600 and every
// directory that is not 0700, with its mode.
func modesOpenToOthers(t *testing.T, dir string) []string {
	t.Helper()
	var open []string
	filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil // a segment removed meanwhile
		}
		info, err := d.Info()
		if err != nil {
			return nil
		}
		want := fs.FileMode(0o600)
		if d.IsDir() {
			want = 0o700
		}
		if info.Mode().Perm() != want {
			open = append(open, path+" "+info.Mode().Perm().String())
		}
		return nil
	})
	return open
}

// TestServerFilesAreForItsUserAlone runs `podium demo` (as a test process
// with the usual umask 022) until it has recorded and cut a clip, and
// checks every file it made: the catalog and its -wal and -shm, the
// archive index and its side files, segments, clips and thumbnails are
// 0600, directories 0700.
func TestServerFilesAreForItsUserAlone(t *testing.T) {
	dir := dataDir(t)
	srv := start(t, nil, "demo", "--data-dir", dir, "--http-addr", "127.0.0.1:0", "--srt-addr", "127.0.0.1:0",
		"--rtmp-addr", "127.0.0.1:0", "--archive-segment", "1s")
	token, err := os.ReadFile(filepath.Join(dir, "admin-token"))
	if err != nil {
		t.Fatal(err)
	}
	call := func(method, path, body string) map[string]any {
		req, _ := http.NewRequest(method, srv.http+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(token)))
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		data, _ := io.ReadAll(resp.Body)
		out := map[string]any{}
		json.Unmarshal(data, &out)
		return out
	}
	deadline := time.Now().Add(30 * time.Second)
	for len(archiveFiles(t, filepath.Join(dir, "archive"), ".ts")) < 8 {
		if time.Now().After(deadline) {
			t.Fatal("fewer than 8 segments after 30 s")
		}
		time.Sleep(100 * time.Millisecond)
	}
	clip := call("POST", "/api/v1/clips", `{"feed_id":"ath-100m-final","start":"now-6s","end":"now-2s","mode":"copy"}`)
	id, _ := clip["id"].(string)
	if id == "" {
		t.Fatalf("clip not created: %v", clip)
	}
	for clip["status"] != "ready" {
		if time.Now().After(deadline.Add(30*time.Second)) || clip["status"] == "failed" {
			t.Fatalf("clip not ready: %v", clip)
		}
		time.Sleep(200 * time.Millisecond)
		clip = call("GET", "/api/v1/clips/"+id, "")
	}
	for _, side := range []string{"catalog.db", "catalog.db-wal", "catalog.db-shm", "archive/index.db", "archive/index.db-wal", "archive/index.db-shm"} {
		if _, err := os.Stat(filepath.Join(dir, side)); err != nil {
			t.Fatalf("the running server has no %s: %v", side, err)
		}
	}
	if len(archiveFiles(t, filepath.Join(dir, "clips"), ".mp4")) == 0 {
		t.Fatal("no clip file in DATA_DIR/clips")
	}
	if open := modesOpenToOthers(t, dir); len(open) > 0 {
		t.Fatalf("while running, open to others:\n%s", strings.Join(open, "\n"))
	}
	if code, logs := srv.stop(t); code != 0 {
		t.Fatalf("exit %d\n%s", code, logs)
	}
	if open := modesOpenToOthers(t, dir); len(open) > 0 {
		t.Fatalf("after the stop, open to others:\n%s", strings.Join(open, "\n"))
	}
}

// TestDataDirOpenToOthersIsRefused starts on a data directory made 0755:
// Podium refuses with the fix in its message and exit status 1, unless
// allow_shared_data_dir is set, when it starts and warns.
func TestDataDirOpenToOthersIsRefused(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "shared")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o755)
	args := []string{"serve", "--data-dir", dir, "--http-addr", "127.0.0.1:0", "--srt-addr", "127.0.0.1:0", "--rtmp-addr", "127.0.0.1:0"}
	cmd := exec.Command(podiumBin, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		t.Fatal("podium started on a data directory open to others")
	}
	if code := cmd.ProcessState.ExitCode(); code != 1 || !strings.Contains(stderr.String(), "mode 0755") || !strings.Contains(stderr.String(), "chmod 700 "+dir) {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr.String())
	}
	if entries, _ := os.ReadDir(dir); len(entries) > 0 {
		t.Fatalf("a refused start left files in the data directory: %v", entries)
	}

	srv := start(t, nil, append(args, "--allow-shared-data-dir")...)
	if code, logs := srv.stop(t); code != 0 {
		t.Fatalf("exit %d\n%s", code, logs)
	}
}
