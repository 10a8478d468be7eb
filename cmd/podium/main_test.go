package main

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/podium-broadcast/podium/internal/tlscert/tlscerttest"
)

var podiumBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "podium-bin-")
	if err != nil {
		panic(err)
	}
	podiumBin = filepath.Join(dir, "podium")
	if out, err := exec.Command("go", "build", "-o", podiumBin, ".").CombinedOutput(); err != nil {
		os.Stderr.Write(out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// server is a running podium process.
type server struct {
	cmd    *exec.Cmd
	stdout *lockedBuffer
	logs   chan string
	http   string
	srt    string // the SRT listener's address
}

func start(t *testing.T, env []string, args ...string) *server {
	t.Helper()
	cmd := exec.Command(podiumBin, args...)
	cmd.Env = append(os.Environ(), env...)
	s := &server{cmd: cmd, stdout: &lockedBuffer{}, logs: make(chan string, 1000)}
	cmd.Stdout = s.stdout
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill() })
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			s.logs <- sc.Text()
		}
		close(s.logs)
	}()
	running := regexp.MustCompile(`msg="podium running" http=(\S+) srt=(\S+)`)
	deadline := time.After(10 * time.Second)
	for {
		select {
		case line, ok := <-s.logs:
			if !ok {
				t.Fatalf("podium exited before running")
			}
			if m := running.FindStringSubmatch(line); m != nil {
				s.http, s.srt = "http://"+m[1], m[2]
				return s
			}
		case <-deadline:
			t.Fatal("podium did not start within 10 s")
		}
	}
}

// waitGuide returns the getting-started block `podium demo` prints on
// stdout, which may follow the "running" log line by a moment.
func (s *server) waitGuide(t *testing.T) string {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if guide := s.stdout.String(); strings.Contains(guide, "Ctrl-C") {
			return guide
		}
	}
	t.Fatalf("no getting-started block within 5 s:\n%s", s.stdout.String())
	return ""
}

// stop sends SIGTERM and returns the exit code and the remaining log.
func (s *server) stop(t *testing.T) (int, string) {
	t.Helper()
	s.cmd.Process.Signal(syscall.SIGTERM)
	var rest strings.Builder
	done := make(chan struct{})
	go func() {
		for line := range s.logs {
			rest.WriteString(line + "\n")
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("podium did not stop within 10 s of SIGTERM")
	}
	s.cmd.Wait()
	return s.cmd.ProcessState.ExitCode(), rest.String()
}

func TestServeKeepsItsAdminTokenAndStopsCleanly(t *testing.T) {
	dir := dataDir(t)
	args := []string{"serve", "--data-dir", dir, "--http-addr", "127.0.0.1:0", "--srt-addr", "127.0.0.1:0", "--rtmp-addr", "127.0.0.1:0"}
	first := start(t, nil, args...)
	var token string
	// stdout and stderr are separate pipes: the token may arrive after the log line.
	for deadline := time.Now().Add(2 * time.Second); token == "" && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		token = regexp.MustCompile(`adm_[A-Z0-9]+`).FindString(first.stdout.String())
	}
	if token == "" {
		t.Fatalf("first start printed no admin token: %q", first.stdout.String())
	}
	if status := get(t, first.http+"/api/v1/feeds", token); status != 200 {
		t.Fatalf("printed token refused: %d", status)
	}
	if code, log := first.stop(t); code != 0 || !strings.Contains(log, "podium stopped") {
		t.Fatalf("SIGTERM: exit %d, log:\n%s", code, log)
	}
	info, err := os.Stat(filepath.Join(dir, "admin-token"))
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("admin-token file: %v %v", info, err)
	}

	second := start(t, nil, args...)
	if strings.Contains(second.stdout.String(), "adm_") {
		t.Fatal("admin token printed again on the second start")
	}
	if status := get(t, second.http+"/api/v1/feeds", token); status != 200 {
		t.Fatalf("token not kept across restarts: %d", status)
	}
	second.stop(t)

	third := start(t, []string{"PODIUM_ADMIN_TOKEN=from-the-environment"}, args...)
	if get(t, third.http+"/api/v1/feeds", "from-the-environment") != 200 || get(t, third.http+"/api/v1/feeds", token) != 401 {
		t.Fatal("PODIUM_ADMIN_TOKEN does not replace the kept token")
	}
	third.stop(t)
}

func TestBadCommandLinesFailClearly(t *testing.T) {
	tests := []struct {
		args []string
		env  []string
		want string
	}{
		{[]string{"serve", "--http-addr", "nonsense"}, nil, "http_addr"},
		{[]string{"serve", "--publisher-grace", "soon"}, nil, "publisher-grace"},
		{[]string{"serve", "--no-such-flag"}, nil, "unknown flag"},
		{[]string{"serve", "--config", "/nonexistent/podium.yml"}, nil, "config file"},
		{[]string{"serve"}, []string{"PODIUM_READER_MAX_LAG=forever"}, "PODIUM_READER_MAX_LAG"},
		{[]string{"launch"}, nil, "unknown command"},
		{[]string{"serve", "--tls-cert", "cert.pem"}, nil, "tls_cert and tls_key go together"},
		{[]string{"serve", "--tls-cert", "cert.pem", "--tls-key", "key.pem"}, nil, "tls_cert: stat cert.pem: no such file"},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			cmd := exec.Command(podiumBin, tc.args...)
			cmd.Env = append(os.Environ(), tc.env...)
			cmd.Dir = t.TempDir()
			out, err := cmd.CombinedOutput()
			if err == nil || cmd.ProcessState.ExitCode() == 0 {
				t.Fatalf("exit 0 for %v", tc.args)
			}
			if !strings.Contains(string(out), tc.want) {
				t.Fatalf("output %q does not mention %q", out, tc.want)
			}
		})
	}
}

// lockedBuffer collects a process's output while the test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func (l *lockedBuffer) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Len()
}

func get(t *testing.T, url, token string) int {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// playbackURL asks the API at url, with token, for a playback URL and returns its hls_url.
func playbackURL(t *testing.T, url, token string) string {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var playback struct {
		HLSURL string `json:"hls_url"`
	}
	json.NewDecoder(resp.Body).Decode(&playback)
	return playback.HLSURL
}

// putOnAir asks until timeout for the feed's source to be put on air, and
// reports whether it is.
func putOnAir(t *testing.T, api, admin, feed, source string, timeout time.Duration) bool {
	t.Helper()
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); time.Sleep(300 * time.Millisecond) {
		req, _ := http.NewRequest("POST", api+"/api/v1/feeds/"+feed+"/switch", strings.NewReader(`{"source":"`+source+`"}`))
		req.Header.Set("Authorization", "Bearer "+admin)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var st struct {
			OnAir string `json:"on_air"`
		}
		json.NewDecoder(resp.Body).Decode(&st)
		resp.Body.Close()
		if st.OnAir == source {
			return true
		}
	}
	return false
}

// TestDemoPrintsCommandsThatWork runs `podium demo` on an empty data
// directory, then runs the ffmpeg command it printed and checks what arrives.
func TestDemoPrintsCommandsThatWork(t *testing.T) {
	dir := dataDir(t)
	args := []string{"demo", "--data-dir", dir, "--http-addr", "127.0.0.1:0", "--srt-addr", "127.0.0.1:0", "--rtmp-addr", "127.0.0.1:0"}
	demoStarted := time.Now()
	first := start(t, nil, args...)
	guide := first.waitGuide(t)
	record := regexp.MustCompile(`record  ffmpeg -i '([^']+)'`).FindAllStringSubmatch(guide, -1)
	if len(record) != 3 {
		t.Fatalf("want a record command per broadcaster, got %d in:\n%s", len(record), guide)
	}
	url := record[0][1]
	out, err := exec.Command("ffmpeg", "-v", "error", "-i", url, "-map", "0", "-c", "copy", "-t", "6", "-f", "mpegts", "-").Output()
	if err != nil {
		t.Fatalf("printed command failed: %v", err)
	}
	probe := exec.Command("ffprobe", "-v", "error", "-show_entries", "stream=codec_name", "-of", "csv=p=0", "-")
	probe.Stdin = strings.NewReader(string(out))
	codecs, err := probe.Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []string{"h264", "aac", "ac3"} {
		if !strings.Contains(string(codecs), c) {
			t.Fatalf("demo feed lacks %s: %s", c, codecs)
		}
	}
	// Six seconds cross a loop boundary: the decoder must not notice it.
	decode := exec.Command("ffmpeg", "-v", "warning", "-i", "-", "-map", "0", "-f", "null", "-")
	decode.Stdin = strings.NewReader(string(out))
	if msgs, err := decode.CombinedOutput(); err != nil || len(strings.TrimSpace(string(msgs))) > 0 {
		t.Fatalf("decoding the demo feed across a loop boundary: %v\n%s", err, msgs)
	}
	// The printed HLS command gives a URL that ffprobe plays, and the portal answers.
	hls := regexp.MustCompile(`hls     curl -s -H 'Authorization: Bearer (\S+)' (\S+)`).FindStringSubmatch(guide)
	if hls == nil {
		t.Fatalf("no hls command in:\n%s", guide)
	}
	hlsURL := playbackURL(t, hls[2], hls[1])
	if streams, err := exec.Command("ffprobe", "-v", "error", "-show_entries", "stream=codec_name", "-of", "csv=p=0", hlsURL).Output(); err != nil ||
		!strings.Contains(string(streams), "h264") || strings.Count(string(streams), "aac") < 2 {
		t.Fatalf("ffprobe of the demo's HLS URL %q: %v %s", hlsURL, err, streams)
	}
	// The printed backup encoder publishes, and the operator can put it on air.
	backup := regexp.MustCompile(`backup  (ffmpeg .*)`).FindStringSubmatch(guide)
	admin := regexp.MustCompile(`Admin     (\S+)`).FindStringSubmatch(guide)
	if backup == nil || admin == nil {
		t.Fatalf("no backup command or admin token in:\n%s", guide)
	}
	encoder := exec.Command("sh", "-c", "exec "+strings.Replace(backup[1], "ffmpeg ", "ffmpeg -nostdin -v error ", 1))
	if err := encoder.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { encoder.Process.Kill(); encoder.Wait() }()
	feed := regexp.MustCompile(`a backup source of (\S+);`).FindStringSubmatch(guide)[1]
	if !putOnAir(t, first.http, admin[1], feed, "backup", 15*time.Second) {
		t.Fatalf("the demo's printed backup encoder could not be put on air")
	}
	// The printed RTMP encoder publishes another feed's backup, which the operator can put on air.
	rtmp := regexp.MustCompile(`rtmp    (ffmpeg .*)`).FindStringSubmatch(guide)
	rtmpFeed := regexp.MustCompile(`an RTMP backup source of (\S+);`).FindStringSubmatch(guide)
	if rtmp == nil || rtmpFeed == nil {
		t.Fatalf("no rtmp command in:\n%s", guide)
	}
	rtmpEncoder := exec.Command("sh", "-c", "exec "+strings.Replace(rtmp[1], "ffmpeg ", "ffmpeg -nostdin -v error ", 1))
	if err := rtmpEncoder.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { rtmpEncoder.Process.Kill(); rtmpEncoder.Wait() }()
	if !putOnAir(t, first.http, admin[1], rtmpFeed[1], "backup", 20*time.Second) {
		t.Fatalf("the demo's printed RTMP encoder could not be put on air")
	}
	// The printed time-shift and clip commands work once the demo has recorded 20 s.
	rewind := regexp.MustCompile(`rewind  curl -s -H 'Authorization: Bearer (\S+)' '(\S+)'`).FindStringSubmatch(guide)
	clip := regexp.MustCompile(`clip    podium (clips create .*)`).FindStringSubmatch(guide)
	if rewind == nil || clip == nil {
		t.Fatalf("no rewind or clip command in:\n%s", guide)
	}
	time.Sleep(time.Until(demoStarted.Add(22 * time.Second)))
	if rewound := playbackURL(t, rewind[2], rewind[1]); !strings.Contains(rewound, "/archive.m3u8?from=") || get(t, rewound, "") != 200 {
		t.Fatalf("the printed rewind command gave %q", rewound)
	}
	clipCmd := exec.Command("sh", "-c", "exec "+podiumBin+" "+clip[1])
	clipCmd.Dir = t.TempDir()
	if out, err := clipCmd.CombinedOutput(); err != nil {
		t.Fatalf("the printed clip command: %v\n%s", err, out)
	}
	clipFile, _ := filepath.Glob(filepath.Join(clipCmd.Dir, "*-clip.mp4"))
	if len(clipFile) != 1 {
		t.Fatal("the printed clip command wrote no clip")
	}
	if streams, err := exec.Command("ffprobe", "-v", "error", "-show_entries", "stream=codec_name", "-of", "csv=p=0", clipFile[0]).Output(); err != nil ||
		!strings.Contains(string(streams), "h264") || strings.Count(string(streams), "aac") < 2 {
		t.Fatalf("ffprobe of the demo clip: %v %s", err, streams)
	}
	portal := regexp.MustCompile(`Portal    (\S+)`).FindStringSubmatch(guide)
	if portal == nil || get(t, portal[1], "") != 200 {
		t.Fatalf("the printed portal address does not answer: %v", portal)
	}
	if code, _ := first.stop(t); code != 0 {
		t.Fatalf("demo exit %d", code)
	}

	// A restart keeps the catalog and shows the same credentials.
	second := start(t, nil, args...)
	key := regexp.MustCompile(`API key\s+(pk_\S+)`).FindStringSubmatch(guide)[1]
	if !strings.Contains(second.waitGuide(t), key) {
		t.Fatal("restarted demo does not show the same credentials")
	}
	if status := get(t, second.http+"/api/v1/feeds", key); status != 200 {
		t.Fatalf("demo API key refused after restart: %d", status)
	}
	second.stop(t)
}

// TestServeReloadsItsCertificateOnSIGHUP: `podium serve --tls-cert --tls-key`
// serves HTTPS and reads the files again on SIGHUP.
func TestServeReloadsItsCertificateOnSIGHUP(t *testing.T) {
	dir := t.TempDir()
	certPath, keyPath := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	tlscerttest.Write(t, certPath, keyPath, "podium-a")
	s := start(t, nil, "serve", "--data-dir", dataDir(t), "--http-addr", "127.0.0.1:0", "--srt-addr", "127.0.0.1:0", "--rtmp-addr", "127.0.0.1:0",
		"--tls-cert", certPath, "--tls-key", keyPath)
	addr := strings.TrimPrefix(s.http, "http://")
	if got := tlscerttest.ServedName(t, addr); got != "podium-a" {
		t.Fatalf("served %q, want podium-a", got)
	}
	tlscerttest.Write(t, certPath, keyPath, "podium-b")
	s.cmd.Process.Signal(syscall.SIGHUP)
	deadline := time.After(5 * time.Second)
	for reloaded := false; !reloaded; {
		select {
		case line := <-s.logs:
			reloaded = strings.Contains(line, `msg="tls certificate reloaded" reason=SIGHUP`) && strings.Contains(line, "CN=podium-b")
		case <-deadline:
			t.Fatal("no reload logged within 5 s of SIGHUP")
		}
	}
	if got := tlscerttest.ServedName(t, addr); got != "podium-b" {
		t.Fatalf("after SIGHUP: served %q, want podium-b", got)
	}
	if code, _ := s.stop(t); code != 0 {
		t.Fatalf("exit %d", code)
	}
}
