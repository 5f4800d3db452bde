package app_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	sdkworker "go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/ballotflow/ballotflow/internal/ballot"
	"github.com/ballotflow/ballotflow/workflows/contract"
)

// The shape ladder prices, on the Temporal server and its PostgreSQL, each kind of command a
// mailed ballot's workflow task gives Temporal, with none of ballotflow's own work: a
// workflow that takes one "mailed" signal and then does what the rung says. Each rung adds
// one kind of command to the one before, so the difference between two rungs is that
// command's price. It is how the end-to-end ratio to the bare-signal ceiling is explained
// (benchmarks/README.md): the ceiling's workflow ends at once, a ballot's stays open for weeks
// and records what it did.

// shape is what a rung's workflow does after its signal.
type shape struct {
	Name string
	// Open: wait on a timer of weeks (the canvass) instead of ending.
	Open bool
	// LocalActivities: how many no-op local activities (each a marker event) it runs, as a
	// ballot runs LoadRecipient, RecordStatus and one SendNow per channel.
	LocalActivities int
	// Upsert: upsert the BallotStatus search attribute.
	Upsert bool
	// Version: ask GetVersion once (a marker and the TemporalChangeVersion upsert).
	Version bool
	// StatusAtStart: BallotStatus is set by the SignalWithStart that creates the workflow.
	StatusAtStart bool
}

// shapeLadder is the rungs, from the bare ceiling to a mailed ballot's shape, then without
// the commands a ballot could avoid.
var shapeLadder = []shape{
	{Name: "ends at once (the ceiling)"},
	{Name: "stays open on a timer", Open: true},
	{Name: "+ 4 local activities", Open: true, LocalActivities: 4},
	{Name: "+ BallotStatus upsert", Open: true, LocalActivities: 4, Upsert: true},
	{Name: "+ GetVersion (a mailed ballot)", Open: true, LocalActivities: 4, Upsert: true, Version: true},
	{Name: "status set at start, no upsert", Open: true, LocalActivities: 4, Version: true, StatusAtStart: true},
	{Name: "status at start, no GetVersion", Open: true, LocalActivities: 4, StatusAtStart: true},
}

func shapeWorkflow(ctx workflow.Context, s shape) error {
	var ev contract.StatusEvent
	workflow.GetSignalChannel(ctx, string(ballot.StatusMailed)).Receive(ctx, &ev)
	if !s.Open {
		return nil
	}
	canvass := workflow.NewTimer(ctx, 30*24*time.Hour)
	lctx := workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{StartToCloseTimeout: 10 * time.Second})
	for range s.LocalActivities {
		if err := workflow.ExecuteLocalActivity(lctx, shapeLocalActivity).Get(lctx, nil); err != nil {
			return err
		}
	}
	if s.Upsert {
		if err := workflow.UpsertTypedSearchAttributes(ctx, contract.SearchBallotStatus.ValueSet(string(ev.Status))); err != nil {
			return err
		}
	}
	if s.Version {
		_ = workflow.GetVersion(ctx, "bench-shape", workflow.DefaultVersion, 1)
	}
	return canvass.Get(ctx, nil)
}

func shapeLocalActivity(context.Context) error { return nil }

// registerShapes puts the shape workflow and its local activity on the no-op worker.
func registerShapes(w sdkworker.Worker) {
	w.RegisterWorkflowWithOptions(shapeWorkflow, workflow.RegisterOptions{Name: "BenchShape"})
	w.RegisterActivity(shapeLocalActivity)
}

// signalShapes signal-with-starts n shape workflows (ids bench-shape/<round>/<i>) from the
// given number of goroutines.
func signalShapes(ctx context.Context, tc client.Client, s shape, round, n, goroutines int) error {
	return fromGoroutines(n, goroutines, func(i int) error {
		ev := contract.StatusEvent{EventID: fmt.Sprintf("shape-%d-%d", round, i), Status: ballot.StatusMailed,
			OccurredAt: time.Now()}
		opts := client.StartWorkflowOptions{TaskQueue: "bench-noop"}
		if s.StatusAtStart {
			opts.TypedSearchAttributes = temporal.NewSearchAttributes(contract.SearchBallotStatus.ValueSet(string(ev.Status)))
		}
		_, err := tc.SignalWithStartWorkflow(ctx, fmt.Sprintf("bench-shape/%d/%d", round, i), string(ev.Status), ev,
			opts, "BenchShape", s)
		return err
	})
}

// shapeLadderOn runs the ladder on the cluster, n workflows a rung from 16 goroutines (the
// ceiling's best concurrency here), and prints each rung's rate and CPU per workflow in the
// Temporal server and PostgreSQL, each until the rung's workflows have all finished their
// first task. The no-op worker runs in this process; its CPU is left out.
func (c *cluster) shapeLadderOn(b *testing.B, n int) {
	b.Helper()
	var sb strings.Builder
	fmt.Fprintf(&sb, "shape ladder on the production topology, %d workflows a rung, 16 goroutines:\n", n)
	fmt.Fprintf(&sb, "%-34s %9s %10s %10s %10s %10s\n", "rung", "per sec", "temporal", "pg", "pg:temporal", "pg:visib.")
	for k, s := range shapeLadder {
		if rungs := os.Getenv("BALLOTFLOW_BENCH_SHAPE_RUNGS"); rungs != "" && !slices.Contains(strings.Split(rungs, ","), strconv.Itoa(k)) {
			continue
		}
		round := 9000 + k
		cpu0 := c.cpu()
		start := time.Now()
		require.NoError(b, signalShapes(context.Background(), c.temporal, s, round, n, 16))
		c.waitShapes(b, s, round, n)
		elapsed := time.Since(start)
		c.waitQuiet(5 * time.Second)
		cpu1 := c.cpu()
		per := func(g string) float64 { return ms(cpu1[g]-cpu0[g]) / float64(n) }
		fmt.Fprintf(&sb, "%-34s %9.1f %10.2f %10.2f %10.2f %10.2f\n", s.Name, float64(n)/elapsed.Seconds(),
			per("temporal"), per("postgres"), per("postgres:temporal"), per("postgres:visibility"))
	}
	b.Log("\n" + sb.String())
}

// waitShapes waits until the rung's last workflow has completed its first workflow task:
// closed, or open with its timer started.
func (c *cluster) waitShapes(b *testing.B, s shape, round, n int) {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	for i := n - 1; i >= 0; i-- {
		id := fmt.Sprintf("bench-shape/%d/%d", round, i)
		for {
			d, err := c.temporal.DescribeWorkflowExecution(ctx, id, "")
			require.NoError(b, err)
			if !s.Open && d.GetWorkflowExecutionInfo().GetCloseTime() != nil {
				break
			}
			if s.Open && d.GetPendingWorkflowTask() == nil && d.GetWorkflowExecutionInfo().GetHistoryLength() > 3 {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if i < n-50 {
			return // the last fifty are done; the others started before them
		}
	}
}

// waitQuiet waits until the cluster's processes use less than a tenth of a core for a
// second, at most limit.
func (c *cluster) waitQuiet(limit time.Duration) {
	began := time.Now()
	for time.Since(began) < limit {
		c0 := sumCPU(c.cpu())
		time.Sleep(time.Second)
		if sumCPU(c.cpu())-c0 < 100*time.Millisecond {
			return
		}
	}
}
