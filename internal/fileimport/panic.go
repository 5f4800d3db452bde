package fileimport

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// ReadPanicError is a panic while reading or validating a file's rows, caught in the
// goroutine that read them: one row that trips a bug fails its import, with the line
// reached, instead of taking the whole process down (net/http and Gin recover a handler's
// own goroutine, never the goroutines it starts).
type ReadPanicError struct {
	// Line is the last line read before the one that failed.
	Line int
	// Panic says what panicked without the row's data: a runtime error's text (an index
	// out of range, a nil map), or else only the panic value's type.
	Panic string
	// Stack is where it panicked, for the operators' log.
	Stack []byte
}

func (e *ReadPanicError) Error() string {
	return fmt.Sprintf("reading the file failed after line %d: %s", e.Line, e.Panic)
}

// NewReadPanicError makes the error for a value recovered after line. Call it in the
// deferred function that recovered, so the stack is the panic's.
func NewReadPanicError(recovered any, line int) *ReadPanicError {
	what := fmt.Sprintf("panic of type %T", recovered)
	if rerr, ok := recovered.(runtime.Error); ok {
		what = rerr.Error() // the runtime's words, never a value of the file
	}
	return &ReadPanicError{Line: line, Panic: what, Stack: debug.Stack()}
}
