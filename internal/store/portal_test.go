package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ballotflow/ballotflow/internal/store"
	"github.com/ballotflow/ballotflow/internal/testdb"
)

// portalBallot is a database with one county, one election, one voter (ref) and one ballot
// mailed at at.
func portalBallot(t *testing.T) (st *store.Store, ref int64, rec store.RecordedEvent, at time.Time) {
	t.Helper()
	t.Parallel()
	bg := context.Background()
	st = testdb.Open(t)
	_, err := st.JurisdictionUpsert(bg, store.Jurisdiction{State: "CO", County: "denver", Name: "Denver Elections",
		TimeZone: "America/Denver", EmailFrom: "b@example.org", EmailFromName: "Denver", SMSFrom: "+17205550100",
		VoiceFrom: "+17205550100", HelpText: "Call."})
	require.NoError(t, err)
	require.NoError(t, st.ElectionUpsert(bg, store.Election{ID: "e1", State: "CO", Name: "General",
		ElectionDay: time.Date(2026, 11, 3, 0, 0, 0, 0, time.UTC), CanvassEndsAt: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)}))
	ref, err = st.VoterUpsert(bg, store.Voter{State: "CO", VoterID: "V1", County: "denver", FirstName: "A", LastName: "B",
		DateOfBirth: time.Date(1990, 1, 1, 0, 0, 0, 0, time.UTC), ResidentialZIP: "80202", Status: "active"})
	require.NoError(t, err)
	at = time.Date(2026, 10, 10, 9, 0, 0, 0, time.UTC)
	rec, err = st.BallotEventRecord(bg, store.BallotEvent{JurisdictionID: "co-denver", ElectionID: "e1", BallotID: "B1",
		VoterRef: ref, EventID: "x1", Status: "mailed", OccurredAt: at})
	require.NoError(t, err)
	return st, ref, rec, at
}

func TestSetBallotStatusKeepsTheHistoryThePortalShows(t *testing.T) {
	bg := context.Background()
	st, ref, rec, at := portalBallot(t)
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

// The portal's history of a ballot lists the reminders a provider accepted, once each
// whatever the channels that carried them, and nothing that was not sent; a correction marks
// the status posted in error and adds its own move.
func TestThePortalShowsRemindersSentAndCorrections(t *testing.T) {
	bg := context.Background()
	st, ref, rec, at := portalBallot(t)
	key := rec.Ballot.Key
	require.NoError(t, st.BallotSetStatus(bg, key, "mailed", at))
	require.NoError(t, st.BallotSetStatus(bg, key, "received", at.Add(time.Hour)))
	require.NoError(t, st.BallotCorrectStatus(bg, key, store.StatusCorrection{Status: "mailed", At: at.Add(2 * time.Hour),
		Wrong: "received", WrongAt: at.Add(time.Hour), Moved: true}, false, nil))

	for _, d := range []struct {
		seq                    int
		status, channel, state string
	}{
		{2, "reminder_return", "email", "delivered"},
		{2, "reminder_return", "sms", "accepted"},
		{3, "reminder_return", "email", "failed"},
		{4, "mailed", "email", "delivered"},
	} {
		_, err := st.Pool().Exec(bg, `
			INSERT INTO deliveries (idempotency_key, ballot_ref, voter_ref, notice_seq, notice_status, channel, state)
			VALUES ($1, $2, $3, $4, $5, $6, $7)`, fmt.Sprintf("%s/%d/%s", key, d.seq, d.channel), rec.Ballot.Ref, ref, d.seq,
			d.status, d.channel, d.state)
		require.NoError(t, err)
	}

	ballots, err := st.BallotListByVoterForPortal(bg, ref)
	require.NoError(t, err)
	require.Len(t, ballots, 1)
	require.Len(t, ballots[0].Reminders, 1, "one reminder sent (on two channels); one failed")
	require.Equal(t, "reminder_return", ballots[0].Reminders[0].Kind)
	var timeline []string
	for _, c := range ballots[0].Timeline {
		timeline = append(timeline, fmt.Sprintf("%s error=%t correction=%t", c.Status, c.CorrectedAt != nil, c.Correction))
	}
	require.Equal(t, []string{"mailed error=false correction=false", "received error=true correction=false",
		"mailed error=false correction=true"}, timeline)
	require.Equal(t, "mailed", ballots[0].Status)

	forOperators, err := st.BallotListByVoterWithHistory(bg, ref)
	require.NoError(t, err)
	require.Len(t, forOperators, 1)
	require.Equal(t, ballots[0].Reminders, forOperators[0].Reminders, "operators see the same reminders")
}
