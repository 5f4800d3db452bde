package workflows

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ballotflow/ballotflow/activities"
)

func mustZone(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	require.NoError(t, err)
	return loc
}

func TestContactSlot(t *testing.T) {
	denver := mustZone(t, "America/Denver")
	at := func(y int, m time.Month, d, hh, mm int) time.Time { return time.Date(y, m, d, hh, mm, 0, 0, denver) }
	day := func(d, hh, mm int) time.Time { return at(2026, time.October, d, hh, mm) } // MDT, UTC-6

	dayWindow := activities.ContactWindow{Start: "08:00", End: "20:00", TimeZone: "America/Denver"}
	night := activities.ContactWindow{Start: "22:00", End: "06:00", TimeZone: "America/Denver"}

	tests := []struct {
		name      string
		now       time.Time
		w         activities.ContactWindow
		wantFrom  time.Time
		wantUntil time.Time // zero: no end
	}{
		{"inside window returns now and today's end", day(5, 12, 0), dayWindow, day(5, 12, 0), day(5, 20, 0)},
		{"at the window's start is inside", day(5, 8, 0), dayWindow, day(5, 8, 0), day(5, 20, 0)},
		{"one minute before the end is inside", day(5, 19, 59), dayWindow, day(5, 19, 59), day(5, 20, 0)},
		{"before window gets today's start", day(5, 7, 0), dayWindow, day(5, 8, 0), day(5, 20, 0)},
		{"just after midnight gets today's start", day(5, 0, 1), dayWindow, day(5, 8, 0), day(5, 20, 0)},
		{"at the window's end gets tomorrow's start", day(5, 20, 0), dayWindow, day(6, 8, 0), day(6, 20, 0)},
		{"after window gets tomorrow's start", day(5, 21, 0), dayWindow, day(6, 8, 0), day(6, 20, 0)},
		{"after window at month end rolls the month", day(31, 22, 30), dayWindow, at(2026, time.November, 1, 8, 0), at(2026, time.November, 1, 20, 0)},
		{"now given in UTC is resolved in the window's zone", day(5, 21, 0).UTC(), dayWindow, day(6, 8, 0), day(6, 20, 0)},
		{"window in another zone than the voter's state", day(5, 7, 30), // 07:30 Denver = 09:30 New York
			activities.ContactWindow{Start: "08:00", End: "20:00", TimeZone: "America/New_York"},
			day(5, 7, 30), time.Date(2026, time.October, 5, 20, 0, 0, 0, mustZone(t, "America/New_York"))},

		{"wrapping window at 23:00 is inside until 06:00 tomorrow", day(5, 23, 0), night, day(5, 23, 0), day(6, 6, 0)},
		{"wrapping window at 03:00 is inside until 06:00 today", day(5, 3, 0), night, day(5, 3, 0), day(5, 6, 0)},
		{"wrapping window at 12:00 waits for 22:00", day(5, 12, 0), night, day(5, 22, 0), day(6, 6, 0)},
		{"wrapping window at 06:00 has closed", day(5, 6, 0), night, day(5, 22, 0), day(6, 6, 0)},
		{"wrapping window at 22:00 opens", day(5, 22, 0), night, day(5, 22, 0), day(6, 6, 0)},

		{"start equal to end is any time (midnight)", day(5, 3, 17),
			activities.ContactWindow{Start: "00:00", End: "00:00", TimeZone: "America/Denver"}, day(5, 3, 17), time.Time{}},
		{"start equal to end is any time (09:00)", day(5, 23, 59),
			activities.ContactWindow{Start: "09:00", End: "09:00", TimeZone: "America/Denver"}, day(5, 23, 59), time.Time{}},

		// Spring forward: 2026-03-08 02:00 MST becomes 03:00 MDT. 21:00 MST (UTC-7) the evening
		// before is 04:00Z; 08:00 MDT (UTC-6) is 14:00Z: ten hours later, not eleven.
		{"spring forward: 21:00 the evening before gets 08:00 local", at(2026, time.March, 7, 21, 0), dayWindow,
			time.Date(2026, time.March, 8, 14, 0, 0, 0, time.UTC), time.Date(2026, time.March, 9, 2, 0, 0, 0, time.UTC)},
		// Fall back: 2026-11-01 02:00 MDT becomes 01:00 MST. 21:00 MDT (UTC-6) is 03:00Z; 08:00
		// MST (UTC-7) is 15:00Z: twelve hours later, not eleven.
		{"fall back: 21:00 the evening before gets 08:00 local", at(2026, time.October, 31, 21, 0), dayWindow,
			time.Date(2026, time.November, 1, 15, 0, 0, 0, time.UTC), time.Date(2026, time.November, 2, 3, 0, 0, 0, time.UTC)},
		{"spring forward: wrapping window spans the short night", at(2026, time.March, 7, 23, 0), night,
			at(2026, time.March, 7, 23, 0), time.Date(2026, time.March, 8, 12, 0, 0, 0, time.UTC)}, // 06:00 MDT
		{"fall back: wrapping window spans the long night", at(2026, time.October, 31, 23, 0), night,
			at(2026, time.October, 31, 23, 0), time.Date(2026, time.November, 1, 13, 0, 0, 0, time.UTC)}, // 06:00 MST
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			from, until, err := contactSlot(tt.now, tt.w)
			require.NoError(t, err)
			require.Truef(t, tt.wantFrom.Equal(from), "from: want %s, got %s", tt.wantFrom, from)
			if tt.wantUntil.IsZero() {
				require.Truef(t, until.IsZero(), "until: want none, got %s", until)
			} else {
				require.Truef(t, tt.wantUntil.Equal(until), "until: want %s, got %s", tt.wantUntil, until)
			}
			require.False(t, from.Before(tt.now), "a slot never starts in the past")
		})
	}
}

func TestContactSlot_DSTOffsets(t *testing.T) {
	denver := mustZone(t, "America/Denver")
	w := activities.ContactWindow{Start: "08:00", End: "20:00", TimeZone: "America/Denver"}

	spring := time.Date(2026, time.March, 7, 21, 0, 0, 0, denver)
	from, _, err := contactSlot(spring, w)
	require.NoError(t, err)
	require.Equal(t, 10*time.Hour, from.Sub(spring), "the night the clocks spring forward is an hour short")
	require.Equal(t, "08:00 MDT", from.In(denver).Format("15:04 MST"))
	_, off := from.In(denver).Zone()
	require.Equal(t, -6*3600, off)

	fall := time.Date(2026, time.October, 31, 21, 0, 0, 0, denver)
	from, _, err = contactSlot(fall, w)
	require.NoError(t, err)
	require.Equal(t, 12*time.Hour, from.Sub(fall), "the night the clocks fall back is an hour long")
	require.Equal(t, "08:00 MST", from.In(denver).Format("15:04 MST"))
	_, off = from.In(denver).Zone()
	require.Equal(t, -7*3600, off)
}

func TestContactSlot_Errors(t *testing.T) {
	now := time.Date(2026, time.October, 5, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		w    activities.ContactWindow
		want string
	}{
		{"invalid zone", activities.ContactWindow{Start: "08:00", End: "20:00", TimeZone: "Mars/Olympus_Mons"}, "Mars/Olympus_Mons"},
		{"invalid start", activities.ContactWindow{Start: "8am", End: "20:00", TimeZone: "America/Denver"}, "8am"},
		{"start out of range", activities.ContactWindow{Start: "25:00", End: "20:00", TimeZone: "America/Denver"}, "25:00"},
		{"invalid end", activities.ContactWindow{Start: "08:00", End: "20:60", TimeZone: "America/Denver"}, "20:60"},
		{"empty end", activities.ContactWindow{Start: "08:00", End: "", TimeZone: "America/Denver"}, "HH:MM"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			from, until, err := contactSlot(now, tt.w)
			require.Error(t, err)
			require.Contains(t, err.Error(), tt.want)
			require.True(t, from.IsZero())
			require.True(t, until.IsZero())
		})
	}
}
