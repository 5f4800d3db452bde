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
	// Claim, when set, runs before Store, one batch at a time and in the order of the file,
	// in Run's goroutine: a kind whose batches are stored at once (Concurrent) finds there
	// the rows an earlier batch already had, so that concurrent batches never touch the
	// same rows. It returns the batch to store and the rejections of the rows it took out.
	// An error ends the import.
	Claim func(ctx context.Context, b Batch[T]) (Batch[T], []Rejection, error)
	// Store stores a batch (one transaction) and returns the rejections of rows the
	// database refused. An error ends the import.
	Store func(ctx context.Context, b Batch[T]) (refused []Rejection, err error)
	// Concurrent is how many batches Store may be storing at once (1 when 0): a database
	// spends one core on a statement, and on a server with more than one a load goes as
	// many times faster as there are batches in flight, up to its cores. Store is then
	// called from several goroutines, and batches must never touch the same rows (see
	// Claim) or two of them could wait on each other's locks. Counts, rejections and
	// Progress still follow the order of the file: a batch counts once it and every batch
	// before it are stored.
	Concurrent int
	// Listed, when set, gets the rejections each batch added to the Result's list.
	Listed func(ctx context.Context, listed []Rejection) error
	// Progress, when set, is called after each batch, once res counts it.
	Progress func()
}

// Run reads records to their end in batches and stores each with steps.Store, counting
// into res. Reading and validating the next batch overlaps storing this one, and with
// steps.Concurrent, storing several. An error part way (the reader failed, the database
// went away, a panic while reading or storing as a *ReadPanicError) comes back with res
// counting the batches stored before it and LastLine where they end; with Concurrent
// batches, one stored after the failed one may be stored without being counted, which
// importing the same file again puts right, as it does the rest.
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

	limit := max(steps.Concurrent, 1)
	var inFlight []*storing[T] // in the order of the file
	// Every batch handed to Store is waited for before Run returns: the caller releases
	// what Store uses (a connection, a lock) once Run is done.
	defer func() {
		for _, s := range inFlight {
			<-s.done
		}
	}()
	// counted waits for the oldest batch in flight and counts it.
	counted := func() error {
		s := inFlight[0]
		<-s.done
		inFlight = inFlight[1:]
		if s.err != nil {
			return s.err
		}
		res.LastLine = s.LastLine // only now are the rows up to it stored
		res.Rows += s.Rows
		listed := res.list(append(append(s.Rejected, s.claimed...), s.refused...))
		if steps.Listed != nil && len(listed) > 0 {
			if err := steps.Listed(ctx, listed); err != nil {
				return err
			}
		}
		if steps.Progress != nil {
			steps.Progress()
		}
		return nil
	}
	// drained counts every batch in flight, and ends the import with err if they stored.
	drained := func(err error) error {
		for len(inFlight) > 0 {
			if err := counted(); err != nil {
				return err // an earlier batch's failure is the one to report
			}
		}
		return err
	}
	for b := range batches {
		if b.err != nil {
			return drained(b.err)
		}
		s := &storing[T]{Batch: b.Batch, done: make(chan struct{})}
		if steps.Claim != nil {
			claimed, rejected, err := steps.Claim(ctx, b.Batch)
			if err != nil {
				return drained(err)
			}
			s.Batch.Valid, s.claimed = claimed.Valid, rejected
		}
		if len(inFlight) == limit {
			if err := counted(); err != nil {
				return err
			}
		}
		inFlight = append(inFlight, s)
		go s.store(ctx, steps.Store)
	}
	if err := drained(nil); err != nil {
		return err
	}
	// The reader also stops, closing batches, when ctx ends: that is not the end of the file,
	// and an import cut short must not be reported complete.
	return ctx.Err()
}

// storing is a batch on its way through Store.
type storing[T any] struct {
	Batch[T]
	claimed []Rejection // the rows Claim took out
	refused []Rejection // the rows Store refused
	err     error
	done    chan struct{} // closed when Store has returned
}

// store runs Store on the batch. A panic in it fails the import with the line before the
// batch, rather than taking the process down: nothing above this goroutine recovers it.
func (s *storing[T]) store(ctx context.Context, store func(context.Context, Batch[T]) ([]Rejection, error)) {
	defer close(s.done)
	defer func() {
		if v := recover(); v != nil {
			s.err = NewReadPanicError(v, s.LastLine-s.Rows)
		}
	}()
	s.refused, s.err = store(ctx, s.Batch)
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
