package fileimport

import (
	"context"
	"errors"
	"io"
)

// Batch is a batch of a file's rows as read: how many, the last line read, the rows that
// are valid (as the kind parsed them) and the rejections of the others.
type Batch[T any] struct {
	Rows     int
	LastLine int
	Valid    []T
	Rejected []Rejection
}

// Steps are what a kind of file brings to Run.
type Steps[T any] struct {
	// BatchSize is the number of rows per batch; DefaultBatchSize when 0.
	BatchSize int
	// StartBatch, when set, is called before the first row of each batch is parsed, in the
	// reading goroutine: an upload may take hours, so a kind that judges values against the
	// clock (ballot events in the future) reads it per batch.
	StartBatch func()
	// UnreadableCode is the code of a rejection for a row that could not be read as a row
	// (not valid CSV or JSON, too long, not text), for a kind whose rejections carry codes.
	UnreadableCode string
	// Parse validates one row's values, in the order of the file's columns. It runs in the
	// reading goroutine: it may keep state of its own, never share it with Store.
	Parse func(line int, values []string) (T, *Rejection)
	// Store stores a batch (one transaction) and returns the rejections of rows the
	// database refused. An error ends the import.
	Store func(ctx context.Context, b Batch[T]) (refused []Rejection, err error)
	// Listed, when set, gets the rejections each batch added to the Result's list.
	Listed func(ctx context.Context, listed []Rejection) error
	// Progress, when set, is called after each batch, once res counts it.
	Progress func()
}

// Run reads records to their end in batches and stores each with steps.Store, counting
// into res. Reading and validating the next batch overlaps storing this one. An error part
// way (the reader failed, the database went away, a panic while reading as a
// *ReadPanicError) comes back with res counting the batches stored before it and LastLine
// where reading stopped.
func Run[T any](ctx context.Context, records *Records, res *Result, steps Steps[T]) error {
	size := steps.BatchSize
	if size <= 0 {
		size = DefaultBatchSize
	}
	if res.Rejections == nil {
		res.Rejections = []Rejection{} // an answer lists none as [], not null
	}
	readCtx, stopReading := context.WithCancel(ctx)
	defer stopReading()
	batches := make(chan readBatch[T], 1)
	go readBatches(readCtx, records, size, steps, batches)

	for b := range batches {
		if b.err != nil {
			return b.err
		}
		refused, err := steps.Store(ctx, b.Batch)
		if err != nil {
			return err
		}
		res.LastLine = b.LastLine // only now are the rows up to it stored
		res.Rows += b.Rows
		listed := res.list(append(b.Rejected, refused...))
		if steps.Listed != nil && len(listed) > 0 {
			if err := steps.Listed(ctx, listed); err != nil {
				return err
			}
		}
		if steps.Progress != nil {
			steps.Progress()
		}
	}
	// The reader also stops, closing batches, when ctx ends: that is not the end of the file,
	// and an import cut short must not be reported complete.
	return ctx.Err()
}

// readBatch is a batch as the reading goroutine sends it, or the error that ended reading.
type readBatch[T any] struct {
	Batch[T]
	err error // reading failed; the last one sent
}

// readBatches reads and validates records in batches of size rows and sends them on out,
// which it closes at the end of the file or after a batch with an error. It stops when ctx
// is done. A panic while reading or validating becomes the error of the last batch: nothing
// above this goroutine would recover it (net/http and Gin recover a handler's goroutine,
// not the ones it starts), and one bad row would take the whole process down.
func readBatches[T any](ctx context.Context, records *Records, size int, steps Steps[T], out chan<- readBatch[T]) {
	defer close(out)
	send := func(b readBatch[T]) bool {
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
			send(readBatch[T]{err: NewReadPanicError(v, lastLine)})
		}
	}()
	newBatch := func() readBatch[T] {
		if steps.StartBatch != nil {
			steps.StartBatch()
		}
		return readBatch[T]{Batch: Batch[T]{Valid: make([]T, 0, size)}}
	}
	b := newBatch()
	for {
		rec, err := records.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			send(readBatch[T]{err: err})
			return
		}
		b.Rows++
		b.LastLine = rec.Line
		if rec.Bad != nil {
			bad := *rec.Bad
			bad.Code = steps.UnreadableCode
			b.Rejected = append(b.Rejected, bad)
		} else if row, bad := steps.Parse(rec.Line, rec.Values); bad != nil {
			b.Rejected = append(b.Rejected, *bad)
		} else {
			b.Valid = append(b.Valid, row)
		}
		lastLine = rec.Line
		if b.Rows == size {
			if !send(b) {
				return
			}
			b = newBatch()
		}
	}
	if b.Rows > 0 {
		send(b)
	}
}
