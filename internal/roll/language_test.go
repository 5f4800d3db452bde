package roll_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ballotflow/ballotflow/internal/roll"
)

// A roll's language is any language with a catalog, in any case, as the catalog spells it.
func TestARollLanguageIsAnyCatalogsInAnyCase(t *testing.T) {
	for in, want := range map[string]string{"": "", "en": "en", " ES ": "es", "zh-hant": "zh-Hant", "VI": "vi", "tl": "tl", "ko": "ko"} {
		got, ok := roll.Language(in)
		require.True(t, ok, in)
		require.Equal(t, want, got, in)
	}
	for _, bad := range []string{"fr", "zh", "zh-Hans", "english", "e n"} {
		_, ok := roll.Language(bad)
		require.False(t, ok, bad)
	}
}
