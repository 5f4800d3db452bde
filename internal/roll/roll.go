// Package roll loads what a state's election office gives ballotflow: its voter roll and the
// subscriptions voters made in a previous system (CSV with a header row, or NDJSON), and the
// jurisdictions and elections they refer to. Files are streamed: rows are read, validated
// and loaded in batches, so a roll of millions of voters never sits in memory. A bad row is
// reported with its line, the field at fault and why (never with the voter's data), and the
// rest of the file still loads.
package roll

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/ballotflow/ballotflow/internal/store"
)

// Format is a file format.
type Format string

// Formats.
const (
	CSV    Format = "csv"    // RFC 4180, with a header row naming the columns
	NDJSON Format = "ndjson" // one JSON object per line
)

// ParseFormat reads a format name ("csv" or "ndjson").
func ParseFormat(name string) (Format, error) {
	switch f := Format(strings.ToLower(name)); f {
	case CSV, NDJSON:
		return f, nil
	}
	return "", fmt.Errorf("format %q: want csv or ndjson", name)
}

// Defaults.
const (
	DefaultBatchSize = 10_000
	// MaxRejectionsListed is how many rejections a Result lists; all are counted.
	MaxRejectionsListed = 1000
)

// Options says how to load a file.
type Options struct {
	State  string // two-letter state whose roll this is
	Actor  string // who loads it, for the audit log: "key:<prefix>" or "cli:<user>"
	Format Format
	// BatchSize is the number of rows per transaction; DefaultBatchSize when 0.
	BatchSize int
	// Progress, when set, is called after each batch with the totals so far.
	Progress func(Result)
	// Now is the current time, for dates of birth in the future; time.Now when nil.
	Now func() time.Time
}

// Result is what a load did. Rows = Inserted + Updated + Unchanged + Rejected.
type Result struct {
	Rows      int `json:"rows"`
	Inserted  int `json:"inserted"`
	Updated   int `json:"updated"`
	Unchanged int `json:"unchanged"`
	Rejected  int `json:"rejected"`
	// Voter rolls only: email subscriptions created for voters with an email, and
	// subscriptions turned off because their voter became confidential.
	Enrolled            int `json:"enrolled,omitempty"`
	ConfidentialOptOuts int `json:"confidential_opt_outs,omitempty"`
	// The first MaxRejectionsListed rejections, by line.
	Rejections          []Rejection `json:"rejections"`
	RejectionsTruncated bool        `json:"rejections_truncated,omitempty"`
	// LastLine is the last line read: where an interrupted load stopped.
	LastLine int `json:"-"`
}

// Rejection is a row that was not loaded: its line (the header is line 1 of a CSV file), the
// field at fault when there is one, and why. It never repeats the row's data.
type Rejection struct {
	Line   int    `json:"line"`
	Field  string `json:"field,omitempty"`
	Reason string `json:"reason"`
}

// FieldError is a problem with a whole file (a missing or unknown column) or with a
// jurisdiction or election: the field at fault and a message a person can act on.
type FieldError struct {
	Field   string
	Message string
}

func (e *FieldError) Error() string { return e.Message }

// ImportVoters loads a voter roll file for opts.State. A file that cannot be loaded at all
// (no header, an unknown column, no county configured) is a *FieldError and nothing is
// loaded. An error part way (the body broke off, the database went away) comes back with
// the Result of the batches loaded before it; loading the same file again completes it.
func ImportVoters(ctx context.Context, st *store.Store, r io.Reader, opts Options) (Result, error) {
	if opts.State == "" {
		return Result{}, &FieldError{Field: "state", Message: "the state whose roll this is is required"}
	}
	js, err := st.Jurisdictions(ctx, opts.State)
	if err != nil {
		return Result{}, err
	}
	if len(js) == 0 {
		return Result{}, &FieldError{Field: "county", Message: "no county of " + opts.State +
			" is configured; create its jurisdictions (POST /v1/jurisdictions) before loading its roll"}
	}
	counties := make(map[string]bool, len(js))
	for _, j := range js {
		counties[j.County] = true
	}
	src, err := newSource(r, opts.Format, voterColumns)
	if err != nil {
		return Result{}, err
	}
	parse := voterParser{state: opts.State, counties: counties, today: today(opts.Now)}
	return load(ctx, st, store.ImportVoters, src, opts, parse.parse,
		func(ctx context.Context, im *store.Import, rows []store.RollVoter) (store.BatchCounts, error) {
			return im.LoadVoters(ctx, rows)
		})
}

// ImportSubscriptions loads a file of previous subscriptions for opts.State: voters enrolled
// in another system keep their channels, addresses and contact hours. Errors are as for
// ImportVoters.
func ImportSubscriptions(ctx context.Context, st *store.Store, r io.Reader, opts Options) (Result, error) {
	if opts.State == "" {
		return Result{}, &FieldError{Field: "state", Message: "the state whose subscriptions these are is required"}
	}
	src, err := newSource(r, opts.Format, subscriptionColumns)
	if err != nil {
		return Result{}, err
	}
	parse := subscriptionParser{zones: map[string]bool{}}
	return load(ctx, st, store.ImportSubscriptions, src, opts, parse.parse,
		func(ctx context.Context, im *store.Import, rows []store.RollSubscription) (store.BatchCounts, error) {
			return im.LoadSubscriptions(ctx, rows)
		})
}

// load reads src to its end, validating each row with parse and loading the valid ones in
// batches with loadBatch. Reading and validating the next batch overlaps loading this one.
func load[T any](ctx context.Context, st *store.Store, kind string, src source, opts Options,
	parse func(line int, values []string) (T, *Rejection),
	loadBatch func(context.Context, *store.Import, []T) (store.BatchCounts, error),
) (res Result, err error) {
	size := opts.BatchSize
	if size <= 0 {
		size = DefaultBatchSize
	}
	im, err := st.BeginImport(ctx, kind, opts.State, opts.Actor)
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

	readCtx, stopReading := context.WithCancel(ctx)
	defer stopReading()
	chunks := make(chan chunk[T], 1)
	go readChunks(readCtx, src, size, parse, chunks)

	res.Rejections = []Rejection{}
	for c := range chunks {
		if c.err != nil {
			return res, c.err
		}
		res.Rows += c.rows
		res.LastLine = c.lastLine
		if len(c.valid) > 0 {
			counts, err := loadBatch(ctx, im, c.valid)
			if err != nil {
				return res, err
			}
			res.Inserted += counts.Inserted
			res.Updated += counts.Updated
			res.Unchanged += counts.Unchanged
			res.Enrolled += counts.Enrolled
			res.ConfidentialOptOuts += counts.ConfidentialOptOuts
			for _, r := range counts.Rejected {
				c.rejected = append(c.rejected, Rejection{Line: r.Line, Field: r.Field, Reason: r.Reason})
			}
		}
		res.reject(c.rejected)
		if opts.Progress != nil {
			opts.Progress(res)
		}
	}
	complete = true
	return res, nil
}

// chunk is a batch of rows as read: the valid ones, and the rejections of the others.
type chunk[T any] struct {
	rows     int // rows read
	lastLine int
	valid    []T
	rejected []Rejection
	err      error // reading failed; the last chunk
}

// readChunks reads and validates src in chunks of size rows and sends them on out, which it
// closes at the end of src or after a chunk with an error. It stops when ctx is done. A
// panic while reading becomes the error of the last chunk: nothing above this goroutine
// would recover it.
func readChunks[T any](ctx context.Context, src source, size int, parse func(int, []string) (T, *Rejection),
	out chan<- chunk[T]) {
	defer close(out)
	send := func(c chunk[T]) bool {
		select {
		case out <- c:
			return true
		case <-ctx.Done():
			return false
		}
	}
	c := chunk[T]{valid: make([]T, 0, size)}
	lastLine := 0
	defer func() {
		if v := recover(); v != nil {
			send(chunk[T]{err: NewReadPanicError(v, lastLine)})
		}
	}()
	for {
		rec, err := src.next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			send(chunk[T]{err: err})
			return
		}
		c.rows++
		c.lastLine = rec.line
		if rec.bad != nil {
			c.rejected = append(c.rejected, *rec.bad)
		} else if row, bad := parse(rec.line, rec.values); bad != nil {
			c.rejected = append(c.rejected, *bad)
		} else {
			c.valid = append(c.valid, row)
		}
		lastLine = rec.line
		if c.rows == size {
			if !send(c) {
				return
			}
			c = chunk[T]{valid: make([]T, 0, size)}
		}
	}
	if c.rows > 0 {
		send(c)
	}
}

// reject counts a batch's rejections and lists them, by line, up to MaxRejectionsListed.
func (res *Result) reject(rs []Rejection) {
	res.Rejected += len(rs)
	slices.SortStableFunc(rs, func(a, b Rejection) int { return a.Line - b.Line })
	for _, r := range rs {
		if len(res.Rejections) == MaxRejectionsListed {
			res.RejectionsTruncated = true
			return
		}
		res.Rejections = append(res.Rejections, r)
	}
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
