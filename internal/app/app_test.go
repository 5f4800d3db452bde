package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"

	"github.com/ballotflow/ballotflow/internal/app"
	"github.com/ballotflow/ballotflow/internal/ballot"
	"github.com/ballotflow/ballotflow/internal/config"
	"github.com/ballotflow/ballotflow/internal/demo"
	"github.com/ballotflow/ballotflow/internal/intake"
	"github.com/ballotflow/ballotflow/internal/notices"
	"github.com/ballotflow/ballotflow/internal/sandbox"
	"github.com/ballotflow/ballotflow/internal/store"
	"github.com/ballotflow/ballotflow/internal/testdb"
	"github.com/ballotflow/ballotflow/workflows/contract"
)

// startDev runs the whole dev stack (embedded Temporal, worker, API, sandbox) on free ports
// against a fresh database.
func startDev(t *testing.T) *app.Dev {
	t.Helper()
	cfg, err := config.FromEnv()
	require.NoError(t, err)
	cfg.DatabaseURL = testdb.New(t)
	logger := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	d, err := app.StartDev(ctx, cfg, logger, app.DevOptions{Ephemeral: true})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, d.Stop()) })
	return d
}

type apiResponse struct {
	Status  int
	Results []intake.Result `json:"results"`
	Error   struct {
		Code, Message, Field string
	} `json:"error"`
}

func post(t *testing.T, d *app.Dev, key, contentType, body string) apiResponse {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, d.APIURL+"/v1/ballot-events", strings.NewReader(body))
	require.NoError(t, err)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	req.Header.Set("Content-Type", contentType)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var out apiResponse
	require.NoError(t, json.Unmarshal(raw, &out), "body: %s", raw)
	out.Status = resp.StatusCode
	return out
}

func eventJSON(eventID, voterID, ballotID, status string, at time.Time) string {
	return fmt.Sprintf(`{"event_id":%q,"election_id":%q,"voter_id":%q,"ballot_id":%q,"status":%q,"occurred_at":%q}`,
		eventID, demo.ElectionID, voterID, ballotID, status, at.Format(time.RFC3339))
}

func outboxFor(d *app.Dev, channel, to string) []sandbox.Message {
	var out []sandbox.Message
	for _, m := range d.Sandbox.Outbox() {
		if m.Channel == channel && m.To == to {
			out = append(out, m)
		}
	}
	return out
}

// TestOneBallotEndToEnd is the spine of ballotflow: a county posts a ballot's life, and the
// voter's email and phone receive one notice per status, through the real SDK clients and
// the sandbox providers; the workflow ends after "counted", its status and search
// attributes are visible to operators, and PostgreSQL holds the ballot's status.
func TestOneBallotEndToEnd(t *testing.T) {
	d := startDev(t)
	ctx := context.Background()
	maria := demo.Voters[0]
	voter, err := d.Store.VoterGetByID(ctx, "CO", maria.VoterID)
	require.NoError(t, err)
	// Text at any hour, so the test does not depend on the time of day it runs at.
	require.NoError(t, d.Store.SubscriptionUpsert(ctx, store.Subscription{VoterRef: voter.Ref, Channel: "sms",
		Address: maria.SMS, State: "active", Source: "portal", ContactStart: "00:00", ContactEnd: "00:00"}))

	start := time.Now().Add(-4 * time.Hour).Truncate(time.Second)
	var workflowID string
	for i, status := range []string{"mailed", "received", "accepted", "counted"} {
		resp := post(t, d, d.DemoKey, "application/json",
			eventJSON(fmt.Sprintf("e2e-%d", i), maria.VoterID, "DEN-E2E", status, start.Add(time.Duration(i)*time.Hour)))
		require.Equal(t, http.StatusAccepted, resp.Status, "%+v", resp)
		require.Len(t, resp.Results, 1)
		require.Equal(t, intake.Accepted, resp.Results[0].Result)
		workflowID = resp.Results[0].WorkflowID
		require.Regexp(t, `^ballot/`+demo.ElectionID+`/b[a-z2-7]{20}$`, workflowID, "the workflow ID must be opaque")
		require.Eventually(t, func() bool {
			return len(outboxFor(d, "email", maria.Email)) == i+1 && len(outboxFor(d, "sms", maria.SMS)) == i+1
		}, 30*time.Second, 50*time.Millisecond, "notices for %s", status)
	}

	waitSettled(t, d, workflowID) // and waits for a correction until the canvass closes

	emails := outboxFor(d, "email", maria.Email)
	subjects := make([]string, len(emails))
	for i, m := range emails {
		subjects[i] = m.Subject
		require.Contains(t, m.Text, "Maria Garcia", "each notice names its voter")
		require.Equal(t, "ballots@denver.example.org", m.From)
	}
	require.Equal(t, []string{"Your ballot is in the mail", "Your ballot was received", "Your ballot was accepted",
		"Your ballot was counted"}, subjects)
	for i, m := range outboxFor(d, "sms", maria.SMS) {
		require.Equal(t, "+17205550100", m.From)
		require.Contains(t, m.Text, "Maria", "each text names its voter, by first name")
		// How to stop goes on the first text to the number and once a month, not on every text (CTIA).
		require.Equal(t, i == 0, strings.Contains(m.Text, "Reply STOP to opt out."), "text %d: %s", i, m.Text)
		require.Equal(t, 1, notices.SMSCostOf(m.Text).Segments, m.Text)
	}

	q, err := d.Temporal.QueryWorkflow(ctx, workflowID, "", ballot.QueryStatus)
	require.NoError(t, err)
	var view contract.BallotView
	require.NoError(t, q.Get(&view))
	require.Equal(t, ballot.StatusCounted, view.Status)
	require.Len(t, view.Timeline, 4)
	require.Empty(t, view.Pending)

	b, err := d.Store.BallotGetByKey(ctx, workflowID[strings.LastIndex(workflowID, "/")+1:])
	require.NoError(t, err)
	require.Equal(t, "counted", b.Status)
	deliveries, err := d.Store.DeliveryListByBallot(ctx, b.Ref)
	require.NoError(t, err)
	require.Len(t, deliveries, 8)
	for _, dl := range deliveries {
		require.Contains(t, []string{store.DeliveryAccepted, store.DeliveryDelivered}, dl.State)
		require.NotEmpty(t, dl.ProviderID)
	}

	// A typical ballot's history stays small: well under 100 events.
	iter := d.Temporal.GetWorkflowHistory(ctx, workflowID, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	events := 0
	for iter.HasNext() {
		_, err := iter.Next()
		require.NoError(t, err)
		events++
	}
	require.Less(t, events, 90, "history events of a four-status ballot with two channels")

	// An operator finds it in Temporal UI by its search attributes.
	require.Eventually(t, func() bool {
		resp, err := d.Temporal.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
			Query: fmt.Sprintf("BallotStatus = 'counted' AND County = 'denver' AND ElectionId = '%s'", demo.ElectionID),
		})
		return err == nil && len(resp.Executions) == 1 && resp.Executions[0].Execution.WorkflowId == workflowID
	}, 20*time.Second, 200*time.Millisecond)

	// Operators see it in the metrics, labelled by status, channel and outcome only.
	metricsResp, err := http.Get(d.APIURL + "/metrics")
	require.NoError(t, err)
	exposition, _ := io.ReadAll(metricsResp.Body)
	metricsResp.Body.Close()
	require.Contains(t, string(exposition), `ballotflow_events_total{result="accepted",status="counted"}`)
	require.Contains(t, string(exposition), `ballotflow_notice_attempts_total{channel="sms",outcome="sent"}`)
	require.Contains(t, string(exposition), `ballotflow_provider_request_seconds_count{channel="email"}`)
	// The SDK's own metrics: deliveries are first tried as local activities (SendNow); only
	// those deferred for the provider rate or retried are queued on notify-*.
	require.Regexp(t, `temporal_local_activity_execution_latency_seconds_count\{activity_type="SendNow"`, string(exposition))
	require.NotContains(t, string(exposition), maria.Email)

	// Re-posting an event is harmless.
	resp := post(t, d, d.DemoKey, "application/json", eventJSON("e2e-0", maria.VoterID, "DEN-E2E", "mailed", start))
	require.Equal(t, http.StatusAccepted, resp.Status)
	require.Equal(t, intake.Duplicate, resp.Results[0].Result)
	require.Len(t, outboxFor(d, "email", maria.Email), 4)
}

// TestBadEventsAreRefusedAndNothingIsStored posts every kind of bad input and checks each
// gets a 4xx that names the problem while no event, ballot or workflow appears.
func TestBadEventsAreRefusedAndNothingIsStored(t *testing.T) {
	d := startDev(t)
	ctx := context.Background()
	now := time.Now().Add(-time.Minute)
	denver := demo.Voters[1].VoterID
	arapahoe := demo.Voters[5].VoterID
	good := eventJSON("bad-0", denver, "DEN-BAD", "mailed", now)

	cases := []struct {
		name, key, contentType, body string
		status                       int
		code, field                  string
	}{
		{"no key", "", "application/json", good, 401, "unauthenticated", ""},
		{"wrong key", "bf_aaaaaaaa_nope", "application/json", good, 401, "unauthenticated", ""},
		{"not JSON", d.DemoKey, "application/json", `{"event_id":`, 400, "invalid_body", ""},
		{"empty body", d.DemoKey, "application/json", ``, 400, "invalid_body", ""},
		{"unknown field (ballot content is never accepted)", d.DemoKey, "application/json",
			strings.Replace(good, `{`, `{"vote":"yes",`, 1), 400, "invalid_field", "vote"},
		{"unknown status", d.DemoKey, "application/json", eventJSON("bad-1", denver, "DEN-BAD", "spoiled", now), 400, "invalid_field", "status"},
		{"missing event_id", d.DemoKey, "application/json", eventJSON("", denver, "DEN-BAD", "mailed", now), 400, "invalid_field", "event_id"},
		{"bad time", d.DemoKey, "application/json", strings.Replace(good, now.Format(time.RFC3339), "yesterday", 1), 400, "invalid_field", "occurred_at"},
		{"future time", d.DemoKey, "application/json", eventJSON("bad-2", denver, "DEN-BAD", "mailed", now.Add(48*time.Hour)), 400, "invalid_field", "occurred_at"},
		{"unknown voter", d.DemoKey, "application/json", eventJSON("bad-3", "999999", "DEN-BAD", "mailed", now), 422, "unknown_voter", "voter_id"},
		{"unknown election", d.DemoKey, "application/json", strings.Replace(good, demo.ElectionID, "1999-general", 1), 422, "unknown_election", "election_id"},
		{"another county's voter", d.DemoKey, "application/json", eventJSON("bad-4", arapahoe, "DEN-BAD", "mailed", now), 403, "other_county", "voter_id"},
		{"wrong content type", d.DemoKey, "text/csv", good, 415, "unsupported_media_type", ""},
		{"bad NDJSON line", d.DemoKey, "application/x-ndjson", good + "\n{nope}\n", 400, "invalid_body", ""},
		{"empty batch", d.DemoKey, "application/json", `{"events":[]}`, 400, "invalid_body", "events"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp := post(t, d, tc.key, tc.contentType, tc.body)
			require.Equal(t, tc.status, resp.Status, "%+v", resp)
			require.Equal(t, tc.code, resp.Error.Code)
			require.Equal(t, tc.field, resp.Error.Field)
			require.NotEmpty(t, resp.Error.Message)
		})
	}
	var events, ballots int
	require.NoError(t, d.Store.Pool().QueryRow(ctx, `SELECT count(*) FROM ballot_events`).Scan(&events))
	require.NoError(t, d.Store.Pool().QueryRow(ctx, `SELECT count(*) FROM ballots`).Scan(&ballots))
	require.Zero(t, events, "no bad event may be stored")
	require.Zero(t, ballots)
	resp, err := d.Temporal.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{})
	require.NoError(t, err)
	require.Empty(t, resp.Executions, "no bad event may start a workflow")

	// A batch reports each event on its own: the good one is accepted, the bad one rejected.
	batch := fmt.Sprintf(`{"events":[%s,%s]}`, good, eventJSON("bad-5", arapahoe, "DEN-BAD2", "mailed", now))
	out := post(t, d, d.DemoKey, "application/json", batch)
	require.Equal(t, http.StatusAccepted, out.Status)
	require.Len(t, out.Results, 2)
	require.Equal(t, intake.Accepted, out.Results[0].Result)
	require.Equal(t, intake.Rejected, out.Results[1].Result)
	require.Equal(t, "other_county", out.Results[1].Error.Code)
}

func TestHealthAndReadiness(t *testing.T) {
	d := startDev(t)
	for _, path := range []string{"/healthz", "/readyz", "/openapi.json", "/dev/outbox"} {
		resp, err := http.Get(d.APIURL + path)
		require.NoError(t, err)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode, "%s: %s", path, body)
		require.True(t, json.Valid(body), path)
	}
	var banner bytes.Buffer
	d.Banner(&banner)
	require.Contains(t, banner.String(), d.DemoKey)
	require.Contains(t, banner.String(), d.APIURL+"/v1/ballot-events")
}
