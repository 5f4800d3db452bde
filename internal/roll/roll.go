// Package roll loads what a state's election office gives ballotflow: its voter roll and the
// subscriptions voters made in a previous system (CSV with a header row, or NDJSON), and the
// jurisdictions and elections they refer to. Files are imported with fileimport, which reads
// them as streams in batches, so a roll of millions of voters never sits in memory; roll
// brings their columns, the validation of each row and the loading of each batch. A bad row
// is reported with its line, the field at fault and why (never with the voter's data), and
// the rest of the file still loads.
package roll

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/ballotflow/ballotflow/internal/fileimport"
	"github.com/ballotflow/ballotflow/internal/store"
)

// Options says how to load a file.
type Options struct {
	State  string // two-letter state whose roll this is
	Actor  string // who loads it, for the audit log: "key:<prefix>" or "cli:<user>"
	Format fileimport.Format
	// BatchSize is the number of rows per transaction; fileimport.DefaultBatchSize when 0.
	BatchSize int
	// Concurrent is how many batches are loaded at once, each a transaction on a connection
	// of its own besides the one the import holds; DefaultConcurrent when 0.
	Concurrent int
	// Progress, when set, is called after each batch with the totals so far.
	Progress func(Result)
	// Now is the current time, for dates of birth in the future; time.Now when nil.
	Now func() time.Time
}

// DefaultConcurrent is how many batches of a file are loaded at once unless Options says
// otherwise: PostgreSQL spends one core on a statement, and two batches in flight keep two
// busy (BenchmarkRollImport measures it) while leaving the pool's other connections to the
// portal and the API.
const DefaultConcurrent = 2

func (o Options) concurrent() int {
	if o.Concurrent > 0 {
		return o.Concurrent
	}
	return DefaultConcurrent
}

// Result is what a load did. Rows = Inserted + Updated + Unchanged + Rejected.
type Result struct {
	fileimport.Result
	Inserted  int `json:"inserted"`
	Updated   int `json:"updated"`
	Unchanged int `json:"unchanged"`
	// Voter rolls only: email subscriptions created for voters with an email, and
	// subscriptions turned off because their voter became confidential.
	Enrolled            int `json:"enrolled,omitempty"`
	ConfidentialOptOuts int `json:"confidential_opt_outs,omitempty"`
}

// FieldError is a problem with a jurisdiction or an election: the field at fault and a
// message a person can act on. (A file that cannot be loaded at all is a
// *fileimport.FileError.)
type FieldError struct {
	Field   string
	Message string
}

func (e *FieldError) Error() string { return e.Message }

// ImportVoters loads a voter roll file for opts.State. A file that cannot be loaded at all
// (no header, an unknown column, no county configured) is a *fileimport.FileError and nothing is
// loaded. An error part way (the body broke off, the database went away) comes back with
// the Result of the batches loaded before it; loading the same file again completes it.
func ImportVoters(ctx context.Context, st *store.Store, r io.Reader, opts Options) (Result, error) {
	if opts.State == "" {
		return Result{}, &fileimport.FileError{Field: "state", Message: "the state whose roll this is is required"}
	}
	js, err := st.JurisdictionList(ctx, opts.State)
	if err != nil {
		return Result{}, err
	}
	if len(js) == 0 {
		return Result{}, &fileimport.FileError{Field: "county", Message: "no county of " + opts.State +
			" is configured; create its jurisdictions (POST /v1/jurisdictions) before loading its roll"}
	}
	counties := make(map[string]bool, len(js))
	for _, j := range js {
		counties[j.County] = true
	}
	records, err := fileimport.NewRecords(r, opts.Format, voterColumns)
	if err != nil {
		return Result{}, err
	}
	parse := voterParser{state: opts.State, counties: counties, today: today(opts.Now)}
	return importRows(ctx, st, store.ImportVoters, records, opts, parse.parse, (*store.Import).ClaimVoters,
		(*store.Import).LoadVoters)
}

// ImportSubscriptions loads a file of previous subscriptions for opts.State: voters enrolled
// in another system keep their channels, addresses and contact hours. Errors are as for
// ImportVoters.
func ImportSubscriptions(ctx context.Context, st *store.Store, r io.Reader, opts Options) (Result, error) {
	if opts.State == "" {
		return Result{}, &fileimport.FileError{Field: "state", Message: "the state whose subscriptions these are is required"}
	}
	records, err := fileimport.NewRecords(r, opts.Format, subscriptionColumns)
	if err != nil {
		return Result{}, err
	}
	parse := subscriptionParser{zones: map[string]bool{}}
	return importRows(ctx, st, store.ImportSubscriptions, records, opts, parse.parse, (*store.Import).ClaimSubscriptions,
		(*store.Import).LoadSubscriptions)
}

// importRows reads records to their end, validating each row with parse, and loads the valid
// ones in batches under one store import that audits the load's counts: each batch is
// claimed with claimBatch in the order of the file, then loaded with loadBatch, up to
// opts.Concurrent batches at once.
func importRows[T any](ctx context.Context, st *store.Store, kind string, records *fileimport.Records, opts Options,
	parse func(line int, values []string) (T, *fileimport.Rejection),
	claimBatch func(*store.Import, context.Context, []T) ([]T, []store.RowRejection, error),
	loadBatch func(*store.Import, context.Context, []T) (store.BatchCounts, error),
) (res Result, err error) {
	im, err := st.ImportBegin(ctx, kind, opts.State, opts.Actor)
	if err != nil {
		return Result{}, err
	}
	complete := false
	defer func() {
		ferr := im.Finish(ctx, complete, res.auditCounts())
		if err == nil {
			err = ferr
		}
	}()
	var mu sync.Mutex // batches are loaded at once; their counts add up here
	failedRows := 0
	steps := fileimport.Steps[T]{
		BatchSize:  opts.BatchSize,
		Concurrent: opts.concurrent(),
		Parse:      parse,
		Claim: func(ctx context.Context, b fileimport.Batch[T]) (fileimport.Batch[T], []fileimport.Rejection, error) {
			if len(b.Valid) == 0 {
				return b, nil, nil
			}
			kept, repeated, err := claimBatch(im, ctx, b.Valid)
			if err != nil {
				return b, nil, err
			}
			b.Valid = kept
			return b, rejections(repeated), nil
		},
		Store: func(ctx context.Context, b fileimport.Batch[T]) ([]fileimport.Rejection, error) {
			if len(b.Valid) == 0 {
				return nil, nil
			}
			counts, err := loadBatch(im, ctx, b.Valid)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				// The roll's audit entry of a load that failed has always counted the rows
				// read, the failed batch's too; fileimport counts stored batches only.
				failedRows += b.Rows
				return nil, err
			}
			res.Inserted += counts.Inserted
			res.Updated += counts.Updated
			res.Unchanged += counts.Unchanged
			res.Enrolled += counts.Enrolled
			res.ConfidentialOptOuts += counts.ConfidentialOptOuts
			return rejections(counts.Rejected), nil
		},
	}
	if opts.Progress != nil {
		steps.Progress = func() {
			mu.Lock()
			so := res
			mu.Unlock()
			opts.Progress(so)
		}
	}
	err = fileimport.Run(ctx, records, &res.Result, steps)
	res.Rows += failedRows // Run has returned: no batch is loading any more
	if err != nil {
		if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
			// Canceled mid-statement, pgx may report the closed connection rather than the
			// cancellation: say why it stopped, so the caller can tell a hang-up from a failure.
			err = fmt.Errorf("%w: %w", cerr, err)
		}
		return res, err
	}
	complete = true
	return res, nil
}

// rejections are the store's refusals as an import reports them.
func rejections(rs []store.RowRejection) []fileimport.Rejection {
	out := make([]fileimport.Rejection, len(rs))
	for i, r := range rs {
		out[i] = fileimport.Rejection{Line: r.Line, Field: r.Field, Reason: r.Reason}
	}
	return out
}

// auditCounts is what the audit log keeps of a load: counts, never rows.
func (res Result) auditCounts() map[string]any {
	return map[string]any{"rows": res.Rows, "inserted": res.Inserted, "updated": res.Updated,
		"unchanged": res.Unchanged, "rejected": res.Rejected, "enrolled": res.Enrolled,
		"confidential_opt_outs": res.ConfidentialOptOuts}
}

func today(now func() time.Time) time.Time {
	t := time.Now()
	if now != nil {
		t = now()
	}
	y, m, d := t.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}
