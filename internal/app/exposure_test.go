package app_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ballotflow/ballotflow/apiserver"
	"github.com/ballotflow/ballotflow/internal/app"
	"github.com/ballotflow/ballotflow/internal/config"
	"github.com/ballotflow/ballotflow/internal/store"
	"github.com/ballotflow/ballotflow/internal/testdb"
)

// envConfig reads the configuration from an environment holding only vars.
func envConfig(t *testing.T, vars map[string]string) config.Config {
	t.Helper()
	for _, v := range config.Vars {
		t.Setenv(v.Name, vars[v.Name])
	}
	cfg, err := config.FromEnv()
	require.NoError(t, err)
	return cfg
}

// TestDevListensOnLoopbackOnly: dev serves the sandbox outbox (confirmation links) and the
// payload codec without a key, so it listens on 127.0.0.1 unless told another loopback
// address, and refuses to start on one other machines can reach.
func TestDevListensOnLoopbackOnly(t *testing.T) {
	cfg, err := app.DevListenAddrs(envConfig(t, nil))
	require.NoError(t, err)
	require.Equal(t, "127.0.0.1:8080", cfg.APIAddr, "API_ADDR's default (:8080) is every interface; dev's is loopback")
	require.Equal(t, "127.0.0.1:8026", cfg.SandboxAddr)

	for _, ok := range []map[string]string{
		{"API_ADDR": "localhost:9000"}, {"API_ADDR": "[::1]:8080"}, {"API_ADDR": "127.0.0.2:8080", "SANDBOX_ADDR": "localhost:1"},
	} {
		_, err := app.DevListenAddrs(envConfig(t, ok))
		require.NoError(t, err, ok)
	}
	for _, bad := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"API_ADDR": ":8080"}, "API_ADDR=:8080 is not a loopback address"},
		{map[string]string{"API_ADDR": "0.0.0.0:8080"}, "API_ADDR=0.0.0.0:8080 is not a loopback address"},
		{map[string]string{"API_ADDR": "[::]:8080"}, "API_ADDR=[::]:8080"},
		{map[string]string{"API_ADDR": "ballots.example.org:8080"}, "API_ADDR=ballots.example.org:8080"},
		{map[string]string{"SANDBOX_ADDR": "0.0.0.0:8026"}, "SANDBOX_ADDR=0.0.0.0:8026 is not a loopback address"},
	} {
		_, err := app.DevListenAddrs(envConfig(t, bad.env))
		require.ErrorContains(t, err, bad.want)
	}
}

// TestDevRefusesANetworkAddressAndSaysWhatItIgnores: StartDev stops before it opens anything
// on a non-loopback API_ADDR, and warns about each provider setting it overrides.
func TestDevRefusesANetworkAddressAndSaysWhatItIgnores(t *testing.T) {
	cfg := envConfig(t, map[string]string{"API_ADDR": "0.0.0.0:0", "PUBLIC_URL": "https://ballots.example.org",
		"SENDGRID_WEBHOOK_PUBLIC_KEY": "MFkw", "DATABASE_URL": "postgres://nobody@127.0.0.1:1/none"})
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	d, err := app.StartDev(context.Background(), cfg, logger, app.DevOptions{})
	require.Nil(t, d)
	require.ErrorContains(t, err, "API_ADDR=0.0.0.0:0 is not a loopback address")
	require.Contains(t, logs.String(), "dev ignores PUBLIC_URL")
	require.Contains(t, logs.String(), "dev ignores SENDGRID_WEBHOOK_PUBLIC_KEY")
	require.NotContains(t, logs.String(), "dev ignores TWILIO_ACCOUNT_SID", "only what was set")
}

// TestWebhooksVerifyWithTheConfiguredTwilioToken: the sandbox's token is public, so it may
// verify Twilio webhooks only when no Twilio credential is configured at all.
func TestWebhooksVerifyWithTheConfiguredTwilioToken(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name       string
		sid, token string
		want       string
	}{
		{"token without account", "", "realtoken", "realtoken"},
		{"account and token", "ACreal", "realtoken", "realtoken"},
		{"neither: the sandbox", "", "", config.SandboxTwilioAuthToken},
	} {
		api := app.WithWebhooks(apiserver.Config{}, config.Config{TwilioAccountSID: tc.sid, TwilioAuthToken: tc.token})
		require.Equal(t, tc.want, api.TwilioAuthToken, tc.name)
	}
}

// TestMetricsLeaveTheAPIWhenTheyHaveAListener: with METRICS_ADDR the API serves no
// /metrics; without it the API serves them, behind METRICS_TOKEN when set.
func TestMetricsLeaveTheAPIWhenTheyHaveAListener(t *testing.T) {
	t.Parallel()
	require.Nil(t, app.WithMetrics(apiserver.Config{}, config.Config{MetricsAddr: "127.0.0.1:0"}).Metrics)

	h := app.WithMetrics(apiserver.Config{}, config.Config{MetricsToken: "scrape"}).Metrics
	require.NotNil(t, h)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	require.Equal(t, http.StatusUnauthorized, rec.Code)
	req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	req.Header.Set("Authorization", "Bearer scrape")
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	require.Equal(t, http.StatusOK, rec.Code)
	require.Contains(t, rec.Body.String(), "go_goroutines")
}

// TestWebhookRetentionForgetsOnlyOldMessageSids: the retention service prunes the inbound
// texts older than the retention and keeps the rest.
func TestWebhookRetentionForgetsOnlyOldMessageSids(t *testing.T) {
	t.Parallel()
	st := testdb.Open(t)
	ctx := context.Background()
	for _, sid := range []string{"SMold", "SMnew"} {
		_, _, err := st.InboundMessageApply(ctx, store.InboundSMS{MessageSID: sid, Phone: "+13035550100"})
		require.NoError(t, err)
	}
	_, err := st.Pool().Exec(ctx, `UPDATE inbound_messages SET received_at = now() - interval '2 days' WHERE message_sid = 'SMold'`)
	require.NoError(t, err)
	r := &app.WebhookRetention{Store: st, Retention: 24 * time.Hour, Logger: slog.New(slog.DiscardHandler)}
	r.RunOnce(ctx)
	var left []string
	rows, err := st.Pool().Query(ctx, `SELECT message_sid FROM inbound_messages`)
	require.NoError(t, err)
	for rows.Next() {
		var s string
		require.NoError(t, rows.Scan(&s))
		left = append(left, s)
	}
	require.NoError(t, rows.Err())
	require.Equal(t, []string{"SMnew"}, left)
}
