package config_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ballotflow/ballotflow/internal/config"
)

// clearEnv unsets every variable ballotflow reads, so that the machine's environment does
// not leak into a test.
func clearEnv(t *testing.T) {
	t.Helper()
	for _, v := range config.Vars {
		t.Setenv(v.Name, "")
	}
}

// TestHalfATwilioConfigurationIsRefused: the account and its token go together. A token
// without an account used to send through the sandbox and verify webhooks with the
// sandbox's public token, so forged requests passed and real ones were refused.
func TestHalfATwilioConfigurationIsRefused(t *testing.T) {
	cases := []struct {
		name, sid, token string
		wantErr          string
	}{
		{"token without account", "", "realtoken", "TWILIO_ACCOUNT_SID is required with TWILIO_AUTH_TOKEN"},
		{"account without token", "ACreal", "", "TWILIO_AUTH_TOKEN is required with TWILIO_ACCOUNT_SID"},
		{"both: the real Twilio", "ACreal", "realtoken", ""},
		{"neither: the sandbox", "", "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			clearEnv(t)
			t.Setenv("TWILIO_ACCOUNT_SID", tc.sid)
			t.Setenv("TWILIO_AUTH_TOKEN", tc.token)
			cfg, err := config.FromEnv()
			if tc.wantErr == "" {
				require.NoError(t, err)
				_, phone := cfg.UseSandbox()
				require.Equal(t, tc.sid == "", phone)
				return
			}
			require.ErrorContains(t, err, tc.wantErr)
			require.NotContains(t, err.Error(), "realtoken", "no secret in the message")
		})
	}
}

// TestIsSetTellsGivenFromDefaulted: dev replaces API_ADDR's default and warns about
// variables it overrides, so it must know which ones were given.
func TestIsSetTellsGivenFromDefaulted(t *testing.T) {
	clearEnv(t)
	t.Setenv("PUBLIC_URL", "https://ballots.example.org")
	cfg, err := config.FromEnv()
	require.NoError(t, err)
	require.True(t, cfg.IsSet("PUBLIC_URL"))
	require.False(t, cfg.IsSet("API_ADDR"))
	require.Equal(t, ":8080", cfg.APIAddr, "the default is still read")
	require.False(t, config.Config{}.IsSet("PUBLIC_URL"), "a config not read from the environment has nothing set")
}

// TestMetricsVariablesAreRead: METRICS_ADDR and METRICS_TOKEN reach the configuration and
// are listed for the README.
func TestMetricsVariablesAreRead(t *testing.T) {
	clearEnv(t)
	t.Setenv("METRICS_ADDR", ":9090")
	t.Setenv("METRICS_TOKEN", "scrape-secret")
	cfg, err := config.FromEnv()
	require.NoError(t, err)
	require.Equal(t, ":9090", cfg.MetricsAddr)
	require.Equal(t, "scrape-secret", cfg.MetricsToken)
	var listed []string
	for _, v := range config.Vars {
		if strings.HasPrefix(v.Name, "METRICS_") {
			listed = append(listed, v.Name)
			require.NotEmpty(t, v.Help)
		}
	}
	require.Equal(t, []string{"METRICS_ADDR", "METRICS_TOKEN"}, listed)
}

// TestSandboxEnforceRatesIsOnOrOff: SANDBOX_ENFORCE_RATES is off by default, on when asked,
// and anything else is refused by name.
func TestSandboxEnforceRatesIsOnOrOff(t *testing.T) {
	clearEnv(t)
	cfg, err := config.FromEnv()
	require.NoError(t, err)
	require.False(t, cfg.SandboxEnforceRates)
	t.Setenv("SANDBOX_ENFORCE_RATES", "on")
	cfg, err = config.FromEnv()
	require.NoError(t, err)
	require.True(t, cfg.SandboxEnforceRates)
	t.Setenv("SANDBOX_ENFORCE_RATES", "yes")
	_, err = config.FromEnv()
	require.ErrorContains(t, err, "SANDBOX_ENFORCE_RATES must be on or off")
}

// TestWorkflowCacheSize: WORKFLOW_CACHE_SIZE is the SDK's 10,000 unless set, and a size that
// is not a positive whole number, or would not fit in memory, is refused by name.
func TestWorkflowCacheSize(t *testing.T) {
	clearEnv(t)
	cfg, err := config.FromEnv()
	require.NoError(t, err)
	require.Equal(t, 10_000, cfg.WorkflowCacheSize)
	t.Setenv("WORKFLOW_CACHE_SIZE", "60000")
	cfg, err = config.FromEnv()
	require.NoError(t, err)
	require.Equal(t, 60_000, cfg.WorkflowCacheSize)
	for _, bad := range []string{"0", "-5", "lots", "1e5", "1000001"} {
		t.Setenv("WORKFLOW_CACHE_SIZE", bad)
		_, err = config.FromEnv()
		require.ErrorContains(t, err, "WORKFLOW_CACHE_SIZE must be", bad)
	}
}
