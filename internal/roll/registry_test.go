package roll_test

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ballotflow/ballotflow/internal/roll"
	"github.com/ballotflow/ballotflow/internal/store"
)

var registryNow = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

func election(day, canvass time.Time) store.Election {
	return store.Election{ID: "2026-11-03-general", State: "co", Name: "General", ElectionDay: day, CanvassEndsAt: canvass}
}

func date(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

// An election is saved only with dates a ballot workflow can live by: a canvass in the year
// 9999 (which overflowed the workflow timeout and left every event of the election stuck)
// or a century away from election day, and an election day far from today, are refused
// with the field named.
func TestCheckElectionRefusesDatesFarFromTodayOrAFarCanvass(t *testing.T) {
	t.Parallel()
	nov3 := date(2026, 11, 3)
	for name, tc := range map[string]struct {
		e     store.Election
		field string
	}{
		"canvass in 9999":            {election(nov3, date(9999, 12, 31)), "canvass_ends_at"},
		"canvass two years after":    {election(nov3, nov3.AddDate(2, 0, 0)), "canvass_ends_at"},
		"canvass before the day":     {election(nov3, nov3.AddDate(0, 0, -1)), "canvass_ends_at"},
		"election day before 1900":   {election(date(1899, 11, 7), date(1899, 12, 1)), "election_day"},
		"election day in year 1":     {election(date(1, 1, 1), date(1, 2, 1)), "election_day"},
		"election day in 9999":       {election(date(9999, 11, 2), date(9999, 12, 1)), "election_day"},
		"election day 11 years back": {election(date(2015, 11, 3), date(2015, 12, 1)), "election_day"},
		"election day 11 years on":   {election(date(2037, 11, 3), date(2037, 12, 1)), "election_day"},
	} {
		_, err := roll.CheckElectionAt(tc.e, registryNow)
		var fe *roll.FieldError
		require.True(t, errors.As(err, &fe), name)
		require.Equal(t, tc.field, fe.Field, name)
	}
}

func TestCheckElectionAcceptsOrdinaryElections(t *testing.T) {
	t.Parallel()
	for name, e := range map[string]store.Election{
		"this year's general":     election(date(2026, 11, 3), date(2026, 11, 27)),
		"a long contest":          election(date(2026, 11, 3), date(2027, 11, 3)),
		"next year's municipal":   election(date(2027, 4, 6), date(2027, 5, 1)),
		"last cycle, for records": election(date(2024, 11, 5), date(2024, 12, 1)),
	} {
		got, err := roll.CheckElectionAt(e, registryNow)
		require.NoError(t, err, name)
		require.Equal(t, "CO", got.State, name)
	}
}
