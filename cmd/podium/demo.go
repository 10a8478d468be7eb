package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/podium-broadcast/podium/internal/app"
	"github.com/podium-broadcast/podium/internal/config"
	"github.com/podium-broadcast/podium/internal/demo"
)

func demoCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run the Podium server with a demo Games: looping feeds and broadcasters",
		Long: "demo does everything serve does and, on an empty data directory, seeds a demo Games:\n" +
			"4 feeds looping bundled samples and 3 broadcasters with different entitlements.\n" +
			"It prints the credentials and ready-to-paste commands that pull the feeds.\n" +
			"Its feeds are recorded like any; unless archive_max_age is set to something else,\n" +
			"the demo keeps 6 hours of them (about 20 GB), not serve's 7 days.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, log, err := loadConfig(cmd)
			if err != nil {
				return err
			}
			if cfg.ArchiveMaxAge == config.Default.ArchiveMaxAge {
				cfg.ArchiveMaxAge = demoArchiveMaxAge
			}
			ctx := cmd.Context()
			a, err := app.New(ctx, cfg, log)
			if err != nil {
				return err
			}
			creds, ok, err := demo.Seed(ctx, a.Store, cfg.DataDir)
			if err != nil {
				return err
			}
			if ok {
				demo.GettingStarted(os.Stdout, endpoints(cfg, a), a.AdminToken, creds)
			} else {
				fmt.Fprintf(os.Stdout, "The catalog in %s was not made by the demo: no demo credentials to show. Admin token: %s/admin-token\n", cfg.DataDir, cfg.DataDir)
			}
			loopCtx, stopLoops := context.WithCancel(ctx)
			var wg sync.WaitGroup
			loopErr := make(chan error, 1)
			wg.Go(func() { loopErr <- demo.Loop(loopCtx, a.Store, a.Sources, log) })
			err = a.Run(ctx)
			stopLoops()
			wg.Wait()
			if e := <-loopErr; e != nil && err == nil {
				err = e
			}
			return err
		},
	}
	config.Flags(cmd.Flags())
	return cmd
}

// demoArchiveMaxAge is the demo's retention: a demo left running should
// not fill the disk with a week of its looping samples.
const demoArchiveMaxAge = 6 * time.Hour

// endpoints are the server's addresses as a broadcaster reaches them.
func endpoints(cfg config.Config, a *app.App) demo.Endpoints {
	_, httpPort, _ := net.SplitHostPort(a.HTTPAddr())
	_, srtPort, _ := net.SplitHostPort(a.SRTAddr())
	_, rtmpPort, _ := net.SplitHostPort(a.RTMPAddr())
	e := demo.Endpoints{
		API:      strings.SplitAfter(a.HTTPURL(), "://")[0] + net.JoinHostPort(cfg.Host(cfg.HTTPAddr), httpPort),
		SRTHost:  cfg.Host(cfg.SRTAddr),
		SRTPort:  srtPort,
		RTMPHost: cfg.Host(cfg.RTMPAddr),
		RTMPPort: rtmpPort,
	}
	e.Metrics = e.API + "/metrics"
	if addr := a.MetricsAddr(); addr != "" {
		_, metricsPort, _ := net.SplitHostPort(addr)
		e.Metrics = "http://" + net.JoinHostPort(cfg.Host(cfg.MetricsAddr), metricsPort) + "/metrics"
	}
	return e
}
