package metrics_test

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"github.com/ballotflow/ballotflow/internal/metrics"
)

func TestTemporalHandlerExportsCountersGaugesAndTimersWithTheirTags(t *testing.T) {
	h := metrics.TemporalHandler().WithTags(map[string]string{"task_queue": "notify-sms", "namespace": "default"})
	h.Counter("test_sdk_requests").Inc(2)
	h.WithTags(map[string]string{"task_queue": "notify-email"}).Counter("test_sdk_requests").Inc(1)
	h.Gauge("test_sdk_slots").Update(7)
	h.Timer("test_sdk.latency").Record(1500 * time.Millisecond)
	// A later use with other tag keys keeps the first key set.
	h.WithTags(map[string]string{"extra": "x"}).Counter("test_sdk_requests").Inc(4)

	expected := `
# HELP test_sdk_requests Temporal SDK metric test_sdk_requests
# TYPE test_sdk_requests counter
test_sdk_requests{namespace="default",task_queue="notify-email"} 1
test_sdk_requests{namespace="default",task_queue="notify-sms"} 6
`
	require.NoError(t, testutil.GatherAndCompare(metrics.Registry, strings.NewReader(expected), "test_sdk_requests"))
	require.NoError(t, testutil.GatherAndCompare(metrics.Registry, strings.NewReader(`
# HELP test_sdk_slots Temporal SDK metric test_sdk_slots
# TYPE test_sdk_slots gauge
test_sdk_slots{namespace="default",task_queue="notify-sms"} 7
`), "test_sdk_slots"))
	n, err := testutil.GatherAndCount(metrics.Registry, "test_sdk_latency_seconds")
	require.NoError(t, err)
	require.Equal(t, 1, n, "the timer is a histogram in seconds, its name made valid for Prometheus")
}
