package workflows

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/ballotflow/ballotflow/activities"
	"github.com/ballotflow/ballotflow/internal/ballot"
	"github.com/ballotflow/ballotflow/workflows/contract"
)

// IngestState is everything the workflow knows, carried whole into the next run.
type IngestState struct {
	Progress      contract.IngestProgress
	AfterID       int64 // the last event signaled; the next page starts after it
	PageSize      int
	HoldShare     float64
	HoldMinEvents int
}

// ingestPagesPerRun is how many pages a run signals before it continues as new: a page adds
// about a dozen history events (activity, timer, workflow tasks).
const ingestPagesPerRun = 2000

// ingestOptions: the database or Temporal being away is retried without end; every
// activity is idempotent.
var ingestOptions = workflow.ActivityOptions{
	StartToCloseTimeout: 10 * time.Minute,
	RetryPolicy:         retryUntilBack,
}

// pageHeartbeatTimeout is how long a SignalBatch attempt may go without a heartbeat before
// Temporal takes its worker for dead and runs the page on another: without it a page whose
// worker was killed stalled the import for the whole start-to-close timeout (ten minutes).
// SignalBatch heartbeats every few seconds and on every event.
const pageHeartbeatTimeout = 20 * time.Second

// ingestPageHeartbeat versions the change that gave SignalBatch its heartbeat timeout:
// imports that were running before it keep the options they started with, so their
// histories replay.
const ingestPageHeartbeat = "ingest-page-heartbeat"

var ingestActs *activities.Ingest // names activity methods; never called directly

// IngestEvents is the workflow of one bulk import.
func IngestEvents(ctx workflow.Context, in IngestStart) error {
	w := &ingest{In: in}
	if in.Resume != nil {
		w.IngestState, w.In.Resume = *in.Resume, nil
	} else {
		w.Progress.Status = contract.IngestChecking
	}
	return w.run(ctx)
}

type ingest struct {
	In IngestStart
	IngestState
	// pageOptions are the activity options of SignalBatch (versioned: ingestPageHeartbeat).
	pageOptions workflow.ActivityOptions
}

func (w *ingest) run(ctx workflow.Context) error {
	if err := workflow.SetQueryHandler(ctx, contract.QueryProgress, func() (contract.IngestProgress, error) { return w.Progress, nil }); err != nil {
		return fmt.Errorf("register progress query: %w", err)
	}
	ctx = workflow.WithActivityOptions(ctx, ingestOptions)
	w.pageOptions = ingestOptions
	if workflow.GetVersion(ctx, ingestPageHeartbeat, workflow.DefaultVersion, 1) >= 1 {
		// Only the pages heartbeat: CheckImport is one long query that cannot.
		w.pageOptions.HeartbeatTimeout = pageHeartbeatTimeout
	}
	if w.Progress.Status == contract.IngestChecking {
		if err := w.check(ctx); err != nil {
			return err
		}
		if w.hold() {
			rejected, err := w.awaitDecision(ctx)
			if err != nil || rejected {
				return err
			}
		}
		if err := w.setStatus(ctx, contract.IngestSignaling, []string{contract.IngestChecking, contract.IngestHeld}); err != nil {
			return err
		}
	}

	for pages := 0; ; pages++ {
		if pages == ingestPagesPerRun || workflow.GetInfo(ctx).GetContinueAsNewSuggested() {
			state := w.IngestState
			return workflow.NewContinueAsNewError(ctx, contract.IngestWorkflowName, IngestStart{IngestInput: w.In.IngestInput, Resume: &state})
		}
		more, err := w.signalPage(ctx)
		if err != nil {
			return err
		}
		if !more {
			break
		}
	}
	if err := w.setStatus(ctx, contract.IngestDone, []string{contract.IngestSignaling}); err != nil {
		return err
	}
	workflow.GetLogger(ctx).Info("import signaled", "import_id", w.In.ImportID, "events", w.Progress.Done)
	return nil
}

// check compares the import with its ballots and takes the worker's settings.
func (w *ingest) check(ctx workflow.Context) error {
	var c activities.ImportChecked
	err := workflow.ExecuteActivity(ctx, ingestActs.CheckImport, activities.CheckImportInput{
		ImportID: w.In.ImportID, Rules: statusRules(),
	}).Get(ctx, &c)
	if err != nil {
		return err
	}
	p := &w.Progress
	p.Events, p.Duplicates, p.Rejected, p.Backwards, p.Inconsistent = c.Events, c.Duplicates, c.Rejected, c.Backwards, c.Inconsistent
	p.Corrections = c.Corrections
	p.Done, p.Remaining, p.Rate = c.Signaled, c.Events-c.Signaled, c.Rate
	w.PageSize, w.HoldShare, w.HoldMinEvents = max(c.PageSize, 1), c.HoldShare, c.HoldMinEvents
	return nil
}

// hold reports whether the import looks like the wrong file: enough events, and more than
// the configured share of them would move ballots backwards or contradict their history.
// An import of corrections is always held: an operator decides on its preview. (Only an
// import created after corrections existed says so, so no recorded history changes.)
func (w *ingest) hold() bool {
	p := w.Progress
	return p.Corrections || p.Events >= w.HoldMinEvents && float64(p.Backwards+p.Inconsistent) > w.HoldShare*float64(p.Events)
}

// awaitDecision holds the import until an operator approves or rejects it. A rejected
// import's events are discarded; it reports whether that happened.
func (w *ingest) awaitDecision(ctx workflow.Context) (rejected bool, err error) {
	if err := w.setStatus(ctx, contract.IngestHeld, []string{contract.IngestChecking}); err != nil {
		return false, err
	}
	workflow.GetLogger(ctx).Warn("import held for an operator", "import_id", w.In.ImportID,
		"events", w.Progress.Events, "backwards", w.Progress.Backwards, "inconsistent", w.Progress.Inconsistent)
	var d contract.ImportDecision
	sel := workflow.NewSelector(ctx)
	sel.AddReceive(workflow.GetSignalChannel(ctx, contract.SignalApprove), func(c workflow.ReceiveChannel, _ bool) {
		c.Receive(ctx, &d)
	})
	sel.AddReceive(workflow.GetSignalChannel(ctx, contract.SignalReject), func(c workflow.ReceiveChannel, _ bool) {
		c.Receive(ctx, &d)
		rejected = true
	})
	sel.Select(ctx)
	w.Progress.DecidedBy = d.By
	if !rejected {
		return false, nil
	}
	err = workflow.ExecuteActivity(ctx, ingestActs.DiscardImport, activities.DiscardImportInput{
		ImportID: w.In.ImportID, DecidedBy: d.By,
	}).Get(ctx, nil)
	if err != nil {
		return true, err
	}
	w.Progress.Status = contract.IngestRejected
	return true, nil
}

// signalPage signals one page and then waits long enough to keep the configured rate. It
// reports whether more pages may follow.
func (w *ingest) signalPage(ctx workflow.Context) (bool, error) {
	start := workflow.Now(ctx)
	var res activities.SignalBatchResult
	pageCtx := workflow.WithActivityOptions(ctx, w.pageOptions)
	err := workflow.ExecuteActivity(pageCtx, ingestActs.SignalBatch, activities.SignalBatchInput{
		ImportID: w.In.ImportID, AfterID: w.AfterID, Limit: w.PageSize, DoneBefore: w.Progress.Done,
	}).Get(ctx, &res)
	if err != nil {
		return false, err
	}
	p := &w.Progress
	w.AfterID = res.LastID
	p.Done += res.Events
	p.Remaining = max(p.Events-p.Done, 0)
	if res.Rate > 0 {
		p.Rate = res.Rate
	}
	// Events are all stored before the workflow starts: a short page is the last one.
	if res.Events < w.PageSize {
		return false, nil
	}
	if p.Rate > 0 {
		pace := time.Duration(float64(res.Events) / p.Rate * float64(time.Second))
		if wait := pace - workflow.Now(ctx).Sub(start); wait > 0 {
			err := workflow.NewTimerWithOptions(ctx, wait, workflow.TimerOptions{
				Summary: fmt.Sprintf("pace: %g events/s", p.Rate),
			}).Get(ctx, nil)
			if err != nil {
				return false, err
			}
		}
	}
	return true, nil
}

func (w *ingest) setStatus(ctx workflow.Context, status string, from []string) error {
	err := workflow.ExecuteActivity(ctx, ingestActs.SetImportStatus, activities.SetImportStatusInput{
		ImportID: w.In.ImportID, Status: status, From: from, DecidedBy: w.Progress.DecidedBy,
	}).Get(ctx, nil)
	if err != nil {
		return err
	}
	w.Progress.Status = status
	return nil
}

// statusRules is the status graph as the import check applies it in SQL.
func statusRules() []activities.StatusRule {
	rules := make([]activities.StatusRule, len(ballot.Statuses))
	for i, s := range ballot.Statuses {
		rules[i] = activities.StatusRule{Status: s, Stage: s.Stage(), Final: s.IsFinal(), Requires: s.Requires()}
	}
	return rules
}
