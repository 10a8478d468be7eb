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
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/podium-broadcast/podium/internal/api"
	"github.com/podium-broadcast/podium/internal/config"
	"github.com/podium-broadcast/podium/internal/delivery"
	"github.com/podium-broadcast/podium/internal/hls"
	"github.com/podium-broadcast/podium/internal/hub"
	"github.com/podium-broadcast/podium/internal/ingest"
	"github.com/podium-broadcast/podium/internal/rtmpserver"
	"github.com/podium-broadcast/podium/internal/srtserver"
	"github.com/podium-broadcast/podium/internal/store"
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
	HLS        *hls.Server
	AdminToken string
	// AdminTokenCreated is true when the admin token was generated at this start.
	AdminTokenCreated bool

	httpLn  net.Listener
	httpSrv *http.Server
}

// New opens the data directory and binds the listeners; Run serves.
func New(ctx context.Context, cfg config.Config, log *slog.Logger) (*App, error) {
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
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
	a.Hub = hub.New(hub.Config{Grace: cfg.PublisherGrace, MaxLag: cfg.ReaderMaxLag, RingChunks: hub.DefaultConfig.RingChunks})
	a.Deliveries = delivery.NewRegistry(st)
	st.OnChange(a.Deliveries.CatalogChanged)

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), a.Hub, a.Deliveries)
	a.Sources = ingest.New(ingest.Config{Stall: cfg.SwitchStall, Hold: cfg.SwitchHold, Revertive: cfg.SwitchRevertive},
		a.Hub, ingest.NewMetrics(reg), log)
	a.SRT = srtserver.New(srtserver.Config{Addr: cfg.SRTAddr, Latency: cfg.SRTLatency, MaxLag: cfg.ReaderMaxLag},
		st, a.Hub, a.Sources, a.Deliveries, srtserver.NewMetrics(reg), log)
	if err := a.SRT.Listen(); err != nil {
		st.Close()
		return nil, err
	}
	a.httpLn, err = net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		st.Close()
		return nil, fmt.Errorf("listen http %s: %w", cfg.HTTPAddr, err)
	}
	a.RTMP = rtmpserver.New(rtmpserver.Config{Addr: cfg.RTMPAddr}, st, a.attachRTMP, rtmpserver.NewMetrics(reg), log)
	if err := a.RTMP.Listen(); err != nil {
		a.httpLn.Close()
		st.Close()
		return nil, err
	}
	key, err := hls.LoadKey(cfg.DataDir, os.Getenv("PODIUM_HLS_SIGNING_KEY"))
	if err != nil {
		st.Close()
		return nil, err
	}
	signer, err := hls.NewSigner(key)
	if err != nil {
		st.Close()
		return nil, err
	}
	hlsCfg := hls.DefaultConfig
	hlsCfg.BaseURL, hlsCfg.TokenTTL = cfg.HLSBaseURL, cfg.HLSTokenTTL
	hlsCfg.PartMinDuration, hlsCfg.SegmentMinDuration = cfg.HLSPart, cfg.HLSSegment
	a.HLS = hls.New(hlsCfg, signer, st, a.Hub, a.Deliveries, hls.NewMetrics(reg), log)

	_, srtPort, _ := net.SplitHostPort(a.SRTAddr())
	apiHandler := api.Handler(api.Deps{Store: st, Hub: a.Hub, Deliveries: a.Deliveries, Ingest: a.SRT,
		AdminToken: token, Log: log, Metrics: promhttp.HandlerFor(reg, promhttp.HandlerOpts{}),
		SRTAddr: net.JoinHostPort(cfg.Host(cfg.SRTAddr), srtPort), SRTLatency: cfg.SRTLatency, Playback: a.HLS, Sources: a.Sources})
	mux := http.NewServeMux()
	mux.Handle("/api/", apiHandler)
	mux.Handle("/metrics", apiHandler)
	mux.Handle("/healthz", apiHandler)
	mux.Handle(hls.Prefix, a.HLS)
	mux.Handle("/", web.Handler())
	a.httpSrv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	return a, nil
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
	errs := make(chan error, 3)
	wg.Go(func() { a.Hub.Run(ctx) })
	wg.Go(func() { a.Deliveries.Run(ctx) })
	wg.Go(func() { a.HLS.Run(ctx) })
	wg.Go(func() { a.Sources.Run(ctx) })
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
		if err := a.httpSrv.Serve(a.httpLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
			errs <- fmt.Errorf("http: %w", err)
			cancel()
		}
	})
	a.Log.Info("podium running", "http", a.HTTPAddr(), "srt", a.SRTAddr(), "rtmp", a.RTMPAddr(), "data_dir", a.Config.DataDir)
	<-ctx.Done()
	a.Log.Info("podium stopping")
	shutdownCtx, stop := context.WithTimeout(context.Background(), 5*time.Second)
	defer stop()
	a.httpSrv.Shutdown(shutdownCtx)
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

// attachRTMP makes an RTMP publisher the feed's primary or backup source.
func (a *App) attachRTMP(feedID, role, remote string) (rtmpserver.Publisher, error) {
	src, err := a.Sources.Attach(feedID, role, remote)
	if err != nil {
		return nil, err
	}
	return src, nil
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
