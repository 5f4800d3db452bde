package ballot_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ballotflow/ballotflow/internal/ballot"
)

func TestBallotsMoveForwardOnlyAndCuredFollowsAChallenge(t *testing.T) {
	for _, tc := range []struct {
		current, next ballot.Status
		ignored       string
	}{
		{"", ballot.StatusReceived, ""},
		{ballot.StatusMailed, ballot.StatusReceived, ""},
		{ballot.StatusReceived, ballot.StatusMailed, "older than the ballot's current status, received"},
		{ballot.StatusReceived, ballot.StatusCured, "cured, but the ballot was not challenged"},
		{ballot.StatusChallenged, ballot.StatusCured, ""},
		{ballot.StatusCounted, ballot.StatusRejected, "the ballot is already counted"},
		{ballot.StatusAccepted, ballot.StatusAccepted, "the ballot is already accepted"},
		{ballot.StatusAccepted, ballot.StatusReplaced, ""},
	} {
		require.Equal(t, tc.ignored, ballot.Transition(tc.current, tc.next), "%s → %s", tc.current, tc.next)
	}
	require.False(t, ballot.StatusReplaced.Notifies())
	require.True(t, ballot.Supersedes(ballot.StatusAccepted, ballot.StatusReceived))
	require.False(t, ballot.Supersedes(ballot.StatusCured, ballot.StatusChallenged), "a cure notice is never swallowed")
	require.True(t, ballot.Supersedes(ballot.StatusRejected, ballot.StatusChallenged))
}

func TestNoticeLanguageFallsBackToWhatTheCountyOffers(t *testing.T) {
	require.Equal(t, "es", ballot.NoticeLanguage("", "es", []string{"en", "es"}))
	require.Equal(t, "en", ballot.NoticeLanguage("en", "es", []string{"en", "es"}), "the channel's choice wins")
	require.Equal(t, "en", ballot.NoticeLanguage("", "es", []string{"en"}), "an English-only county writes in English")
	require.Equal(t, "es", ballot.NoticeLanguage("", "es", nil), "no list: every language ballotflow has")
	require.Equal(t, "en", ballot.NoticeLanguage("", "", nil))
}
