package main

import (
	"context"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/podium-broadcast/podium/internal/app"
	"github.com/podium-broadcast/podium/internal/config"
)

func serveCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the Podium server",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, log, err := loadConfig(cmd)
			if err != nil {
				return err
			}
			ctx, cancel := context.WithCancel(cmd.Context())
			defer cancel()
			waitPprof, err := startPprof(ctx, cmd, log)
			if err != nil {
				return err
			}
			defer waitPprof()
			a, err := app.New(ctx, cfg, log)
			if err != nil {
				return err
			}
			if a.AdminTokenCreated {
				fmt.Fprintf(os.Stdout, "Admin token (generated now, kept in %s/admin-token; shown once):\n  %s\n", cfg.DataDir, a.AdminToken)
			}
			return a.Run(ctx)
		},
	}
	config.Flags(cmd.Flags())
	addPprofFlag(cmd)
	return cmd
}
