package app_test

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"

	"github.com/ballotflow/ballotflow/apiserver"
	"github.com/ballotflow/ballotflow/internal/app"
	"github.com/ballotflow/ballotflow/internal/config"
	"github.com/ballotflow/ballotflow/internal/demo"
	"github.com/ballotflow/ballotflow/internal/intake"
	"github.com/ballotflow/ballotflow/internal/store"
	"github.com/ballotflow/ballotflow/worker"
	"github.com/ballotflow/ballotflow/workflows/contract"
)

// namespaceRetention is how long the stack's namespace keeps closed workflows.
func namespaceRetention(t *testing.T, d *app.Dev) time.Duration {
	t.Helper()
	ns, err := d.Temporal.WorkflowService().DescribeNamespace(context.Background(),
		&workflowservice.DescribeNamespaceRequest{Namespace: d.Stack.Namespace()})
	require.NoError(t, err)
	return ns.GetConfig().GetWorkflowExecutionRetentionTtl().AsDuration()
}

// At start the namespace keeps closed workflows as long as TEMPORAL_RETENTION says, a value
// the server refuses is an error that says so and changes nothing, and the daily purge is
// scheduled at RETENTION_PURGE_TIME: a second start changes nothing, a new time moves it,
// and a schedule an operator paused stays paused.
func TestTemporalRetentionAndThePurgeScheduleAreSetAtStart(t *testing.T) {
	d := startDevWith(t, app.DevOptions{}, func(c *config.Config) {
		c.TemporalRetention = 45 * 24 * time.Hour
		c.RetentionPurgeAt = 9*time.Hour + 15*time.Minute
	})
	ctx := context.Background()
	ns := d.Stack.Namespace()
	require.Equal(t, 45*24*time.Hour, namespaceRetention(t, d))

	err := worker.EnsureNamespaceRetention(ctx, d.Temporal, ns, 30*time.Minute)
	require.ErrorContains(t, err, "TEMPORAL_RETENTION=30m0s: the Temporal server refused it")
	require.ErrorContains(t, err, "keeps closed workflows 45d")
	require.Equal(t, 45*24*time.Hour, namespaceRetention(t, d))

	require.NoError(t, worker.EnsureNamespaceRetention(ctx, d.Temporal, ns, 60*24*time.Hour))
	require.Equal(t, 60*24*time.Hour, namespaceRetention(t, d), "a changed TEMPORAL_RETENTION applies at the next start")

	h := d.Temporal.ScheduleClient().GetHandle(ctx, contract.RetentionScheduleID)
	desc, err := h.Describe(ctx)
	require.NoError(t, err)
	requireDailyAt(t, desc, 9, 15)
	action, ok := desc.Schedule.Action.(*client.ScheduleWorkflowAction)
	require.True(t, ok)
	require.Equal(t, contract.RetentionWorkflowName, action.Workflow)
	require.Equal(t, contract.TaskQueue, action.TaskQueue)
	require.False(t, desc.Schedule.State.Paused)
	updated := desc.Info.LastUpdateAt

	require.NoError(t, worker.EnsureRetentionSchedule(ctx, d.Temporal, 9*time.Hour+15*time.Minute))
	desc, err = h.Describe(ctx)
	require.NoError(t, err)
	require.Equal(t, updated, desc.Info.LastUpdateAt, "the same time changes nothing")

	require.NoError(t, h.Pause(ctx, client.SchedulePauseOptions{Note: "litigation hold"}))
	require.NoError(t, worker.EnsureRetentionSchedule(ctx, d.Temporal, 3*time.Hour+30*time.Minute))
	desc, err = h.Describe(ctx)
	require.NoError(t, err)
	requireDailyAt(t, desc, 3, 30)
	require.True(t, desc.Schedule.State.Paused, "an operator's pause outlasts a worker's start")
	require.Equal(t, "litigation hold", desc.Schedule.State.Note)
}

func requireDailyAt(t *testing.T, desc *client.ScheduleDescription, hour, minute int) {
	t.Helper()
	require.Len(t, desc.Schedule.Spec.Calendars, 1)
	cal := desc.Schedule.Spec.Calendars[0]
	require.Equal(t, hour, cal.Hour[0].Start)
	require.Equal(t, minute, cal.Minute[0].Start)
	require.NotEmpty(t, desc.Info.NextActionTimes)
	next := desc.Info.NextActionTimes[0].UTC()
	require.Equal(t, fmt.Sprintf("%02d:%02d:00", hour, minute), next.Format(time.TimeOnly), "daily, in UTC")
}

// getRecords asks the operators' API for an election's records.
func getRecords(t *testing.T, d *app.Dev, key, electionID string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, d.APIURL+"/v1/operator/elections/"+electionID+"/records", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(raw)
}

// TestAnElectionIsPurgedOnceItsRecordsPeriodIsOver is retention from end to end: a county
// posts a ballot's life with a challenge, the voter is told by email and text, the operator
// exports the election's records; then the clock moves past the election's records_until
// (22 months on, not waited for), the retention schedule's run purges the election, and in
// PostgreSQL the ballot, its events and its deliveries no longer lead to the voter or hold
// the county's or the providers' texts, while the counts, the status history, the audit log
// and the voter's registration stay. The records can no longer be exported.
func TestAnElectionIsPurgedOnceItsRecordsPeriodIsOver(t *testing.T) {
	var clock atomic.Int64
	clock.Store(time.Now().UnixNano())
	d := startDevWith(t, app.DevOptions{RetentionClock: func() time.Time { return time.Unix(0, clock.Load()) }}, nil)
	ctx := context.Background()
	maria := demo.Voters[0]
	voter := demoVoter(t, d, maria)
	key, _ := operatorKey(t, d)

	start := time.Now().Add(-time.Hour).Truncate(time.Second)
	reason := "signature does not match the signature on file"
	var workflowID string
	for i, status := range []string{"mailed", "challenged", "cured", "counted"} {
		extra := ""
		if status == "challenged" {
			extra = fmt.Sprintf(`,"reason":%q,"cure_deadline":%q`, reason, start.AddDate(0, 0, 10).Format(time.DateOnly))
		}
		body := strings.TrimSuffix(eventJSON(fmt.Sprintf("ret-%d", i), maria.VoterID, "DEN-RET", status,
			start.Add(time.Duration(i)*time.Minute)), "}") + extra + "}"
		resp := post(t, d, d.DemoKey, "application/json", body)
		require.Equal(t, http.StatusAccepted, resp.Status, "%+v", resp)
		require.Equal(t, intake.Accepted, resp.Results[0].Result, "%+v", resp.Results[0])
		workflowID = resp.Results[0].WorkflowID
	}
	waitSettled(t, d, workflowID)
	require.Eventually(t, func() bool {
		var callbacks int
		require.NoError(t, d.Store.Pool().QueryRow(ctx, `
			SELECT count(*) FROM delivery_events e JOIN deliveries d ON d.id = e.delivery_ref
			WHERE d.voter_ref = $1 AND e.provider_event_id IS NOT NULL`, voter.Ref).Scan(&callbacks))
		return callbacks > 0
	}, 30*time.Second, 100*time.Millisecond, "the providers' callbacks are in")

	// Before the purge, the records hold the ballot's events and notices with the voter's id.
	status, body := getRecords(t, d, key, demo.ElectionID)
	require.Equal(t, http.StatusOK, status, body)
	rows, err := csv.NewReader(strings.NewReader(body)).ReadAll()
	require.NoError(t, err)
	require.Equal(t, apiserver.ElectionRecordsHeader, rows[0])
	col := func(name string) int { return slices.Index(rows[0], name) }
	kinds := map[string]int{}
	for _, r := range rows[1:] {
		require.Equal(t, maria.VoterID, r[col("voter_id")])
		require.Equal(t, "DEN-RET", r[col("ballot_id")])
		kinds[r[col("record")]]++
		if r[col("record")] == store.RecordEvent && r[col("status")] == "challenged" {
			require.Equal(t, reason, r[col("reason")])
		}
		require.NotContains(t, strings.Join(r, ","), maria.Email, "no address in the records")
		require.NotContains(t, strings.Join(r, ","), strings.TrimPrefix(maria.SMS, "+1"), "no phone number in the records")
	}
	require.Equal(t, 4, kinds[store.RecordEvent])
	require.Positive(t, kinds[store.RecordDelivery])

	countsBefore, err := d.Store.BallotCountByStatus(ctx, demo.ElectionID, "")
	require.NoError(t, err)
	var auditBefore []int64
	auditIDs := func() []int64 {
		rows, err := d.Store.Pool().Query(ctx, `SELECT id FROM audit_log ORDER BY id`)
		require.NoError(t, err)
		var ids []int64
		for rows.Next() {
			var id int64
			require.NoError(t, rows.Scan(&id))
			ids = append(ids, id)
		}
		require.NoError(t, rows.Err())
		return ids
	}
	auditBefore = auditIDs()

	// The first run of the day finds nothing due.
	sched := d.Temporal.ScheduleClient().GetHandle(ctx, contract.RetentionScheduleID)
	require.NoError(t, sched.Trigger(ctx, client.ScheduleTriggerOptions{}))
	require.Eventually(t, func() bool { return len(completedPurges(t, d)) == 1 }, time.Minute, 200*time.Millisecond)
	e, err := d.Store.ElectionGetByID(ctx, demo.ElectionID)
	require.NoError(t, err)
	require.Nil(t, e.PurgeStartedAt, "records are kept until records_until")

	// 22 months and more later.
	clock.Store(e.RecordsUntil.AddDate(0, 0, 1).Add(9 * time.Hour).UnixNano())
	require.NoError(t, sched.Trigger(ctx, client.ScheduleTriggerOptions{}))
	require.Eventually(t, func() bool {
		e, err = d.Store.ElectionGetByID(ctx, demo.ElectionID)
		require.NoError(t, err)
		return e.PurgedAt != nil
	}, time.Minute, 200*time.Millisecond, "the schedule's run purges the election")

	var ballotVoter *int64
	var ballotID *string
	require.NoError(t, d.Store.Pool().QueryRow(ctx, `SELECT voter_ref, ballot_id FROM ballots WHERE election_id = $1`,
		demo.ElectionID).Scan(&ballotVoter, &ballotID))
	require.Nil(t, ballotVoter)
	require.Nil(t, ballotID)
	var tiedDeliveries, providerIDs, callbackIDs, details, reasons, deliveries int
	require.NoError(t, d.Store.Pool().QueryRow(ctx, `
		SELECT count(*) FILTER (WHERE d.voter_ref IS NOT NULL), count(d.provider_id), count(*)
		FROM deliveries d JOIN ballots b ON b.id = d.ballot_ref WHERE b.election_id = $1`, demo.ElectionID).
		Scan(&tiedDeliveries, &providerIDs, &deliveries))
	require.NoError(t, d.Store.Pool().QueryRow(ctx, `
		SELECT count(e.provider_event_id), count(*) FILTER (WHERE e.detail <> '')
		FROM delivery_events e JOIN deliveries d ON d.id = e.delivery_ref JOIN ballots b ON b.id = d.ballot_ref
		WHERE b.election_id = $1`, demo.ElectionID).Scan(&callbackIDs, &details))
	require.NoError(t, d.Store.Pool().QueryRow(ctx, `
		SELECT count(*) FILTER (WHERE e.reason <> '') FROM ballot_events e JOIN ballots b ON b.id = e.ballot_ref
		WHERE b.election_id = $1`, demo.ElectionID).Scan(&reasons))
	require.Zero(t, tiedDeliveries)
	require.Zero(t, providerIDs)
	require.Zero(t, callbackIDs)
	require.Zero(t, details)
	require.Zero(t, reasons)
	require.Equal(t, kinds[store.RecordDelivery], deliveries, "every delivery is still counted")

	countsAfter, err := d.Store.BallotCountByStatus(ctx, demo.ElectionID, "")
	require.NoError(t, err)
	require.Equal(t, countsBefore, countsAfter)
	auditAfter := auditIDs()
	require.Equal(t, auditBefore, auditAfter[:len(auditBefore)], "no audit row is lost")
	var purgeActor string
	require.NoError(t, d.Store.Pool().QueryRow(ctx, `SELECT actor FROM audit_log WHERE action = 'election.purge' AND subject = $1`,
		"election:"+demo.ElectionID).Scan(&purgeActor))
	require.Equal(t, store.PurgeActor, purgeActor)
	stillRegistered, err := d.Store.VoterGetByID(ctx, "CO", maria.VoterID)
	require.NoError(t, err)
	require.Equal(t, maria.Email, stillRegistered.Email, "the roll is the state's, not the election's")

	status, body = getRecords(t, d, key, demo.ElectionID)
	require.Equal(t, http.StatusConflict, status, body)
	require.Contains(t, body, "election_purged")
	var list struct {
		Elections []struct {
			ID       string `json:"id"`
			PurgedAt string `json:"purged_at"`
		}
	}
	require.Equal(t, http.StatusOK, portalCall(t, d, http.MethodGet, "/v1/elections?state=CO", key, "", &list))
	require.Len(t, list.Elections, 1)
	require.NotEmpty(t, list.Elections[0].PurgedAt)
	require.Len(t, completedPurges(t, d), 2)
}

// completedPurges lists the retention schedule's runs that completed.
func completedPurges(t *testing.T, d *app.Dev) []string {
	t.Helper()
	resp, err := d.Temporal.ListWorkflow(context.Background(), &workflowservice.ListWorkflowExecutionsRequest{
		Query: fmt.Sprintf("WorkflowType = %q AND ExecutionStatus = 'Completed'", contract.RetentionWorkflowName),
	})
	require.NoError(t, err)
	var ids []string
	for _, e := range resp.GetExecutions() {
		ids = append(ids, e.GetExecution().GetWorkflowId())
	}
	return ids
}
