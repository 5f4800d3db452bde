// Command ballotflow is the one binary of ballotflow: `dev` runs everything in one process
// for a newcomer; `worker`, `api` and `sandbox` run the pieces separately against any
// Temporal and PostgreSQL; `migrate` and `keys` are for operators.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/ballotflow/ballotflow/internal/app"
	"github.com/ballotflow/ballotflow/internal/codec"
	"github.com/ballotflow/ballotflow/internal/config"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := rootCommand().ExecuteContext(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "ballotflow:", err)
		stop()
		os.Exit(1)
	}
}

func rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "ballotflow",
		Short: "Ballot lifecycle notifications: county events in, email, text and voice notices out",
		Long: `ballotflow tells every mail voter where their ballot is, by email, text and voice,
within the hours they chose. Configuration is read from environment variables:
run 'ballotflow env' to list them with their defaults.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(devCommand(), workerCommand(), apiCommand(), sandboxCommand(), sandboxKeyCommand(), migrateCommand(),
		keysCommand(), payloadKeyCommand(), votersCommand(), subscriptionsCommand(), jurisdictionsCommand(),
		electionsCommand(), eventsCommand(), envCommand(), noticesCommand())
	return root
}

// setup reads the configuration and builds the logger every command uses.
func setup(defaultFormat string) (config.Config, *slog.Logger, error) {
	cfg, err := config.FromEnv()
	if err != nil {
		return cfg, nil, err
	}
	format := cfg.LogFormat
	if _, set := os.LookupEnv("LOG_FORMAT"); !set && defaultFormat != "" {
		format = defaultFormat
	}
	logger, err := app.NewLogger(os.Stderr, cfg.LogLevel, format)
	if err != nil {
		return cfg, nil, err
	}
	slog.SetDefault(logger)
	return cfg, logger, nil
}

func envCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "env",
		Short: "List the environment variables ballotflow reads, with their defaults",
		Args:  cobra.NoArgs,
		Run: func(cmd *cobra.Command, _ []string) {
			for _, v := range config.Vars {
				fmt.Fprintf(cmd.OutOrStdout(), "%-20s %-45q %s\n", v.Name, v.Default, v.Help)
			}
		},
	}
}

func payloadKeyCommand() *cobra.Command {
	var id string
	cmd := &cobra.Command{
		Use:   "payload-key",
		Short: "Print a new AES-256 key for PAYLOAD_KEYS (prepend it to the list to rotate)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			spec, err := codec.NewKey(id)
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), spec)
			return nil
		},
	}
	cmd.Flags().StringVar(&id, "id", time.Now().UTC().Format("20060102"), "the key's id, stored with every payload it seals")
	return cmd
}
