package ballot_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ballotflow/ballotflow/internal/ballot"
)

func TestNormalizeEmailTakesBareAddressesOnly(t *testing.T) {
	for in, want := range map[string]string{
		"maria@example.org":     "maria@example.org",
		"  maria@example.org  ": "maria@example.org",
		"m.garcia+b@ex.co.uk":   "m.garcia+b@ex.co.uk",
	} {
		got, ok := ballot.NormalizeEmail(in)
		require.True(t, ok, in)
		require.Equal(t, want, got, in)
	}
	for _, in := range []string{"", "maria", "@example.org", "maria@example", "maria@.example.org", "maria@example.org.",
		"Maria <maria@example.org>", `"m"@example.org`, "ma ria@example.org"} {
		_, ok := ballot.NormalizeEmail(in)
		require.False(t, ok, in)
	}
}
