package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/spf13/cobra"
)

// pprofFlag is the hidden flag that serves the Go runtime's profiles, for
// benchmarks and investigations; it is not a setting an operator needs.
const pprofFlag = "pprof-addr"

func addPprofFlag(cmd *cobra.Command) {
	cmd.Flags().String(pprofFlag, "", "serve net/http/pprof on this loopback address (host:port); off when empty")
	cmd.Flags().MarkHidden(pprofFlag)
}

// startPprof serves net/http/pprof on the loopback address the command was
// given, if any, until ctx ends; wait returns once the server has stopped.
// Profiles reveal the server's internals, so an address that is not
// loopback is refused.
func startPprof(ctx context.Context, cmd *cobra.Command, log *slog.Logger) (wait func(), err error) {
	addr, _ := cmd.Flags().GetString(pprofFlag)
	if addr == "" {
		return func() {}, nil
	}
	if err := checkLoopback(addr); err != nil {
		return nil, fmt.Errorf("--%s: %w", pprofFlag, err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("--%s: %w", pprofFlag, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	log.Info("pprof listening", "addr", ln.Addr().String())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Warn("pprof stopped", "err", err)
		}
	}()
	stop := context.AfterFunc(ctx, func() { srv.Close() })
	return func() {
		if stop() {
			srv.Close()
		}
		<-done
	}, nil
}

// checkLoopback accepts host:port whose host is a loopback IP or localhost.
func checkLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("%q is not a loopback address", addr)
}
