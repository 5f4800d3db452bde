// Package apiserver is ballotflow's HTTP API (Gin): the county and state API, the health
// endpoints, the OpenAPI document, and in dev mode the sandbox outbox. It turns requests
// into stored rows and Temporal signals; it never sends a notice itself.
package apiserver

import (
	"context"
	_ "embed"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	"github.com/ballotflow/ballotflow/internal/intake"
	"github.com/ballotflow/ballotflow/internal/mailtrack"
	"github.com/ballotflow/ballotflow/internal/signin"
	"github.com/ballotflow/ballotflow/internal/store"
)

// Config is what the API server needs.
type Config struct {
	Store    *store.Store
	Temporal client.Client
	Intake   *intake.Service
	// ScanNotifier, when set, gets the first USPS scan of each direction of a ballot's
	// envelopes (POST /v1/mail-scans and :bulk) for the ballot's workflow (internal/app
	// signals it). While it is nil, scans are stored and nothing is signaled.
	ScanNotifier mailtrack.Notifier
	// Outbox, when set (dev mode), is served at GET /dev/outbox.
	Outbox http.Handler
	// Codec, when set, is served at /codec for Temporal UI (operator keys only), to browsers
	// from CodecOrigin (the Temporal UI's URL). CodecWithoutKey drops the key check: dev only.
	Codec           converter.PayloadCodec
	CodecOrigin     string
	CodecWithoutKey bool
	// Operators, when set (OIDC_ISSUER), admits operators who signed in with the county's
	// OpenID Connect provider wherever an operator key is admitted: /codec (Temporal UI
	// forwards their access token) and the operator API. OperatorSignIn lets the operator
	// dashboard sign them in.
	Operators      *signin.Verifier
	OperatorSignIn OperatorSignIn
	// PublicURL is the API's public URL (PUBLIC_URL): provider webhook signatures are checked
	// against it, never against the Host header.
	PublicURL string
	// TwilioAuthToken verifies X-Twilio-Signature; empty refuses every Twilio webhook.
	TwilioAuthToken string
	// SendGridWebhookPublicKey (base64, as SendGrid shows it) verifies the signed event
	// webhook; empty refuses every SendGrid event post.
	SendGridWebhookPublicKey string
	// TrustedProxies (TRUSTED_PROXIES) are the addresses or CIDRs of reverse proxies whose
	// X-Forwarded-For is believed; none by default, so a client cannot pick its own address
	// to dodge the portal's rate limits.
	TrustedProxies []string
	// PortalLimits caps portal lookups; zero values take DefaultPortalLimits.
	PortalLimits PortalLimits
	// TemporalUIURL (TEMPORAL_UI_URL) and TemporalNamespace make the operator API's links to
	// a ballot's workflow in Temporal UI; without a URL no links are given.
	TemporalUIURL     string
	TemporalNamespace string
	// Metrics, when set, is served at GET /metrics. It is nil when METRICS_ADDR serves the
	// metrics on a listener of their own, so that the public API does not show them.
	Metrics http.Handler
	Logger  *slog.Logger
}

// Body limits: a JSON batch of events, and one event.
const (
	maxBatchBytes  = 4 << 20
	maxBatchEvents = 1000
)

//go:embed openapi.json
var openAPIDocument []byte

// New returns the API's handler.
func New(cfg Config) http.Handler {
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	if err := r.SetTrustedProxies(cfg.TrustedProxies); err != nil {
		cfg.Logger.Error("TRUSTED_PROXIES is not valid; trusting no proxy", "error", err)
		_ = r.SetTrustedProxies(nil)
	}
	r.Use(gin.CustomRecoveryWithWriter(nil, func(c *gin.Context, _ any) {
		abort(c, http.StatusInternalServerError, "internal", "something went wrong on our side; please retry", "")
	}))
	r.Use(accessLog(cfg.Logger))
	r.Use(refuseControlCharsInURL)
	r.HandleMethodNotAllowed = true
	r.NoRoute(func(c *gin.Context) {
		abort(c, http.StatusNotFound, "not_found", "no such endpoint; see /openapi.json", "")
	})
	r.NoMethod(func(c *gin.Context) {
		abort(c, http.StatusMethodNotAllowed, "method_not_allowed", "this endpoint does not take "+c.Request.Method, "")
	})

	h := &handlers{cfg: cfg}
	r.GET("/healthz", func(c *gin.Context) { c.JSON(http.StatusOK, gin.H{"status": "ok"}) })
	r.GET("/readyz", h.ready)
	if cfg.Metrics != nil {
		r.GET("/metrics", gin.WrapH(cfg.Metrics))
	}
	r.GET("/openapi.json", func(c *gin.Context) { c.Data(http.StatusOK, "application/json", openAPIDocument) })

	v1 := r.Group("/v1")
	county := v1.Group("", h.authenticate(store.RoleCounty, store.RoleState))
	county.POST("/ballot-events", h.postBallotEvents)

	h.registerCodec(r)
	h.registerWebhooks(v1)
	h.registerRoll(v1)
	h.registerImports(v1)
	h.registerImportCorrections(v1)
	h.registerMailScans(v1)
	h.registerAdmin(v1)
	h.registerReminders(v1)
	h.registerMessages(v1)
	h.registerNotices(v1)
	h.registerPortal(r, v1)
	h.registerUnsubscribe(v1)
	h.registerOperator(r, v1)
	if cfg.Outbox != nil {
		r.GET("/dev/outbox", gin.WrapH(cfg.Outbox))
	}
	return r
}

type handlers struct {
	cfg Config
}

// ready answers 200 when PostgreSQL and Temporal both answer.
func (h *handlers) ready(c *gin.Context) {
	ctx, cancel := context.WithTimeout(c.Request.Context(), 3*time.Second)
	defer cancel()
	checks := gin.H{"postgres": "ok", "temporal": "ok"}
	ok := true
	if err := h.cfg.Store.Ping(ctx); err != nil {
		checks["postgres"], ok = "unreachable", false
	}
	if _, err := h.cfg.Temporal.CheckHealth(ctx, &client.CheckHealthRequest{}); err != nil {
		checks["temporal"], ok = "unreachable", false
	}
	status := http.StatusOK
	if !ok {
		status = http.StatusServiceUnavailable
	}
	c.JSON(status, checks)
}

// Serve runs handler on ln until ctx is done, then shuts down gracefully, giving requests
// in flight up to 15 seconds.
func Serve(ctx context.Context, ln net.Listener, handler http.Handler) error {
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       5 * time.Minute, // bulk uploads are streams
		IdleTimeout:       2 * time.Minute,
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return err
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// accessLog logs each request by route pattern, never by raw path or query: those may
// carry data a voter typed.
func accessLog(logger *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		c.Next()
		route := c.FullPath()
		if route == "" {
			route = "(unmatched)"
		}
		logger.Info("http request", "method", c.Request.Method, "route", route, "status", c.Writer.Status(),
			"duration_ms", time.Since(start).Milliseconds())
	}
}
