package roll_test

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ballotflow/ballotflow/internal/roll"
)

// An election's records_until may be left out (the store's default), or any day from the
// end of the canvass (UTC) to ten years after election day; a day before the canvass ends
// would purge records still in use, and one decades away is a typing mistake.
func TestCheckElectionBoundsTheRecordsPeriod(t *testing.T) {
	t.Parallel()
	nov3 := date(2026, 11, 3)
	// 17:00 in Denver on Nov 27 is Nov 28 in UTC.
	canvass := time.Date(2026, 11, 27, 17, 0, 0, 0, time.FixedZone("MST", -7*3600))
	for name, tc := range map[string]struct {
		until time.Time
		field string // empty: accepted
	}{
		"left out":                 {time.Time{}, ""},
		"22 months":                {date(2028, 9, 3), ""},
		"the day the canvass ends": {date(2026, 11, 28), ""},
		"ten years":                {date(2036, 11, 3), ""},
		"the day before (UTC)":     {date(2026, 11, 27), "records_until"},
		"before election day":      {date(2026, 10, 1), "records_until"},
		"ten years and a day":      {date(2036, 11, 4), "records_until"},
		"year 9999":                {date(9999, 12, 31), "records_until"},
	} {
		e := election(nov3, canvass)
		e.RecordsUntil = tc.until
		got, err := roll.CheckElectionAt(e, registryNow)
		if tc.field == "" {
			require.NoError(t, err, name)
			require.Equal(t, tc.until, got.RecordsUntil, name)
			continue
		}
		var fe *roll.FieldError
		require.True(t, errors.As(err, &fe), name)
		require.Equal(t, tc.field, fe.Field, name)
	}
}
