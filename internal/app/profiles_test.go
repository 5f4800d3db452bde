package app_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ballotflow/ballotflow/internal/app"
	"github.com/ballotflow/ballotflow/internal/config"
)

// Profiles are for an operator on the host: PPROF_ADDR must be loopback, and serves them
// there until the process stops.
func TestProfilesAreServedOnLoopbackOnly(t *testing.T) {
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for _, addr := range []string{":6060", "0.0.0.0:6060", "10.0.0.5:6060", "[::]:6060"} {
		err := app.ServeProfiles(ctx, config.Config{PprofAddr: addr}, logger)
		require.ErrorContains(t, err, "loopback", addr)
	}
	require.NoError(t, app.ServeProfiles(ctx, config.Config{}, logger), "empty: none")

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	require.NoError(t, app.ServeProfiles(ctx, config.Config{PprofAddr: addr}, logger))
	resp, err := http.Get("http://" + addr + "/debug/pprof/goroutine?debug=1")
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Contains(t, string(body), "goroutine profile")
}
