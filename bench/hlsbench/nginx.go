package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/podium-broadcast/podium/bench/internal/harness"
)

// nginxServer is Debian's nginx serving a directory of mirrored files, run
// as a child in the foreground with its own configuration, logs and pid
// file in a temporary directory.
type nginxServer struct {
	proc *harness.Child
	root string // the directory served at /
	base string // http://127.0.0.1:port
}

// nginxConfig is a plain static file server, tuned the way one is for
// serving HLS: one worker (Podium has the same 2 cores), sendfile, no
// access log, and keep-alive connections that are never closed by a
// request count, as Go's server never does.
func nginxConfig(prefix, root string, port int) string {
	user := ""
	if os.Geteuid() == 0 {
		// Started by root, nginx's worker would run as nobody, which cannot
		// read the bench's private temporary directory.
		user = "user root;\n"
	}
	return fmt.Sprintf(`daemon off;
%[4]sworker_processes 1;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log warn;
events {
	worker_connections 1024;
}
http {
	access_log off;
	sendfile on;
	tcp_nopush on;
	keepalive_requests 100000000;
	keepalive_timeout 65s;
	client_body_temp_path %[1]s/tmp/client;
	proxy_temp_path %[1]s/tmp/proxy;
	fastcgi_temp_path %[1]s/tmp/fastcgi;
	uwsgi_temp_path %[1]s/tmp/uwsgi;
	scgi_temp_path %[1]s/tmp/scgi;
	types {
		application/vnd.apple.mpegurl m3u8;
		video/mp4 mp4 m4s;
		video/mp2t ts;
		audio/mp4 m4a;
	}
	default_type application/octet-stream;
	server {
		listen 127.0.0.1:%[3]d;
		root %[2]s;
	}
}
`, prefix, root, port, user)
}

// startNginx runs nginx on a free loopback port, serving root.
func startNginx(ctx context.Context, procs *harness.Supervisor, prefix, root string) (*nginxServer, error) {
	if err := os.MkdirAll(filepath.Join(prefix, "tmp"), 0o755); err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	conf := filepath.Join(prefix, "nginx.conf")
	if err := os.WriteFile(conf, []byte(nginxConfig(prefix, root, port)), 0o644); err != nil {
		return nil, err
	}
	// -e sets the error log used before the configuration is read, which
	// otherwise is /var/log/nginx/error.log.
	cmd := exec.Command(nginxPath, "-p", prefix, "-c", conf, "-e", filepath.Join(prefix, "error.log"))
	proc, err := procs.Start("nginx", cmd)
	if err != nil {
		return nil, err
	}
	n := &nginxServer{proc: proc, root: root, base: "http://127.0.0.1:" + strconv.Itoa(port)}
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get(n.base + "/")
		if err == nil {
			resp.Body.Close()
			return n, nil
		}
		if proc.Exited() || time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(prefix, "error.log"))
			proc.Stop(time.Second)
			return nil, fmt.Errorf("nginx did not come up: %s %s", proc.Why(), strings.TrimSpace(string(log)))
		}
		if err := sleep(ctx, 50*time.Millisecond); err != nil {
			return nil, err
		}
	}
}

// put writes a mirrored file at the URL path it is served at.
func (n *nginxServer) put(urlPath string, data []byte) error {
	path := filepath.Join(n.root, filepath.FromSlash(strings.TrimPrefix(urlPath, "/")))
	if !strings.HasPrefix(path, n.root+string(filepath.Separator)) {
		return fmt.Errorf("mirror path %q leaves the served directory", urlPath)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func (n *nginxServer) stop() { n.proc.Stop(3 * time.Second) }
