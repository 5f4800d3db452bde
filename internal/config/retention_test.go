package config_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ballotflow/ballotflow/internal/config"
)

// TEMPORAL_RETENTION reads days or a Go duration (90 days by default); RETENTION_PURGE_TIME
// a time of day (09:00 UTC by default). Anything else names the variable.
func TestRetentionVariablesAreRead(t *testing.T) {
	clearEnv(t)
	cfg, err := config.FromEnv()
	require.NoError(t, err)
	require.Equal(t, 90*24*time.Hour, cfg.TemporalRetention)
	require.Equal(t, 9*time.Hour, cfg.RetentionPurgeAt)

	for value, want := range map[string]time.Duration{"45d": 45 * 24 * time.Hour, "36h": 36 * time.Hour, "1d": 24 * time.Hour} {
		t.Setenv("TEMPORAL_RETENTION", value)
		cfg, err := config.FromEnv()
		require.NoError(t, err, value)
		require.Equal(t, want, cfg.TemporalRetention, value)
	}
	t.Setenv("TEMPORAL_RETENTION", "")
	t.Setenv("RETENTION_PURGE_TIME", "03:30")
	cfg, err = config.FromEnv()
	require.NoError(t, err)
	require.Equal(t, 3*time.Hour+30*time.Minute, cfg.RetentionPurgeAt)

	for _, bad := range []string{"90", "-1d", "0d", "0s", "ninety days", "9999999999999d", "100000h"} {
		t.Setenv("TEMPORAL_RETENTION", bad)
		_, err := config.FromEnv()
		require.ErrorContains(t, err, "TEMPORAL_RETENTION", bad)
	}
	t.Setenv("TEMPORAL_RETENTION", "")
	for _, bad := range []string{"9", "24:00", "9am", "09:60"} {
		t.Setenv("RETENTION_PURGE_TIME", bad)
		_, err := config.FromEnv()
		require.ErrorContains(t, err, "RETENTION_PURGE_TIME", bad)
	}
}
