package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/podium-broadcast/podium/internal/api"
	"github.com/podium-broadcast/podium/internal/delivery"
	"github.com/podium-broadcast/podium/internal/hub"
	"github.com/podium-broadcast/podium/internal/store"
)

const cliAdminToken = "cli-admin-token"

type noIngest struct{}

func (noIngest) PublisherStats(string) (delivery.TransportStats, bool) {
	return delivery.TransportStats{}, false
}

// exportingEngine stands for the clip engine: every clip it is given is
// exported a moment later (to a file of content), through the API's
// update path; a clip titled "fail" fails.
type exportingEngine struct {
	dir     string
	content []byte
	updates *api.ClipUpdates
	wg      sync.WaitGroup
}

func (e *exportingEngine) Submit(spec api.ClipSpec) error {
	e.wg.Go(func() {
		time.Sleep(20 * time.Millisecond)
		e.updates.UpdateClip(api.ClipUpdate{ClipID: spec.ClipID, Status: "running", Progress: 0.5})
		time.Sleep(20 * time.Millisecond)
		path := filepath.Join(e.dir, spec.ClipID+"."+spec.Format)
		if err := os.WriteFile(path, e.content, 0o644); err != nil {
			e.updates.UpdateClip(api.ClipUpdate{ClipID: spec.ClipID, Status: "failed", Error: err.Error()})
			return
		}
		e.updates.UpdateClip(api.ClipUpdate{ClipID: spec.ClipID, Status: "ready", Progress: 1, Path: path,
			Size: int64(len(e.content)), Duration: spec.End.Sub(spec.Start)})
	})
	return nil
}

func (e *exportingEngine) SetEnd(string, time.Time) error { return nil }
func (e *exportingEngine) Cancel(string) error            { return nil }

// cliServer is the real API with an exporting engine; it records the Range
// headers of downloads. It holds feeds f1 and f2 and broadcaster b1,
// entitled to f1, whose key it returns.
type cliServer struct {
	*httptest.Server
	st     *store.Store
	engine *exportingEngine
	key    string

	mu     sync.Mutex
	ranges []string
}

func newCLIServer(t *testing.T) *cliServer {
	t.Helper()
	st, err := store.Open(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	content := bytes.Repeat([]byte("podium clip bytes "), 20000)
	updates := api.NewClipUpdates(st, nil)
	engine := &exportingEngine{dir: t.TempDir(), content: content, updates: updates}
	t.Cleanup(engine.wg.Wait)
	h := api.Handler(api.Deps{Store: st, Hub: hub.New(hub.DefaultConfig), Deliveries: delivery.NewRegistry(st),
		Ingest: noIngest{}, AdminToken: cliAdminToken, Log: slog.New(slog.DiscardHandler), Metrics: http.NotFoundHandler(),
		Clips: engine, ClipUpdates: updates})
	s := &cliServer{st: st, engine: engine}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/download") {
			s.mu.Lock()
			s.ranges = append(s.ranges, r.Header.Get("Range"))
			s.mu.Unlock()
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(s.Close)
	for _, c := range []struct{ path, body string }{
		{"/api/v1/feeds", `{"id":"f1","name":"Feed one"}`},
		{"/api/v1/feeds", `{"id":"f2","name":"Feed two"}`},
		{"/api/v1/broadcasters", `{"id":"b1","name":"One"}`},
		{"/api/v1/entitlements", `{"broadcaster_id":"b1","feed_id":"f1"}`},
	} {
		req, _ := http.NewRequest("POST", s.URL+c.path, strings.NewReader(c.body))
		req.Header.Set("Authorization", "Bearer "+cliAdminToken)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != 201 {
			t.Fatalf("seed %s: %v %v", c.path, resp, err)
		}
		var created struct {
			APIKey string `json:"api_key"`
		}
		json.NewDecoder(resp.Body).Decode(&created)
		resp.Body.Close()
		if created.APIKey != "" {
			s.key = created.APIKey
		}
	}
	return s
}

func (s *cliServer) takeRanges() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.ranges
	s.ranges = nil
	return out
}

// podiumClips runs `podium clips ARGS` in this process.
func podiumClips(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	cmd := clipsCommand()
	cmd.SetArgs(args)
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	err = cmd.ExecuteContext(context.Background())
	return out.String(), errOut.String(), err
}

func TestClipsCommandCutsWaitsDownloadsAndLists(t *testing.T) {
	pollInterval = 10 * time.Millisecond
	srv := newCLIServer(t)
	dir := t.TempDir()
	output := filepath.Join(dir, "bolt.mp4")
	stdout, stderr, err := podiumClips(t, "create", "--server", srv.URL, "--token", srv.key, "--feed", "f1",
		"--start", "now-12s", "--end", "now", "--title", "Bolt wins", "--tag", "sprint", "--tag", "final",
		"--athlete", "Usain Bolt", "--wait", "--output", output)
	if err != nil {
		t.Fatalf("create: %v\n%s", err, stderr)
	}
	if !strings.Contains(stderr, "[###############...............]  50% running") || !strings.Contains(stderr, "ready, 351.6 KiB, 12.0 s") {
		t.Fatalf("no progress on stderr:\n%s", stderr)
	}
	if !strings.Contains(stderr, "bolt.mp4 351.6 KiB") {
		t.Fatalf("no download progress on stderr:\n%s", stderr)
	}
	data, err := os.ReadFile(output)
	if err != nil || !bytes.Equal(data, srv.engine.content) {
		t.Fatalf("downloaded %d bytes, %v", len(data), err)
	}
	if !strings.Contains(stdout, "Bolt wins") || !strings.Contains(stdout, "ready (100%)") || !strings.Contains(stdout, "Usain Bolt") {
		t.Fatalf("create printed:\n%s", stdout)
	}
	id := strings.Fields(strings.SplitN(stdout, "\n", 2)[0])[1]

	t.Setenv("PODIUM_SERVER", srv.URL)
	t.Setenv("PODIUM_TOKEN", srv.key)
	stdout, _, err = podiumClips(t, "list", "--q", "bolt")
	if err != nil || !strings.Contains(stdout, id) || !strings.Contains(stdout, "12s") || !strings.Contains(stdout, "1 of 1 clips") {
		t.Fatalf("list: %v\n%s", err, stdout)
	}
	stdout, _, err = podiumClips(t, "list", "--json", "--athlete", "usain bolt")
	var page struct {
		Total  int                       `json:"total"`
		Facets map[string]map[string]int `json:"facets"`
	}
	if err != nil || json.Unmarshal([]byte(stdout), &page) != nil || page.Total != 1 || page.Facets["athlete"]["Usain Bolt"] != 1 {
		t.Fatalf("list --json: %v\n%s", err, stdout)
	}
	stdout, _, err = podiumClips(t, "get", id)
	if err != nil || !strings.Contains(stdout, "sprint, final") || !strings.Contains(stdout, "/api/v1/clips/"+id+"/download") {
		t.Fatalf("get: %v\n%s", err, stdout)
	}

	// Without -o the server's file name is used, in the working directory.
	t.Chdir(dir)
	stdout, _, err = podiumClips(t, "download", id)
	if err != nil || strings.TrimSpace(stdout) != "Bolt-wins-"+id+".mp4" {
		t.Fatalf("download: %v %q", err, stdout)
	}
}

func TestClipsDownloadResumesAPartialFile(t *testing.T) {
	pollInterval = 10 * time.Millisecond
	srv := newCLIServer(t)
	stdout, stderr, err := podiumClips(t, "create", "--server", srv.URL, "--token", cliAdminToken, "--feed", "f2",
		"--start", "now-5s", "--end", "now", "--format", "ts", "--wait", "--json")
	if err != nil {
		t.Fatalf("create: %v\n%s", err, stderr)
	}
	var clip clipInfo
	if err := json.Unmarshal([]byte(stdout), &clip); err != nil || clip.Status != "ready" || clip.Format != "ts" {
		t.Fatalf("create --json: %v\n%s", err, stdout)
	}
	content := srv.engine.content
	output := filepath.Join(t.TempDir(), "partial.ts")
	os.WriteFile(output, content[:100000], 0o644)
	srv.takeRanges()
	if _, stderr, err := podiumClips(t, "download", clip.ID, "-o", output, "--server", srv.URL, "--token", cliAdminToken); err != nil {
		t.Fatalf("resume: %v\n%s", err, stderr)
	}
	if data, _ := os.ReadFile(output); !bytes.Equal(data, content) {
		t.Fatalf("resumed file: %d bytes", len(data))
	}
	if ranges := srv.takeRanges(); len(ranges) != 2 || ranges[1] != "bytes=100000-" {
		t.Fatalf("requests' ranges: %q", ranges)
	}
	_, stderr, err = podiumClips(t, "download", clip.ID, "-o", output, "--server", srv.URL, "--token", cliAdminToken)
	if err != nil || !strings.Contains(stderr, "already complete") {
		t.Fatalf("complete file: %v %s", err, stderr)
	}
	// A local file longer than the clip is not the clip's: it is written anew.
	os.WriteFile(output, append(bytes.Clone(content), "junk"...), 0o644)
	if _, _, err := podiumClips(t, "download", clip.ID, "-o", output, "--server", srv.URL, "--token", cliAdminToken); err != nil {
		t.Fatal(err)
	}
	if data, _ := os.ReadFile(output); !bytes.Equal(data, content) {
		t.Fatalf("rewritten file: %d bytes", len(data))
	}
}

func TestClipsCommandFailsClearly(t *testing.T) {
	pollInterval = 10 * time.Millisecond
	srv := newCLIServer(t)
	t.Setenv("PODIUM_TOKEN", "")
	t.Setenv("PODIUM_SERVER", "")
	flags := []string{"--server", srv.URL, "--token", srv.key}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no token", []string{"list", "--server", srv.URL}, "no token: pass --token or set PODIUM_TOKEN"},
		{"wrong token", []string{"list", "--server", srv.URL, "--token", "nope"}, "missing or unknown token"},
		{"bad server", []string{"list", "--server", "localhost:1", "--token", "x"}, `--server "localhost:1"`},
		{"unreachable server", []string{"list", "--server", "http://127.0.0.1:1", "--token", "x"}, "connection refused"},
		{"feed not entitled", append([]string{"create", "--feed", "f2", "--start", "now-5s", "--end", "now"}, flags...), `feed "f2" does not exist (404 Not Found)`},
		{"bad time", append([]string{"create", "--feed", "f1", "--start", "soon"}, flags...), `start must be an RFC 3339 time`},
		{"bad mode", append([]string{"create", "--feed", "f1", "--mode", "slow"}, flags...), `mode must be one of copy, exact, vertical`},
		{"wait for an open clip", append([]string{"create", "--feed", "f1", "--wait"}, flags...), "need --end"},
		{"unknown clip", append([]string{"get", "clip-nope"}, flags...), `clip "clip-nope" does not exist (404 Not Found)`},
		{"bad page size", append([]string{"list", "--limit", "500"}, flags...), "limit must be an integer from 1 to 200"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := podiumClips(t, tc.args...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
		})
	}
	// A clip not ready yet is not downloaded; a failed one says why.
	open, _, err := podiumClips(t, append([]string{"create", "--feed", "f1", "--start", "now-5s", "--json"}, flags...)...)
	if err != nil {
		t.Fatal(err)
	}
	var clip clipInfo
	json.Unmarshal([]byte(open), &clip)
	srv.engine.wg.Wait()
	srv.engine.updates.UpdateClip(api.ClipUpdate{ClipID: clip.ID, Status: "failed", Error: "no recorded media in that range"})
	_, _, err = podiumClips(t, append([]string{"download", clip.ID, "-o", filepath.Join(t.TempDir(), "x")}, flags...)...)
	if err == nil || !strings.Contains(err.Error(), "failed: no recorded media in that range (409 Conflict)") {
		t.Fatalf("download of a failed clip: %v", err)
	}
}

// TestClipsErrorExitsNonZero runs the binary: a refused request exits 1 with the server's message.
func TestClipsErrorExitsNonZero(t *testing.T) {
	srv := newCLIServer(t)
	cmd := exec.Command(podiumBin, "clips", "get", "clip-nope", "--server", srv.URL, "--token", cliAdminToken)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	var exit interface{ ExitCode() int }
	if !errors.As(err, &exit) || exit.ExitCode() != 1 || !strings.Contains(stderr.String(), `podium: clip "clip-nope" does not exist (404 Not Found)`) {
		t.Fatalf("exit %v, stderr %q", err, stderr.String())
	}
}
