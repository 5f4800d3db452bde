package roll_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ballotflow/ballotflow/internal/roll"
)

func TestPhoneNormalizesUSNumbersAndChecksE164(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"+13035550123": "+13035550123", "303-555-0123": "+13035550123", "(303) 555-0123": "+13035550123",
		"1 303 555 0123": "+13035550123", "303.555.0123": "+13035550123", "+442071838750": "+442071838750",
	} {
		got, ok := roll.Phone(in)
		require.True(t, ok, in)
		require.Equal(t, want, got, in)
	}
	for _, in := range []string{"", "555-0199", "+0123456789", "+1303555012a", "103-555-0123", "303-155-0123",
		"+1234567890123456", "303 555 0123 x12", "2 303 555 0123"} {
		_, ok := roll.Phone(in)
		require.False(t, ok, in)
	}
}

func TestZIPAcceptsZIPPlus4AndCutsIt(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{"80202": "80202", "80202-1234": "80202", "802021234": "80202", " 02134 ": "02134"} {
		got, ok := roll.ZIP(in)
		require.True(t, ok, in)
		require.Equal(t, want, got)
	}
	for _, in := range []string{"", "8020", "802020", "80202-12", "8020a", "80202 1234"} {
		_, ok := roll.ZIP(in)
		require.False(t, ok, in)
	}
}

func TestEmailWantsABareAddress(t *testing.T) {
	t.Parallel()
	for _, in := range []string{"a@example.org", "first.last+tag@mail.example.co.uk"} {
		_, ok := roll.Email(in)
		require.True(t, ok, in)
	}
	for _, in := range []string{"", "not-an-email@", "@example.org", "a@b", "Ann <a@example.org>", "a b@example.org",
		"a@example.", "a@@example.org"} {
		_, ok := roll.Email(in)
		require.False(t, ok, in)
	}
}

func TestFlagsTimeZonesAndClockTimes(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]bool{"true": true, "1": true, "Y": true, "yes": true, "false": false, "0": false, "n": false, "": false} {
		got, ok := roll.Flag(in)
		require.True(t, ok, in)
		require.Equal(t, want, got, in)
	}
	_, ok := roll.Flag("maybe")
	require.False(t, ok)
	require.True(t, roll.TimeZone("America/Denver"))
	require.False(t, roll.TimeZone("Local"))
	require.False(t, roll.TimeZone("Mountain Time"))
	got, ok := roll.ClockTime("9:05")
	require.True(t, ok)
	require.Equal(t, "09:05", got)
	_, ok = roll.ClockTime("25:00")
	require.False(t, ok)
}
