// Package app assembles ballotflow's processes from their parts: the logger, the provider
// clients, the worker, the API and, for `ballotflow dev` and the integration tests, the whole
// stack in one process. cmd/ballotflow only parses flags and calls in here.
package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"strings"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/ballotflow/ballotflow/activities"
	"github.com/ballotflow/ballotflow/apiserver"
	"github.com/ballotflow/ballotflow/internal/ballot"
	"github.com/ballotflow/ballotflow/internal/codec"
	"github.com/ballotflow/ballotflow/internal/config"
	"github.com/ballotflow/ballotflow/internal/intake"
	"github.com/ballotflow/ballotflow/internal/loopback"
	"github.com/ballotflow/ballotflow/internal/metrics"
	"github.com/ballotflow/ballotflow/internal/providers"
	"github.com/ballotflow/ballotflow/internal/signin"
	"github.com/ballotflow/ballotflow/internal/store"
	"github.com/ballotflow/ballotflow/worker"
)

// NewLogger returns the process logger. Logs never carry voter data: the code logs ids,
// statuses and counts, never names, birth dates, addresses or message text.
func NewLogger(w io.Writer, level, format string) (*slog.Logger, error) {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("LOG_LEVEL %q: want debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lvl}
	switch strings.ToLower(format) {
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("LOG_FORMAT %q: want json or text", format)
}

// Providers returns the SendGrid and Twilio clients. Without credentials they point at the
// sandbox providers (at sandboxURL), and the process says so loudly.
func Providers(cfg config.Config, sandboxURL string, logger *slog.Logger) (*providers.SendGrid, *providers.Twilio) {
	email, phone := cfg.UseSandbox()
	sg := providers.SendGridConfig{APIKey: cfg.SendGridAPIKey, BaseURL: cfg.SendGridBaseURL}
	if email {
		sg = providers.SendGridConfig{APIKey: config.SandboxSendGridAPIKey, BaseURL: sandboxURL}
		logger.Warn("SENDGRID_API_KEY is not set: email goes to the SANDBOX, no voter will receive it", "sandbox", sandboxURL)
	}
	tw := providers.TwilioConfig{AccountSID: cfg.TwilioAccountSID, AuthToken: cfg.TwilioAuthToken, BaseURL: cfg.TwilioBaseURL}
	if phone {
		tw = providers.TwilioConfig{AccountSID: config.SandboxTwilioAccountSID, AuthToken: config.SandboxTwilioAuthToken, BaseURL: sandboxURL}
		logger.Warn("TWILIO_ACCOUNT_SID is not set: texts and calls go to the SANDBOX, no voter will receive them", "sandbox", sandboxURL)
	}
	return providers.NewSendGrid(sg), providers.NewTwilio(tw)
}

// StartWorker starts the ballot and delivery workers.
func StartWorker(cfg config.Config, st *store.Store, tc client.Client, sandboxURL string, logger *slog.Logger) (*worker.Worker, error) {
	return startWorker(cfg, st, tc, sandboxURL, logger, nil)
}

// startWorker is StartWorker with the retention purge's clock (nil: the real one).
func startWorker(cfg config.Config, st *store.Store, tc client.Client, sandboxURL string, logger *slog.Logger,
	retentionClock func() time.Time) (*worker.Worker, error) {
	sg, tw := Providers(cfg, sandboxURL, logger)
	in := NewIntake(st, tc, logger)
	return worker.Start(worker.Config{
		Client: tc,
		Activities: &activities.Activities{
			Store: st, Email: sg, Phone: tw,
			TwilioStatusCallbackURL: cfg.PublicURL + apiserver.PathTwilioStatus,
			TwilioVoiceURL:          cfg.PublicURL + apiserver.PathTwilioVoice,
			PublicURL:               cfg.PublicURL,
			Temporal:                tc,
			Budgets: activities.NewBudgets(st.SendBudgetLease, map[string]float64{
				ballot.ChannelEmail: cfg.EmailRate, ballot.ChannelSMS: cfg.SMSRate, ballot.ChannelVoice: cfg.VoiceRate,
			}),
			Logger: logger.With("component", "activities"),
		},
		Rates:  worker.Rates{EmailPerSecond: cfg.EmailRate, SMSPerSecond: cfg.SMSRate, VoicePerSecond: cfg.VoiceRate},
		Intake: in,
		Ingest: &activities.Ingest{Store: st, Intake: in, Rate: cfg.IngestRate, HoldShare: cfg.ImportHoldShare,
			Logger: logger.With("component", "ingest")},
		NoticeWaits:       worker.NoticeWaitGauge{Store: st},
		Retention:         newRetention(st, retentionClock, logger),
		WorkflowCacheSize: cfg.WorkflowCacheSize,
		Logger:            logger.With("component", "worker"),
	})
}

// NewIntake returns the service that validates, stores and signals county events.
func NewIntake(st *store.Store, tc client.Client, logger *slog.Logger) *intake.Service {
	return &intake.Service{Store: st, Temporal: tc, Logger: logger.With("component", "intake")}
}

// WithWebhooks adds to api what the provider webhooks need from cfg: the public URL their
// signatures cover, the Twilio auth token and the SendGrid event webhook key. The configured
// token always verifies; the sandbox's token, which is public, only when no Twilio
// credential is configured at all, so that a forged request signed with it never passes
// beside a real account.
func WithWebhooks(api apiserver.Config, cfg config.Config) apiserver.Config {
	api.PublicURL = cfg.PublicURL
	api.TwilioAuthToken = cfg.TwilioAuthToken
	if cfg.TwilioAuthToken == "" && cfg.TwilioAccountSID == "" {
		api.TwilioAuthToken = config.SandboxTwilioAuthToken
		if api.Logger != nil {
			api.Logger.Warn("no Twilio credentials: Twilio webhooks are verified with the SANDBOX's public token; " +
				"set TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN before real texts reach this API")
		}
	}
	api.SendGridWebhookPublicKey = cfg.SendGridEventKey
	return api
}

// WithPortalLimits adds the portal lookup limits configured in cfg to api.
func WithPortalLimits(api apiserver.Config, cfg config.Config) apiserver.Config {
	api.PortalLimits.GlobalFailures = cfg.PortalLookupFailuresPerMinute
	api.PortalLimits.GlobalFailuresWindow = time.Minute
	api.PortalLimits.PerClient = cfg.PortalFailedLookupsPerClient
	api.PortalLimits.PerClientWindow = 10 * time.Minute
	return api
}

// WithMetrics serves /metrics on the API (behind METRICS_TOKEN when set) unless METRICS_ADDR
// gives them a listener of their own; see ServeMetrics.
func WithMetrics(api apiserver.Config, cfg config.Config) apiserver.Config {
	api.Metrics = nil
	if cfg.MetricsAddr == "" {
		api.Metrics = metrics.Protect(metrics.Handler(), cfg.MetricsToken)
	}
	return api
}

// ServeMetrics serves /metrics on METRICS_ADDR (behind METRICS_TOKEN when set) until ctx is
// done; it does nothing when METRICS_ADDR is empty. Only opening the listener can fail here.
func ServeMetrics(ctx context.Context, cfg config.Config, logger *slog.Logger) error {
	if cfg.MetricsAddr == "" {
		return nil
	}
	ln, err := net.Listen("tcp", cfg.MetricsAddr)
	if err != nil {
		return fmt.Errorf("METRICS_ADDR: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", metrics.Protect(metrics.Handler(), cfg.MetricsToken))
	logger.Info("metrics listening", "addr", ln.Addr().String(), "token", cfg.MetricsToken != "")
	serveAside(ctx, ln, mux, "metrics", logger)
	return nil
}

// serveAside serves mux on ln, a listener of its own beside the API, until ctx is done.
func serveAside(ctx context.Context, ln net.Listener, mux http.Handler, what string, logger *slog.Logger) {
	go func() {
		if err := apiserver.Serve(ctx, ln, mux); err != nil {
			logger.Error(what+" listener stopped", "error", err)
		}
	}()
}

// ServeProfiles serves Go's runtime profiles (net/http/pprof) on PPROF_ADDR until ctx is
// done; it does nothing when PPROF_ADDR is empty. The address must be loopback: a profile
// names the program's functions and what they hold, and is for an operator on the host (or
// through an SSH tunnel), never for the network.
func ServeProfiles(ctx context.Context, cfg config.Config, logger *slog.Logger) error {
	if cfg.PprofAddr == "" {
		return nil
	}
	if !loopback.Addr(cfg.PprofAddr) {
		return fmt.Errorf("PPROF_ADDR %q: profiles are served on a loopback address only (127.0.0.1:6060)", cfg.PprofAddr)
	}
	ln, err := net.Listen("tcp", cfg.PprofAddr)
	if err != nil {
		return fmt.Errorf("PPROF_ADDR: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /debug/pprof/", pprof.Index)
	mux.HandleFunc("GET /debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	logger.Info("profiles listening", "addr", ln.Addr().String())
	serveAside(ctx, ln, mux, "profiles", logger)
	return nil
}

// WithOperatorSignIn adds to api what signing operators in with the county's OpenID
// Connect provider needs from cfg: the verifier of their access tokens (OIDC_ISSUER and the
// variables beside it) and the operator dashboard's client. Without OIDC_ISSUER it changes
// nothing: operators use keys.
func WithOperatorSignIn(api apiserver.Config, cfg config.Config) (apiserver.Config, error) {
	if cfg.OIDCIssuer == "" {
		return api, nil
	}
	v, err := signin.New(signin.Config{Issuer: cfg.OIDCIssuer, Audiences: cfg.OIDCAudiences,
		GroupsClaim: cfg.OIDCGroupsClaim, OperatorGroup: cfg.OIDCOperatorGroup})
	if err != nil {
		return api, err
	}
	api.Operators = v
	api.OperatorSignIn = apiserver.OperatorSignIn{ClientID: cfg.OIDCOperatorClientID, Scopes: cfg.OIDCOperatorScopes}
	return api, nil
}

// API returns the handler `ballotflow api` serves: the county, portal and operator API,
// the webhooks, and /codec for operators (keys, or a sign-in when OIDC_ISSUER is set) from
// TEMPORAL_UI_URL's origin.
func API(cfg config.Config, st *store.Store, tc client.Client, pc *codec.Codec, logger *slog.Logger) (http.Handler, error) {
	api := apiserver.Config{Store: st, Temporal: tc, Logger: logger, Codec: pc, CodecOrigin: cfg.TemporalUIURL,
		TrustedProxies: cfg.TrustedProxies, TemporalUIURL: cfg.TemporalUIURL, TemporalNamespace: cfg.TemporalNamespace}
	api, err := WithOperatorSignIn(api, cfg)
	if err != nil {
		return nil, err
	}
	if api.Operators != nil {
		logger.Info("operators may sign in with the identity provider", "issuer", cfg.OIDCIssuer,
			"operator_group", cfg.OIDCOperatorGroup, "dashboard_client", cfg.OIDCOperatorClientID)
	}
	return APIHandler(WithPortalLimits(WithMetrics(WithWebhooks(api, cfg), cfg), cfg)), nil
}

// APIHandler returns the API's HTTP handler for cfg, with the intake service added.
func APIHandler(cfg apiserver.Config) http.Handler {
	cfg.Intake = NewIntake(cfg.Store, cfg.Temporal, cfg.Logger)
	if cfg.Temporal != nil && cfg.ScanNotifier == nil {
		cfg.ScanNotifier = scanSignaler{cfg.Temporal}
	}
	cfg.Logger = cfg.Logger.With("component", "api")
	return apiserver.New(cfg)
}

// OpenStore creates the database when missing, applies migrations, and connects.
func OpenStore(ctx context.Context, databaseURL string, logger *slog.Logger) (*store.Store, error) {
	if err := store.EnsureDatabase(ctx, databaseURL); err != nil {
		return nil, err
	}
	from, to, err := store.Migrate(ctx, databaseURL)
	if err != nil {
		return nil, err
	}
	switch {
	case from > store.SchemaVersion():
		logger.Warn("the database schema is newer than this binary's: a newer release is being deployed; this one runs on it until it is replaced",
			"schema_version", from, "binary_schema_version", store.SchemaVersion())
	case from != to:
		logger.Info("database migrated", "from_version", from, "to_version", to)
	}
	return store.Open(ctx, databaseURL)
}

// atLeast passes on only records at min or above: the embedded Temporal server logs a great
// deal at INFO that a ballotflow developer does not need.
type atLeast struct {
	slog.Handler
	min slog.Level
}

func (h atLeast) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.min && h.Handler.Enabled(ctx, l)
}

func (h atLeast) WithAttrs(attrs []slog.Attr) slog.Handler {
	return atLeast{h.Handler.WithAttrs(attrs), h.min}
}

func (h atLeast) WithGroup(name string) slog.Handler {
	return atLeast{h.Handler.WithGroup(name), h.min}
}

// PayloadCodec returns the codec that encrypts Temporal payloads. Every worker and API
// process of a deployment must share PAYLOAD_KEYS.
func PayloadCodec(cfg config.Config) (*codec.Codec, error) {
	if cfg.PayloadKeys == "" {
		return nil, errors.New("PAYLOAD_KEYS is not set: make a key with `ballotflow payload-key` and give the same value to every worker and API process")
	}
	c, err := codec.Parse(cfg.PayloadKeys)
	if err != nil {
		return nil, fmt.Errorf("PAYLOAD_KEYS: %w", err)
	}
	return c, nil
}
