package tzdb

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestLoadResolvesZonesFromTheEmbeddedDatabase(t *testing.T) {
	denver, err := Load("America/Denver")
	require.NoError(t, err)
	require.Equal(t, "America/Denver", denver.String())
	// 2026's spring-forward in the US is on March 8: 08:00 is MDT (-6) after it, MST (-7) before.
	_, before := time.Date(2026, 3, 7, 8, 0, 0, 0, denver).Zone()
	_, after := time.Date(2026, 3, 9, 8, 0, 0, 0, denver).Zone()
	require.Equal(t, -7*3600, before)
	require.Equal(t, -6*3600, after)

	again, err := Load("America/Denver")
	require.NoError(t, err)
	require.Same(t, denver, again, "loaded once, then cached")

	utc, err := Load("UTC")
	require.NoError(t, err)
	require.Same(t, time.UTC, utc)
}

func TestLoadRefusesNamesThatDependOnTheHostOrDoNotExist(t *testing.T) {
	for _, name := range []string{"", "Local", "America/Nowhere", "../../etc/passwd", "America/Denver\x00"} {
		_, err := Load(name)
		require.ErrorIs(t, err, ErrUnknownZone, name)
		require.False(t, Valid(name), name)
	}
	require.True(t, Valid("Pacific/Guam"))
}
