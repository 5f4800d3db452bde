package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"go.temporal.io/sdk/client"

	"github.com/ballotflow/ballotflow/apiserver"
	"github.com/ballotflow/ballotflow/internal/app"
	"github.com/ballotflow/ballotflow/internal/ballot"
	"github.com/ballotflow/ballotflow/internal/codec"
	"github.com/ballotflow/ballotflow/internal/config"
	"github.com/ballotflow/ballotflow/internal/sandbox"
	"github.com/ballotflow/ballotflow/internal/store"
	"github.com/ballotflow/ballotflow/worker"
)

func devCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "dev",
		Short: "Run everything in one process: Temporal server and UI, worker, API, sandbox providers, demo data",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, logger, err := setup("text")
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			dev, err := app.StartDev(ctx, cfg, logger, app.DevOptions{})
			if err != nil {
				return err
			}
			dev.Banner(cmd.OutOrStdout())
			<-ctx.Done()
			logger.Info("shutting down")
			return dev.Stop()
		},
	}
}

// services are what the worker and the API both run on: the configuration, the logger, the
// database and a Temporal client that encrypts payloads.
type services struct {
	cfg      config.Config
	logger   *slog.Logger
	store    *store.Store
	codec    *codec.Codec
	temporal client.Client
}

// connect opens the services, or says which one it could not reach; release closes them.
func connect(ctx context.Context) (s services, release func(), err error) {
	if s.cfg, s.logger, err = setup(""); err != nil {
		return s, nil, err
	}
	if s.store, err = store.Open(ctx, s.cfg.DatabaseURL); err != nil {
		return s, nil, err
	}
	if s.codec, err = app.PayloadCodec(s.cfg); err != nil {
		s.store.Close()
		return s, nil, err
	}
	s.temporal, err = worker.Dial(ctx, s.cfg.TemporalAddress, s.cfg.TemporalNamespace, s.codec.DataConverter(), s.logger)
	if err != nil {
		s.store.Close()
		return s, nil, err
	}
	return s, func() { s.temporal.Close(); s.store.Close() }, nil
}

func workerCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "worker",
		Short: "Run the ballot workflows and the delivery activities against TEMPORAL_ADDRESS",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			s, closeServices, err := connect(ctx)
			if err != nil {
				return err
			}
			defer closeServices()
			if err := app.PrepareTemporal(ctx, s.cfg, s.temporal, s.cfg.TemporalNamespace, s.logger); err != nil {
				return err
			}
			w, err := app.StartWorker(s.cfg, s.store, s.temporal, s.cfg.SandboxURL, s.logger)
			if err != nil {
				return err
			}
			s.logger.Info("worker started", "temporal", s.cfg.TemporalAddress, "namespace", s.cfg.TemporalNamespace)
			if err := app.ServeMetrics(ctx, s.cfg, s.logger); err != nil {
				w.Stop()
				return err
			}
			if err := app.ServeProfiles(ctx, s.cfg, s.logger); err != nil {
				w.Stop()
				return err
			}
			<-ctx.Done()
			w.Stop()
			return nil
		},
	}
}

func apiCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "api",
		Short: "Run the HTTP API on API_ADDR",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			s, closeServices, err := connect(ctx)
			if err != nil {
				return err
			}
			defer closeServices()
			ln, err := net.Listen("tcp", s.cfg.APIAddr)
			if err != nil {
				return err
			}
			s.logger.Info("API listening", "addr", ln.Addr().String())
			cfg := s.cfg
			if err := app.ServeMetrics(ctx, cfg, s.logger); err != nil {
				ln.Close()
				return err
			}
			if err := app.ServeProfiles(ctx, cfg, s.logger); err != nil {
				ln.Close()
				return err
			}
			if cfg.MetricsAddr == "" && cfg.MetricsToken == "" {
				s.logger.Warn("/metrics is served on API_ADDR to anyone who can reach it; set METRICS_ADDR (a listener of its own) or METRICS_TOKEN")
			}
			retention := app.StartWebhookRetention(ctx, s.store, s.logger)
			defer retention.Stop()
			handler, err := app.API(cfg, s.store, s.temporal, s.codec, s.logger)
			if err != nil {
				ln.Close()
				return err
			}
			return apiserver.Serve(ctx, ln, handler)
		},
	}
}

func sandboxCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "sandbox",
		Short: "Run the sandbox SendGrid and Twilio look-alikes on SANDBOX_ADDR (outbox at /dev/outbox)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, logger, err := setup("")
			if err != nil {
				return err
			}
			sb, err := sandbox.New(sandboxOptions(cfg, logger))
			if err != nil {
				return err
			}
			defer sb.Close()
			ln, err := net.Listen("tcp", cfg.SandboxAddr)
			if err != nil {
				return err
			}
			logger.Warn("sandbox providers listening: messages sent here reach nobody", "addr", ln.Addr().String())
			if cfg.SandboxSendGridKey != nil {
				// The public half, not a secret: what the API's SENDGRID_WEBHOOK_PUBLIC_KEY must be.
				logger.Info("SendGrid events are posted to the API, signed", "url", cfg.PublicURL+apiserver.PathSendGridEvents,
					"verification_key", sb.SendGridPublicKeyBase64())
			} else {
				logger.Info("SANDBOX_SENDGRID_SIGNING_KEY is not set: no SendGrid events are posted (`ballotflow sandbox-key` makes a key pair)")
			}
			return apiserver.Serve(cmd.Context(), ln, sb.Handler())
		},
	}
}

// sandboxOptions is what `ballotflow sandbox` runs the sandbox providers with: the sandbox
// credentials; Twilio status callbacks go where each request says (the worker's PUBLIC_URL),
// inbound texts (POST /dev/sms/inbound) to PUBLIC_URL; SendGrid events too, signed with
// SANDBOX_SENDGRID_SIGNING_KEY, when it is set, since only then can the API have been given
// their verification key. With SANDBOX_ENFORCE_RATES on, it holds each channel to its rate
// (EMAIL_RATE, ...), as `dev` does for BenchmarkMorningBacklog.
func sandboxOptions(cfg config.Config, logger *slog.Logger) sandbox.Options {
	opts := sandbox.Options{
		TwilioAccountSID: config.SandboxTwilioAccountSID, TwilioAuthToken: config.SandboxTwilioAuthToken,
		SendGridAPIKey: config.SandboxSendGridAPIKey, Logger: logger,
		TwilioInboundSMSURL: cfg.PublicURL + apiserver.PathTwilioSMS,
	}
	if cfg.SandboxEnforceRates {
		opts.RateLimits = map[string]float64{
			ballot.ChannelEmail: cfg.EmailRate, ballot.ChannelSMS: cfg.SMSRate, ballot.ChannelVoice: cfg.VoiceRate,
		}
	}
	if cfg.SandboxSendGridKey != nil {
		opts.SendGridSigningKey = cfg.SandboxSendGridKey
		opts.SendGridEventWebhookURL = cfg.PublicURL + apiserver.PathSendGridEvents
	}
	return opts
}

func sandboxKeyCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "sandbox-key",
		Short: "Print a key pair for the sandbox's signed SendGrid events: SANDBOX_SENDGRID_SIGNING_KEY for `sandbox`, SENDGRID_WEBHOOK_PUBLIC_KEY for `api`",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			signing, public, err := config.NewSandboxSendGridKey()
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "SANDBOX_SENDGRID_SIGNING_KEY=%s\nSENDGRID_WEBHOOK_PUBLIC_KEY=%s\n", signing, public)
			return nil
		},
	}
}

func migrateCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "migrate",
		Short: "Create the database if missing and apply the embedded migrations",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, _, err := setup("")
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			if err := store.EnsureDatabase(ctx, cfg.DatabaseURL); err != nil {
				return err
			}
			from, to, err := store.Migrate(ctx, cfg.DatabaseURL)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "schema version %d -> %d\n", from, to)
			return nil
		},
	}
}

func keysCommand() *cobra.Command {
	keys := &cobra.Command{Use: "keys", Short: "Create, list and revoke API keys"}
	var role, state, county, label string
	create := &cobra.Command{
		Use:   "create",
		Short: "Create an API key; it is printed once and only its hash is stored",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withStore(cmd, func(ctx context.Context, st *store.Store) error {
				k, plaintext, err := st.APIKeyCreate(ctx, store.APIKey{Role: role, State: strings.ToUpper(state),
					County: county, Label: label}, "cli:"+osUser())
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "created %s key %s; store it now, it is not shown again:\n", k.Role, k.Prefix)
				fmt.Fprintln(cmd.OutOrStdout(), plaintext)
				return nil
			})
		},
	}
	create.Flags().StringVar(&role, "role", "", "county, state or operator (required)")
	create.Flags().StringVar(&state, "state", "", "two-letter state, for county and state keys")
	create.Flags().StringVar(&county, "county", "", "county code, for county keys (e.g. denver)")
	create.Flags().StringVar(&label, "label", "", "who the key is for, e.g. 'Denver VREMS'")
	_ = create.MarkFlagRequired("role")

	list := &cobra.Command{
		Use:   "list",
		Short: "List API keys (never their secrets)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withStore(cmd, func(ctx context.Context, st *store.Store) error {
				ks, err := st.APIKeyList(ctx)
				if err != nil {
					return err
				}
				for _, k := range ks {
					revoked := ""
					if k.RevokedAt != nil {
						revoked = "revoked " + k.RevokedAt.Format("2006-01-02")
					}
					fmt.Fprintf(cmd.OutOrStdout(), "%s  %-8s %-3s %-12s %-30q created %s %s\n", k.Prefix, k.Role, k.State,
						k.County, k.Label, k.CreatedAt.Format("2006-01-02"), revoked)
				}
				return nil
			})
		},
	}
	revoke := &cobra.Command{
		Use:   "revoke PREFIX",
		Short: "Revoke the key with this prefix (the 8 characters after bf_)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withStore(cmd, func(ctx context.Context, st *store.Store) error {
				return st.APIKeyRevoke(ctx, args[0], "cli:"+osUser())
			})
		},
	}
	keys.AddCommand(create, list, revoke)
	return keys
}

func osUser() string {
	if u := os.Getenv("USER"); u != "" {
		return u
	}
	return "unknown"
}
