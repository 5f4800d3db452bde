package apiserver

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ballotflow/ballotflow/internal/store"
)

func TestMaskAddressKeepsOnlyWhatAnOperatorConfirmsOnThePhone(t *testing.T) {
	for _, tc := range []struct{ channel, address, want string }{
		{"email", "maria.garcia@example.org", "m•••@example.org"},
		{"email", "é@example.org", "é•••@example.org"},
		{"email", "not-an-address", "•••"},
		{"sms", "+13035550101", "+1••••••0101"},
		{"voice", "+447911123456", "+••••••••3456"},
		{"sms", "", ""},
		{"sms", "+123", "•••"},
	} {
		require.Equal(t, tc.want, maskAddress(tc.channel, tc.address), "%s %s", tc.channel, tc.address)
	}
}

func TestDailyCountsRunFromTheFirstChangeToTodayOrTheEndOfTheCanvass(t *testing.T) {
	day := func(s string) time.Time {
		d, err := time.Parse(time.DateOnly, s)
		require.NoError(t, err)
		return d
	}
	deltas := []store.StatusDelta{
		{Day: day("2026-10-10"), Status: "mailed", Delta: 2},
		{Day: day("2026-10-12"), Status: "mailed", Delta: -1},
		{Day: day("2026-10-12"), Status: "received", Delta: 1},
	}
	now := time.Date(2026, 10, 14, 23, 30, 0, 0, time.FixedZone("MST", -7*3600))
	canvass := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	days := dailyCounts(deltas, now, canvass)
	require.Len(t, days, 5, "10th to the 14th, today where the report counts days")
	require.Equal(t, "2026-10-10", days[0].Date)
	require.Equal(t, map[string]int64{"mailed": 2}, days[0].Counts)
	require.Equal(t, map[string]int64{"mailed": 2}, days[1].Counts, "a day without changes keeps the day before's counts")
	require.Equal(t, map[string]int64{"mailed": 1, "received": 1}, days[2].Counts)
	require.Equal(t, int64(2), days[4].Total)
	require.Equal(t, "2026-10-14", days[4].Date)

	// After the canvass the series stops at its end, but never before the last change.
	days = dailyCounts(deltas, now, time.Date(2026, 10, 11, 12, 0, 0, 0, time.UTC))
	require.Equal(t, "2026-10-12", days[len(days)-1].Date)

	// A very long series keeps the latest days.
	long := []store.StatusDelta{{Day: day("2024-01-01"), Status: "mailed", Delta: 1}}
	days = dailyCounts(long, now, canvass)
	require.Len(t, days, maxReportDays)
	require.Equal(t, "2026-10-14", days[len(days)-1].Date)
	require.Equal(t, map[string]int64{"mailed": 1}, days[0].Counts, "changes before the window still count")

	require.Empty(t, dailyCounts(nil, now, canvass))
}
