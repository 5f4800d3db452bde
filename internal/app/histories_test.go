package app_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/ballotflow/ballotflow/internal/app"
	"github.com/ballotflow/ballotflow/internal/ballot"
	"github.com/ballotflow/ballotflow/internal/demo"
	"github.com/ballotflow/ballotflow/internal/sandbox"
	"github.com/ballotflow/ballotflow/internal/store"
	"github.com/ballotflow/ballotflow/workflows/contract"
)

// historiesDir holds the committed histories that workflows' replay test replays, so that a
// change to the workflow that would break ballots already running fails CI.
const historiesDir = "../../workflows/testdata/histories"

// historyFile names a recorded history: the scenario, and the workflow version it was
// recorded with (BALLOTFLOW_HISTORY_SUFFIX, set by `make histories VERSION=...`), so that a
// new version's histories are added beside the released ones, which go on replaying. The
// histories of the first release carry no version.
func historyFile(scenario string) string {
	if v := os.Getenv("BALLOTFLOW_HISTORY_SUFFIX"); v != "" {
		return scenario + "-" + v + ".json"
	}
	return scenario + ".json"
}

// TestRecordReplayHistories runs representative ballots through the whole stack and writes
// their histories (see historyFile). It only runs when asked: `make histories VERSION=...`
// after a deliberate, versioned change to the workflow.
func TestRecordReplayHistories(t *testing.T) {
	if os.Getenv("BALLOTFLOW_RECORD_HISTORIES") == "" {
		t.Skip("set BALLOTFLOW_RECORD_HISTORIES=1 (make histories) to re-record the replay histories")
	}
	key, err := os.ReadFile(filepath.Join(historiesDir, "payload-key"))
	require.NoError(t, err)
	t.Setenv("PAYLOAD_KEYS", strings.TrimSpace(string(key)))
	d := startDev(t)
	anyHour(t, d, demo.Voters[0])
	anyHour(t, d, demo.Voters[3])
	start := time.Now().Add(-12 * time.Hour).Truncate(time.Second)
	at := func(h int) time.Time { return start.Add(time.Duration(h) * 10 * time.Minute) }

	scenarios := []struct {
		name   string
		voter  demo.Voter
		events [][2]string // status, reason
		fault  *sandbox.Fault
	}{
		{name: "happy-path", voter: demo.Voters[0],
			events: [][2]string{{"mailed"}, {"received"}, {"accepted"}, {"counted"}}},
		{name: "challenge-cured-spanish", voter: demo.Voters[3],
			events: [][2]string{{"mailed"}, {"received"}, {"challenged", "the signature does not match"}, {"cured"}, {"accepted"}, {"counted"}}},
		{name: "out-of-order-and-duplicate", voter: demo.Voters[1],
			events: [][2]string{{"mailed"}, {"accepted"}, {"received"}, {"accepted"}, {"counted"}}},
		{name: "sms-invalid-number", voter: demo.Voters[0],
			events: [][2]string{{"mailed"}, {"rejected", "the envelope was not signed"}},
			fault:  &sandbox.Fault{Channel: ballot.ChannelSMS, Kind: sandbox.Permanent, Code: 21211}},
		{name: "replaced", voter: demo.Voters[2],
			events: [][2]string{{"mailed"}, {"replaced"}}},
		// A rejection posted in error and corrected ("corrects:N" names the scenario's Nth
		// event): the voter, told of it, is told of the mistake; then the ballot is counted.
		{name: "corrected-rejection", voter: demo.Voters[0],
			events: [][2]string{{"mailed"}, {"rejected", "the envelope was not signed"}, {"accepted", "corrects:1"}, {"counted"}}},
	}
	require.NoError(t, os.MkdirAll(historiesDir, 0o755))
	for i, sc := range scenarios {
		d.Sandbox.ClearFaults()
		if sc.fault != nil {
			d.Sandbox.InjectFault(*sc.fault)
		}
		ballotID := fmt.Sprintf("HIST-%d", i)
		var workflowID string
		for j, ev := range sc.events {
			body := eventJSON(fmt.Sprintf("hist-%d-%d", i, j), sc.voter.VoterID, ballotID, ev[0], at(i*10+j))
			if ev[0] == "challenged" {
				body = strings.TrimSuffix(body, "}") + fmt.Sprintf(`,"reason":%q,"cure_deadline":%q}`, ev[1],
					time.Now().AddDate(0, 0, 10).Format(time.DateOnly))
			} else if n, ok := strings.CutPrefix(ev[1], "corrects:"); ok {
				body = strings.TrimSuffix(body, "}") + fmt.Sprintf(`,"corrects":"hist-%d-%s"}`, i, n)
			} else if ev[1] != "" {
				body = strings.TrimSuffix(body, "}") + fmt.Sprintf(`,"reason":%q}`, ev[1])
			}
			resp := post(t, d, d.DemoKey, "application/json", body)
			require.Equal(t, http.StatusAccepted, resp.Status, "%+v", resp)
			workflowID = resp.Results[0].WorkflowID
			waitIdle(t, d, workflowID)
		}
		waitSettled(t, d, workflowID)
		writeHistory(t, d, workflowID, filepath.Join(historiesDir, historyFile(sc.name)))
	}
	recordHeldTextMoved(t, d)
	recordMailScans(t, d)
	recordReturnReminder(t, d)
}

// recordHeldTextMoved records a text held for contact hours that the voter moves twice: to
// other hours (the workflow re-plans and records the held notice again), then to any hour
// (it goes). It is the history of every step around held notices.
func recordHeldTextMoved(t *testing.T, d *app.Dev) {
	ctx := context.Background()
	maria := demo.Voters[0]
	voter, err := d.Store.VoterGetByID(ctx, "CO", maria.VoterID)
	require.NoError(t, err)
	now := denverNow(t)
	hours := func(from, to string) { subscribeHours(t, d.Store, voter.Ref, "sms", maria.SMS, from, to) }
	pending := func(workflowID string) []contract.PendingNotice {
		q, err := d.Temporal.QueryWorkflow(ctx, workflowID, "", ballot.QueryStatus)
		require.NoError(t, err)
		var v contract.BallotView
		require.NoError(t, q.Get(&v))
		return v.Pending
	}
	hours(hoursEndedAgo(now, 2*time.Hour))
	at := time.Now().Add(-time.Hour).Truncate(time.Second)
	resp := post(t, d, d.DemoKey, "application/json", eventJSON("hist-held-0", maria.VoterID, "HIST-HELD", "mailed", at))
	require.Equal(t, http.StatusAccepted, resp.Status, "%+v", resp)
	workflowID := resp.Results[0].WorkflowID
	require.Eventually(t, func() bool { p := pending(workflowID); return len(p) == 1 && p[0].Channel == "sms" },
		30*time.Second, 50*time.Millisecond)

	moved, movedTo := hoursEndedAgo(now, 4*time.Hour)
	hours(moved, movedTo)
	require.NoError(t, d.Temporal.SignalWorkflow(ctx, workflowID, "", ballot.SignalPreferencesChanged, contract.PreferencesChanged{Reason: "portal"}))
	require.Eventually(t, func() bool {
		p := pending(workflowID)
		return len(p) == 1 && p[0].DueAt.In(now.Location()).Format("15:04") == moved
	}, 30*time.Second, 50*time.Millisecond)

	hours("00:00", "00:00")
	require.NoError(t, d.Temporal.SignalWorkflow(ctx, workflowID, "", ballot.SignalPreferencesChanged, contract.PreferencesChanged{Reason: "portal"}))
	waitIdle(t, d, workflowID)
	resp = post(t, d, d.DemoKey, "application/json", eventJSON("hist-held-1", maria.VoterID, "HIST-HELD", "counted", at.Add(time.Minute)))
	require.Equal(t, http.StatusAccepted, resp.Status, "%+v", resp)
	waitSettled(t, d, workflowID)
	writeHistory(t, d, workflowID, filepath.Join(historiesDir, historyFile("held-text-moved")))
}

// recordMailScans records a ballot whose envelopes USPS scans: the outbound scan is told,
// a second one is recorded only; then the ballot is received, its return scan comes late
// (recorded, never told), and it is counted.
func recordMailScans(t *testing.T, d *app.Dev) {
	maria := demo.Voters[0]
	const outbound, inbound = "0030012345600000030180202123401", "0030412345600000030280202999901"
	at := time.Now().Add(-3 * time.Hour).Truncate(time.Second)
	resp := post(t, d, d.DemoKey, "application/json", mailedWithEnvelopes("hist-scan-0", maria.VoterID, "HIST-SCAN", at, outbound, inbound))
	require.Equal(t, http.StatusAccepted, resp.Status, "%+v", resp)
	workflowID := resp.Results[0].WorkflowID
	waitIdle(t, d, workflowID)
	// Only the first scan of each direction reaches the workflow: the second is stored only.
	for _, scan := range []string{scanJSON(outbound, at.Add(time.Hour)), scanJSON(outbound, at.Add(2*time.Hour))} {
		status, counts := postScans(t, d, scan)
		require.Equal(t, http.StatusOK, status, counts)
		waitScans(t, d, workflowID, 1)
		waitIdle(t, d, workflowID)
	}
	resp = post(t, d, d.DemoKey, "application/json", eventJSON("hist-scan-1", maria.VoterID, "HIST-SCAN", "received", at.Add(2*time.Hour)))
	require.Equal(t, http.StatusAccepted, resp.Status, "%+v", resp)
	waitIdle(t, d, workflowID)
	// A late return scan: stored, and the ballot, received already, is not told.
	status, counts := postScans(t, d, scanJSON(inbound, at.Add(150*time.Minute)))
	require.Equal(t, http.StatusOK, status, counts)
	require.EqualValues(t, 1, counts["matched"], counts)
	resp = post(t, d, d.DemoKey, "application/json", eventJSON("hist-scan-2", maria.VoterID, "HIST-SCAN", "counted", at.Add(3*time.Hour)))
	require.Equal(t, http.StatusAccepted, resp.Status, "%+v", resp)
	waitSettled(t, d, workflowID)
	writeHistory(t, d, workflowID, filepath.Join(historiesDir, historyFile("mail-scans")))
}

// waitScans waits until the ballot's workflow has recorded n mail scans.
func waitScans(t *testing.T, d *app.Dev, workflowID string, n int) {
	t.Helper()
	require.Eventually(t, func() bool {
		q, err := d.Temporal.QueryWorkflow(context.Background(), workflowID, "", ballot.QueryStatus)
		var v contract.BallotView
		return err == nil && q.Get(&v) == nil && len(v.MailScans) >= n
	}, 30*time.Second, 50*time.Millisecond, "%d mail scans recorded", n)
}

// recordReturnReminder records a mailed ballot that gets its county's return reminder (set
// a minute or two ahead, so recording it waits on the real clock), and is then received and
// counted.
func recordReturnReminder(t *testing.T, d *app.Dev) {
	ctx := context.Background()
	denver, err := time.LoadLocation("America/Denver")
	require.NoError(t, err)
	remindAt := time.Now().In(denver).Truncate(time.Minute).Add(2 * time.Minute)
	day := time.Date(remindAt.Year(), remindAt.Month(), remindAt.Day()+1, 0, 0, 0, 0, time.UTC)
	require.NoError(t, d.Store.ElectionUpsert(ctx, store.Election{ID: "hist-remind", State: "CO", Name: "Reminder history",
		ElectionDay: day, CanvassEndsAt: day.AddDate(0, 0, 30)}))
	status := portalCall(t, d, http.MethodPut, "/v1/elections/hist-remind/reminders", d.DemoKey,
		fmt.Sprintf(`{"return_days":[1],"cure_days":[],"remind_at":%q}`, remindAt.Format("15:04")), nil)
	require.Equal(t, http.StatusOK, status)
	maria := demo.Voters[0]
	mailed := fmt.Sprintf(`{"event_id":"hist-remind-0","election_id":"hist-remind","voter_id":%q,"ballot_id":"HIST-REMIND",`+
		`"status":"mailed","occurred_at":%q}`, maria.VoterID, time.Now().Add(-time.Hour).Format(time.RFC3339))
	resp := post(t, d, d.DemoKey, "application/json", mailed)
	require.Equal(t, http.StatusAccepted, resp.Status, "%+v", resp)
	workflowID := resp.Results[0].WorkflowID
	waitIdle(t, d, workflowID) // the mailed notices went
	emails := len(outboxFor(d, "email", maria.Email))
	require.Eventually(t, func() bool { return len(outboxFor(d, "email", maria.Email)) == emails+1 },
		time.Until(remindAt)+time.Minute, 200*time.Millisecond, "the reminder at %s", remindAt.Format("15:04"))
	require.Equal(t, "Reminder: return your ballot", outboxFor(d, "email", maria.Email)[emails].Subject)
	waitIdle(t, d, workflowID)
	for i, s := range []string{"received", "counted"} {
		body := fmt.Sprintf(`{"event_id":"hist-remind-%d","election_id":"hist-remind","voter_id":%q,"ballot_id":"HIST-REMIND",`+
			`"status":%q,"occurred_at":%q}`, i+1, maria.VoterID, s, time.Now().Add(-time.Second).Format(time.RFC3339))
		resp := post(t, d, d.DemoKey, "application/json", body)
		require.Equal(t, http.StatusAccepted, resp.Status, "%+v", resp)
		waitIdle(t, d, workflowID)
	}
	waitSettled(t, d, workflowID)
	writeHistory(t, d, workflowID, filepath.Join(historiesDir, historyFile("return-reminder")))
}

// anyHour lets a demo voter be texted at any hour, so recording does not depend on the clock.
func anyHour(t *testing.T, d *app.Dev, v demo.Voter) {
	voter, err := d.Store.VoterGetByID(context.Background(), "CO", v.VoterID)
	require.NoError(t, err)
	reachAnyHour(t, d, voter.Ref, "sms", v.SMS)
}

// waitSettled waits until the ballot is at a final status with every notice settled: its
// workflow then waits for a correction until the canvass closes (a ballot of an older
// release has completed instead).
func waitSettled(t *testing.T, d *app.Dev, workflowID string) {
	t.Helper()
	require.Eventually(t, func() bool {
		q, err := d.Temporal.QueryWorkflow(context.Background(), workflowID, "", ballot.QueryStatus)
		if err != nil {
			return false
		}
		var v contract.BallotView
		return q.Get(&v) == nil && v.Status.IsFinal() && len(v.Pending) == 0
	}, time.Minute, 50*time.Millisecond, "%s settles at a final status", workflowID)
}

// waitIdle waits until the ballot has no notice pending, so each event is its own step.
func waitIdle(t *testing.T, d *app.Dev, workflowID string) {
	require.Eventually(t, func() bool {
		q, err := d.Temporal.QueryWorkflow(context.Background(), workflowID, "", ballot.QueryStatus)
		if err != nil {
			return strings.Contains(err.Error(), "completed") // a final status ended it
		}
		var v contract.BallotView
		return q.Get(&v) == nil && len(v.Pending) == 0
	}, 30*time.Second, 50*time.Millisecond)
}

func writeHistory(t *testing.T, d *app.Dev, workflowID, path string) {
	iter := d.Temporal.GetWorkflowHistory(context.Background(), workflowID, "", false,
		enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	h := &historypb.History{}
	for iter.HasNext() {
		ev, err := iter.Next()
		require.NoError(t, err)
		h.Events = append(h.Events, ev)
	}
	raw, err := protojson.MarshalOptions{Indent: "  "}.Marshal(h)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path, append(raw, '\n'), 0o644))
}
