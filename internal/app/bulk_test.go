package app_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"
	"go.temporal.io/api/serviceerror"

	"github.com/ballotflow/ballotflow/activities"
	"github.com/ballotflow/ballotflow/internal/app"
	"github.com/ballotflow/ballotflow/internal/ballot"
	"github.com/ballotflow/ballotflow/internal/demo"
	"github.com/ballotflow/ballotflow/internal/fileimport"
	"github.com/ballotflow/ballotflow/internal/intake"
	"github.com/ballotflow/ballotflow/internal/metrics"
	"github.com/ballotflow/ballotflow/internal/store"
	"github.com/ballotflow/ballotflow/workflows/contract"
)

// bulkVoters adds n active Denver voters to the roll with voter ids 7000NNNNN; the first
// withEmail of them have an email (and so get notices), the others none.
func bulkVoters(t *testing.T, d *app.Dev, n, withEmail int) []string {
	t.Helper()
	ctx := context.Background()
	ids := make([]string, n)
	for i := range n {
		v := store.Voter{State: "CO", VoterID: fmt.Sprintf("7000%05d", i), County: "denver", FirstName: "Bulk",
			LastName: fmt.Sprintf("Voter%d", i), DateOfBirth: time.Date(1980, 1, 1+i%28, 0, 0, 0, 0, time.UTC),
			ResidentialZIP: "80202", Status: "active"}
		if i < withEmail {
			v.Email = fmt.Sprintf("bulk%d@example.org", i)
		}
		_, err := d.Store.VoterUpsert(ctx, v)
		require.NoError(t, err)
		ids[i] = v.VoterID
	}
	return ids
}

const bulkHeader = "event_id,election_id,voter_id,ballot_id,status,occurred_at,reason,cure_deadline"

func csvRow(eventID, voterID, ballotID, status string, at time.Time) string {
	return strings.Join([]string{eventID, demo.ElectionID, voterID, ballotID, status, at.Format(time.RFC3339), "", ""}, ",")
}

// bulkAnswer is the answer of POST /v1/ballot-events:bulk and GET /v1/imports/{id}.
type bulkAnswer struct {
	Status     int `json:"-"`
	Body       string
	ImportID   int64  `json:"import_id"`
	ID         int64  `json:"id"`
	State      string `json:"status"`
	WorkflowID string `json:"workflow_id"`
	Rows       int    `json:"rows"`
	Accepted   int    `json:"accepted"`
	Duplicates int    `json:"duplicates"`
	Rejected   int    `json:"rejected"`
	Signaled   int    `json:"signaled"`
	Remaining  int    `json:"remaining"`
	Backwards  int    `json:"backwards"`
	Rejections []fileimport.Rejection
	Error      struct{ Code, Message, Field string }
}

func bulkRequest(t testing.TB, d *app.Dev, method, path, key, contentType, body string) bulkAnswer {
	t.Helper()
	req, err := http.NewRequest(method, d.APIURL+path, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+key)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var out bulkAnswer
	require.NoError(t, json.Unmarshal(raw, &out), "body: %s", raw)
	out.Status, out.Body = resp.StatusCode, string(raw)
	return out
}

func postBulk(t testing.TB, d *app.Dev, key, contentType, body string) bulkAnswer {
	return bulkRequest(t, d, http.MethodPost, "/v1/ballot-events:bulk", key, contentType, body)
}

func getImport(t *testing.T, d *app.Dev, key string, id int64) bulkAnswer {
	return bulkRequest(t, d, http.MethodGet, fmt.Sprintf("/v1/imports/%d", id), key, "", "")
}

func waitForImport(t *testing.T, d *app.Dev, key string, id int64, status string) bulkAnswer {
	t.Helper()
	var last bulkAnswer
	require.Eventually(t, func() bool {
		last = getImport(t, d, key, id)
		return last.State == status
	}, 90*time.Second, 100*time.Millisecond, "import %d never became %s: %+v", id, status, last)
	return last
}

func signaledEvents(t *testing.T, d *app.Dev, importID int64) (signaled, discarded int) {
	t.Helper()
	require.NoError(t, d.Store.Pool().QueryRow(context.Background(), `
		SELECT count(*) FILTER (WHERE signaled_at IS NOT NULL), count(*) FILTER (WHERE discarded_at IS NOT NULL)
		FROM ballot_events WHERE import_id = $1`, importID).Scan(&signaled, &discarded))
	return signaled, discarded
}

// TestBulkFileStoresSignalsAndReportsEveryRow posts a county's file with duplicates and bad
// rows of every kind: the counts are exact, each bad row is reported by its line without
// its data, and the good events become ballot workflows and notices, with the import's
// progress readable in the API and in its workflow.
func TestBulkFileStoresSignalsAndReportsEveryRow(t *testing.T) {
	d := startDev(t)
	ctx := context.Background()
	voters := bulkVoters(t, d, 120, 4)
	at := time.Now().Add(-2 * time.Hour).Truncate(time.Second)

	// Posted before, one at a time: the file repeats one of these and contradicts the other.
	for _, ev := range []string{
		eventJSON("pre-1", voters[0], "DEN-B0", "mailed", at),
		eventJSON("pre-2", voters[1], "DEN-B1", "mailed", at),
	} {
		resp := post(t, d, d.DemoKey, "application/json", ev)
		require.Equal(t, http.StatusAccepted, resp.Status, "%+v", resp)
	}

	lines := []string{bulkHeader}
	add := func(row string) int { lines = append(lines, row); return len(lines) }
	firstOfBulk6 := 0
	for i, v := range voters[2:] {
		line := add(csvRow(fmt.Sprintf("bulk-%d", i), v, fmt.Sprintf("DEN-B%d", i+2), "mailed", at))
		if i == 6 {
			firstOfBulk6 = line
		}
	}
	good := len(voters) - 2
	dupBefore := add(csvRow("pre-1", voters[0], "DEN-B0", "mailed", at))
	dupInFile := add(csvRow("bulk-5", voters[7], "DEN-B7", "mailed", at))
	conflictInFile := add(csvRow("bulk-6", voters[8], "DEN-B8", "received", at))
	conflictBefore := add(csvRow("pre-2", voters[1], "DEN-B1", "received", at))
	badStatus := add(csvRow("bad-1", voters[9], "DEN-B9", "Garcia", at))
	badTime := add(strings.Replace(csvRow("bad-2", voters[9], "DEN-B9", "received", at), at.Format(time.RFC3339), "yesterday", 1))
	unknownVoter := add(csvRow("bad-3", "999999999", "DEN-X", "mailed", at))
	otherCounty := add(csvRow("bad-4", demo.Voters[5].VoterID, "ARA-1", "mailed", at))
	unknownElection := add(strings.Replace(csvRow("bad-5", voters[9], "DEN-B9", "mailed", at), demo.ElectionID, "1999-general", 1))
	shortRow := add("bad-6," + demo.ElectionID + "," + voters[9])
	otherVoter := add(csvRow("bad-7", voters[10], "DEN-B2", "mailed", at)) // DEN-B2 is voters[2]'s ballot
	file := strings.Join(lines, "\n") + "\n"

	signaledBefore := testutil.ToFloat64(metrics.ImportEventsSignaled)
	duplicatesBefore := testutil.ToFloat64(metrics.BulkRows.WithLabelValues("duplicate"))
	res := postBulk(t, d, d.DemoKey, "text/csv", file)
	require.Equal(t, http.StatusAccepted, res.Status, res.Body)
	require.NotZero(t, res.ImportID)
	require.Equal(t, ballot.IngestWorkflowID(res.ImportID), res.WorkflowID)
	require.Equal(t, len(lines)-1, res.Rows)
	require.Equal(t, good, res.Accepted)
	require.Equal(t, 2, res.Duplicates, "the event posted before and the row repeated in the file")
	require.Equal(t, 9, res.Rejected)
	got := map[int]string{}
	for _, r := range res.Rejections {
		got[r.Line] = r.Code + " " + r.Field
	}
	require.Equal(t, map[int]string{
		conflictInFile:  "event_id_reused event_id",
		conflictBefore:  "event_id_reused event_id",
		badStatus:       "invalid_field status",
		badTime:         "invalid_field occurred_at",
		unknownVoter:    "unknown_voter voter_id",
		otherCounty:     "other_county voter_id",
		unknownElection: "unknown_election election_id",
		shortRow:        "invalid_row ",
		otherVoter:      "ballot_of_other_voter ballot_id",
	}, got)
	for _, r := range res.Rejections {
		if r.Line == conflictInFile {
			require.Equal(t, fmt.Sprintf("line %d has this event_id with different content; event ids must be unique per county",
				firstOfBulk6), r.Reason)
		}
	}
	require.NotContains(t, res.Body, "Garcia", "a rejection never repeats a row's data")
	require.NotContains(t, res.Body, "999999999")
	require.NotContains(t, got, dupBefore, "a duplicate is not a rejection")
	require.NotContains(t, got, dupInFile)

	// Every good event reaches its ballot's workflow, once; voters with an email hear of it.
	done := waitForImport(t, d, d.DemoKey, res.ImportID, "done")
	require.Equal(t, good, done.Signaled)
	require.Zero(t, done.Remaining)
	require.Len(t, done.Rejections, 9, "the import keeps its rejections")
	signaled, _ := signaledEvents(t, d, res.ImportID)
	require.Equal(t, good, signaled)
	// The import's progress is in the metrics too (other imports of this process may add).
	require.GreaterOrEqual(t, testutil.ToFloat64(metrics.ImportEventsSignaled)-signaledBefore, float64(good))
	require.GreaterOrEqual(t, testutil.ToFloat64(metrics.BulkRows.WithLabelValues("duplicate"))-duplicatesBefore, 2.0)
	for i := 2; i < 4; i++ {
		require.Eventually(t, func() bool { return len(outboxFor(d, "email", fmt.Sprintf("bulk%d@example.org", i))) == 1 },
			30*time.Second, 50*time.Millisecond)
	}
	var key string
	require.NoError(t, d.Store.Pool().QueryRow(ctx, `SELECT key FROM ballots WHERE ballot_id = 'DEN-B50'`).Scan(&key))
	q, err := d.Temporal.QueryWorkflow(ctx, ballot.WorkflowID(demo.ElectionID, key), "", ballot.QueryStatus)
	require.NoError(t, err)
	var view contract.BallotView
	require.NoError(t, q.Get(&view))
	require.Equal(t, ballot.StatusMailed, view.Status)

	// Temporal UI shows the import's workflow: its progress query and a memo with the import id.
	q, err = d.Temporal.QueryWorkflow(ctx, res.WorkflowID, "", contract.QueryProgress)
	require.NoError(t, err)
	var progress contract.IngestProgress
	require.NoError(t, q.Get(&progress))
	require.Equal(t, contract.IngestProgress{Status: contract.IngestDone, Events: good, Done: good, Remaining: 0,
		Duplicates: 2, Rejected: 9, Rate: progress.Rate}, progress)
	desc, err := d.Temporal.DescribeWorkflowExecution(ctx, res.WorkflowID, "")
	require.NoError(t, err)
	var memoID int64
	require.NoError(t, d.Codec.DataConverter().FromPayload(desc.WorkflowExecutionInfo.Memo.Fields["import"], &memoID))
	require.Equal(t, res.ImportID, memoID)

	var audited int
	require.NoError(t, d.Store.Pool().QueryRow(ctx, `SELECT count(*) FROM audit_log
		WHERE action = 'ballot_events.import' AND subject = $1 AND detail->>'accepted' = $2`,
		fmt.Sprintf("import:%d", res.ImportID), fmt.Sprint(good)).Scan(&audited))
	require.Equal(t, 1, audited)

	// Sending the same file again stores nothing new and signals nothing again.
	again := postBulk(t, d, d.DemoKey, "text/csv", file)
	require.Equal(t, http.StatusAccepted, again.Status, again.Body)
	require.Zero(t, again.Accepted)
	require.Equal(t, good+2, again.Duplicates)
	waitForImport(t, d, d.DemoKey, again.ImportID, "done")
	require.Len(t, outboxFor(d, "email", "bulk2@example.org"), 1)
}

// TestBulkFilesAreRefusedWholeWhenUnreadable: a file without its columns, or of another type,
// is a 4xx and no import is created.
func TestBulkFilesAreRefusedWholeWhenUnreadable(t *testing.T) {
	d := startDev(t)
	for _, tc := range []struct {
		name, contentType, body string
		status                  int
		code, field             string
	}{
		{"no status column", "text/csv", "event_id,election_id,voter_id,ballot_id,occurred_at\n", 400, "invalid_file", "status"},
		{"unknown column", "text/csv", bulkHeader + ",vote\n", 400, "invalid_file", "header"}, // named by position, never by its text
		{"empty file", "text/csv", "", 400, "invalid_file", ""},
		{"JSON", "application/json", `{"events":[]}`, 415, "unsupported_media_type", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := postBulk(t, d, d.DemoKey, tc.contentType, tc.body)
			require.Equal(t, tc.status, res.Status, res.Body)
			require.Equal(t, tc.code, res.Error.Code)
			require.Equal(t, tc.field, res.Error.Field)
		})
	}
	var imports int
	require.NoError(t, d.Store.Pool().QueryRow(context.Background(), `SELECT count(*) FROM imports`).Scan(&imports))
	require.Zero(t, imports)

	// NDJSON rows are checked one by one: ballot content is refused by field, on its line.
	at := time.Now().Add(-time.Hour)
	voter := demo.Voters[1].VoterID
	body := eventJSON("nd-1", voter, "DEN-ND1", "mailed", at) + "\n\n" +
		strings.Replace(eventJSON("nd-2", voter, "DEN-ND1", "received", at), "{", `{"vote":"yes",`, 1) + "\n"
	res := postBulk(t, d, d.DemoKey, "application/x-ndjson", body)
	require.Equal(t, http.StatusAccepted, res.Status, res.Body)
	require.Equal(t, 2, res.Rows)
	require.Equal(t, 1, res.Accepted)
	require.Equal(t, []fileimport.Rejection{{Line: 3, Field: "vote", Code: "invalid_row",
		Reason: "unknown field; the fields are " + strings.Join(intake.EventColumns, ", ")}}, res.Rejections)
}

// TestSuspiciousImportIsHeldUntilAnOperatorDecides: a file of "mailed" events for ballots that
// are already accepted (yesterday's file sent again with new ids) is held: nothing is signaled
// until an operator approves it. A second such file is rejected and never signaled. A county
// key sees only its own county's imports and cannot decide.
func TestSuspiciousImportIsHeldUntilAnOperatorDecides(t *testing.T) {
	d := startDev(t)
	ctx := context.Background()
	voters := bulkVoters(t, d, 25, 0)
	operatorKey, _ := createRollKey(t, d, store.APIKey{Role: store.RoleOperator, Label: "ops"})
	stateKey, _ := createRollKey(t, d, store.APIKey{Role: store.RoleState, State: "CO", Label: "sos"})
	arapahoeKey, _ := createRollKey(t, d, store.APIKey{Role: store.RoleCounty, State: "CO", County: "arapahoe", Label: "ara"})

	// The ballots' workflows accepted them yesterday (recorded as the workflows record them).
	yesterday := time.Now().Add(-24 * time.Hour).Truncate(time.Second)
	for i, v := range voters {
		voter, err := d.Store.VoterGetByID(ctx, "CO", v)
		require.NoError(t, err)
		rec, err := d.Store.BallotEventRecord(ctx, store.BallotEvent{JurisdictionID: "co-denver", ElectionID: demo.ElectionID,
			BallotID: fmt.Sprintf("DEN-H%d", i), VoterRef: voter.Ref, EventID: fmt.Sprintf("acc-%d", i), Status: "accepted",
			OccurredAt: yesterday})
		require.NoError(t, err)
		require.NoError(t, d.Store.BallotEventMarkSignaled(ctx, rec.EventRef))
		require.NoError(t, d.Store.BallotSetStatus(ctx, rec.Ballot.Key, "accepted", yesterday))
	}
	mailedFile := func(prefix string) string {
		lines := []string{bulkHeader}
		for i, v := range voters {
			lines = append(lines, csvRow(fmt.Sprintf("%s-%d", prefix, i), v, fmt.Sprintf("DEN-H%d", i), "mailed",
				yesterday.Add(-48*time.Hour)))
		}
		return strings.Join(lines, "\n")
	}

	held := postBulk(t, d, d.DemoKey, "text/csv", mailedFile("again"))
	require.Equal(t, http.StatusAccepted, held.Status, held.Body)
	require.Equal(t, 25, held.Accepted)
	view := waitForImport(t, d, d.DemoKey, held.ImportID, "held")
	require.Equal(t, 25, view.Backwards)
	require.Zero(t, view.Signaled)
	signaled, _ := signaledEvents(t, d, held.ImportID)
	require.Zero(t, signaled, "a held import signals nothing")
	_, err := d.Temporal.DescribeWorkflowExecution(ctx, ballot.WorkflowID(demo.ElectionID, ballotKey(t, d, "DEN-H0")), "")
	var notFound *serviceerror.NotFound
	require.True(t, errors.As(err, &notFound), "no ballot workflow was started: %v", err)
	q, err := d.Temporal.QueryWorkflow(ctx, held.WorkflowID, "", contract.QueryProgress)
	require.NoError(t, err)
	var progress contract.IngestProgress
	require.NoError(t, q.Get(&progress))
	require.Equal(t, contract.IngestHeld, progress.Status)
	require.Equal(t, 25, progress.Remaining)

	// Scope: another county neither sees nor decides it; the state and operators see it.
	require.Equal(t, http.StatusNotFound, getImport(t, d, arapahoeKey, held.ImportID).Status)
	require.Equal(t, http.StatusOK, getImport(t, d, stateKey, held.ImportID).Status)
	require.Equal(t, http.StatusOK, getImport(t, d, operatorKey, held.ImportID).Status)
	approvePath := fmt.Sprintf("/v1/imports/%d:approve", held.ImportID)
	require.Equal(t, http.StatusForbidden, bulkRequest(t, d, http.MethodPost, approvePath, d.DemoKey, "", "").Status)
	require.Equal(t, http.StatusNotFound, bulkRequest(t, d, http.MethodPost,
		fmt.Sprintf("/v1/imports/%d:maybe", held.ImportID), operatorKey, "", "").Status)

	// Approved: every event is signaled.
	decided := bulkRequest(t, d, http.MethodPost, approvePath, operatorKey, "", "")
	require.Equal(t, http.StatusAccepted, decided.Status, decided.Body)
	twice := bulkRequest(t, d, http.MethodPost, fmt.Sprintf("/v1/imports/%d:reject", held.ImportID), operatorKey, "", "")
	require.Equal(t, http.StatusConflict, twice.Status, "a held import is decided once: %s", twice.Body)
	view = waitForImport(t, d, operatorKey, held.ImportID, "done")
	require.Equal(t, 25, view.Signaled)
	signaled, _ = signaledEvents(t, d, held.ImportID)
	require.Equal(t, 25, signaled)
	require.Equal(t, http.StatusConflict, bulkRequest(t, d, http.MethodPost, approvePath, operatorKey, "", "").Status,
		"an import is decided once")

	// A second wrong file is rejected: its events are kept, marked, and never signaled, not
	// even when one of them is posted again on its own.
	wrong := postBulk(t, d, d.DemoKey, "text/csv", mailedFile("wrong"))
	require.Equal(t, http.StatusAccepted, wrong.Status, wrong.Body)
	waitForImport(t, d, d.DemoKey, wrong.ImportID, "held")
	decided = bulkRequest(t, d, http.MethodPost, fmt.Sprintf("/v1/imports/%d:reject", wrong.ImportID), operatorKey, "", "")
	require.Equal(t, http.StatusAccepted, decided.Status, decided.Body)
	view = waitForImport(t, d, d.DemoKey, wrong.ImportID, "rejected")
	require.Zero(t, view.Remaining)
	signaled, discarded := signaledEvents(t, d, wrong.ImportID)
	require.Zero(t, signaled)
	require.Equal(t, 25, discarded)
	single := post(t, d, d.DemoKey, "application/json", eventJSON("wrong-0", voters[0], "DEN-H0", "mailed", yesterday.Add(-48*time.Hour)))
	require.Equal(t, http.StatusAccepted, single.Status)
	require.Equal(t, intake.Duplicate, single.Results[0].Result)
	signaled, _ = signaledEvents(t, d, wrong.ImportID)
	require.Zero(t, signaled)

	var decisions []string
	rows, err := d.Store.Pool().Query(ctx, `SELECT action || ' ' || subject FROM audit_log WHERE action LIKE 'import.%' ORDER BY id`)
	require.NoError(t, err)
	for rows.Next() {
		var s string
		require.NoError(t, rows.Scan(&s))
		decisions = append(decisions, s)
	}
	require.NoError(t, rows.Err())
	require.Equal(t, []string{fmt.Sprintf("import.approve import:%d", held.ImportID),
		fmt.Sprintf("import.reject import:%d", wrong.ImportID)}, decisions)
}

// TestSignalBatchIsIdempotent: the ingestion activity may run twice on a page (a worker died
// after signaling part of it): the second run gives the same result, signals only what the
// first did not, and no ballot hears an event twice.
func TestSignalBatchIsIdempotent(t *testing.T) {
	d := startDev(t)
	ctx := context.Background()
	voters := bulkVoters(t, d, 10, 0)
	at := time.Now().Add(-time.Hour).Truncate(time.Second)
	lines := []string{bulkHeader}
	for i, v := range voters {
		lines = append(lines, csvRow(fmt.Sprintf("idem-%d", i), v, fmt.Sprintf("DEN-I%d", i), "mailed", at))
	}
	// Loaded without a Temporal client, so no workflow takes it up while the test drives it.
	svc := &intake.Service{Store: d.Store}
	res, err := svc.ImportEvents(ctx, intake.Caller{Role: store.RoleCounty, State: "CO", County: "denver"},
		strings.NewReader(strings.Join(lines, "\n")), intake.ImportOptions{Format: fileimport.CSV, Actor: "test"})
	require.NoError(t, err)
	require.Equal(t, 10, res.Accepted)

	signaler := app.NewIntake(d.Store, d.Temporal, slog.New(slog.NewTextHandler(io.Discard, nil)))
	var calls, crashedRunSignaled atomic.Int32
	crashing := &activities.Ingest{Store: d.Store, Intake: signalFunc(func(ctx context.Context, e store.UnsignaledEvent) error {
		if calls.Add(1) > 4 {
			return errors.New("worker killed")
		}
		err := signaler.SignalStored(ctx, e)
		if err == nil {
			crashedRunSignaled.Add(1)
		}
		return err
	})}
	page := activities.SignalBatchInput{ImportID: res.ImportID, AfterID: 0, Limit: 8}
	_, err = crashing.SignalBatch(ctx, page)
	require.ErrorContains(t, err, "worker killed")

	ing := &activities.Ingest{Store: d.Store, Intake: signaler}
	first, err := ing.SignalBatch(ctx, page)
	require.NoError(t, err)
	second, err := ing.SignalBatch(ctx, page)
	require.NoError(t, err)
	require.Equal(t, 8, first.Events)
	require.Equal(t, 8-int(crashedRunSignaled.Load()), first.Signaled, "only what the crashed run had not signaled")
	require.Equal(t, first.Events, second.Events)
	require.Equal(t, first.LastID, second.LastID)
	require.Zero(t, second.Signaled)
	rest, err := ing.SignalBatch(ctx, activities.SignalBatchInput{ImportID: res.ImportID, AfterID: first.LastID, Limit: 8, DoneBefore: 8})
	require.NoError(t, err)
	require.Equal(t, 2, rest.Events)

	im, err := d.Store.EventImportGetByID(ctx, res.ImportID)
	require.NoError(t, err)
	require.Equal(t, 10, im.Signaled)
	for i := range voters {
		key := ballotKey(t, d, fmt.Sprintf("DEN-I%d", i))
		require.Eventually(t, func() bool {
			q, err := d.Temporal.QueryWorkflow(ctx, ballot.WorkflowID(demo.ElectionID, key), "", ballot.QueryStatus)
			if err != nil {
				return false
			}
			var v contract.BallotView
			return q.Get(&v) == nil && len(v.Timeline) == 1
		}, 30*time.Second, 50*time.Millisecond)
		q, err := d.Temporal.QueryWorkflow(ctx, ballot.WorkflowID(demo.ElectionID, key), "", ballot.QueryStatus)
		require.NoError(t, err)
		var v contract.BallotView
		require.NoError(t, q.Get(&v))
		require.Empty(t, v.Ignored, "no event reached a ballot twice")
	}
}

func ballotKey(t *testing.T, d *app.Dev, ballotID string) string {
	t.Helper()
	var key string
	require.NoError(t, d.Store.Pool().QueryRow(context.Background(), `SELECT key FROM ballots WHERE ballot_id = $1`, ballotID).Scan(&key))
	return key
}
