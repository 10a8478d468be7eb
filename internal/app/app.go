// Package app assembles a Podium server from its parts (catalog store, hub,
// SRT and RTMP servers, rights enforcement, HLS, REST API, portal) and runs it until it is told to
// stop. It is shared by `podium serve`, `podium demo` and the end-to-end tests.
package app

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/podium-broadcast/podium/internal/api"
	"github.com/podium-broadcast/podium/internal/archive"
	"github.com/podium-broadcast/podium/internal/clientaddr"
	"github.com/podium-broadcast/podium/internal/clips"
	"github.com/podium-broadcast/podium/internal/config"
	"github.com/podium-broadcast/podium/internal/delivery"
	"github.com/podium-broadcast/podium/internal/hls"
	"github.com/podium-broadcast/podium/internal/httpguard"
	"github.com/podium-broadcast/podium/internal/hub"
	"github.com/podium-broadcast/podium/internal/ingest"
	"github.com/podium-broadcast/podium/internal/limits"
	"github.com/podium-broadcast/podium/internal/ratelimit"
	"github.com/podium-broadcast/podium/internal/rtmpserver"
	"github.com/podium-broadcast/podium/internal/srtserver"
	"github.com/podium-broadcast/podium/internal/store"
	"github.com/podium-broadcast/podium/internal/tlscert"
	"github.com/podium-broadcast/podium/internal/web"
)

// App is a running Podium server.
type App struct {
	Config     config.Config
	Log        *slog.Logger
	Store      *store.Store
	Hub        *hub.Hub
	Deliveries *delivery.Registry
	SRT        *srtserver.Server
	RTMP       *rtmpserver.Server
	Sources    *ingest.Switcher
	// Callers pull feeds from encoders that listen; Pushes send feeds to broadcasters' receivers that listen.
	Callers *srtserver.Callers
	Pushes  *srtserver.Pushes
	HLS     *hls.Server
	// Archive records the feeds and serves their recordings.
	Archive *archive.Archive
	// Clips cuts clips from the archive; ClipUpdates files its reports in the library.
	Clips       *clips.Engine
	ClipUpdates *api.ClipUpdates
	AdminToken  string
	// AdminTokenCreated is true when the admin token was generated at this start.
	AdminTokenCreated bool
	// Connections bounds the connections at once, for every protocol server
	// but HLS, whose viewers Viewers bounds apart.
	Connections *limits.ConnectionLimiter
	Viewers     *limits.ConnectionLimiter

	authMetrics *ratelimit.Metrics

	httpLn    net.Listener
	httpSrv   *http.Server
	httpGuard *httpguard.Guard
	// metricsLn and metricsSrv serve /metrics apart when metrics_addr is set; nil otherwise.
	metricsLn    net.Listener
	metricsSrv   *http.Server
	metricsGuard *httpguard.Guard
	// certs serves the HTTPS certificate; nil for plain HTTP.
	certs *tlscert.Reloader
}

// New opens the data directory and binds the listeners; Run serves.
func New(ctx context.Context, cfg config.Config, log *slog.Logger) (*App, error) {
	trusted, err := cfg.TrustedProxies.Prefixes()
	if err != nil {
		return nil, fmt.Errorf("trusted_proxies: %w", err)
	}
	var certs *tlscert.Reloader
	if cfg.TLSCert != "" {
		if certs, err = tlscert.New(cfg.TLSCert, cfg.TLSKey, log); err != nil {
			return nil, err
		}
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}
	if err := checkPrivateDir("data directory", cfg.DataDir, cfg.AllowSharedDataDir, log); err != nil {
		return nil, err
	}
	archiveDir := cfg.ArchiveDir
	if !cfg.ArchiveS3() && cfg.Archive != "" {
		archiveDir = cfg.Archive
	}
	if archiveDir == "" {
		archiveDir = filepath.Join(cfg.DataDir, "archive")
	}
	segmentStore, err := openSegmentStore(ctx, cfg, log)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(archiveDir, 0o700); err != nil {
		return nil, fmt.Errorf("archive directory: %w", err)
	}
	if err := checkPrivateDir("archive directory", archiveDir, cfg.AllowSharedDataDir, log); err != nil {
		return nil, err
	}
	token, created, err := adminToken(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	st, err := store.Open(ctx, cfg.DataDir)
	if err != nil {
		return nil, err
	}
	a := &App{Config: cfg, Log: log, Store: st, AdminToken: token, AdminTokenCreated: created}
	reg := prometheus.NewRegistry()
	a.authMetrics = ratelimit.NewMetrics(reg)
	limitMetrics := limits.NewMetrics(reg)
	a.Connections = limits.NewConnectionLimiter(cfg.MaxConnections, cfg.MaxConnectionsPerBroadcaster, limitMetrics)
	a.Viewers = limits.NewViewerLimiter(cfg.MaxHLSViewers, cfg.MaxHLSViewersPerBroadcaster, limitMetrics)
	a.Hub = hub.New(hub.Config{Grace: cfg.PublisherGrace, MaxLag: cfg.ReaderMaxLag, InternalMaxLag: hub.DefaultConfig.InternalMaxLag, RingChunks: hub.DefaultConfig.RingChunks,
		MaxBitrate: uint64(cfg.MaxPublishBitrate), BitrateExceeded: func(feedID string, err error) {
			limitMetrics.Rejected(limits.PublishBitrate)
			log.Warn("publisher cut", "feed", feedID, "limit", limits.PublishBitrate, "reason", err)
		}})
	a.Deliveries = delivery.NewRegistry(st)
	st.OnChange(a.Deliveries.CatalogChanged)

	// go_gc_heap_live_bytes, the heap that survived the last GC, shows
	// memory's trend where go_memstats_heap_inuse_bytes saws between GCs.
	heapLive := collectors.GoRuntimeMetricsRule{Matcher: regexp.MustCompile(`^/gc/heap/live:bytes$`)}
	reg.MustRegister(collectors.NewGoCollector(collectors.WithGoCollectorRuntimeMetrics(heapLive)), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), a.Hub, a.Deliveries)
	a.Sources = ingest.New(ingest.Config{Stall: cfg.SwitchStall, Hold: cfg.SwitchHold, Revertive: cfg.SwitchRevertive},
		a.Hub, ingest.NewMetrics(reg), log)
	srtMetrics := srtserver.NewMetrics(reg)
	a.SRT = srtserver.New(srtserver.Config{Addr: cfg.SRTAddr, Latency: cfg.SRTLatency, MaxLag: cfg.ReaderMaxLag,
		Auth: a.AuthLimiter("srt"), Connections: a.Connections},
		st, a.Hub, a.Sources, a.Deliveries, srtMetrics, log)
	callCfg := srtserver.DefaultCallConfig
	callCfg.Latency, callCfg.Connections = cfg.SRTLatency, a.Connections
	a.Callers = srtserver.NewCallers(callCfg, st, a.attachCaller, srtMetrics, log)
	a.Pushes = srtserver.NewPushes(callCfg, a.SRT)
	st.OnChange(a.Callers.CatalogChanged)
	st.OnChange(a.Pushes.CatalogChanged)
	if err := a.SRT.Listen(); err != nil {
		st.Close()
		return nil, err
	}
	httpMetrics := httpguard.NewMetrics(reg)
	guardCfg := httpguard.Config{MaxConnections: cfg.HTTPMaxConnections, MaxConnectionsPerAddress: cfg.HTTPMaxConnectionsPerAddr,
		ReadTimeout: cfg.HTTPReadTimeout, WriteTimeout: cfg.HTTPWriteTimeout, IdleTimeout: cfg.HTTPIdleTimeout, TLS: certs != nil}
	a.httpGuard = httpguard.New(guardCfg, httpMetrics, log)
	httpguard.WarnFileLimit(cfg.HTTPMaxConnections, log)
	ln, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		st.Close()
		return nil, fmt.Errorf("listen http %s: %w", cfg.HTTPAddr, err)
	}
	a.httpLn = a.httpGuard.Listen(ln)
	if cfg.MetricsAddr != "" {
		guardCfg.TLS = false
		a.metricsGuard = httpguard.New(guardCfg, httpMetrics, log)
		ln, err := net.Listen("tcp", cfg.MetricsAddr)
		if err != nil {
			a.httpLn.Close()
			st.Close()
			return nil, fmt.Errorf("listen metrics %s: %w", cfg.MetricsAddr, err)
		}
		a.metricsLn = a.metricsGuard.Listen(ln)
	}
	a.RTMP = rtmpserver.New(rtmpserver.Config{Addr: cfg.RTMPAddr, Auth: a.AuthLimiter("rtmp"), Connections: a.Connections},
		st, a.attachRTMP, rtmpserver.NewMetrics(reg), log)
	if err := a.RTMP.Listen(); err != nil {
		a.closeHTTPListeners()
		st.Close()
		return nil, err
	}
	a.Archive, err = archive.Open(ctx, archive.Config{Dir: archiveDir, Store: segmentStore, SpoolMax: int64(cfg.ArchiveSpoolMax),
		SegmentDuration: cfg.ArchiveSegment, MaxAge: cfg.ArchiveMaxAge,
		MaxBytes: int64(cfg.ArchiveMaxBytes), MinFree: int64(cfg.ArchiveMinFree), Disabled: !cfg.Record},
		a.Hub, st, archive.NewMetrics(reg), log)
	if err != nil {
		a.closeHTTPListeners()
		st.Close()
		return nil, err
	}
	st.OnChange(a.Archive.CatalogChanged)
	a.ClipUpdates = api.NewClipUpdates(st, log)
	a.Clips = clips.New(clips.Config{Dir: filepath.Join(cfg.DataDir, "clips"), Workers: cfg.ClipWorkers, FFmpeg: "ffmpeg"}, a.Archive,
		func(u clips.Update) { a.ClipUpdates.UpdateClip(api.ClipUpdate(u)) }, log)
	key, err := hls.LoadKey(cfg.DataDir, os.Getenv("PODIUM_HLS_SIGNING_KEY"))
	if err != nil {
		a.closeHTTPListeners()
		st.Close()
		return nil, err
	}
	signer, err := hls.NewSigner(key)
	if err != nil {
		a.closeHTTPListeners()
		st.Close()
		return nil, err
	}
	hlsCfg := hls.DefaultConfig
	hlsCfg.BaseURL, hlsCfg.TokenTTL = a.playbackBaseURL(certs != nil), cfg.HLSTokenTTL
	hlsCfg.PartMinDuration, hlsCfg.SegmentMinDuration = cfg.HLSPart, cfg.HLSSegment
	// The API and HLS share one HTTP listener, and so one limiter.
	httpAuth := a.AuthLimiter("http")
	hlsCfg.Auth, hlsCfg.Viewers, hlsCfg.Archive = httpAuth, a.Viewers, a.Archive
	a.HLS = hls.New(hlsCfg, signer, st, a.Hub, a.Deliveries, hls.NewMetrics(reg), log)

	_, srtPort, _ := net.SplitHostPort(a.SRTAddr())
	metrics := api.MetricsHandler(cfg.MetricsToken, promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	apiHandler := api.Handler(api.Deps{Store: st, Hub: a.Hub, Deliveries: a.Deliveries, Ingest: a.SRT,
		AdminToken: token, Log: log, Metrics: metrics,
		SRTAddr: net.JoinHostPort(cfg.Host(cfg.SRTAddr), srtPort), SRTLatency: cfg.SRTLatency, Playback: a.HLS, Sources: a.Sources, Auth: httpAuth,
		Callers: a.Callers, Pushes: a.Pushes, Archive: a.Archive, Clips: clipEngine{a.Clips}, ClipUpdates: a.ClipUpdates})
	mux := http.NewServeMux()
	mux.Handle("/api/", apiHandler)
	if a.metricsLn == nil {
		mux.Handle("/metrics", apiHandler)
	} else {
		mux.Handle("/metrics", http.NotFoundHandler())
		metricsMux := http.NewServeMux()
		metricsMux.Handle("/metrics", metrics)
		a.metricsSrv = a.metricsGuard.Server(metricsMux)
	}
	mux.Handle("/healthz", apiHandler)
	mux.Handle(hls.Prefix, a.HLS)
	mux.Handle("/", web.Handler())
	// Every limiter, log line and audit record behind the guard sees the
	// client's address; the guard's own per-address caps count TCP peers.
	a.httpSrv = a.httpGuard.Server(clientaddr.New(trusted).Handler(mux))
	if certs != nil {
		a.certs, a.httpSrv.TLSConfig = certs, certs.TLSConfig()
	}
	return a, nil
}

// HTTPURL returns the scheme and address of the API, portal and HLS: https when TLS is on.
func (a *App) HTTPURL() string {
	if a.certs != nil {
		return "https://" + a.HTTPAddr()
	}
	return "http://" + a.HTTPAddr()
}

// playbackBaseURL is the scheme and host of the playback URLs the API
// hands out: hls_base_url (a CDN), else public_base_url, else the HTTP
// listener as public_host names it, with its bound port. Never a request's
// Host header, which anyone can write.
func (a *App) playbackBaseURL(tls bool) string {
	for _, base := range []string{a.Config.HLSBaseURL, a.Config.PublicBaseURL} {
		if base != "" {
			return strings.TrimSuffix(base, "/")
		}
	}
	scheme := "http"
	if tls {
		scheme = "https"
	}
	_, port, _ := net.SplitHostPort(a.httpLn.Addr().String())
	return scheme + "://" + net.JoinHostPort(a.Config.Host(a.Config.HTTPAddr), port)
}

// AuthLimiter returns a new failed-authentication limiter for protocol
// ("srt", "http", "rtmp"), per the auth_* settings; nil when they turn
// limiting off. Each protocol server keeps its own.
func (a *App) AuthLimiter(protocol string) *ratelimit.Limiter {
	if a.Config.AuthMaxFailures == 0 {
		return nil
	}
	return ratelimit.New(protocol, ratelimit.Config{MaxFailures: a.Config.AuthMaxFailures, Window: a.Config.AuthWindow},
		a.authMetrics, a.Log)
}

func (a *App) closeHTTPListeners() {
	a.httpLn.Close()
	if a.metricsLn != nil {
		a.metricsLn.Close()
	}
}

// MetricsAddr returns the address /metrics is served on apart, or "" when it is on HTTPAddr.
func (a *App) MetricsAddr() string {
	if a.metricsLn == nil {
		return ""
	}
	return a.metricsLn.Addr().String()
}

// HTTPAddr returns the address the API listens on.
func (a *App) HTTPAddr() string { return a.httpLn.Addr().String() }

// SRTAddr returns the address the SRT listener is bound to.
func (a *App) SRTAddr() string { return a.SRT.Addr().String() }

// RTMPAddr returns the address the RTMP listener is bound to.
func (a *App) RTMPAddr() string { return a.RTMP.Addr().String() }

// Run serves until ctx ends, then closes every connection, flushes the
// catalog and returns. It returns early with an error if a listener fails.
func (a *App) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	wg.Go(func() { a.Hub.Run(ctx) })
	wg.Go(func() { a.Deliveries.Run(ctx) })
	wg.Go(func() { a.HLS.Run(ctx) })
	wg.Go(func() { a.Sources.Run(ctx) })
	wg.Go(func() { a.Callers.Run(ctx) })
	wg.Go(func() { a.Pushes.Run(ctx) })
	wg.Go(func() { a.Archive.Run(ctx) })
	wg.Go(func() { a.Store.RunAuditPruner(ctx, a.Config.AuditRetention, a.Config.AuditMaxRows, time.Now, a.Log) })
	wg.Go(func() {
		if err := a.Clips.Run(ctx); err != nil && ctx.Err() == nil {
			a.Log.Error("clip engine stopped", "err", err)
		}
	})
	if n, err := api.ResubmitClips(ctx, a.Store, clipEngine{a.Clips}, a.ClipUpdates); err != nil {
		a.Log.Error("resubmitting unfinished clips", "err", err)
	} else if n > 0 {
		a.Log.Info("unfinished clips resubmitted", "clips", n)
	}
	wg.Go(func() {
		if err := a.SRT.Serve(ctx); err != nil {
			errs <- err
			cancel()
		}
	})
	wg.Go(func() {
		if err := a.RTMP.Serve(ctx); err != nil {
			errs <- err
			cancel()
		}
	})
	wg.Go(func() {
		serve := a.httpSrv.Serve
		if a.certs != nil {
			serve = func(ln net.Listener) error { return a.httpSrv.ServeTLS(ln, "", "") }
		}
		if err := serve(a.httpLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
			errs <- fmt.Errorf("http: %w", err)
			cancel()
		}
	})
	if a.metricsSrv != nil {
		wg.Go(func() {
			if err := a.metricsSrv.Serve(a.metricsLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
				errs <- fmt.Errorf("metrics http: %w", err)
				cancel()
			}
		})
	}
	if a.certs != nil {
		// Registered before "podium running" is logged, so that a SIGHUP from then on is never fatal.
		hangup := make(chan os.Signal, 1)
		signal.Notify(hangup, syscall.SIGHUP)
		defer signal.Stop(hangup)
		wg.Go(func() { a.reloadCertsOnHangup(ctx, hangup) })
	}
	a.Log.Info("podium running", "http", a.HTTPAddr(), "srt", a.SRTAddr(), "rtmp", a.RTMPAddr(), "metrics", a.MetricsAddr(), "data_dir", a.Config.DataDir, "tls", a.certs != nil)
	<-ctx.Done()
	a.Log.Info("podium stopping")
	shutdownCtx, stop := context.WithTimeout(context.Background(), 5*time.Second)
	defer stop()
	a.httpSrv.Shutdown(shutdownCtx)
	if a.metricsSrv != nil {
		a.metricsSrv.Shutdown(shutdownCtx)
		a.metricsGuard.Wait()
	}
	a.httpGuard.Wait()
	a.Hub.Close()
	wg.Wait()
	err := a.Store.Close()
	select {
	case e := <-errs:
		err = errors.Join(e, err)
	default:
	}
	a.Log.Info("podium stopped")
	return err
}

// clipEngine gives the API the clip engine in the API's own types.
type clipEngine struct{ *clips.Engine }

func (e clipEngine) Submit(s api.ClipSpec) error { return e.Engine.Submit(clips.Spec(s)) }

// attachCaller makes a connected caller source the feed's primary or backup input.
func (a *App) attachCaller(feedID, role, remote string) (srtserver.Publisher, error) {
	src, err := a.Sources.Attach(feedID, role, remote)
	if err != nil {
		return nil, err
	}
	return src, nil
}

// attachRTMP makes an RTMP publisher the feed's primary or backup source.
func (a *App) attachRTMP(feedID, role, remote string) (rtmpserver.Publisher, error) {
	src, err := a.Sources.Attach(feedID, role, remote)
	if err != nil {
		return nil, err
	}
	return src, nil
}

// reloadCertsOnHangup reads the TLS certificate again on every SIGHUP until ctx ends.
func (a *App) reloadCertsOnHangup(ctx context.Context, hangup <-chan os.Signal) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-hangup:
			a.certs.Reload("SIGHUP")
		}
	}
}

// adminToken returns PODIUM_ADMIN_TOKEN, or the token kept in the data
// directory, creating one on first start.
func adminToken(dataDir string) (token string, created bool, err error) {
	if t := os.Getenv("PODIUM_ADMIN_TOKEN"); t != "" {
		return t, false, nil
	}
	path := filepath.Join(dataDir, "admin-token")
	data, err := os.ReadFile(path)
	if err == nil {
		if t := strings.TrimSpace(string(data)); t != "" {
			return t, false, nil
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return "", false, fmt.Errorf("read admin token: %w", err)
	}
	token = "adm_" + rand.Text() + rand.Text()
	if err := os.WriteFile(path, []byte(token+"\n"), 0o600); err != nil {
		return "", false, fmt.Errorf("write admin token: %w", err)
	}
	return token, true, nil
}

// openSegmentStore returns the object store of an s3:// archive, nil for a
// local one. A store that does not answer is logged, not fatal: recording
// waits in the spool until it does.
func openSegmentStore(ctx context.Context, cfg config.Config, log *slog.Logger) (archive.SegmentStore, error) {
	bucket, prefix, ok, err := archive.ParseS3URL(cfg.Archive)
	if err != nil || !ok {
		return nil, err
	}
	s3, err := archive.NewS3Store(archive.S3Config{Bucket: bucket, Prefix: prefix, Endpoint: cfg.S3Endpoint,
		Region: os.Getenv("AWS_REGION"), AccessKey: os.Getenv("AWS_ACCESS_KEY_ID"), SecretKey: os.Getenv("AWS_SECRET_ACCESS_KEY")})
	if err != nil {
		return nil, err
	}
	if err := s3.Check(ctx); err != nil {
		log.Warn("archive object storage not reachable at start; segments wait in the spool", "archive", s3.String(), "err", err)
	} else {
		log.Info("archive on object storage", "archive", s3.String(), "endpoint", cfg.S3Endpoint)
	}
	return s3, nil
}
