package activities

import (
	"context"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"

	"github.com/ballotflow/ballotflow/internal/ballot"
	"github.com/ballotflow/ballotflow/internal/metrics"
	"github.com/ballotflow/ballotflow/internal/store"
)

// The activities of the IngestEvents workflow, which signals the stored events of a bulk
// import (a county's mail-out day) at a controlled rate. They carry ids and counts only.

// Ingestion defaults.
const (
	DefaultIngestRate    = 200  // events per second
	DefaultHoldShare     = 0.05 // of an import's events that may look backwards before it is held
	DefaultHoldMinEvents = 20   // smaller imports are never held
	DefaultIngestPage    = 500  // events per SignalBatch, at most
	// ingestConcurrency is how many ballots a page signals at once; one ballot's events go
	// one after the other, in file order.
	ingestConcurrency = 16
)

// EventSignaler delivers one stored event to its ballot's workflow (SignalWithStart) and marks
// it signaled, as a single post does; *intake.Service is the one ballotflow uses.
type EventSignaler interface {
	SignalStored(ctx context.Context, e store.UnsignaledEvent) error
}

// Ingest holds what the ingestion activities need. Its settings come from the worker's
// configuration and reach the workflow through the activities' results, so a restarted
// worker with another INGEST_RATE changes the pace of imports already running.
type Ingest struct {
	Store  *store.Store
	Intake EventSignaler
	// Rate is the events per second an import is signaled at (INGEST_RATE).
	Rate float64
	// HoldShare (IMPORT_HOLD_SHARE) and HoldMinEvents: an import of at least HoldMinEvents
	// events of which more than HoldShare would move ballots backwards, or are inconsistent
	// with their ballots' history, waits for an operator.
	HoldShare     float64
	HoldMinEvents int
	Logger        *slog.Logger
}

// StatusRule is how the ballot workflow's status graph treats one status.
type StatusRule struct {
	Status   ballot.Status
	Stage    int           // a ballot never moves to a lower stage
	Final    bool          // nothing follows it
	Requires ballot.Status // the status a ballot must be at first ("" for none)
}

// CheckImportInput names the import to compare with its ballots under the workflow's rules.
type CheckImportInput struct {
	ImportID int64
	Rules    []StatusRule
}

// ImportChecked is what CheckImport found, with the settings the workflow runs by.
type ImportChecked struct {
	Events       int // stored events of the import
	Duplicates   int // rows of the file recorded before
	Rejected     int // rows of the file refused
	Backwards    int
	Inconsistent int
	Signaled     int // events already signaled (a workflow started again)
	Status       string
	// Corrections says the import corrects another (store.ImportCorrections): it is held
	// for an operator's decision whatever it holds.
	Corrections bool `json:",omitempty"`

	HoldShare     float64
	HoldMinEvents int
	Rate          float64
	PageSize      int
}

// CheckImport compares an import's events with the current status of their ballots and
// records the counts on the import.
func (a *Ingest) CheckImport(ctx context.Context, in CheckImportInput) (ImportChecked, error) {
	rules := make([]store.StatusRule, len(in.Rules))
	for i, r := range in.Rules {
		rules[i] = store.StatusRule{Status: string(r.Status), Stage: r.Stage, Final: r.Final, Requires: string(r.Requires)}
	}
	im, err := a.Store.EventImportGetByID(ctx, in.ImportID)
	if err != nil {
		return ImportChecked{}, err
	}
	var c store.ImportCheck
	if im.Kind == store.ImportCorrections {
		// Corrections move ballots back by design: the operator decides on the preview.
		c.Events = im.Accepted
	} else if c, err = a.Store.EventImportCheck(ctx, in.ImportID, rules); err != nil {
		return ImportChecked{}, err
	}
	return ImportChecked{
		Corrections: im.Kind == store.ImportCorrections,
		Events:      c.Events, Duplicates: im.Duplicates, Rejected: im.Rejected, Backwards: c.Backwards,
		Inconsistent: c.Inconsistent, Signaled: im.Signaled, Status: im.Status,
		HoldShare: a.holdShare(), HoldMinEvents: a.holdMinEvents(), Rate: a.rate(), PageSize: a.pageSize(),
	}, nil
}

// SetImportStatusInput moves an import to Status from any of From; DecidedBy names the
// operator who approved it, when one did.
type SetImportStatusInput struct {
	ImportID  int64
	Status    string
	From      []string
	DecidedBy string
}

// SetImportStatus records where an import is, for GET /v1/imports/{id}.
func (a *Ingest) SetImportStatus(ctx context.Context, in SetImportStatusInput) error {
	return a.Store.EventImportSetStatus(ctx, in.ImportID, in.Status, in.From, in.DecidedBy)
}

// SignalBatchInput is one page of an import: the events after AfterID, at most Limit.
// DoneBefore is how many events the workflow counted done before this page.
type SignalBatchInput struct {
	ImportID   int64
	AfterID    int64
	Limit      int
	DoneBefore int
}

// SignalBatchResult is what a page did. Events and LastID depend only on the page, never on
// what an earlier attempt signaled, so a retried page gives the same result.
type SignalBatchResult struct {
	Events   int     // events in the page (signaled now or before)
	LastID   int64   // the last event's id: the next page starts after it
	Signaled int     // signaled by this attempt
	Rate     float64 // the pace to keep, events per second
}

// SignalBatch signals the unsignaled events of one page of an import, each as a single post
// would (SignalWithStart, then marked signaled), and records the import's progress. Events
// of one ballot are signaled in id (file) order; different ballots in parallel.
//
// It heartbeats while it works (the workflow gives it a short heartbeat timeout), so a page
// whose worker died is retried on another worker within seconds, not after the page's
// start-to-close timeout. The retry resumes where the dead attempt stopped: the events it
// signaled are marked signaled and skipped, and the heartbeat details it left (a
// SignalBatchProgress, also shown in Temporal UI) carry its count on.
func (a *Ingest) SignalBatch(ctx context.Context, in SignalBatchInput) (SignalBatchResult, error) {
	// Heartbeat from the start: reading the page is one query that, on a busy database,
	// may itself take longer than the heartbeat timeout.
	beat := newPageHeartbeat(ctx, in, 0)
	defer beat.stop()
	events, err := a.Store.BallotEventListByImport(ctx, in.ImportID, in.AfterID, in.Limit)
	if err != nil {
		return SignalBatchResult{}, err
	}
	res := SignalBatchResult{Events: len(events), LastID: in.AfterID, Rate: a.rate()}
	if len(events) == 0 {
		return res, nil
	}
	res.LastID = events[len(events)-1].EventRef
	beat.setEvents(len(events))
	if earlier := beat.resumed(); earlier.Signaled > 0 {
		a.logger().Info("page of an import resumed after a failed attempt", "import_id", in.ImportID,
			"after_id", in.AfterID, "signaled_before", earlier.Signaled)
	}

	var byBallot [][]store.UnsignaledEvent
	index := map[int64]int{}
	for _, e := range events {
		if e.Signaled || e.Discarded || e.SetAside {
			continue
		}
		i, ok := index[e.Ballot.Ref]
		if !ok {
			i = len(byBallot)
			index[e.Ballot.Ref] = i
			byBallot = append(byBallot, nil)
		}
		byBallot[i] = append(byBallot[i], e.UnsignaledEvent)
	}
	n, err := a.signalAll(ctx, byBallot, beat.signaled)
	res.Signaled = n
	metrics.ImportEventsSignaled.Add(float64(n))
	if err != nil {
		return res, fmt.Errorf("signal page after event %d of import %d: %w", in.AfterID, in.ImportID, err)
	}
	if err := a.Store.EventImportSetSignaled(ctx, in.ImportID, in.DoneBefore+res.Events); err != nil {
		return res, err
	}
	return res, nil
}

// signalAll signals each ballot's events in order, up to ingestConcurrency ballots at once,
// and stops at the first error; done is called after each event signaled. A panic while
// signaling one event fails the page (the attempt is retried) instead of the worker.
func (a *Ingest) signalAll(ctx context.Context, byBallot [][]store.UnsignaledEvent, done func()) (int, error) {
	// The first failure stops new signals, never one in flight: a signal canceled halfway may
	// have reached Temporal without its caller knowing, and would be sent again by the retry.
	stopCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	work := make(chan []store.UnsignaledEvent)
	var mu sync.Mutex
	var firstErr error
	signaled := 0
	var wg sync.WaitGroup
	for range min(ingestConcurrency, len(byBallot)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for events := range work {
				for _, e := range events {
					if stopCtx.Err() != nil {
						break
					}
					err := a.signalOne(ctx, e)
					mu.Lock()
					if err != nil && firstErr == nil {
						firstErr = err
						cancel()
					}
					if err == nil {
						signaled++
					}
					mu.Unlock()
					if err != nil {
						break
					}
					done()
				}
			}
		}()
	}
feed:
	for _, events := range byBallot {
		select {
		case work <- events:
		case <-stopCtx.Done():
			break feed
		}
	}
	close(work)
	wg.Wait()
	if firstErr == nil && stopCtx.Err() != nil {
		firstErr = stopCtx.Err()
	}
	return signaled, firstErr
}

// signalOne signals one event, turning a panic into an error: a goroutine of a page must
// never take the worker down with it.
func (a *Ingest) signalOne(ctx context.Context, e store.UnsignaledEvent) (err error) {
	defer func() {
		if r := recover(); r != nil {
			// The panic's type only, never its value, which could hold an event's data.
			a.logger().Error("panic signaling an imported event", "event_ref", e.EventRef,
				"panic", fmt.Sprintf("%T", r), "stack", string(debug.Stack()))
			err = fmt.Errorf("signal event %d: internal error (panic)", e.EventRef)
		}
	}()
	return a.Intake.SignalStored(ctx, e)
}

// DiscardImportInput names a held import an operator rejected, and the operator.
type DiscardImportInput struct {
	ImportID  int64
	DecidedBy string
}

// DiscardImport marks every unsignaled event of a rejected import so that nothing ever
// signals it, and the import rejected. It returns how many events it discarded.
func (a *Ingest) DiscardImport(ctx context.Context, in DiscardImportInput) (int, error) {
	n, err := a.Store.EventImportDiscard(ctx, in.ImportID, in.DecidedBy)
	if err != nil {
		return 0, err
	}
	a.logger().Info("import rejected by an operator; its events will not be signaled",
		"import_id", in.ImportID, "discarded", n, "by", in.DecidedBy)
	return n, nil
}

func (a *Ingest) rate() float64 {
	if a.Rate > 0 {
		return a.Rate
	}
	return DefaultIngestRate
}

// pageSize keeps about one page a second at low rates, so the pace is smooth.
func (a *Ingest) pageSize() int {
	return max(1, min(DefaultIngestPage, int(a.rate())))
}

func (a *Ingest) holdShare() float64 {
	if a.HoldShare > 0 {
		return a.HoldShare
	}
	return DefaultHoldShare
}

func (a *Ingest) holdMinEvents() int {
	if a.HoldMinEvents > 0 {
		return a.HoldMinEvents
	}
	return DefaultHoldMinEvents
}

func (a *Ingest) logger() *slog.Logger {
	if a.Logger != nil {
		return a.Logger
	}
	return slog.Default()
}
