package activities

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ballotflow/ballotflow/internal/store"
)

func TestNoticesAreInALanguageTheCountyOffers(t *testing.T) {
	c := contact{voter: store.Voter{Language: "es"}, jurisdiction: store.Jurisdiction{Languages: []string{"en", "es"}}}
	require.Equal(t, "es", c.language(store.Subscription{}), "the voter's language from the roll")
	require.Equal(t, "en", c.language(store.Subscription{Language: "en"}), "the language chosen for this channel wins")

	c.jurisdiction.Languages = []string{"en"}
	require.Equal(t, "en", c.language(store.Subscription{}), "a county offering English only writes in English")
	c.jurisdiction.Languages = nil
	require.Equal(t, "es", c.language(store.Subscription{}), "no list: every language ballotflow has")
}
