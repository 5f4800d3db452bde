package workflowclient

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestWorkflowTimeoutIsNeverNegativeNorOverflows(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	for name, canvass := range map[string]time.Time{
		"year 9999":            time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC),
		"ended a month ago":    now.AddDate(0, -1, 0),
		"ended in year 1":      time.Time{},
		"in three weeks":       now.AddDate(0, 0, 21),
		"ends in one second":   now.Add(time.Second),
		"ended eight days ago": now.AddDate(0, 0, -8),
	} {
		got := workflowTimeout(canvass, now)
		require.GreaterOrEqual(t, got, minWorkflowTimeout, name)
		require.LessOrEqual(t, got, maxWorkflowTimeout, name)
	}
	require.Equal(t, 21*24*time.Hour+workflowGrace, workflowTimeout(now.AddDate(0, 0, 21), now),
		"an ordinary canvass: until it ends, and the grace")
}
