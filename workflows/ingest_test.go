package workflows_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/ballotflow/ballotflow/activities"
	"github.com/ballotflow/ballotflow/internal/ballot"
	"github.com/ballotflow/ballotflow/internal/codec"
	"github.com/ballotflow/ballotflow/workflows"
	"github.com/ballotflow/ballotflow/workflows/contract"
)

// The ingestion workflow runs in the SDK's test environment against a fake import: a number
// of stored events with ids 1..n, and a check result chosen by each test.

type fakeImport struct {
	env     *testsuite.TestWorkflowEnvironment
	checked activities.ImportChecked

	mu        sync.Mutex
	rules     []activities.StatusRule
	statuses  []string
	pages     []activities.SignalBatchInput
	pageTimes []time.Time
	discarded []activities.DiscardImportInput
	// The heartbeat timeouts the activities were scheduled with.
	checkHeartbeat time.Duration
	pageHeartbeats []time.Duration
}

func newIngest(t *testing.T, checked activities.ImportChecked) *fakeImport {
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestWorkflowEnvironment()
	env.SetStartTime(day(0, 9, 0))
	f := &fakeImport{env: env, checked: checked}
	env.RegisterWorkflowWithOptions(workflows.IngestEvents, workflow.RegisterOptions{Name: contract.IngestWorkflowName})
	env.RegisterActivityWithOptions(f.CheckImport, activity.RegisterOptions{Name: "CheckImport"})
	env.RegisterActivityWithOptions(f.SetImportStatus, activity.RegisterOptions{Name: "SetImportStatus"})
	env.RegisterActivityWithOptions(f.SignalBatch, activity.RegisterOptions{Name: "SignalBatch"})
	env.RegisterActivityWithOptions(f.DiscardImport, activity.RegisterOptions{Name: "DiscardImport"})
	return f
}

func (f *fakeImport) CheckImport(ctx context.Context, in activities.CheckImportInput) (activities.ImportChecked, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rules = in.Rules
	f.checkHeartbeat = activity.GetInfo(ctx).HeartbeatTimeout
	return f.checked, nil
}

func (f *fakeImport) SetImportStatus(_ context.Context, in activities.SetImportStatusInput) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.statuses = append(f.statuses, in.Status)
	return nil
}

func (f *fakeImport) SignalBatch(ctx context.Context, in activities.SignalBatchInput) (activities.SignalBatchResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.pages = append(f.pages, in)
	f.pageHeartbeats = append(f.pageHeartbeats, activity.GetInfo(ctx).HeartbeatTimeout)
	f.pageTimes = append(f.pageTimes, f.env.Now())
	n := min(in.Limit, max(f.checked.Events-int(in.AfterID), 0))
	return activities.SignalBatchResult{Events: n, LastID: in.AfterID + int64(n), Signaled: n, Rate: f.checked.Rate}, nil
}

func (f *fakeImport) DiscardImport(_ context.Context, in activities.DiscardImportInput) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.discarded = append(f.discarded, in)
	return f.checked.Events, nil
}

func (f *fakeImport) progress(t *testing.T) contract.IngestProgress {
	t.Helper()
	v, err := f.env.QueryWorkflow(contract.QueryProgress)
	require.NoError(t, err)
	var p contract.IngestProgress
	require.NoError(t, v.Get(&p))
	return p
}

func (f *fakeImport) run(t *testing.T) {
	t.Helper()
	f.env.ExecuteWorkflow(contract.IngestWorkflowName, contract.IngestInput{ImportID: 7})
	require.True(t, f.env.IsWorkflowCompleted())
	require.NoError(t, f.env.GetWorkflowError())
}

func checked(events, backwards, inconsistent int, rate float64, page int) activities.ImportChecked {
	return activities.ImportChecked{Events: events, Duplicates: 3, Rejected: 2, Backwards: backwards, Inconsistent: inconsistent,
		HoldShare: 0.05, HoldMinEvents: 20, Rate: rate, PageSize: page}
}

// An import is signaled in pages that follow each other, at the configured rate: 1,200
// events at 100/s in pages of 100 take twelve seconds of workflow time, not less.
func TestIngestSignalsPagesAtTheConfiguredRate(t *testing.T) {
	f := newIngest(t, checked(1200, 1, 0, 100, 100))
	f.run(t)

	require.Len(t, f.pages, 13, "twelve full pages and an empty one that ends the import")
	for i, p := range f.pages {
		require.Equal(t, int64(i*100), p.AfterID, "each page starts after the last")
		require.Equal(t, i*100, p.DoneBefore)
		require.Equal(t, int64(7), p.ImportID)
	}
	for i := 1; i < len(f.pageTimes); i++ {
		require.GreaterOrEqual(t, f.pageTimes[i].Sub(f.pageTimes[i-1]), time.Second, "100 events at 100/s take a second")
	}
	require.Equal(t, []string{contract.IngestSignaling, contract.IngestDone}, f.statuses)
	p := f.progress(t)
	require.Equal(t, contract.IngestProgress{Status: contract.IngestDone, Events: 1200, Done: 1200, Remaining: 0,
		Duplicates: 3, Rejected: 2, Backwards: 1, Rate: 100}, p)

	// The check applies the workflow's own status graph.
	byStatus := map[ballot.Status]activities.StatusRule{}
	for _, r := range f.rules {
		byStatus[r.Status] = r
	}
	require.Less(t, byStatus[ballot.StatusMailed].Stage, byStatus[ballot.StatusAccepted].Stage)
	require.True(t, byStatus[ballot.StatusCounted].Final)
	require.Equal(t, ballot.StatusChallenged, byStatus[ballot.StatusCured].Requires)
}

// An import whose events would move more than the configured share of ballots backwards is
// held: nothing is signaled until an operator approves, and then everything is.
func TestHeldImportWaitsForApproval(t *testing.T) {
	f := newIngest(t, checked(100, 30, 2, 1000, 500))
	var atHold contract.IngestProgress
	var pagesAtHold int
	f.env.RegisterDelayedCallback(func() {
		atHold = f.progress(t)
		f.mu.Lock()
		pagesAtHold = len(f.pages)
		f.mu.Unlock()
		f.env.SignalWorkflow(contract.SignalApprove, contract.ImportDecision{By: "key:oper1"})
	}, 6*time.Hour)
	f.run(t)

	require.Equal(t, contract.IngestHeld, atHold.Status)
	require.Zero(t, pagesAtHold, "a held import signals nothing")
	require.Equal(t, []string{contract.IngestHeld, contract.IngestSignaling, contract.IngestDone}, f.statuses)
	require.NotEmpty(t, f.pages)
	require.GreaterOrEqual(t, f.pageTimes[0].Sub(day(0, 9, 0)), 6*time.Hour)
	p := f.progress(t)
	require.Equal(t, 100, p.Done)
	require.Equal(t, "key:oper1", p.DecidedBy)
	require.Empty(t, f.discarded)
}

// A rejected held import is discarded and never signaled.
func TestRejectedImportIsNeverSignaled(t *testing.T) {
	f := newIngest(t, checked(100, 0, 6, 1000, 500))
	f.env.RegisterDelayedCallback(func() {
		f.env.SignalWorkflow(contract.SignalReject, contract.ImportDecision{By: "key:oper2"})
	}, time.Hour)
	f.run(t)

	require.Empty(t, f.pages)
	require.Equal(t, []activities.DiscardImportInput{{ImportID: 7, DecidedBy: "key:oper2"}}, f.discarded)
	require.Equal(t, []string{contract.IngestHeld}, f.statuses, "DiscardImport records the rejection itself")
	p := f.progress(t)
	require.Equal(t, contract.IngestRejected, p.Status)
	require.Zero(t, p.Done)
	require.Equal(t, 100, p.Remaining)
}

// At or below the share, or in a small import, nothing is held.
func TestImportsBelowTheThresholdAreNotHeld(t *testing.T) {
	for name, c := range map[string]activities.ImportChecked{
		"exactly the share":             checked(100, 3, 2, 1000, 500),
		"small import, all backwards":   checked(19, 19, 0, 1000, 500),
		"nothing backwards, large file": checked(5000, 0, 0, 1e9, 500),
	} {
		t.Run(name, func(t *testing.T) {
			f := newIngest(t, c)
			f.run(t)
			require.Equal(t, []string{contract.IngestSignaling, contract.IngestDone}, f.statuses)
			require.Equal(t, c.Events, f.progress(t).Done)
		})
	}
}

// A long import continues as new every few thousand pages with its place and counts.
func TestLongImportContinuesAsNewWhereItWas(t *testing.T) {
	f := newIngest(t, checked(2500, 0, 0, 1e9, 1))
	f.env.ExecuteWorkflow(contract.IngestWorkflowName, contract.IngestInput{ImportID: 7})
	var can *workflow.ContinueAsNewError
	require.True(t, errors.As(f.env.GetWorkflowError(), &can), "want continue-as-new, got %v", f.env.GetWorkflowError())
	var next workflows.IngestStart
	require.NoError(t, converter.GetDefaultDataConverter().FromPayloads(can.Input, &next))
	require.Equal(t, int64(7), next.ImportID)
	require.NotNil(t, next.Resume)
	require.Equal(t, int64(2000), next.Resume.AfterID)
	require.Equal(t, 2000, next.Resume.Progress.Done)
	require.Equal(t, 500, next.Resume.Progress.Remaining)
	require.Equal(t, contract.IngestSignaling, next.Resume.Progress.Status)

	// The next run picks up after event 2000 without checking again.
	f2 := newIngest(t, f.checked)
	f2.env.ExecuteWorkflow(contract.IngestWorkflowName, next)
	require.NoError(t, f2.env.GetWorkflowError())
	require.Nil(t, f2.rules, "a resumed import is not checked again")
	require.Equal(t, int64(2000), f2.pages[0].AfterID)
	require.Equal(t, 2500, f2.progress(t).Done)
	require.Equal(t, []string{contract.IngestDone}, f2.statuses)
}

// Each page of an import is scheduled with a short heartbeat timeout, so a page whose worker
// was killed runs again on another worker within seconds instead of after the page's
// ten-minute start-to-close timeout. The check, one long query that cannot heartbeat, has
// none.
func TestImportPagesHaveAShortHeartbeatTimeout(t *testing.T) {
	f := newIngest(t, checked(300, 0, 0, 1000, 100))
	f.run(t)

	require.Len(t, f.pageHeartbeats, 4)
	for _, hb := range f.pageHeartbeats {
		require.Positive(t, hb)
		require.LessOrEqual(t, hb, 30*time.Second)
	}
	require.Zero(t, f.checkHeartbeat, "the check does not heartbeat, so it must not be timed out for it")
}

// Imports that were running before pages had a heartbeat timeout keep the options they
// started with (the change is versioned), so their histories replay.
func TestImportsStartedBeforePageHeartbeatsKeepTheirOptions(t *testing.T) {
	f := newIngest(t, checked(300, 0, 0, 1000, 100))
	f.env.OnGetVersion("ingest-page-heartbeat", workflow.DefaultVersion, 1).Return(workflow.DefaultVersion)
	f.run(t)

	require.Len(t, f.pageHeartbeats, 4)
	for _, hb := range f.pageHeartbeats {
		require.Zero(t, hb)
	}
	require.Equal(t, []string{contract.IngestSignaling, contract.IngestDone}, f.statuses)
}

// TestReplayCommittedIngestHistories replays the committed histories of import workflows,
// one per version of the workflow (recorded by `make histories` with
// BALLOTFLOW_HISTORY_SUFFIX). An import that was running when a change was deployed must go
// on: a change that adds, removes or reorders its commands without workflow.GetVersion
// fails here.
func TestReplayCommittedIngestHistories(t *testing.T) {
	files, err := filepath.Glob("testdata/ingest-histories/*.json")
	require.NoError(t, err)
	require.NotEmpty(t, files, "no committed import histories")
	spec, err := os.ReadFile("testdata/histories/payload-key")
	require.NoError(t, err)
	pc, err := codec.Parse(strings.TrimSpace(string(spec)))
	require.NoError(t, err)
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			f, err := os.Open(file)
			require.NoError(t, err)
			defer f.Close()
			history, err := client.HistoryFromJSON(f, client.HistoryJSONOptions{})
			require.NoError(t, err)
			replayer, err := worker.NewWorkflowReplayerWithOptions(worker.WorkflowReplayerOptions{DataConverter: pc.DataConverter()})
			require.NoError(t, err)
			replayer.RegisterWorkflowWithOptions(workflows.IngestEvents, workflow.RegisterOptions{Name: contract.IngestWorkflowName})
			require.NoError(t, replayer.ReplayWorkflowHistory(nil, history))
		})
	}
}

// An import of corrections is held whatever it holds, even one small one with nothing
// backwards: an operator approves it on its preview.
func TestAnImportOfCorrectionsIsAlwaysHeld(t *testing.T) {
	c := checked(3, 0, 0, 1000, 500)
	c.Corrections = true
	f := newIngest(t, c)
	f.env.RegisterDelayedCallback(func() {
		require.Equal(t, contract.IngestHeld, f.progress(t).Status)
		require.True(t, f.progress(t).Corrections)
		f.env.SignalWorkflow(contract.SignalApprove, contract.ImportDecision{By: "key:oper1"})
	}, time.Hour)
	f.run(t)
	require.Equal(t, []string{contract.IngestHeld, contract.IngestSignaling, contract.IngestDone}, f.statuses)
	require.Equal(t, 3, f.progress(t).Done)
}
