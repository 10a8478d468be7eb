// Command podium is the Podium broadcast server and its tools.
//
//	podium serve   run the server
//	podium demo    run the server with a seeded demo Games and looping demo feeds
//	podium clips   cut, search and download clips on a running server
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/podium-broadcast/podium/internal/config"
)

func main() {
	root := &cobra.Command{
		Use:           "podium",
		Short:         "Podium: live feeds in over SRT, to every rights-holding broadcaster entitled to them",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(serveCommand(), demoCommand(), clipsCommand())
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := root.ExecuteContext(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "podium:", err)
		os.Exit(1)
	}
}

// loadConfig reads the settings of a server command.
func loadConfig(cmd *cobra.Command) (config.Config, *slog.Logger, error) {
	// Every file and directory the server makes (catalog and its WAL,
	// archive, clips, ffmpeg's outputs) is for Podium's user alone.
	syscall.Umask(0o077)
	cfg, err := config.Load(cmd.Flags(), os.Getenv)
	if err != nil {
		return cfg, nil, err
	}
	var level slog.Level
	level.UnmarshalText([]byte(strings.ToLower(cfg.LogLevel)))
	opts := &slog.HandlerOptions{Level: level}
	var h slog.Handler = slog.NewTextHandler(os.Stderr, opts)
	if cfg.LogFormat == "json" {
		h = slog.NewJSONHandler(os.Stderr, opts)
	}
	return cfg, slog.New(h), nil
}
