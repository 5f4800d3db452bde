package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ballotflow/ballotflow/internal/store"
	"github.com/ballotflow/ballotflow/internal/testdb"
)

func TestSetBallotStatusKeepsTheHistoryThePortalShows(t *testing.T) {
	t.Parallel()
	bg := context.Background()
	st := testdb.Open(t)
	_, err := st.JurisdictionUpsert(bg, store.Jurisdiction{State: "CO", County: "denver", Name: "Denver Elections",
		TimeZone: "America/Denver", EmailFrom: "b@example.org", EmailFromName: "Denver", SMSFrom: "+17205550100",
		VoiceFrom: "+17205550100", HelpText: "Call."})
	require.NoError(t, err)
	require.NoError(t, st.ElectionUpsert(bg, store.Election{ID: "e1", State: "CO", Name: "General",
		ElectionDay: time.Date(2026, 11, 3, 0, 0, 0, 0, time.UTC), CanvassEndsAt: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)}))
	ref, err := st.VoterUpsert(bg, store.Voter{State: "CO", VoterID: "V1", County: "denver", FirstName: "A", LastName: "B",
		DateOfBirth: time.Date(1990, 1, 1, 0, 0, 0, 0, time.UTC), ResidentialZIP: "80202", Status: "active"})
	require.NoError(t, err)
	at := time.Date(2026, 10, 10, 9, 0, 0, 0, time.UTC)
	rec, err := st.BallotEventRecord(bg, store.BallotEvent{JurisdictionID: "co-denver", ElectionID: "e1", BallotID: "B1",
		VoterRef: ref, EventID: "x1", Status: "mailed", OccurredAt: at})
	require.NoError(t, err)
	key := rec.Ballot.Key

	require.NoError(t, st.BallotSetStatus(bg, key, "mailed", at))
	require.NoError(t, st.BallotSetStatus(bg, key, "mailed", at), "a retried activity records nothing twice")
	require.NoError(t, st.BallotSetStatus(bg, key, "received", at.Add(2*time.Hour)))
	// The workflow moved the ballot forward with an event stamped earlier than the current
	// status (county clocks disagree): the current status stays, the history still has it.
	require.NoError(t, st.BallotSetStatus(bg, key, "accepted", at.Add(time.Hour)))
	require.ErrorIs(t, st.BallotSetStatus(bg, "bnosuchballot", "mailed", at), store.ErrNotFound)

	ballots, err := st.BallotListByVoterForPortal(bg, ref)
	require.NoError(t, err)
	require.Len(t, ballots, 1)
	require.Equal(t, "received", ballots[0].Status)
	var statuses []string
	for _, c := range ballots[0].Timeline {
		statuses = append(statuses, c.Status)
	}
	require.Equal(t, []string{"mailed", "accepted", "received"}, statuses, "in the order they happened at the county")
}
