package app_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	sdkworker "go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/ballotflow/ballotflow/activities"
	"github.com/ballotflow/ballotflow/internal/app"
	"github.com/ballotflow/ballotflow/internal/ballot"
	"github.com/ballotflow/ballotflow/internal/demo"
	"github.com/ballotflow/ballotflow/internal/fileimport"
	"github.com/ballotflow/ballotflow/internal/intake"
	"github.com/ballotflow/ballotflow/internal/store"
	"github.com/ballotflow/ballotflow/worker"
	"github.com/ballotflow/ballotflow/workflows"
	"github.com/ballotflow/ballotflow/workflows/contract"
)

// ingestKillQueue is a task queue only the workers of TestWorkerKilledMidIngestion poll, so
// the test decides which worker runs the import's pages.
const ingestKillQueue = "test-ingest-kill"

// signalFunc lets a test put its own step (a hang, a crash) around intake's SignalStored.
type signalFunc func(context.Context, store.UnsignaledEvent) error

func (f signalFunc) SignalStored(ctx context.Context, e store.UnsignaledEvent) error {
	return f(ctx, e)
}

// ingestWorker runs the IngestEvents workflow and its activities on ingestKillQueue, with
// signal in place of intake's SignalStored.
func ingestWorker(t *testing.T, d *app.Dev, signal signalFunc) sdkworker.Worker {
	t.Helper()
	w := sdkworker.New(d.Temporal, ingestKillQueue, sdkworker.Options{})
	w.RegisterWorkflowWithOptions(workflows.IngestEvents, workflow.RegisterOptions{Name: contract.IngestWorkflowName})
	w.RegisterActivity(&activities.Ingest{Store: d.Store, Intake: signal, Rate: 1000,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	require.NoError(t, w.Start())
	return w
}

// TestWorkerKilledMidIngestion: the worker running a page of a bulk import dies part way
// (it stops answering, as a killed process does). The page runs again on another worker once
// its heartbeat stops (not after its ten-minute start-to-close timeout), resumes where the
// dead one stopped, and the import finishes with every event signaled exactly once.
func TestWorkerKilledMidIngestion(t *testing.T) {
	t.Parallel()
	d := startDev(t)
	ctx := context.Background()
	const events, beforeKill = 60, 20
	voters := bulkVoters(t, d, events, 0)
	at := time.Now().Add(-time.Hour).Truncate(time.Second)
	lines := []string{bulkHeader}
	for i, v := range voters {
		lines = append(lines, csvRow(fmt.Sprintf("kill-%d", i), v, fmt.Sprintf("DEN-K%d", i), "mailed", at))
	}
	// Loaded without a Temporal client; the test starts the workflow on its own queue.
	res, err := (&intake.Service{Store: d.Store}).ImportEvents(ctx, intake.Caller{Role: store.RoleCounty, State: "CO",
		County: "denver"}, strings.NewReader(strings.Join(lines, "\n")), intake.ImportOptions{Format: fileimport.CSV, Actor: "test"})
	require.NoError(t, err)
	require.Equal(t, events, res.Accepted)

	signaler := app.NewIntake(d.Store, d.Temporal, slog.New(slog.NewTextHandler(io.Discard, nil)))
	// The doomed worker signals beforeKill events, then hangs on every later one: it never
	// answers again, and never heartbeats once it is stopped.
	hang := make(chan struct{})
	var hangOnce sync.Once
	release := func() { hangOnce.Do(func() { close(hang) }) }
	t.Cleanup(release)
	var calls atomic.Int32
	hung := make(chan struct{}, events)
	doomed := ingestWorker(t, d, func(ctx context.Context, e store.UnsignaledEvent) error {
		if calls.Add(1) > beforeKill {
			hung <- struct{}{}
			<-hang
			return fmt.Errorf("the worker was killed")
		}
		return signaler.SignalStored(ctx, e)
	})
	_, err = d.Temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: ballot.IngestWorkflowID(res.ImportID),
		TaskQueue: ingestKillQueue}, contract.IngestWorkflowName, contract.IngestInput{ImportID: res.ImportID})
	require.NoError(t, err)
	select {
	case <-hung:
	case <-time.After(faultWait):
		t.Fatal("the page never reached the doomed worker's hang")
	}
	doomed.Stop()
	killed := time.Now()

	var firstAfterKill atomic.Int64
	rescuer := ingestWorker(t, d, func(ctx context.Context, e store.UnsignaledEvent) error {
		firstAfterKill.CompareAndSwap(0, time.Now().UnixNano())
		return signaler.SignalStored(ctx, e)
	})
	defer rescuer.Stop()

	var im store.EventImport
	require.Eventually(t, func() bool {
		im, err = d.Store.EventImportGetByID(ctx, res.ImportID)
		return err == nil && im.Status == store.ImportDone
	}, 3*time.Minute, 200*time.Millisecond, "the import never finished after its worker was killed: %+v", im)
	t.Logf("stall after the kill: %.1f s until the next worker signaled, %.1f s until the import was done",
		time.Duration(firstAfterKill.Load()-killed.UnixNano()).Seconds(), time.Since(killed).Seconds())

	require.Equal(t, events, im.Signaled)
	signaled, _ := signaledEvents(t, d, res.ImportID)
	require.Equal(t, events, signaled)
	byWorkflow := importEvents(t, d, res.ImportID)
	require.Len(t, byWorkflow, events)
	repeated := requireAppliedOnce(t, d, byWorkflow)
	t.Logf("signals repeated because they were in flight when the worker died: %d", repeated)
	require.LessOrEqual(t, repeated, 16, "only the signals in flight at the kill (one per concurrent ballot) are repeated")
}

// importEvents returns the event ids of an import by the workflow id of their ballot (one
// event per ballot in these tests).
func importEvents(t *testing.T, d *app.Dev, importID int64) map[string]string {
	t.Helper()
	rows, err := d.Store.Pool().Query(context.Background(), `
		SELECT b.election_id, b.key, e.event_id FROM ballot_events e JOIN ballots b ON b.id = e.ballot_ref
		WHERE e.import_id = $1`, importID)
	require.NoError(t, err)
	defer rows.Close()
	events := map[string]string{}
	for rows.Next() {
		var election, key, eventID string
		require.NoError(t, rows.Scan(&election, &key, &eventID))
		events[ballot.WorkflowID(election, key)] = eventID
	}
	require.NoError(t, rows.Err())
	return events
}

// requireAppliedOnce checks that each ballot workflow got its event and applied it exactly
// once (a signal repeated by a retry is ignored as a duplicate). It returns how many signals
// were repeated: a signal in flight when its worker died may have reached Temporal or not,
// so the retry sends it again.
func requireAppliedOnce(t *testing.T, d *app.Dev, events map[string]string) (repeated int) {
	t.Helper()
	for workflowID, eventID := range events {
		signals := signalsIn(t, d, workflowID)
		require.GreaterOrEqual(t, signals, 1, "%s got its event", workflowID)
		repeated += signals - 1
		var view contract.BallotView
		require.Eventually(t, func() bool {
			var ok bool
			view, ok = viewOf(t, d, workflowID)
			return ok
		}, faultWait, 50*time.Millisecond)
		applied := 0
		for _, e := range view.Timeline {
			if e.EventID == eventID {
				applied++
			}
		}
		require.Equal(t, 1, applied, "%s applied %s once: %+v", workflowID, eventID, view)
	}
	return repeated
}

// signalsIn counts the signals in a workflow's history (SignalWithStart's included).
func signalsIn(t *testing.T, d *app.Dev, workflowID string) int {
	t.Helper()
	it := d.Temporal.GetWorkflowHistory(context.Background(), workflowID, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	n := 0
	for it.HasNext() {
		ev, err := it.Next()
		require.NoError(t, err)
		if ev.GetEventType() == enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED {
			n++
		}
	}
	return n
}

// TestImportLeftLoadingByADeadAPIIsFailedAndFinishedBySendingItAgain: the API process
// loading a file dies after storing a batch. The worker's sweeper marks the import failed
// with a reason GET /v1/imports/{id} shows, and sending the whole file again stores the
// rest and signals every event once.
func TestImportLeftLoadingByADeadAPIIsFailedAndFinishedBySendingItAgain(t *testing.T) {
	t.Parallel()
	d := startDev(t)
	ctx := context.Background()
	voters := bulkVoters(t, d, 6, 0)
	at := time.Now().Add(-time.Hour).Truncate(time.Second)
	lines := []string{bulkHeader}
	for i, v := range voters {
		lines = append(lines, csvRow(fmt.Sprintf("dead-%d", i), v, fmt.Sprintf("DEN-D%d", i), "mailed", at))
	}
	file := strings.Join(lines, "\n")

	// The dead process: its import stored the first half of the file, then nothing more.
	scope := store.EventScope{State: "CO", County: "denver"}
	dead, err := d.Store.EventImportCreate(ctx, scope, "test")
	require.NoError(t, err)
	var half []store.StagedEvent
	for i, v := range voters[:3] {
		half = append(half, store.StagedEvent{Line: i + 2, EventID: fmt.Sprintf("dead-%d", i), ElectionID: demo.ElectionID,
			VoterID: v, BallotID: fmt.Sprintf("DEN-D%d", i), Status: "mailed", OccurredAt: at})
	}
	_, err = d.Store.EventImportLoadBatch(ctx, dead, scope, store.EventBatch{Rows: 3, Events: half})
	require.NoError(t, err)
	_, err = d.Store.Pool().Exec(ctx, `UPDATE imports SET updated_at = now() - interval '1 hour' WHERE id = $1`, dead)
	require.NoError(t, err)

	sweeper := &worker.Sweeper{Intake: app.NewIntake(d.Store, d.Temporal, slog.New(slog.NewTextHandler(io.Discard, nil)))}
	require.Equal(t, 1, sweeper.Sweep(ctx).ImportsFailed)
	got := bulkRequest(t, d, http.MethodGet, fmt.Sprintf("/v1/imports/%d", dead), d.DemoKey, "", "")
	require.Equal(t, http.StatusOK, got.Status, got.Body)
	require.Equal(t, store.ImportFailed, got.State)
	require.Contains(t, got.Body, "failure_reason")
	require.Contains(t, got.Body, "Send the whole file again")

	again := postBulk(t, d, d.DemoKey, "text/csv", file)
	require.Equal(t, http.StatusAccepted, again.Status, again.Body)
	require.Equal(t, 6, again.Accepted, "the dead import's three events are taken over, three are new")
	waitForImport(t, d, d.DemoKey, again.ImportID, store.ImportDone)
	signaled, _ := signaledEvents(t, d, again.ImportID)
	require.Equal(t, 6, signaled)
	byWorkflow := importEvents(t, d, again.ImportID)
	require.Len(t, byWorkflow, 6)
	require.Zero(t, requireAppliedOnce(t, d, byWorkflow), "nothing was in flight: every event is signaled once")
}
