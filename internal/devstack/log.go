package devstack

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync/atomic"

	"go.temporal.io/server/common/log"
	"go.temporal.io/server/common/log/tag"
)

// defaultLogger is used when Options.Logger is nil. The Temporal server logs
// hundreds of INFO lines on every start (services, shards, queues, ...), which
// drowns out the application's own output, so only WARN and above get through.
func defaultLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// fatalPanic is what the adapter panics with when the Temporal server calls
// Logger.Fatal or Logger.Panic. Start recovers it and turns it into an error.
type fatalPanic struct{ msg string }

func (f fatalPanic) Error() string { return "temporal server fatal error: " + f.msg }

// serverLogger adapts an *slog.Logger to Temporal's log.Logger interface.
//
// The server's own zap logger would call os.Exit on Fatal. That must not
// happen inside an application or a test binary, so Fatal and Panic are logged
// at ERROR and then turned into a panic carrying fatalPanic: during Start that
// panic is recovered and returned as an error; if it happens later in one of
// the server's background goroutines the process crashes, which is the closest
// we can get to the server's intended "this is unrecoverable" semantics.
// DPanic ("panic in development") only logs.
type serverLogger struct {
	log *slog.Logger
	// stopping is set by Stop: while the services go down the server
	// routinely logs warnings, and errors for in-flight internal requests
	// whose context was cancelled. Both are pure noise for a dev stack.
	stopping *atomic.Bool
	tags     []tag.Tag // from With
}

var (
	_ log.Logger     = serverLogger{}
	_ log.WithLogger = serverLogger{}
)

func newServerLogger(l *slog.Logger) serverLogger {
	return serverLogger{log: l, stopping: new(atomic.Bool)}
}

func (s serverLogger) Debug(msg string, tags ...tag.Tag) { s.emit(slog.LevelDebug, msg, tags) }
func (s serverLogger) Info(msg string, tags ...tag.Tag)  { s.emit(slog.LevelInfo, msg, tags) }
func (s serverLogger) Warn(msg string, tags ...tag.Tag)  { s.emit(slog.LevelWarn, msg, tags) }
func (s serverLogger) Error(msg string, tags ...tag.Tag) { s.emit(slog.LevelError, msg, tags) }
func (s serverLogger) DPanic(msg string, tags ...tag.Tag) {
	s.emit(slog.LevelError, msg, tags)
}

func (s serverLogger) Panic(msg string, tags ...tag.Tag) {
	s.emit(slog.LevelError, msg, tags)
	panic(fatalPanic{msg: describe(msg, tags)})
}

func (s serverLogger) Fatal(msg string, tags ...tag.Tag) {
	s.emit(slog.LevelError, msg, tags)
	panic(fatalPanic{msg: describe(msg, tags)})
}

// With implements log.WithLogger. The tags are kept as-is and only converted
// when a record is actually emitted: the server derives tagged loggers all
// the time (per shard, per workflow, ...) and at the default WARN threshold
// almost none of them ever write anything.
func (s serverLogger) With(tags ...tag.Tag) log.Logger {
	s.tags = append(slices.Clip(s.tags), tags...)
	return s
}

// shuttingDown switches to shutdown filtering (see stopping).
func (s serverLogger) shuttingDown() { s.stopping.Store(true) }

func (s serverLogger) emit(level slog.Level, msg string, tags []tag.Tag) {
	if s.stopping.Load() && (level < slog.LevelError || cancelled(tags)) {
		return
	}
	ctx := context.Background()
	// Check Enabled before converting tags: at the default WARN threshold
	// almost every server log call is dropped, and conversion is not free.
	if !s.log.Enabled(ctx, level) {
		return
	}
	attrs := tagsToAttrs(s.tags)
	attrs = append(attrs, tagsToAttrs(tags)...)
	s.log.LogAttrs(ctx, level, msg, attrs...)
}

func tagsToAttrs(tags []tag.Tag) []slog.Attr {
	attrs := make([]slog.Attr, 0, len(tags))
	for _, t := range tags {
		if t == nil {
			continue
		}
		attrs = append(attrs, slog.Any(t.Key(), t.Value()))
	}
	return attrs
}

// cancelled reports whether a log call is about a context cancellation.
func cancelled(tags []tag.Tag) bool {
	for _, t := range tags {
		if t == nil || t.Key() != "error" {
			continue
		}
		if err, ok := t.Value().(error); ok && errors.Is(err, context.Canceled) {
			return true
		}
		// Errors that crossed gRPC are flattened to text.
		if strings.Contains(fmt.Sprint(t.Value()), context.Canceled.Error()) {
			return true
		}
	}
	return false
}

func describe(msg string, tags []tag.Tag) string {
	for _, t := range tags {
		if t != nil && t.Key() == "error" {
			return fmt.Sprintf("%s: %v", msg, t.Value())
		}
	}
	return msg
}
