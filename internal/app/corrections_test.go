package app_test

import (
	"context"
	"fmt"
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

// ballotView is the status query's answer for a ballot's workflow.
func ballotView(t *testing.T, d *app.Dev, workflowID string) contract.BallotView {
	t.Helper()
	q, err := d.Temporal.QueryWorkflow(context.Background(), workflowID, "", ballot.QueryStatus)
	require.NoError(t, err)
	var v contract.BallotView
	require.NoError(t, q.Get(&v))
	return v
}

// waitOutbox waits until a demo voter has n messages in the sandbox outbox by email and n by
// text.
func waitOutbox(t *testing.T, d *app.Dev, v demo.Voter, n int, msg string) {
	t.Helper()
	require.Eventually(t, func() bool {
		return len(outboxFor(d, "email", v.Email)) == n && len(outboxFor(d, "sms", v.SMS)) == n
	}, 30*time.Second, 50*time.Millisecond, msg)
}

// holdUntilTomorrow makes every notice to a demo voter, email too, wait for contact hours
// that come round tomorrow.
func holdUntilTomorrow(t *testing.T, d *app.Dev, v demo.Voter) {
	t.Helper()
	voter, err := d.Store.VoterGetByID(context.Background(), "CO", v.VoterID)
	require.NoError(t, err)
	from, to := hoursEndedAgo(denverNow(t), 2*time.Hour)
	for _, ch := range []struct{ channel, address string }{{"email", v.Email}, {"sms", v.SMS}} {
		if ch.address != "" {
			require.NoError(t, d.Store.SubscriptionUpsert(context.Background(), store.Subscription{VoterRef: voter.Ref,
				Channel: ch.channel, Address: ch.address, State: "active", Source: "portal", ContactStart: from, ContactEnd: to,
				HoldForHours: true}))
		}
	}
}

// TestACorrectionReachesOnlyTheVotersWhoHeardTheWrongStatus is corrections through the whole
// stack. The county posts "rejected" for Maria's ballot and for James's; Maria is told by
// email and text, James's notices wait for his contact hours. The county corrects Maria's
// through its events API, an operator corrects James's through the operator API. Maria gets
// one correction on each channel, naming the wrong and the right status; James hears nothing
// of the mistake, only "accepted". Both ballots are accepted, their histories show the status
// posted in error and the correction, and their workflows stay open for the next one.
func TestACorrectionReachesOnlyTheVotersWhoHeardTheWrongStatus(t *testing.T) {
	d := startDev(t)
	ctx := context.Background()
	maria, james := demo.Voters[0], demo.Voters[1]
	anyHour(t, d, maria)
	holdUntilTomorrow(t, d, james)
	opKey, _ := operatorKey(t, d)
	start := time.Now().Add(-time.Hour).Truncate(time.Second)

	postEvent := func(body string) string {
		t.Helper()
		resp := post(t, d, d.DemoKey, "application/json", body)
		require.Equal(t, http.StatusAccepted, resp.Status, "%+v", resp)
		return resp.Results[0].WorkflowID
	}
	rejected := func(id string, v demo.Voter, ballotID string) string {
		return strings.TrimSuffix(eventJSON(id, v.VoterID, ballotID, "rejected", start.Add(time.Minute)), "}") +
			`,"reason":"the envelope was not signed"}`
	}
	mariaWF := postEvent(eventJSON("fix-m0", maria.VoterID, "DEN-FIX-M", "mailed", start))
	postEvent(rejected("fix-m1", maria, "DEN-FIX-M"))
	jamesWF := postEvent(eventJSON("fix-j0", james.VoterID, "DEN-FIX-J", "mailed", start))
	postEvent(rejected("fix-j1", james, "DEN-FIX-J"))
	waitOutbox(t, d, maria, 2, "Maria hears of the rejection")

	// The county corrects Maria's ballot; an operator corrects James's.
	postEvent(strings.TrimSuffix(eventJSON("fix-m2", maria.VoterID, "DEN-FIX-M", "accepted", time.Now().Add(-time.Second)), "}") +
		`,"corrects":"fix-m1"}`)
	status := portalCall(t, d, http.MethodPost, "/v1/operator/voters/CO/"+james.VoterID+"/corrections", opKey,
		fmt.Sprintf(`{"election_id":%q,"ballot_id":"DEN-FIX-J","corrects":"fix-j1","status":"accepted","note":"wrong file, ticket 4411"}`,
			demo.ElectionID), nil)
	require.Equal(t, http.StatusAccepted, status)

	waitOutbox(t, d, maria, 3, "Maria gets one correction on each channel")
	email := outboxFor(d, "email", maria.Email)[2]
	require.Equal(t, "A correction about your ballot", email.Subject)
	require.Contains(t, email.Text, "Maria Garcia")
	require.Contains(t, email.Text, "your ballot was rejected")
	require.Contains(t, email.Text, "your ballot was accepted")
	require.Contains(t, outboxFor(d, "sms", maria.SMS)[2].Text, "That was a mistake")

	require.Eventually(t, func() bool { return ballotView(t, d, jamesWF).Status == ballot.StatusAccepted }, 30*time.Second, 50*time.Millisecond)
	jv := ballotView(t, d, jamesWF)
	require.False(t, jv.Timeline[len(jv.Timeline)-1].Told, "James never heard of the rejection")
	for _, n := range jv.Pending {
		require.NotEqual(t, "correction", n.Kind, "James hears nothing of the mistake")
		require.Equal(t, ballot.StatusAccepted, n.Status, "only the right status waits for his hours")
	}
	waitIdle(t, d, mariaWF)
	mv := ballotView(t, d, mariaWF)
	require.Equal(t, ballot.StatusAccepted, mv.Status)
	require.Empty(t, mv.Closed, "the workflow waits on, for the next event or correction")

	// The operator API shows the status posted in error and the correction.
	var answer struct {
		Ballots []struct {
			History []struct {
				Status        string `json:"status"`
				PostedInError bool   `json:"posted_in_error"`
				Correction    bool   `json:"correction"`
			} `json:"history"`
		} `json:"ballots"`
	}
	require.Equal(t, http.StatusOK, portalCall(t, d, http.MethodGet, "/v1/operator/voters/CO/"+maria.VoterID+"/ballots", opKey, "", &answer))
	ballots := answer.Ballots
	require.NotEmpty(t, ballots)
	var got []string
	for _, h := range ballots[len(ballots)-1].History {
		got = append(got, fmt.Sprintf("%s error=%t correction=%t", h.Status, h.PostedInError, h.Correction))
	}
	require.Equal(t, []string{"mailed error=false correction=false", "rejected error=true correction=false",
		"accepted error=false correction=true"}, got)

	var audited int
	require.NoError(t, d.Store.Pool().QueryRow(ctx, `SELECT count(*) FROM audit_log WHERE action = 'ballot.correct'`).Scan(&audited))
	require.Equal(t, 1, audited, "the operator's correction is audited")
}

// TestAWrongFileIsCorrectedWholeAfterAnOperatorApproves: a county's file says "rejected" for
// two ballots that were only mailed. Maria was told; James's notices still wait for his
// hours. An operator previews the correction of the whole import (one voter to tell, one to
// return quietly), creates it without a status (each ballot returns to what it was), finds
// it held, and approves it. Maria gets one correction on each channel; James hears nothing
// of the mistake, and his ballot is mailed again, its mailed notice still to come.
func TestAWrongFileIsCorrectedWholeAfterAnOperatorApproves(t *testing.T) {
	d := startDev(t)
	maria, james := demo.Voters[0], demo.Voters[1]
	anyHour(t, d, maria)
	holdUntilTomorrow(t, d, james)
	opKey, _ := operatorKey(t, d)
	start := time.Now().Add(-time.Hour).Truncate(time.Second)

	var workflows []string
	for _, v := range []demo.Voter{maria, james} {
		resp := post(t, d, d.DemoKey, "application/json", eventJSON("wf-m-"+v.VoterID, v.VoterID, "DEN-WF-"+v.VoterID, "mailed", start))
		require.Equal(t, http.StatusAccepted, resp.Status, "%+v", resp)
		workflows = append(workflows, resp.Results[0].WorkflowID)
	}
	file := "event_id,election_id,voter_id,ballot_id,status,occurred_at,reason\n"
	for _, v := range []demo.Voter{maria, james} {
		file += fmt.Sprintf("wf-r-%s,%s,%s,DEN-WF-%s,rejected,%s,the envelope was not signed\n", v.VoterID, demo.ElectionID,
			v.VoterID, v.VoterID, start.Add(time.Minute).Format(time.RFC3339))
	}
	res := postBulk(t, d, d.DemoKey, "text/csv", file)
	require.Equal(t, http.StatusAccepted, res.Status, res.Body)
	waitForImport(t, d, d.DemoKey, res.ImportID, "done")
	waitOutbox(t, d, maria, 2, "Maria hears of the rejection")

	type counts struct {
		Status            string `json:"status"`
		Told              int    `json:"told"`
		NotTold           int    `json:"not_told"`
		LaterStatusStands int    `json:"later_status_stands"`
	}
	var preview struct {
		Events   int      `json:"events"`
		Told     int      `json:"told"`
		ByStatus []counts `json:"by_status"`
	}
	path := fmt.Sprintf("/v1/imports/%d/correction", res.ImportID)
	require.Equal(t, http.StatusOK, portalCall(t, d, http.MethodGet, path, opKey, "", &preview))
	require.Equal(t, 2, preview.Events)
	require.Equal(t, []counts{{Status: "rejected", Told: 1, NotTold: 1}}, preview.ByStatus)
	require.Equal(t, http.StatusForbidden, portalCall(t, d, http.MethodGet, path, d.DemoKey, "", nil), "operators only")

	var created struct {
		ImportID int64 `json:"import_id"`
	}
	require.Equal(t, http.StatusAccepted, portalCall(t, d, http.MethodPost, path, opKey, `{"note":"wrong file, ticket 9"}`, &created))
	require.Equal(t, http.StatusConflict, portalCall(t, d, http.MethodPost, path, opKey, `{"note":"again"}`, nil),
		"one correction of an import at a time")
	held := waitForImport(t, d, opKey, created.ImportID, "held")
	require.Equal(t, 2, held.Accepted)
	require.Contains(t, held.Body, `"corrects_import":`+fmt.Sprint(res.ImportID))
	require.Contains(t, held.Body, `"told":1`, "the held correction shows its preview")
	time.Sleep(time.Second)
	require.Len(t, outboxFor(d, "email", maria.Email), 2, "nothing is sent while the correction is held")

	require.Equal(t, http.StatusAccepted, portalCall(t, d, http.MethodPost, fmt.Sprintf("/v1/imports/%d:approve", created.ImportID),
		opKey, "", nil))
	waitForImport(t, d, opKey, created.ImportID, "done")
	waitOutbox(t, d, maria, 3, "Maria gets one correction on each channel")
	require.Contains(t, outboxFor(d, "email", maria.Email)[2].Text, "your ballot was rejected")
	require.Contains(t, outboxFor(d, "email", maria.Email)[2].Text, "your ballot is mailed")

	require.Eventually(t, func() bool { return ballotView(t, d, workflows[1]).Status == ballot.StatusMailed }, 30*time.Second, 50*time.Millisecond)
	jv := ballotView(t, d, workflows[1])
	require.NotEmpty(t, jv.Pending)
	for _, n := range jv.Pending {
		require.Equal(t, ballot.StatusMailed, n.Status, "only his mailed notice waits")
		require.Empty(t, n.Kind, "no correction for James")
	}
	require.Equal(t, ballot.StatusMailed, ballotView(t, d, workflows[0]).Status)
	require.Empty(t, outboxFor(d, "email", james.Email))
}

// A county's events file may carry corrections (a corrects column): the correction goes
// through the import and its workflow like any event, and the voter who heard the wrong
// status is told of the mistake.
func TestACorrectionInAnEventsFileReachesTheVoter(t *testing.T) {
	d := startDev(t)
	maria := demo.Voters[0]
	anyHour(t, d, maria)
	start := time.Now().Add(-time.Hour).Truncate(time.Second)
	for i, status := range []string{"mailed", "rejected"} {
		resp := post(t, d, d.DemoKey, "application/json",
			eventJSON(fmt.Sprintf("file-fix-%d", i), maria.VoterID, "DEN-FILE-FIX", status, start.Add(time.Duration(i)*time.Minute)))
		require.Equal(t, http.StatusAccepted, resp.Status, "%+v", resp)
	}
	waitOutbox(t, d, maria, 2, "Maria hears of the rejection")

	file := "event_id,election_id,voter_id,ballot_id,status,occurred_at,corrects\n" +
		fmt.Sprintf("file-fix-2,%s,%s,DEN-FILE-FIX,accepted,%s,file-fix-1\n", demo.ElectionID, maria.VoterID,
			time.Now().Add(-time.Second).Format(time.RFC3339)) +
		fmt.Sprintf("file-fix-3,%s,%s,DEN-FILE-FIX,accepted,%s,no-such-event\n", demo.ElectionID, maria.VoterID,
			time.Now().Add(-time.Second).Format(time.RFC3339))
	res := postBulk(t, d, d.DemoKey, "text/csv", file)
	require.Equal(t, http.StatusAccepted, res.Status, res.Body)
	require.Equal(t, 1, res.Accepted)
	require.Equal(t, 1, res.Rejected)
	require.Contains(t, res.Body, `"field":"corrects"`)
	waitForImport(t, d, d.DemoKey, res.ImportID, "done")
	waitOutbox(t, d, maria, 3, "Maria gets one correction on each channel")
	require.Contains(t, outboxFor(d, "email", maria.Email)[2].Text, "your ballot was rejected")
}
