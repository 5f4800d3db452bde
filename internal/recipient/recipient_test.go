package recipient

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ballotflow/ballotflow/internal/store"
)

func TestMessagesAreInALanguageTheCountyOffers(t *testing.T) {
	r := Recipient{Voter: store.Voter{Language: "es"}, Jurisdiction: store.Jurisdiction{Languages: []string{"en", "es"}},
		Subscriptions: []store.Subscription{{Channel: "email"}, {Channel: "sms", Language: "en"}}}
	require.Equal(t, "es", r.Language("email"), "the voter's language from the roll")
	require.Equal(t, "en", r.Language("sms"), "the language chosen for this channel wins")
	require.Equal(t, "es", r.Language("voice"), "no subscription: the voter's language")

	r.Jurisdiction.Languages = []string{"en"}
	require.Equal(t, "en", r.Language("email"), "a county offering English only writes in English")
	r.Jurisdiction.Languages = nil
	require.Equal(t, "es", r.Language("email"), "no list: every language ballotflow has")
}

func TestContactHoursDefaultToTheCountysDaytime(t *testing.T) {
	j := store.Jurisdiction{TimeZone: "America/Denver"}
	start, end, tz := ContactHours(store.Subscription{}, j)
	require.Equal(t, []string{"08:00", "20:00", "America/Denver"}, []string{start, end, tz})
	start, end, tz = ContactHours(store.Subscription{ContactStart: "22:00", ContactEnd: "06:00", TimeZone: "America/Chicago"}, j)
	require.Equal(t, []string{"22:00", "06:00", "America/Chicago"}, []string{start, end, tz})
}
