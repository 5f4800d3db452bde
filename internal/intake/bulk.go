package intake

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/ballotflow/ballotflow/internal/ballot"
	"github.com/ballotflow/ballotflow/internal/fileimport"
	"github.com/ballotflow/ballotflow/internal/metrics"
	"github.com/ballotflow/ballotflow/internal/store"
	"github.com/ballotflow/ballotflow/internal/workflowclient"
)

// Bulk files of ballot events: a county's mail-out day, millions of rows. The file is
// streamed, each row validated exactly as a single post is, stored in batches with COPY
// (duplicates counted, bad rows rejected by line, never echoing a row's data), and then
// fanned out by an IngestEvents workflow at the worker's configured rate, unless it looks
// like the wrong file and waits for an operator.

// EventColumns are the columns of an events file: the API's event fields.
var EventColumns = []string{"event_id", "election_id", "voter_id", "ballot_id", "status", "occurred_at", "reason", "cure_deadline",
	"outbound_imb", "return_imb", "corrects"}

// eventColumns are EventColumns as the file reader takes them: all but reason,
// cure_deadline, the envelope barcodes and corrects are required in a CSV header.
var eventColumns = fileimport.Columns(EventColumns, 6)

// Every listed rejection of an import is kept for GET /v1/imports/{id}: the store must keep
// at least as many as a Result lists (this constant fails to compile otherwise).
const _ = uint(store.MaxImportRejectionsKept - fileimport.MaxRejectionsListed)

// ImportOptions says how to load an events file.
type ImportOptions struct {
	Format fileimport.Format
	// Actor names who loads it in the audit log: "key:<prefix>" or "cli:<user>".
	Actor string
	// BatchSize is the number of rows per transaction; fileimport.DefaultBatchSize when 0.
	BatchSize int
	// Progress, when set, is called after each batch with the totals so far.
	Progress func(ImportResult)
}

// ImportResult is what loading an events file did. Rows = Accepted + Duplicates + Rejected.
type ImportResult struct {
	ImportID   int64  `json:"import_id"`
	Status     string `json:"status"`
	WorkflowID string `json:"workflow_id"`
	fileimport.Result
	Accepted   int `json:"accepted"`
	Duplicates int `json:"duplicates"`
}

// ImportEvents loads a file of ballot events for caller (a county or state key, or the
// command line acting as one) and starts its ingestion workflow. A file that cannot be read
// at all (no header, an unknown column) is a *fileimport.FileError and nothing is stored. An
// error part way (the body broke off, the database went away) comes back with the Result of
// the batches stored before it; the import is then "failed", and sending the same file again
// stores the rest and signals every event once.
func (s *Service) ImportEvents(ctx context.Context, caller Caller, r io.Reader, opts ImportOptions) (res ImportResult, err error) {
	records, err := fileimport.NewRecords(r, opts.Format, eventColumns)
	if err != nil {
		return ImportResult{}, err
	}
	scope := store.EventScope{State: caller.State, KeyID: caller.KeyID}
	if caller.Role == store.RoleCounty {
		scope.County = caller.County
	}
	if res.ImportID, err = s.Store.EventImportCreate(ctx, scope, opts.Actor); err != nil {
		return ImportResult{}, err
	}
	res.Status = store.ImportLoading
	res.WorkflowID = ballot.IngestWorkflowID(res.ImportID)
	defer s.holdLoadLease(ctx, res.ImportID)()
	res.Rejections = []fileimport.Rejection{}
	defer func() {
		s.auditImport(ctx, opts.Actor, res, err == nil)
		metrics.BulkRows.WithLabelValues(Accepted).Add(float64(res.Accepted))
		metrics.BulkRows.WithLabelValues(Duplicate).Add(float64(res.Duplicates))
		metrics.BulkRows.WithLabelValues(Rejected).Add(float64(res.Rejected))
	}()

	if err := s.importRows(ctx, caller, scope, records, opts, &res); err != nil {
		reason := "" // the upload broke off
		var panicked *fileimport.ReadPanicError
		if errors.As(err, &panicked) {
			reason = store.FailedUnreadable(panicked.Line)
		}
		if ferr := s.Store.EventImportFail(context.WithoutCancel(ctx), res.ImportID, reason); ferr != nil {
			s.logger().Error("mark import failed", "import_id", res.ImportID, "error", ferr)
		}
		res.Status = store.ImportFailed
		return res, err
	}
	if err := s.Store.EventImportFinishLoad(ctx, res.ImportID); err != nil {
		return res, err
	}
	res.Status = store.ImportChecking
	if s.Temporal == nil {
		return res, nil // the worker's sweep starts it
	}
	if err := s.StartIngest(ctx, res.ImportID); err != nil {
		// Stored and marked checking: the worker's sweep starts the workflow within a minute or two.
		s.logger().Warn("start ingestion workflow; the worker will retry", "import_id", res.ImportID, "error", err)
	}
	return res, nil
}

// importRows reads records to the end, validating each row as a single post is and storing
// the valid ones in batches; the listed rejections are kept with the import.
func (s *Service) importRows(ctx context.Context, caller Caller, scope store.EventScope, records *fileimport.Records,
	opts ImportOptions, res *ImportResult) error {
	var batchStart time.Time // an upload may take a while: "the future" is judged per batch
	steps := fileimport.Steps[store.StagedEvent]{
		BatchSize:      opts.BatchSize,
		StartBatch:     func() { batchStart = s.now() },
		UnreadableCode: "invalid_row",
		Parse: func(line int, values []string) (store.StagedEvent, *fileimport.Rejection) {
			ev, verr := Validate(eventOf(values), batchStart)
			if verr != nil {
				return store.StagedEvent{}, &fileimport.Rejection{Line: line, Field: verr.Field, Code: verr.Code, Reason: verr.Message}
			}
			return store.StagedEvent{Line: line, EventID: ev.EventID, ElectionID: ev.ElectionID,
				VoterID: values[2], BallotID: ev.BallotID, Status: ev.Status, OccurredAt: ev.OccurredAt,
				Reason: ev.Reason, CureDeadline: ev.CureDeadline, OutboundIMb: ev.OutboundIMb, ReturnIMb: ev.ReturnIMb,
				Corrects: ev.Corrects}, nil
		},
		Store: func(ctx context.Context, b fileimport.Batch[store.StagedEvent]) ([]fileimport.Rejection, error) {
			counts, err := s.Store.EventImportLoadBatch(ctx, res.ImportID, scope, store.EventBatch{
				Rows: b.Rows, Events: b.Valid, Rejected: len(b.Rejected)})
			if err != nil {
				return nil, err
			}
			res.Accepted += counts.Accepted
			res.Duplicates += counts.Duplicates
			refused := make([]fileimport.Rejection, len(counts.Refused))
			for i, r := range counts.Refused {
				refused[i] = refusal(r, caller)
			}
			return refused, nil
		},
		Listed: func(ctx context.Context, listed []fileimport.Rejection) error {
			kept := make([]store.ImportRejection, len(listed))
			for i, r := range listed {
				kept[i] = store.ImportRejection{Line: r.Line, Field: r.Field, Code: r.Code, Reason: r.Reason}
			}
			return s.Store.ImportRejectionCreate(ctx, res.ImportID, kept)
		},
	}
	if opts.Progress != nil {
		steps.Progress = func() { opts.Progress(*res) }
	}
	return fileimport.Run(ctx, records, &res.Result, steps)
}

// refusal words a row the database refused as the single-event API would, without the
// row's data.
func refusal(r store.EventRefusal, caller Caller) fileimport.Rejection {
	var e *Error
	switch r.Code {
	case store.RefusedUnknownElection:
		e = &Error{Code: "unknown_election", Field: "election_id",
			Message: "there is no election with this election_id in " + caller.State}
	case store.RefusedCanvassClosed:
		e = &Error{Code: "canvass_closed", Field: "election_id",
			Message: "the canvass of this election is over; ballot events are no longer accepted for it"}
	case store.RefusedUnknownVoter:
		e = errUnknownVoter(caller.State)
	case store.RefusedOtherCounty:
		e = errOtherCounty(caller.County)
	case store.RefusedEventIDReused:
		e = errEventReused()
		if r.FirstLine > 0 {
			e.Message = "line " + strconv.Itoa(r.FirstLine) + " has this event_id with different content; event ids must be unique per county"
		}
	case store.RefusedBallotOtherVoter:
		e = errBallotOfOtherVoter()
	case store.RefusedOutboundIMbInUse:
		e = errIMbInUse(store.MailOutbound)
	case store.RefusedReturnIMbInUse:
		e = errIMbInUse(store.MailReturn)
	case store.RefusedCorrectsUnknown:
		e = errCorrectsUnknown()
		e.Message += " (an event earlier in the same batch of the file is not recorded yet: send the correction after it)"
	default:
		e = &Error{Code: r.Code, Message: "the row was refused (" + r.Code + ")"}
	}
	return fileimport.Rejection{Line: r.Line, Field: e.Field, Code: e.Code, Reason: e.Message}
}

// eventOf is a row's values (in EventColumns order) as an Event.
func eventOf(v []string) Event {
	return Event{EventID: v[0], ElectionID: v[1], VoterID: v[2], BallotID: v[3], Status: v[4], OccurredAt: v[5],
		Reason: v[6], CureDeadline: v[7], OutboundIMb: v[8], ReturnIMb: v[9], Corrects: v[10]}
}

// auditImport records an import in the audit log: its id and counts, never rows.
func (s *Service) auditImport(ctx context.Context, actor string, res ImportResult, complete bool) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	err := s.Store.Audit(ctx, actor, "ballot_events.import", fmt.Sprintf("import:%d", res.ImportID), map[string]any{
		"complete": complete, "rows": res.Rows, "accepted": res.Accepted, "duplicates": res.Duplicates,
		"rejected": res.Rejected, "status": res.Status,
	})
	if err != nil {
		s.logger().Error("audit event import", "import_id", res.ImportID, "error", err)
	}
}

// StartIngest starts the ingestion workflow of a loaded import. Starting it again is
// harmless: a running or finished workflow of the import is left as it is.
func (s *Service) StartIngest(ctx context.Context, importID int64) error {
	im, err := s.Store.EventImportGetByID(ctx, importID)
	if err != nil {
		return err
	}
	return workflowclient.New(s.Temporal).StartIngest(ctx, importID, im.State, im.County)
}

// StartPendingImports starts the workflows of imports loaded more than minAge ago that no
// workflow has taken up (the process that loaded them could not reach Temporal). It
// returns how many it started.
func (s *Service) StartPendingImports(ctx context.Context, minAge time.Duration, limit int) (int, error) {
	ids, err := s.Store.EventImportListPending(ctx, s.now().Add(-minAge), limit)
	if err != nil {
		return 0, err
	}
	// One import that cannot be started must not hold up the others: each is tried, and
	// the errors are returned together.
	started := 0
	var errs []error
	for _, id := range ids {
		if err := s.StartIngest(ctx, id); err != nil {
			errs = append(errs, fmt.Errorf("import %d: %w", id, err))
			continue
		}
		started++
	}
	return started, errors.Join(errs...)
}
