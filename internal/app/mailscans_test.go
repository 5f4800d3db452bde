package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ballotflow/ballotflow/internal/app"
	"github.com/ballotflow/ballotflow/internal/ballot"
	"github.com/ballotflow/ballotflow/internal/demo"
	"github.com/ballotflow/ballotflow/internal/store"
	"github.com/ballotflow/ballotflow/workflows/contract"
)

// postScans posts an IV-MTR push body to /v1/mail-scans and returns the status and counts.
func postScans(t *testing.T, d *app.Dev, body string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, d.APIURL+"/v1/mail-scans", strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+d.DemoKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var out map[string]any
	require.NoError(t, json.Unmarshal(raw, &out), "%s", raw)
	return resp.StatusCode, out
}

// mailedWithEnvelopes is a "mailed" event of the demo election with its envelopes' barcodes.
func mailedWithEnvelopes(eventID, voterID, ballotID string, at time.Time, outbound, inbound string) string {
	return fmt.Sprintf(`{"event_id":%q,"election_id":%q,"voter_id":%q,"ballot_id":%q,"status":"mailed",`+
		`"occurred_at":%q,"outbound_imb":%q,"return_imb":%q}`, eventID, demo.ElectionID, voterID, ballotID,
		at.Format(time.RFC3339), outbound, inbound)
}

func scanJSON(imb string, at time.Time) string {
	return fmt.Sprintf(`{"events":[{"imb":%q,"scanDatetime":%q,"scanEventCode":"918","scanFacilityName":"DENVER CO P&DC",`+
		`"scanFacilityCity":"DENVER","scanFacilityState":"CO","scanFacilityZip":"80266"}]}`, imb, at.Format(time.RFC3339))
}

// USPS scans of a ballot's envelopes go from the county's push through the API to the
// ballot's workflow: the first outbound scan is told once by email and text; a second
// outbound scan, and a return scan after the county received the ballot, are recorded and
// never told.
func TestMailScansReachTheVoterOnceADirectionThroughTheStack(t *testing.T) {
	d := startDev(t)
	ctx := context.Background()
	maria := demo.Voters[0]
	voter, err := d.Store.VoterGetByID(ctx, "CO", maria.VoterID)
	require.NoError(t, err)
	require.NoError(t, d.Store.SubscriptionUpsert(ctx, store.Subscription{VoterRef: voter.Ref, Channel: "sms",
		Address: maria.SMS, State: "active", Source: "portal", ContactStart: "00:00", ContactEnd: "00:00"}))

	const outbound, inbound = "0030012345600000010180202123401", "0030412345600000010280202999901"
	at := time.Now().Add(-3 * time.Hour).Truncate(time.Second)
	resp := post(t, d, d.DemoKey, "application/json", mailedWithEnvelopes("scan-1", maria.VoterID, "DEN-SCAN", at, outbound, inbound))
	require.Equal(t, http.StatusAccepted, resp.Status, "%+v", resp)
	workflowID := resp.Results[0].WorkflowID
	require.Eventually(t, func() bool {
		return len(outboxFor(d, "email", maria.Email)) == 1 && len(outboxFor(d, "sms", maria.SMS)) == 1
	}, 30*time.Second, 50*time.Millisecond)

	status, counts := postScans(t, d, scanJSON(outbound, at.Add(time.Hour)))
	require.Equal(t, http.StatusOK, status, counts)
	require.EqualValues(t, 1, counts["matched"], counts)
	require.Eventually(t, func() bool {
		return len(outboxFor(d, "email", maria.Email)) == 2 && len(outboxFor(d, "sms", maria.SMS)) == 2
	}, 30*time.Second, 50*time.Millisecond, "the outbound scan is told")
	require.Equal(t, "Your ballot is on its way to you", outboxFor(d, "email", maria.Email)[1].Subject)
	require.Contains(t, outboxFor(d, "sms", maria.SMS)[1].Text, "on its way to you")

	status, counts = postScans(t, d, scanJSON(outbound, at.Add(2*time.Hour))) // a second outbound scan
	require.Equal(t, http.StatusOK, status, counts)
	resp = post(t, d, d.DemoKey, "application/json", eventJSON("scan-2", maria.VoterID, "DEN-SCAN", "received", at.Add(2*time.Hour)))
	require.Equal(t, http.StatusAccepted, resp.Status, "%+v", resp)
	require.Eventually(t, func() bool { return len(outboxFor(d, "email", maria.Email)) == 3 }, 30*time.Second, 50*time.Millisecond)
	status, counts = postScans(t, d, scanJSON(inbound, at.Add(150*time.Minute))) // late: received already
	require.Equal(t, http.StatusOK, status, counts)
	require.EqualValues(t, 1, counts["matched"], counts)

	var view contract.BallotView
	require.Eventually(t, func() bool {
		q, err := d.Temporal.QueryWorkflow(ctx, workflowID, "", ballot.QueryStatus)
		return err == nil && q.Get(&view) == nil && len(view.MailScans) >= 1
	}, 30*time.Second, 100*time.Millisecond)
	require.True(t, view.MailScans[0].Told)
	require.Equal(t, contract.MailOutbound, view.MailScans[0].Direction)
	require.Equal(t, "DENVER CO P&DC", view.MailScans[0].Facility)
	time.Sleep(2 * time.Second) // nothing more may come
	require.Len(t, outboxFor(d, "email", maria.Email), 3, "mailed, on its way, received: nothing else")
	require.Len(t, outboxFor(d, "sms", maria.SMS), 3)
}
