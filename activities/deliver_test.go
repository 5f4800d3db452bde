package activities_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/ballotflow/ballotflow/activities"
	"github.com/ballotflow/ballotflow/internal/ballot"
	"github.com/ballotflow/ballotflow/internal/demo"
	"github.com/ballotflow/ballotflow/internal/prefs"
	"github.com/ballotflow/ballotflow/internal/store"
	"github.com/ballotflow/ballotflow/workflows/contract"
)

// A number on file that ballotflow does not text (here a Jamaican +1 number, billed as
// international) is never handed to Twilio: the delivery is refused as a provider would
// refuse it, the channel is turned off, and the workflow falls back to the next channel.
func TestNoticesAreNeverTextedToNumbersBilledAsInternational(t *testing.T) {
	t.Parallel()
	bg := context.Background()
	st := demoStore(t)
	maria, err := st.VoterGetByID(bg, "CO", demo.Voters[0].VoterID)
	require.NoError(t, err)
	_, err = st.Pool().Exec(bg, `UPDATE subscriptions SET address = '+18765550123' WHERE voter_ref = $1 AND channel = 'sms'`, maria.Ref)
	require.NoError(t, err)
	rec, err := st.BallotEventRecord(bg, store.BallotEvent{JurisdictionID: store.JurisdictionID("CO", "denver"),
		ElectionID: demo.ElectionID, BallotID: "B-INTL", VoterRef: maria.Ref, EventID: "ev-intl", Status: "mailed",
		OccurredAt: time.Now().Add(-time.Hour)})
	require.NoError(t, err)

	s := &senders{}
	env := activityEnv(&activities.Activities{Store: st, Email: s, Phone: s})
	_, err = env.ExecuteActivity("SendSMS", activities.Notice{IdempotencyKey: rec.Ballot.Key + "/1/sms",
		BallotKey: rec.Ballot.Key, Seq: 1, Status: "mailed", Channel: ballot.ChannelSMS})
	var appErr *temporal.ApplicationError
	require.True(t, errors.As(err, &appErr), "%v", err)
	require.Equal(t, activities.ErrPermanent, appErr.Type())
	require.True(t, appErr.NonRetryable())
	require.Empty(t, s.texts, "nothing went to the provider")

	subs, err := st.SubscriptionListByVoter(bg, maria.Ref)
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

// When a refused number turns off the channel for everyone who shares it, the other voters'
// running ballots are told at once (preferences-changed, reason sms-bounce), so a text they
// hold for contact hours is re-planned now; the refused ballot itself learns it from the
// activity's error and is not signaled.
func TestARefusedNumberTellsTheHouseholdsOtherBallots(t *testing.T) {
	t.Parallel()
	bg := context.Background()
	st := demoStore(t)
	maria, err := st.VoterGetByID(bg, "CO", demo.Voters[0].VoterID)
	require.NoError(t, err)
	son, err := st.VoterUpsert(bg, store.Voter{State: "CO", VoterID: "600100076", County: "denver",
		FirstName: "Leo", LastName: "Garcia", DateOfBirth: time.Date(2004, 5, 6, 0, 0, 0, 0, time.UTC),
		ResidentialZIP: "80202", Status: "active", Language: "en"})
	require.NoError(t, err)
	const shared = "+18765550123" // billed as international: refused without asking a provider
	_, err = st.Pool().Exec(bg, `UPDATE subscriptions SET address = $2 WHERE voter_ref = $1 AND channel = 'sms'`, maria.Ref, shared)
	require.NoError(t, err)
	require.NoError(t, st.SubscriptionUpsert(bg, store.Subscription{VoterRef: son, Channel: ballot.ChannelSMS,
		Address: shared, State: ballot.SubscriptionActive, Source: "portal"}))
	ballotOf := func(voterRef int64, ballotID string) store.Ballot {
		rec, err := st.BallotEventRecord(bg, store.BallotEvent{JurisdictionID: store.JurisdictionID("CO", "denver"),
			ElectionID: demo.ElectionID, BallotID: ballotID, VoterRef: voterRef, EventID: "ev-" + ballotID,
			Status: "mailed", OccurredAt: time.Now().Add(-time.Hour)})
		require.NoError(t, err)
		return rec.Ballot
	}
	hers, his := ballotOf(maria.Ref, "B-HOUSE-1"), ballotOf(son, "B-HOUSE-2")

	tc := &signalRecorder{}
	env := activityEnv(&activities.Activities{Store: st, Email: &senders{}, Phone: &senders{}, Temporal: tc})
	_, err = env.ExecuteActivity("SendSMS", activities.Notice{IdempotencyKey: hers.Key + "/1/sms",
		BallotKey: hers.Key, Seq: 1, Status: "mailed", Channel: ballot.ChannelSMS})
	var appErr *temporal.ApplicationError
	require.True(t, errors.As(err, &appErr), "%v", err)
	require.Equal(t, activities.ErrPermanent, appErr.Type())

	require.Equal(t, []string{ballot.WorkflowID(demo.ElectionID, his.Key) + " " + ballot.SignalPreferencesChanged + " " +
		prefs.ReasonSMSBounce}, tc.signals())
}

// signalRecorder is a Temporal client that only records the signals sent through it.
type signalRecorder struct {
	client.Client
	mu  sync.Mutex
	got []string
}

func (r *signalRecorder) SignalWorkflow(_ context.Context, workflowID, _, signalName string, arg any) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, workflowID+" "+signalName+" "+arg.(contract.PreferencesChanged).Reason)
	return nil
}

func (r *signalRecorder) signals() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.got
}
