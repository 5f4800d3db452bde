package intake

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"time"

	"github.com/ballotflow/ballotflow/internal/ballot"
	"github.com/ballotflow/ballotflow/internal/metrics"
	"github.com/ballotflow/ballotflow/internal/roll"
	"github.com/ballotflow/ballotflow/internal/store"
	"github.com/ballotflow/ballotflow/internal/workflowclient"
)

// Bulk files of ballot events: a county's mail-out day, millions of rows. The file is
// streamed, each row validated exactly as a single post is, stored in batches with COPY
// (duplicates counted, bad rows rejected by line, never echoing a row's data), and then
// fanned out by an IngestEvents workflow at the worker's configured rate, unless it looks
// like the wrong file and waits for an operator.

// EventColumns are the columns of an events file: the API's event fields.
var EventColumns = []string{"event_id", "election_id", "voter_id", "ballot_id", "status", "occurred_at", "reason", "cure_deadline"}

var requiredEventColumns = EventColumns[:6]

// Bulk defaults.
const (
	DefaultImportBatch = 10_000
	// MaxRejectionsListed is how many rejections an ImportResult lists; all are counted.
	MaxRejectionsListed = store.MaxImportRejectionsKept
)

// ImportOptions says how to load an events file.
type ImportOptions struct {
	Format roll.Format
	// Actor names who loads it in the audit log: "key:<prefix>" or "cli:<user>".
	Actor string
	// BatchSize is the number of rows per transaction; DefaultImportBatch when 0.
	BatchSize int
	// Progress, when set, is called after each batch with the totals so far.
	Progress func(ImportResult)
}

// ImportResult is what loading an events file did. Rows = Accepted + Duplicates + Rejected.
type ImportResult struct {
	ImportID   int64  `json:"import_id"`
	Status     string `json:"status"`
	WorkflowID string `json:"workflow_id"`
	Rows       int    `json:"rows"`
	Accepted   int    `json:"accepted"`
	Duplicates int    `json:"duplicates"`
	Rejected   int    `json:"rejected"`
	// The first MaxRejectionsListed rejections, by line.
	Rejections          []Rejection `json:"rejections"`
	RejectionsTruncated bool        `json:"rejections_truncated,omitempty"`
	// LastLine is the last line read: where an interrupted load stopped.
	LastLine int `json:"-"`
}

// Rejection is a row of a file that was not stored: its line (the header is line 1 of a CSV
// file), the field at fault, a code and why. It never repeats the row's data.
type Rejection struct {
	Line   int    `json:"line"`
	Field  string `json:"field,omitempty"`
	Code   string `json:"code"`
	Reason string `json:"reason"`
}

// ImportEvents loads a file of ballot events for caller (a county or state key, or the
// command line acting as one) and starts its ingestion workflow. A file that cannot be read
// at all (no header, an unknown column) is a *roll.FieldError and nothing is stored. An
// error part way (the body broke off, the database went away) comes back with the Result of
// the batches stored before it; the import is then "failed", and sending the same file again
// stores the rest and signals every event once.
func (s *Service) ImportEvents(ctx context.Context, caller Caller, r io.Reader, opts ImportOptions) (res ImportResult, err error) {
	records, err := roll.NewRecords(r, opts.Format, EventColumns, requiredEventColumns)
	if err != nil {
		return ImportResult{}, err
	}
	scope := store.EventScope{State: caller.State, KeyID: caller.KeyID}
	if caller.Role == store.RoleCounty {
		scope.County = caller.County
	}
	if res.ImportID, err = s.Store.CreateEventImport(ctx, scope, opts.Actor); err != nil {
		return ImportResult{}, err
	}
	res.Status = store.ImportLoading
	res.WorkflowID = ballot.IngestWorkflowID(res.ImportID)
	defer s.holdLoadLease(ctx, res.ImportID)()
	res.Rejections = []Rejection{}
	defer func() {
		s.auditImport(ctx, opts.Actor, res, err == nil)
		metrics.BulkRows.WithLabelValues(Accepted).Add(float64(res.Accepted))
		metrics.BulkRows.WithLabelValues(Duplicate).Add(float64(res.Duplicates))
		metrics.BulkRows.WithLabelValues(Rejected).Add(float64(res.Rejected))
	}()

	if err := s.loadEvents(ctx, caller, scope, records, opts, &res); err != nil {
		if ferr := s.Store.FailEventImport(context.WithoutCancel(ctx), res.ImportID); ferr != nil {
			s.logger().Error("mark import failed", "import_id", res.ImportID, "error", ferr)
		}
		res.Status = store.ImportFailed
		return res, err
	}
	if err := s.Store.FinishEventLoad(ctx, res.ImportID); err != nil {
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

// loadEvents reads records to the end, validating each row and storing the valid ones in
// batches. Reading and validating the next batch overlaps storing this one.
func (s *Service) loadEvents(ctx context.Context, caller Caller, scope store.EventScope, records *roll.Records,
	opts ImportOptions, res *ImportResult) error {
	size := opts.BatchSize
	if size <= 0 {
		size = DefaultImportBatch
	}
	readCtx, stopReading := context.WithCancel(ctx)
	defer stopReading()
	batches := make(chan eventBatch, 1)
	go readEventBatches(readCtx, records, size, s.now, batches)

	for b := range batches {
		if b.err != nil {
			return b.err
		}
		res.LastLine = b.lastLine
		counts, err := s.Store.LoadEventBatch(ctx, res.ImportID, scope, store.EventBatch{
			Rows: b.rows, Events: b.valid, Rejected: len(b.rejected)})
		if err != nil {
			return err
		}
		res.Rows += b.rows
		res.Accepted += counts.Accepted
		res.Duplicates += counts.Duplicates
		rejected := b.rejected
		for _, r := range counts.Refused {
			rejected = append(rejected, refusal(r, caller))
		}
		if err := s.reject(ctx, res, rejected); err != nil {
			return err
		}
		if opts.Progress != nil {
			opts.Progress(*res)
		}
	}
	return nil
}

// reject counts a batch's rejections, lists them by line up to MaxRejectionsListed, and keeps
// them with the import for GET /v1/imports/{id}.
func (s *Service) reject(ctx context.Context, res *ImportResult, rs []Rejection) error {
	res.Rejected += len(rs)
	slices.SortStableFunc(rs, func(a, b Rejection) int { return a.Line - b.Line })
	room := MaxRejectionsListed - len(res.Rejections)
	if len(rs) > room {
		res.RejectionsTruncated = true
		rs = rs[:room]
	}
	if len(rs) == 0 {
		return nil
	}
	res.Rejections = append(res.Rejections, rs...)
	kept := make([]store.ImportRejection, len(rs))
	for i, r := range rs {
		kept[i] = store.ImportRejection{Line: r.Line, Field: r.Field, Code: r.Code, Reason: r.Reason}
	}
	return s.Store.SaveImportRejections(ctx, res.ImportID, kept)
}

// refusal words a row the database refused as the single-event API would, without the
// row's data.
func refusal(r store.EventRefusal, caller Caller) Rejection {
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
	default:
		e = &Error{Code: r.Code, Message: "the row was refused (" + r.Code + ")"}
	}
	return Rejection{Line: r.Line, Field: e.Field, Code: e.Code, Reason: e.Message}
}

// eventBatch is a batch of rows as read: the valid ones, and the rejections of the others.
type eventBatch struct {
	rows     int
	lastLine int
	valid    []store.StagedEvent
	rejected []Rejection
	err      error // reading failed; the last batch
}

// readEventBatches reads and validates records in batches of size rows and sends them on
// out, which it closes at the end of the file or after a batch with an error. A panic while
// reading becomes the error of the last batch (a *roll.ReadPanicError): nothing above this
// goroutine would recover it, and the whole process would go down with one bad row.
func readEventBatches(ctx context.Context, records *roll.Records, size int, now func() time.Time, out chan<- eventBatch) {
	defer close(out)
	send := func(b eventBatch) bool {
		select {
		case out <- b:
			return true
		case <-ctx.Done():
			return false
		}
	}
	lastLine := 0 // the last line read whole
	defer func() {
		if v := recover(); v != nil {
			send(eventBatch{err: roll.NewReadPanicError(v, lastLine)})
		}
	}()
	b := eventBatch{valid: make([]store.StagedEvent, 0, size)}
	batchStart := now() // an upload may take a while: "the future" is judged per batch
	for {
		rec, err := records.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			send(eventBatch{err: err})
			return
		}
		b.rows++
		b.lastLine = rec.Line
		switch {
		case rec.Bad != nil:
			b.rejected = append(b.rejected, Rejection{Line: rec.Line, Field: rec.Bad.Field, Code: "invalid_row", Reason: rec.Bad.Reason})
		default:
			ev, verr := Validate(eventOf(rec.Values), batchStart)
			if verr != nil {
				b.rejected = append(b.rejected, Rejection{Line: rec.Line, Field: verr.Field, Code: verr.Code, Reason: verr.Message})
				break
			}
			b.valid = append(b.valid, store.StagedEvent{Line: rec.Line, EventID: ev.EventID, ElectionID: ev.ElectionID,
				VoterID: rec.Values[2], BallotID: ev.BallotID, Status: ev.Status, OccurredAt: ev.OccurredAt,
				Reason: ev.Reason, CureDeadline: ev.CureDeadline})
		}
		lastLine = rec.Line
		if b.rows == size {
			if !send(b) {
				return
			}
			b = eventBatch{valid: make([]store.StagedEvent, 0, size)}
			batchStart = now()
		}
	}
	if b.rows > 0 {
		send(b)
	}
}

// eventOf is a row's values (in EventColumns order) as an Event.
func eventOf(v []string) Event {
	return Event{EventID: v[0], ElectionID: v[1], VoterID: v[2], BallotID: v[3], Status: v[4], OccurredAt: v[5],
		Reason: v[6], CureDeadline: v[7]}
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
	im, err := s.Store.EventImportByID(ctx, importID)
	if err != nil {
		return err
	}
	return workflowclient.New(s.Temporal).StartIngest(ctx, importID, im.State, im.County)
}

// StartPendingImports starts the workflows of imports loaded more than minAge ago that no
// workflow has taken up (the process that loaded them could not reach Temporal). It
// returns how many it started.
func (s *Service) StartPendingImports(ctx context.Context, minAge time.Duration, limit int) (int, error) {
	ids, err := s.Store.PendingEventImports(ctx, s.now().Add(-minAge), limit)
	if err != nil {
		return 0, err
	}
	for i, id := range ids {
		if err := s.StartIngest(ctx, id); err != nil {
			return i, err
		}
	}
	return len(ids), nil
}
