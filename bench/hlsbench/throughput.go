package main

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"runtime"
	"strings"
	"time"
)

// serverRun is one wrk run against one server.
type serverRun struct {
	wrk wrkResult
	// cores is the server's CPU time over the run, in cores: this process
	// for Podium (with the bench's publisher loop in it), or nginx's master
	// and worker.
	cores float64
	// wrkCores is wrk's CPU time over the run, in cores.
	wrkCores float64
	// busy is the share of the machine's CPU time that was busy.
	busy float64
	// others is the machine's busy time beyond the server, wrk and this
	// process, in cores: other tenants of the shared machine.
	others float64
}

// pairing is a target measured on both servers, interleaved.
type pairing struct {
	target string // "media playlist", "segment"
	path   string // one of the URL paths loaded (the same on both servers)
	bytes  int    // size of the body served, the last time it was mirrored
	podium []serverRun
	nginx  []serverRun
}

// throughputResult is the requests-per-second comparison.
type throughputResult struct {
	load     wrkLoad
	pairings []*pairing
	mirrored []string // URL paths of the files mirrored to nginx
	media    mediaPlaylist
}

// measureThroughput loads Podium's media playlist and segment, then
// nginx serving the same bytes, with wrk, alternately.
func (b *bench) measureThroughput(ctx context.Context, v viewer) (throughputResult, error) {
	res := throughputResult{load: b.opts.load}
	hlsURL, err := b.podium.playbackURL(ctx, v)
	if err != nil {
		return res, err
	}
	b.say("throughput: %s", redact(hlsURL))
	mediaURL, err := b.waitPlaylist(ctx, hlsURL)
	if err != nil {
		return res, err
	}
	www := b.dir + "/www"
	if err := os.MkdirAll(www, 0o755); err != nil {
		return res, err
	}
	ngx, err := startNginx(ctx, b.procs, b.dir+"/nginx", www)
	if err != nil {
		return res, err
	}
	defer ngx.stop()
	// The whole set a player fetches first, as a CDN would hold it.
	m, err := mirrorSet(ctx, ngx, hlsURL, mediaURL)
	if err != nil {
		return res, err
	}
	res.media, res.mirrored = m.media, m.paths
	b.say("mirrored to nginx: %v", m.paths)

	playlist := &pairing{target: "media playlist"}
	segment := &pairing{target: "segment"}
	res.pairings = []*pairing{playlist, segment}
	for i := range b.opts.repeats {
		// Each pairing serves the same bytes on both servers: the media
		// playlist as it stands now, the newest complete segment (which
		// Podium still serves for the whole run).
		for _, p := range res.pairings {
			podiumURL, data, err := latestTarget(ctx, p.target, mediaURL)
			if err != nil {
				return res, err
			}
			u, _ := url.Parse(podiumURL)
			if err := ngx.put(u.Path, data); err != nil {
				return res, err
			}
			p.path, p.bytes = u.Path, len(data)
			nginxURL := ngx.base + u.RequestURI()
			label := fmt.Sprintf("%s, run %d/%d", p.target, i+1, b.opts.repeats)
			run, err := b.wrkRun(ctx, podiumURL, "podium")
			if err != nil {
				return res, fmt.Errorf("%s, Podium: %w", label, err)
			}
			p.podium = append(p.podium, run)
			b.sayRun(label+", Podium", run)
			if run, err = b.wrkRun(ctx, nginxURL, "nginx"); err != nil {
				return res, fmt.Errorf("%s, nginx: %w", label, err)
			}
			p.nginx = append(p.nginx, run)
			b.sayRun(label+", nginx ", run)
		}
	}
	return res, nil
}

// latestTarget returns the URL and the current body of the media playlist,
// or of its newest complete segment.
func latestTarget(ctx context.Context, target, mediaURL string) (string, []byte, error) {
	text, err := fetch(ctx, mediaURL)
	if err != nil {
		return "", nil, err
	}
	if target == "media playlist" {
		return mediaURL, text, nil
	}
	m, err := parseMedia(string(text))
	if err != nil {
		return "", nil, err
	}
	if len(m.segments) == 0 {
		return "", nil, fmt.Errorf("media playlist without a complete segment")
	}
	segURL, err := resolve(mediaURL, m.segments[len(m.segments)-1])
	if err != nil {
		return "", nil, err
	}
	data, err := fetch(ctx, segURL)
	return segURL, data, err
}

// mirrored is the set of files copied to nginx.
type mirrored struct {
	media mediaPlaylist
	paths []string
}

// mirrorSet copies to nginx, at the same URL paths, the multivariant
// playlist, the video media playlist, its init section, its newest complete
// segment and newest complete part.
func mirrorSet(ctx context.Context, ngx *nginxServer, hlsURL, mediaURL string) (mirrored, error) {
	var out mirrored
	text, err := fetch(ctx, mediaURL)
	if err != nil {
		return out, err
	}
	if out.media, err = parseMedia(string(text)); err != nil {
		return out, err
	}
	if len(out.media.segments) == 0 || len(out.media.parts) == 0 {
		return out, fmt.Errorf("media playlist has %d segments and %d parts", len(out.media.segments), len(out.media.parts))
	}
	urls := []string{hlsURL, mediaURL}
	for _, ref := range []string{out.media.initURI, out.media.segments[len(out.media.segments)-1], out.media.parts[len(out.media.parts)-1]} {
		u, err := resolve(mediaURL, ref)
		if err != nil {
			return out, err
		}
		urls = append(urls, u)
	}
	seen := map[string]bool{}
	for i, raw := range urls {
		data := text
		if i != 1 {
			if data, err = fetch(ctx, raw); err != nil {
				return out, err
			}
		}
		u, _ := url.Parse(raw)
		if seen[u.Path] {
			return out, fmt.Errorf("two mirrored files at %s: Podium tells them apart by the query", u.Path)
		}
		seen[u.Path] = true
		if err := ngx.put(u.Path, data); err != nil {
			return out, err
		}
		out.paths = append(out.paths, u.Path)
	}
	return out, nil
}

// wrkRun loads url with wrk and measures the CPU time used meanwhile: the
// server's (this process for Podium, the nginx child for nginx), wrk's, and
// the rest of the machine's.
func (b *bench) wrkRun(ctx context.Context, url, server string) (serverRun, error) {
	var run serverRun
	before := takeCPUSnapshot(b.procs)
	r, err := runWrk(ctx, b.procs, b.opts.load, url)
	if err != nil {
		return run, err
	}
	use := cpuBetween(before, takeCPUSnapshot(b.procs), runtime.NumCPU())
	run.wrk = r
	run.wrkCores = r.CPU.Seconds() / time.Since(before.at).Seconds()
	run.cores = use.self
	if server != "podium" {
		run.cores = use.children[server]
	}
	run.busy = use.busy
	run.others = max(0, use.others()-run.wrkCores)
	return run, nil
}

func (b *bench) sayRun(label string, r serverRun) {
	line := fmt.Sprintf("%s: %.0f req/s, p50 %v, p99 %v; server %.2f cores, wrk %.2f, machine %.0f%% busy, others %.2f cores",
		label, r.wrk.RequestsPerS, r.wrk.P50, r.wrk.P99, r.cores, r.wrkCores, r.busy*100, r.others)
	if r.wrk.Non2xx > 0 || r.wrk.SocketErrors > 0 {
		line += fmt.Sprintf("; %d answers not 2xx/3xx, %d socket errors", r.wrk.Non2xx, r.wrk.SocketErrors)
	}
	b.say("%s", line)
}

// redact hides the token in an HLS URL (/hls/{feed}/{token}/...) in what the bench prints.
func redact(hlsURL string) string {
	u, err := url.Parse(hlsURL)
	if err != nil {
		return "?"
	}
	parts := strings.Split(u.Path, "/") // "", "hls", feed, token, ...
	if len(parts) >= 4 && parts[1] == "hls" {
		parts[3] = "TOKEN"
	}
	u.Path = strings.Join(parts, "/")
	u.RawQuery = ""
	return u.String()
}
