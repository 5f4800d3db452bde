package app_test

import (
	"context"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ballotflow/ballotflow/internal/app"
	"github.com/ballotflow/ballotflow/internal/ballot"
	"github.com/ballotflow/ballotflow/internal/demo"
	"github.com/ballotflow/ballotflow/internal/intake"
	"github.com/ballotflow/ballotflow/internal/store"
	"github.com/ballotflow/ballotflow/workflows/contract"
)

// operatorKey creates an operator key on the running stack and returns it with its prefix.
func operatorKey(t *testing.T, d *app.Dev) (string, string) {
	t.Helper()
	k, plaintext, err := d.Store.APIKeyCreate(context.Background(), store.APIKey{Role: store.RoleOperator, Label: "help desk"}, "test")
	require.NoError(t, err)
	return plaintext, k.Prefix
}

// TestCountyAssistedOptOutStopsAWaitingText: a voter calls the county while the text about
// her mailed ballot waits for her contact hours; the operator opts her out of texts, the
// ballot workflow drops the waiting text at once (preferences-changed), nothing is sent,
// and the audit log names the operator.
func TestCountyAssistedOptOutStopsAWaitingText(t *testing.T) {
	d := startDev(t)
	ctx := context.Background()
	maria := demo.Voters[0]
	key, prefix := operatorKey(t, d)
	voter, err := d.Store.VoterGetByID(ctx, "CO", maria.VoterID)
	require.NoError(t, err)

	// Contact hours that start two hours from now, so the text must wait.
	now := time.Now().UTC()
	require.NoError(t, d.Store.SubscriptionUpsert(ctx, store.Subscription{VoterRef: voter.Ref, Channel: "sms", Address: maria.SMS,
		State: "active", Source: "portal", ContactStart: now.Add(2 * time.Hour).Format("15:04"),
		ContactEnd: now.Add(3 * time.Hour).Format("15:04"), TimeZone: "UTC"}))

	resp := post(t, d, d.DemoKey, "application/json", eventJSON("op-1", maria.VoterID, "DEN-OP", "mailed", now.Add(-time.Minute)))
	require.Equal(t, http.StatusAccepted, resp.Status, "%+v", resp)
	require.Equal(t, intake.Accepted, resp.Results[0].Result)
	workflowID := resp.Results[0].WorkflowID

	view := func() contract.BallotView {
		q, err := d.Temporal.QueryWorkflow(ctx, workflowID, "", ballot.QueryStatus)
		require.NoError(t, err)
		var v contract.BallotView
		require.NoError(t, q.Get(&v))
		return v
	}
	waitingSMS := func() bool {
		for _, n := range view().Pending {
			if n.Channel == "sms" {
				return true
			}
		}
		return false
	}
	require.Eventually(t, waitingSMS, 30*time.Second, 100*time.Millisecond, "the text waits for the contact hours")
	require.Eventually(t, func() bool { return len(outboxFor(d, "email", maria.Email)) == 1 },
		30*time.Second, 50*time.Millisecond, "email does not wait")

	// The operator finds the ballot, with its link into Temporal UI.
	var ballots struct {
		Ballots []struct {
			WorkflowID    string `json:"workflow_id"`
			TemporalUIURL string `json:"temporal_ui_url"`
		}
	}
	require.Equal(t, http.StatusOK, portalCall(t, d, http.MethodGet, "/v1/operator/voters/CO/"+maria.VoterID+"/ballots", key, "", &ballots))
	require.Len(t, ballots.Ballots, 1)
	require.Equal(t, workflowID, ballots.Ballots[0].WorkflowID)
	require.Equal(t, d.Stack.UIURL()+"/namespaces/"+d.Stack.Namespace()+"/workflows/"+url.PathEscape(workflowID),
		ballots.Ballots[0].TemporalUIURL)

	// "Please don't text me any more."
	var out struct {
		Changed         []string `json:"changed"`
		BallotsSignaled bool     `json:"ballots_signaled"`
	}
	require.Equal(t, http.StatusOK, portalCall(t, d, http.MethodPost, "/v1/operator/voters/CO/"+maria.VoterID+"/opt-out", key,
		`{"channels":["sms"],"note":"voter called, ticket 7001"}`, &out))
	require.Equal(t, []string{"sms"}, out.Changed)
	require.True(t, out.BallotsSignaled)

	require.Eventually(t, func() bool { return !waitingSMS() }, 20*time.Second, 100*time.Millisecond,
		"the waiting text is dropped when the operator opts the voter out")
	canceled := false
	for _, o := range view().Deliveries {
		if o.Channel == "sms" && o.Outcome == "canceled" {
			canceled = true
		}
	}
	require.True(t, canceled, "the workflow records the text as canceled: %+v", view().Deliveries)
	require.Empty(t, outboxFor(d, "sms", maria.SMS), "no text was ever sent")

	var actor, note string
	require.NoError(t, d.Store.Pool().QueryRow(ctx, `
		SELECT actor, detail->>'note' FROM audit_log WHERE action = 'subscription.county_assisted_opt_out'`).Scan(&actor, &note))
	require.Equal(t, "key:"+prefix, actor)
	require.Equal(t, "voter called, ticket 7001", note)

	// The delivery log shows the email that went out, with its provider id.
	var log struct {
		Deliveries []struct {
			Channel    string `json:"channel"`
			State      string `json:"state"`
			ProviderID string `json:"provider_id"`
		}
	}
	require.Equal(t, http.StatusOK, portalCall(t, d, http.MethodGet, "/v1/operator/voters/CO/"+maria.VoterID+"/deliveries", key, "", &log))
	require.Len(t, log.Deliveries, 1)
	require.Equal(t, "email", log.Deliveries[0].Channel)
	require.Contains(t, []string{store.DeliveryAccepted, store.DeliveryDelivered}, log.Deliveries[0].State)
	require.NotEmpty(t, log.Deliveries[0].ProviderID)
}
