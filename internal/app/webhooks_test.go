package app_test

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"

	"github.com/ballotflow/ballotflow/internal/app"
	"github.com/ballotflow/ballotflow/internal/ballot"
	"github.com/ballotflow/ballotflow/internal/demo"
	"github.com/ballotflow/ballotflow/internal/intake"
	"github.com/ballotflow/ballotflow/internal/store"
	"github.com/ballotflow/ballotflow/workflows/contract"
)

// TestProviderWebhooksEndToEnd runs the webhooks against the sandbox providers' signed
// requests: SendGrid's events settle an email, a voter's YES confirms her pending number and
// tells her running ballot, Twilio's status callbacks settle the text that follows, and her
// STOP keeps every later text away.
func TestProviderWebhooksEndToEnd(t *testing.T) {
	d := startDev(t)
	ctx := context.Background()
	maria := demo.Voters[0]
	const denverNumber = "+17205550100"
	voter, err := d.Store.VoterGetByID(ctx, "CO", maria.VoterID)
	require.NoError(t, err)
	// Her number waits for her YES; texts at any hour, so the test does not depend on the clock.
	require.NoError(t, d.Store.SubscriptionUpsert(ctx, store.Subscription{VoterRef: voter.Ref, Channel: "sms",
		Address: maria.SMS, State: "pending", Source: "portal", ContactStart: "00:00", ContactEnd: "00:00"}))
	// She was asked to confirm it (YES confirms only a number that was asked).
	_, err = d.Store.Pool().Exec(ctx, `UPDATE subscriptions SET confirm_requested_at = now() WHERE voter_ref = $1 AND channel = 'sms'`, voter.Ref)
	require.NoError(t, err)

	start := time.Now().Add(-3 * time.Hour).Truncate(time.Second)
	resp := post(t, d, d.DemoKey, "application/json", eventJSON("wh-1", maria.VoterID, "DEN-WH", "mailed", start))
	require.Equal(t, http.StatusAccepted, resp.Status, "%+v", resp)
	require.Equal(t, intake.Accepted, resp.Results[0].Result)
	workflowID := resp.Results[0].WorkflowID
	stored, err := d.Store.BallotGetByKey(ctx, workflowID[strings.LastIndex(workflowID, "/")+1:])
	require.NoError(t, err)

	// The email goes at once; SendGrid's signed events move its delivery to delivered.
	var emailKey string
	require.Eventually(t, func() bool {
		emailKey = deliveryKey(t, d, stored.Ref, "email", 1)
		return deliveryState(t, d, emailKey) == store.DeliveryDelivered
	}, 20*time.Second, 50*time.Millisecond, "SendGrid's delivered event")
	statuses, err := d.Store.DeliveryEventListStatuses(ctx, emailKey)
	require.NoError(t, err)
	require.Equal(t, []string{"processed", "delivered"}, statuses)
	require.Empty(t, outboxFor(d, "sms", maria.SMS), "no text to an unconfirmed number")

	// Maria answers the confirmation text with YES.
	require.NoError(t, d.Sandbox.InboundSMS(ctx, maria.SMS, denverNumber, " yes "))
	require.Equal(t, "active", smsState(t, d, voter.Ref))
	replies := outboxFor(d, "sms", maria.SMS)
	require.Len(t, replies, 1)
	require.Contains(t, replies[0].Text, "confirmed")
	require.Equal(t, denverNumber, replies[0].From)
	require.Contains(t, signalNames(t, d, workflowID), ballot.SignalPreferencesChanged, "her running ballot is told")

	// The next status is texted; Twilio's status callbacks settle the text.
	resp = post(t, d, d.DemoKey, "application/json", eventJSON("wh-2", maria.VoterID, "DEN-WH", "received", start.Add(time.Hour)))
	require.Equal(t, intake.Accepted, resp.Results[0].Result)
	var smsKey string
	require.Eventually(t, func() bool {
		smsKey = deliveryKey(t, d, stored.Ref, "sms", 0)
		return smsKey != "" && deliveryState(t, d, smsKey) == store.DeliveryDelivered
	}, 30*time.Second, 50*time.Millisecond, "Twilio's delivered callback")
	statuses, err = d.Store.DeliveryEventListStatuses(ctx, smsKey)
	require.NoError(t, err)
	require.ElementsMatch(t, []string{"sent", "delivered"}, statuses)
	texts := outboxFor(d, "sms", maria.SMS)
	require.Len(t, texts, 2)
	require.Contains(t, texts[1].Text, "received")
	require.Contains(t, texts[1].Meta["status_callback"], d.APIURL+"/v1/webhooks/twilio/status?d=")

	// STOP: no text about anything later, email still comes.
	require.NoError(t, d.Sandbox.InboundSMS(ctx, maria.SMS, denverNumber, "STOP"))
	require.Equal(t, "opted_out", smsState(t, d, voter.Ref))
	resp = post(t, d, d.DemoKey, "application/json", eventJSON("wh-3", maria.VoterID, "DEN-WH", "accepted", start.Add(2*time.Hour)))
	require.Equal(t, intake.Accepted, resp.Results[0].Result)
	require.Eventually(t, func() bool { return len(outboxFor(d, "email", maria.Email)) == 3 }, 30*time.Second, 50*time.Millisecond)
	require.Eventually(t, func() bool {
		q, err := d.Temporal.QueryWorkflow(ctx, workflowID, "", ballot.QueryStatus)
		if err != nil {
			return false
		}
		var view contract.BallotView
		return q.Get(&view) == nil && view.Status == ballot.StatusAccepted && len(view.Pending) == 0
	}, 30*time.Second, 100*time.Millisecond)
	require.Len(t, outboxFor(d, "sms", maria.SMS), 2, "nothing texted after STOP")
}

// deliveryKey returns the idempotency key of a ballot's delivery on channel: the n-th (from
// 1), or the last when n is 0; empty when there is none yet.
func deliveryKey(t *testing.T, d *app.Dev, ballotRef int64, channel string, n int) string {
	t.Helper()
	all, err := d.Store.DeliveryListByBallot(context.Background(), ballotRef)
	require.NoError(t, err)
	all = slices.DeleteFunc(all, func(x store.Delivery) bool { return x.Channel != channel })
	switch {
	case len(all) == 0 || n > len(all):
		return ""
	case n == 0:
		return all[len(all)-1].IdempotencyKey
	}
	return all[n-1].IdempotencyKey
}

func deliveryState(t *testing.T, d *app.Dev, key string) string {
	t.Helper()
	if key == "" {
		return ""
	}
	dl, err := d.Store.DeliveryGetByKey(context.Background(), key)
	require.NoError(t, err)
	return dl.State
}

func smsState(t *testing.T, d *app.Dev, voterRef int64) string {
	t.Helper()
	subs, err := d.Store.SubscriptionListByVoter(context.Background(), voterRef)
	require.NoError(t, err)
	for _, s := range subs {
		if s.Channel == "sms" {
			return s.State
		}
	}
	return ""
}

// signalNames lists the signals in a workflow's history, oldest first.
func signalNames(t *testing.T, d *app.Dev, workflowID string) []string {
	t.Helper()
	iter := d.Temporal.GetWorkflowHistory(context.Background(), workflowID, "", false,
		enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	var names []string
	for iter.HasNext() {
		ev, err := iter.Next()
		require.NoError(t, err)
		if a := ev.GetWorkflowExecutionSignaledEventAttributes(); a != nil {
			names = append(names, a.GetSignalName())
		}
	}
	return names
}
