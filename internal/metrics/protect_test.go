package metrics_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ballotflow/ballotflow/internal/metrics"
)

// TestProtectAsksForTheBearerToken: with METRICS_TOKEN set, /metrics answers only the
// scraper that sends it, and shows nothing to anyone else.
func TestProtectAsksForTheBearerToken(t *testing.T) {
	t.Parallel()
	inner := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ballotflow_x 1\n")) })
	get := func(h http.Handler, auth string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	protected := metrics.Protect(inner, "s3cret")
	for _, auth := range []string{"", "Bearer wrong", "Bearer s3cret2", "Basic czNjcmV0", "s3cret", "Bearer "} {
		rec := get(protected, auth)
		require.Equal(t, http.StatusUnauthorized, rec.Code, auth)
		require.NotContains(t, rec.Body.String(), "ballotflow_x", auth)
		require.Contains(t, rec.Header().Get("WWW-Authenticate"), "Bearer")
	}
	rec := get(protected, "Bearer s3cret")
	require.Equal(t, http.StatusOK, rec.Code)
	require.Contains(t, rec.Body.String(), "ballotflow_x 1")

	require.Equal(t, http.StatusOK, get(metrics.Protect(inner, ""), "").Code, "no token configured: open")
}
