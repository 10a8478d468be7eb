package app_test

import (
	"bufio"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/podium-broadcast/podium/internal/tsloop"
)

// repoRoot is the repository's top directory, seen from this package's tests.
const repoRoot = "../.."

// browserTestDeps fails the test, saying how to install them, unless node,
// web/node_modules (playwright-core) and Debian's Chromium are there.
func browserTestDeps(t *testing.T) {
	t.Helper()
	var missing []string
	if out, err := exec.Command("node", "-p", "process.versions.node.split('.')[0]").Output(); err != nil {
		missing = append(missing, "node")
	} else if major, _ := strconv.Atoi(strings.TrimSpace(string(out))); major < 20 {
		missing = append(missing, "Node.js 20 or later (playwright-core's minimum)")
	}
	if _, err := os.Stat(filepath.Join(repoRoot, "web/node_modules/playwright-core/package.json")); err != nil {
		missing = append(missing, "web/node_modules/playwright-core")
	}
	if _, err := os.Stat("/usr/bin/chromium"); err != nil {
		missing = append(missing, "/usr/bin/chromium")
	}
	if len(missing) > 0 {
		t.Fatalf("the portal's browser test needs %v: run scripts/install-test-deps.sh", missing)
	}
}

// loopSample publishes a demo sample (internal/demo/samples/NAME.ts) to a
// feed, looped seamlessly in real time, straight into the hub, until the test ends.
func (p *podium) loopSample(feed, name string) {
	p.t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot, "internal/demo/samples", name+".ts"))
	if err != nil {
		p.t.Fatal(err)
	}
	loop, err := tsloop.New(data)
	if err != nil {
		p.t.Fatalf("sample %s: %v", name, err)
	}
	pub, err := p.Hub.Feed(feed).Attach("portal-test-loop")
	if err != nil {
		p.t.Fatalf("attach to %s: %v", feed, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- loop.Run(ctx, pub.Write) }()
	p.t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
			p.t.Errorf("loop of %s into %s: %v", name, feed, err)
		}
		pub.Detach()
	})
}

// artifactDir is where a test keeps what a person may want to look at
// (screenshots): test-artifacts/NAME at the repository's top when
// PODIUM_ARTIFACTS is set, a temporary directory otherwise.
func artifactDir(t *testing.T, name string) string {
	t.Helper()
	if os.Getenv("PODIUM_ARTIFACTS") == "" {
		return t.TempDir()
	}
	dir, err := filepath.Abs(filepath.Join(repoRoot, "test-artifacts", name+"-"+time.Now().UTC().Format("20060102T150405Z")))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// runBrowserScript runs web/e2e/NAME.mjs (playwright-core in Debian's
// Chromium) against p for at most timeout, with PODIUM_URL,
// PODIUM_ADMIN_TOKEN and PODIUM_ARTIFACTS (screenshots, test-artifacts/NAME)
// set beside env. Each line the script prints goes to onLine, if set, as it
// comes. The whole output is logged and returned; the test fails if the
// script does.
func (p *podium) runBrowserScript(name string, timeout time.Duration, env []string, onLine func(string)) string {
	t := p.t
	t.Helper()
	artifacts := artifactDir(t, name)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	script := "web/e2e/" + name + ".mjs"
	cmd := exec.CommandContext(ctx, "node", script)
	cmd.Dir = repoRoot
	cmd.Env = append(append(os.Environ(),
		"PODIUM_URL="+p.base,
		"PODIUM_ADMIN_TOKEN="+p.AdminToken,
		"PODIUM_ARTIFACTS="+artifacts,
	), env...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	lines := bufio.NewScanner(stdout)
	for lines.Scan() {
		out.WriteString(lines.Text() + "\n")
		if onLine != nil {
			onLine(lines.Text())
		}
	}
	err = cmd.Wait()
	t.Logf("%s (%v, screenshots in %s):\n%s", script, time.Since(start).Round(time.Second), artifacts, out.String())
	if err != nil {
		t.Fatalf("%s failed: %v", script, err)
	}
	return out.String()
}

// checkNoPageErrors flags the uncaught exceptions a browser script reported.
func checkNoPageErrors(t *testing.T, out string) {
	t.Helper()
	if strings.Contains(out, "page error:") {
		t.Errorf("the portal threw uncaught exceptions (see the output above)")
	}
}
