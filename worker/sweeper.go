package worker

import (
	"context"
	"log/slog"
	"time"

	"github.com/ballotflow/ballotflow/internal/intake"
)

// Sweeper is the maintenance service that repairs what a crash can leave behind in intake:
// stored events whose signal never reached Temporal (re-signaled, or set aside when they
// never can be), imports loaded but never handed to their workflow, and imports left
// "loading" by an API process that died (marked failed, so their status says to send the
// file again). One event or import that fails never stops the sweep of the others.
type Sweeper struct {
	Intake *intake.Service
	Logger *slog.Logger
	// Interval between sweeps; DefaultSweepInterval when 0.
	Interval time.Duration
	// MinAge is how old an unsignaled event or a loaded import must be before the sweeper
	// takes it up (the process that stored it may still be at work); DefaultSweepMinAge when 0.
	MinAge time.Duration
	// Batch bounds the events re-signaled per sweep; DefaultSweepBatch when 0.
	Batch int
	// Swept, when set, is called after each sweep (tests wait for it).
	Swept func(SweepResult)
}

// Sweeper defaults.
const (
	DefaultSweepInterval = 30 * time.Second
	DefaultSweepMinAge   = time.Minute
	DefaultSweepBatch    = 500
	sweepImportBatch     = 100
)

// SweepResult is what one sweep did.
type SweepResult struct {
	Resignaled     int // events signaled or set aside
	ImportsStarted int
	ImportsFailed  int // imports abandoned while loading, marked failed
}

// Run sweeps every Interval until ctx ends.
func (s *Sweeper) Run(ctx context.Context) {
	t := time.NewTicker(s.interval())
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		res := s.Sweep(ctx)
		if s.Swept != nil {
			s.Swept(res)
		}
	}
}

// Sweep runs each repair once and logs what it did; an error of one repair is logged and
// does not skip the others.
func (s *Sweeper) Sweep(ctx context.Context) SweepResult {
	var res SweepResult
	var err error
	res.Resignaled, err = s.Intake.Resignal(ctx, s.minAge(), s.batch())
	s.report(ctx, "re-signal stored events", res.Resignaled, err)
	res.ImportsStarted, err = s.Intake.StartPendingImports(ctx, s.minAge(), sweepImportBatch)
	s.report(ctx, "start ingestion of loaded imports", res.ImportsStarted, err)
	res.ImportsFailed, err = s.Intake.FailStaleLoads(ctx)
	s.report(ctx, "fail imports abandoned while loading", res.ImportsFailed, err)
	return res
}

func (s *Sweeper) report(ctx context.Context, what string, n int, err error) {
	if err != nil && ctx.Err() == nil {
		s.logger().Warn(what, "done", n, "error", err)
	} else if n > 0 {
		s.logger().Info(what, "count", n)
	}
}

func (s *Sweeper) interval() time.Duration {
	if s.Interval > 0 {
		return s.Interval
	}
	return DefaultSweepInterval
}

func (s *Sweeper) minAge() time.Duration {
	if s.MinAge > 0 {
		return s.MinAge
	}
	return DefaultSweepMinAge
}

func (s *Sweeper) batch() int {
	if s.Batch > 0 {
		return s.Batch
	}
	return DefaultSweepBatch
}

func (s *Sweeper) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.Default()
}
