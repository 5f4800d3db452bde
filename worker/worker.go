// Package worker wires ballotflow to Temporal: the client, the task queues, what runs on
// each, and the rate limits that keep deliveries within the provider accounts' limits.
package worker

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	tlog "go.temporal.io/sdk/log"
	sdkworker "go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/ballotflow/ballotflow/activities"
	"github.com/ballotflow/ballotflow/internal/intake"
	"github.com/ballotflow/ballotflow/internal/metrics"
	"github.com/ballotflow/ballotflow/workflows"
	"github.com/ballotflow/ballotflow/workflows/contract"
)

// Dial connects to Temporal. Every ballotflow process uses the same client options; dc is
// the data converter that encrypts payloads (internal/codec).
func Dial(ctx context.Context, hostPort, namespace string, dc converter.DataConverter, logger *slog.Logger) (client.Client, error) {
	c, err := client.DialContext(ctx, client.Options{
		HostPort:      hostPort,
		Namespace:     namespace,
		DataConverter: dc,
		// The SDK's own metrics (schedule-to-start latency per task queue shows deliveries
		// waiting for the provider rate limit) and the ballot workflow's notice counters.
		MetricsHandler: metrics.TemporalHandler(),
		Logger:         tlog.NewStructuredLogger(logger.With("component", "temporal-client")),
		// Every payload is sealed with AES-GCM before it leaves the process, and sealed bytes
		// do not compress: the SDK's default gzip of every request (and the server's of its
		// answers) spent CPU on both sides for nothing (a worker profile on mail-out day).
		ConnectionOptions: client.ConnectionOptions{GrpcCompression: &client.GrpcCompressionNone{}},
	})
	if err != nil {
		return nil, fmt.Errorf("connect to Temporal at %s: %w", hostPort, err)
	}
	return c, nil
}

// Rates are the providers' per-second limits, applied across all workers of a task queue.
type Rates struct {
	EmailPerSecond float64
	SMSPerSecond   float64
	VoicePerSecond float64
}

// Config is what Start needs.
type Config struct {
	Client     client.Client
	Activities *activities.Activities
	Rates      Rates
	// Intake, when set, is swept for stored events whose signal never reached Temporal, for
	// loaded imports whose ingestion workflow never started, and for imports whose loader died.
	Intake *intake.Service
	// Sweeper sets the sweep's interval and batch (Intake and Logger are filled in).
	Sweeper Sweeper
	// Ingest, when set, runs the IngestEvents workflow of bulk imports on the ballots queue.
	Ingest *activities.Ingest
	// Retention, when set, runs the RetentionPurge workflow the retention schedule starts.
	Retention *activities.Retention
	// NoticeWaits, when its Store is set, reports the notices held for contact hours.
	NoticeWaits NoticeWaitGauge
	// WorkflowCacheSize is how many workflow executions this process keeps in memory between
	// their tasks (the SDK's sticky cache, one for every worker of the process); 0 leaves the
	// SDK's default, 10,000. It takes effect when the process starts its first worker.
	WorkflowCacheSize int
	Logger            *slog.Logger
}

// Worker runs the ballot workflow queue and one delivery queue per channel.
type Worker struct {
	workers []sdkworker.Worker
	stop    context.CancelFunc
	swept   chan struct{}
}

// Start starts the workers and returns once they poll.
func Start(cfg Config) (*Worker, error) {
	a := cfg.Activities
	if cfg.WorkflowCacheSize > 0 {
		sdkworker.SetStickyWorkflowCacheSize(cfg.WorkflowCacheSize)
	}
	ballots := sdkworker.New(cfg.Client, contract.TaskQueue, sdkworker.Options{
		StickyScheduleToStartTimeout: stickyTimeout,
		WorkflowTaskPollerBehavior:   workflowPollers(),
	})
	ballots.RegisterWorkflowWithOptions(workflows.Ballot, workflow.RegisterOptions{Name: contract.BallotWorkflowName})
	ballots.RegisterActivity(a.LoadRecipient)
	ballots.RegisterActivity(a.RecordStatus)
	ballots.RegisterActivity(a.RecordNoticeWaits)
	ballots.RegisterActivity(a.ReleaseHeld)
	ballots.RegisterActivity(a.SendNow) // a delivery's first try, as a local activity
	ballots.RegisterWorkflowWithOptions(workflows.ConfirmContact, workflow.RegisterOptions{Name: contract.ConfirmWorkflowName})
	if cfg.Ingest != nil {
		ballots.RegisterWorkflowWithOptions(workflows.IngestEvents, workflow.RegisterOptions{Name: contract.IngestWorkflowName})
		ballots.RegisterActivity(cfg.Ingest)
	}
	if cfg.Retention != nil {
		ballots.RegisterWorkflowWithOptions(workflows.RetentionPurge, workflow.RegisterOptions{Name: contract.RetentionWorkflowName})
		ballots.RegisterActivity(cfg.Retention)
	}

	w := &Worker{workers: []sdkworker.Worker{ballots}}
	for _, q := range []struct {
		queue string
		rate  float64
		fn    any
	}{
		{activities.EmailTaskQueue, cfg.Rates.EmailPerSecond, a.SendEmail},
		{activities.SMSTaskQueue, cfg.Rates.SMSPerSecond, a.SendSMS},
		{activities.VoiceTaskQueue, cfg.Rates.VoicePerSecond, a.PlaceCall},
	} {
		// TaskQueueActivitiesPerSecond is enforced by the server across every worker polling
		// the queue, so the account's limit holds however many workers run. But the server
		// lets a backlog open with a burst of more than a second's worth (30 texts in 40 ms
		// at 20/s, BenchmarkMorningBacklog): WorkerActivitiesPerSecond, this worker's own
		// limiter with a burst of one, spreads that burst out.
		qw := sdkworker.New(cfg.Client, q.queue, sdkworker.Options{
			TaskQueueActivitiesPerSecond: q.rate, WorkerActivitiesPerSecond: q.rate,
		})
		qw.RegisterActivity(q.fn)
		if q.queue != activities.VoiceTaskQueue {
			qw.RegisterActivity(a.SendConfirmation) // confirmations of new addresses, within the same rate
		}
		w.workers = append(w.workers, qw)
	}
	for i, qw := range w.workers {
		if err := qw.Start(); err != nil {
			for _, started := range w.workers[:i] {
				started.Stop()
			}
			return nil, fmt.Errorf("start worker: %w", err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	w.stop = cancel
	w.swept = make(chan struct{})
	var services sync.WaitGroup
	if cfg.Intake != nil {
		sweeper := cfg.Sweeper
		sweeper.Intake = cfg.Intake
		sweeper.Logger = cfg.Logger
		services.Go(func() { sweeper.Run(ctx) })
	}
	if cfg.NoticeWaits.Store != nil {
		gauge := cfg.NoticeWaits
		if gauge.Logger == nil {
			gauge.Logger = cfg.Logger
		}
		services.Go(func() { gauge.Run(ctx) })
	}
	go func() {
		defer close(w.swept)
		services.Wait()
	}()
	return w, nil
}

// Stop stops polling and waits for running activities to finish.
func (w *Worker) Stop() {
	w.stop()
	<-w.swept
	for _, qw := range w.workers {
		qw.Stop()
	}
}

// workflowPollers is how the ballots worker polls for workflow tasks: as many polls as the
// server asks for, scaled on its feedback (the SDK's autoscaling, which also keeps a sticky
// and a normal poll open at all times), where the SDK's default is two polls. With two, on the
// production topology a bulk file of 1,000 "mailed" stalled for 54 s in the middle with the
// worker idle, and SignalWithStart of a no-op workflow ran at 62-68 a second to its end against
// 91-122 with autoscaled polls (make bench-cluster, BALLOTFLOW_BENCH_SHAPES; eight fixed polls
// gave 80). A task queue has four partitions by default and a poll waits on one of them for up
// to a minute, so with two polls a task can wait in a partition nobody is polling; and each
// poll brings one task, so two may bound the rate even on one partition, as dev has.
func workflowPollers() sdkworker.PollerBehavior {
	return sdkworker.NewPollerBehaviorAutoscaling(sdkworker.PollerBehaviorAutoscalingOptions{})
}

// stickyTimeout is how long a ballot's workflow task may wait on this worker's own (sticky)
// queue before the server hands it to any worker. At 08:00 thousands of ballots' timers fire
// together; with the SDK's 5 s default, tasks that waited longer fell back to the shared
// queue, where each is replayed from its whole history and the backlog drained with a long
// idle tail (BenchmarkMorningBacklog). A worker that dies delays its ballots by this much.
const stickyTimeout = 30 * time.Second
