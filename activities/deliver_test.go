package activities_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/ballotflow/ballotflow/activities"
	"github.com/ballotflow/ballotflow/internal/ballot"
	"github.com/ballotflow/ballotflow/internal/demo"
	"github.com/ballotflow/ballotflow/internal/store"
	"github.com/ballotflow/ballotflow/internal/testdb"
)

// A number on file that ballotflow does not text (here a Jamaican +1 number, billed as
// international) is never handed to Twilio: the delivery is refused as a provider would
// refuse it, the channel is turned off, and the workflow falls back to the next channel.
func TestNoticesAreNeverTextedToNumbersBilledAsInternational(t *testing.T) {
	t.Parallel()
	bg := context.Background()
	st := testdb.Open(t)
	require.NoError(t, demo.Seed(bg, st, time.Now()))
	maria, err := st.VoterByID(bg, "CO", demo.Voters[0].VoterID)
	require.NoError(t, err)
	_, err = st.Pool().Exec(bg, `UPDATE subscriptions SET address = '+18765550123' WHERE voter_ref = $1 AND channel = 'sms'`, maria.Ref)
	require.NoError(t, err)
	rec, err := st.RecordEvent(bg, store.BallotEvent{JurisdictionID: store.JurisdictionID("CO", "denver"),
		ElectionID: demo.ElectionID, BallotID: "B-INTL", VoterRef: maria.Ref, EventID: "ev-intl", Status: "mailed",
		OccurredAt: time.Now().Add(-time.Hour)})
	require.NoError(t, err)

	s := &senders{}
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestActivityEnvironment()
	env.RegisterActivity(&activities.Activities{Store: st, Email: s, Phone: s})
	_, err = env.ExecuteActivity("SendSMS", activities.Notice{IdempotencyKey: rec.Ballot.Key + "/1/sms",
		BallotKey: rec.Ballot.Key, Seq: 1, Status: "mailed", Channel: ballot.ChannelSMS})
	var appErr *temporal.ApplicationError
	require.True(t, errors.As(err, &appErr), "%v", err)
	require.Equal(t, activities.ErrPermanent, appErr.Type())
	require.True(t, appErr.NonRetryable())
	require.Empty(t, s.texts, "nothing went to the provider")

	subs, err := st.Subscriptions(bg, maria.Ref)
	require.NoError(t, err)
	for _, sub := range subs {
		if sub.Channel == ballot.ChannelSMS {
			require.Equal(t, "bounced", sub.State)
		}
	}
	var state, lastError string
	require.NoError(t, st.Pool().QueryRow(bg, `SELECT state, last_error FROM deliveries WHERE idempotency_key = $1`,
		rec.Ballot.Key+"/1/sms").Scan(&state, &lastError))
	require.Equal(t, "failed", state)
	require.Contains(t, lastError, "international_rate")
	require.NotContains(t, lastError, "8765550123", "the number itself is not recorded")
}
