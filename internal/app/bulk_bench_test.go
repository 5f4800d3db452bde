package app_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	sdkworker "go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/ballotflow/ballotflow/internal/app"
	"github.com/ballotflow/ballotflow/internal/ballot"
	"github.com/ballotflow/ballotflow/internal/config"
	"github.com/ballotflow/ballotflow/internal/demo"
	"github.com/ballotflow/ballotflow/internal/fileimport"
	"github.com/ballotflow/ballotflow/internal/roll"
	"github.com/ballotflow/ballotflow/internal/store"
	"github.com/ballotflow/ballotflow/internal/testdb"
	"github.com/ballotflow/ballotflow/workflows/contract"
)

// BenchmarkBulkEvents posts a county's file of 5,000 "mailed" events for 5,000 voters to
// POST /v1/ballot-events:bulk and waits until its import has signaled every event (stored
// with COPY, validated, checked against the ballots, signal-with-started page by page), and
// prints events/s beside two ceilings measured in the same run: SignalWithStart of a no-op
// workflow on the same Temporal server, from as many goroutines as the ingestion activity
// uses (bulk/signal-ceiling), and a plain COPY of the same rows into a bare table, beside
// the time the POST took to store the file (load/copy-ceiling). INGEST_RATE is lifted so
// that the pace, not the configured rate, is measured. Signaling is the bound: each event
// also starts a ballot workflow that runs on the same two cores and Temporal server.
func BenchmarkBulkEvents(b *testing.B) {
	const events = 5000
	d := startBenchDev(b)
	ctx := context.Background()

	var roll0 strings.Builder
	roll0.WriteString("voter_id,first_name,last_name,date_of_birth,residential_zip,county,status\n")
	for i := range events {
		fmt.Fprintf(&roll0, "71%07d,Bench,Voter%d,1980-01-%02d,80202,denver,active\n", i, i, 1+i%28)
	}
	loaded, err := roll.ImportVoters(ctx, d.Store, strings.NewReader(roll0.String()),
		roll.Options{State: "CO", Actor: "bench", Format: fileimport.CSV})
	require.NoError(b, err)
	require.Equal(b, events, loaded.Inserted)

	noop := sdkworker.New(d.Temporal, "bench-noop", noopWorkerOptions(b))
	noop.RegisterWorkflowWithOptions(noopWorkflow, workflow.RegisterOptions{Name: "BenchNoop"})
	require.NoError(b, noop.Start())
	defer noop.Stop()
	_, err = d.Store.Pool().Exec(ctx, `CREATE UNLOGGED TABLE events_ceiling (event_id text, election_id text,
		voter_id text, ballot_id text, status text, occurred_at text, reason text, cure_deadline text)`)
	require.NoError(b, err)

	at := time.Now().Add(-time.Hour).Truncate(time.Second).Format(time.RFC3339)
	var bulkTime, loadTime, signalTime, copyTime time.Duration
	round := 0
	for b.Loop() {
		round++
		var file bytes.Buffer
		file.WriteString(bulkHeader + "\n")
		for i := range events {
			fmt.Fprintf(&file, "bench-%d-%d,%s,71%07d,BNC-%d-%d,mailed,%s,,\n", round, i, demo.ElectionID, i, round, i, at)
		}

		start := time.Now()
		n, err := copyEvents(ctx, d.Store, file.Bytes())
		require.NoError(b, err)
		require.EqualValues(b, events, n)
		copyTime += time.Since(start)

		start = time.Now()
		require.NoError(b, signalNoops(ctx, d.Temporal, round, events))
		signalTime += time.Since(start)

		start = time.Now()
		res := postBulk(b, d, d.DemoKey, "text/csv", file.String())
		require.Equal(b, http.StatusAccepted, res.Status, res.Body)
		require.Equal(b, events, res.Accepted)
		loadTime += time.Since(start)
		waitSignaled(b, d.Store, res.ImportID)
		bulkTime += time.Since(start)
	}
	perSecond := func(t time.Duration) float64 { return float64(events*b.N) / t.Seconds() }
	b.ReportMetric(perSecond(bulkTime), "events/s")
	b.ReportMetric(perSecond(loadTime), "load-rows/s")
	b.ReportMetric(perSecond(signalTime), "signal-ceiling-events/s")
	b.ReportMetric(perSecond(copyTime), "copy-ceiling-rows/s")
	b.ReportMetric(signalTime.Seconds()/bulkTime.Seconds(), "bulk/signal-ceiling")
	b.ReportMetric(copyTime.Seconds()/loadTime.Seconds(), "load/copy-ceiling")
	b.Logf("bulk: %.0f events/s end to end (the file stored at %.0f rows/s, %.2f of plain COPY's %.0f rows/s); "+
		"SignalWithStart of a no-op workflow: %.0f/s, bulk/ceiling %.2f",
		perSecond(bulkTime), perSecond(loadTime), copyTime.Seconds()/loadTime.Seconds(), perSecond(copyTime),
		perSecond(signalTime), signalTime.Seconds()/bulkTime.Seconds())
}

// noopWorkflow takes one status signal and ends: the ceiling of signal-with-start.
func noopWorkflow(ctx workflow.Context) error {
	var ev contract.StatusEvent
	workflow.GetSignalChannel(ctx, string(ballot.StatusMailed)).Receive(ctx, &ev)
	return nil
}

// signalNoops signal-with-starts n no-op workflows from 16 goroutines, as the ingestion
// activity signals 16 ballots at once.
func signalNoops(ctx context.Context, tc client.Client, round, n int) error {
	return signalNoopsFrom(ctx, tc, round, n, 16)
}

// signalNoopsFrom signal-with-starts n no-op workflows (ids bench-noop/<round>/<i>) from
// the given number of goroutines.
func signalNoopsFrom(ctx context.Context, tc client.Client, round, n, goroutines int) error {
	return fromGoroutines(n, goroutines, func(i int) error {
		ev := contract.StatusEvent{EventID: fmt.Sprintf("noop-%d-%d", round, i), Status: ballot.StatusMailed,
			OccurredAt: time.Now()}
		_, err := tc.SignalWithStartWorkflow(ctx, fmt.Sprintf("bench-noop/%d/%d", round, i), string(ev.Status), ev,
			client.StartWorkflowOptions{TaskQueue: "bench-noop"}, "BenchNoop")
		return err
	})
}

// fromGoroutines calls f for 0..n-1 from the given number of goroutines and returns the first
// error; after one, the rest of the work is skipped.
func fromGoroutines(n, goroutines int, f func(i int) error) error {
	work := make(chan int)
	errs := make(chan error, goroutines)
	var wg sync.WaitGroup
	for range goroutines {
		wg.Go(func() {
			for i := range work {
				if err := f(i); err != nil {
					errs <- err
					for range work { // let the feeder finish
					}
					return
				}
			}
		})
	}
	for i := range n {
		work <- i
	}
	close(work)
	wg.Wait()
	close(errs)
	return <-errs
}

// noopsDone waits until the no-op workflows of a round (signalNoopsFrom) have all finished,
// that is until the last 50 of them have: the server hands out their workflow tasks in about
// the order they were started, so the others finished before. A signal accepted is not yet a
// signal handled: the workflow task that handles it runs afterwards, and under load well
// afterwards; the ceiling ends when it has run, as a ballot's event ends when its notices are
// in the outbox.
func noopsDone(ctx context.Context, tc client.Client, round, n int) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	for i := n - 1; i >= max(0, n-50); i-- {
		id := fmt.Sprintf("bench-noop/%d/%d", round, i)
		for {
			d, err := tc.DescribeWorkflowExecution(ctx, id, "")
			if err != nil {
				return err
			}
			if d.GetWorkflowExecutionInfo().GetCloseTime() != nil {
				break
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
	return nil
}

// copyEvents is the COPY ceiling: the file's rows, as text, into a bare unlogged table.
func copyEvents(ctx context.Context, st *store.Store, data []byte) (int64, error) {
	r := csv.NewReader(bytes.NewReader(data))
	records, err := r.ReadAll()
	if err != nil {
		return 0, err
	}
	rows := records[1:]
	return st.Pool().CopyFrom(ctx, pgx.Identifier{"events_ceiling"}, strings.Split(bulkHeader, ","),
		pgx.CopyFromSlice(len(rows), func(i int) ([]any, error) {
			row := make([]any, len(rows[i]))
			for j, v := range rows[i] {
				row[j] = v
			}
			return row, nil
		}))
}

// waitSignaled polls PostgreSQL until the import has signaled every event.
func waitSignaled(b *testing.B, st *store.Store, importID int64) {
	b.Helper()
	deadline := time.Now().Add(10 * time.Minute)
	for {
		im, err := st.EventImportGetByID(context.Background(), importID)
		require.NoError(b, err)
		if im.Status == store.ImportDone {
			require.Equal(b, im.Accepted, im.Signaled)
			return
		}
		require.NotContains(b, []string{store.ImportHeld, store.ImportFailed, store.ImportRejected}, im.Status)
		require.True(b, time.Now().Before(deadline), "import %d is still %s", importID, im.Status)
		time.Sleep(20 * time.Millisecond)
	}
}

// startBenchDev is startDev for benchmarks, with the ingestion pace lifted.
func startBenchDev(b *testing.B) *app.Dev {
	b.Helper()
	cfg, err := config.FromEnv()
	require.NoError(b, err)
	cfg.DatabaseURL = testdb.New(b)
	cfg.IngestRate = 1e6
	logger := slog.New(slog.NewTextHandler(b.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	d, err := app.StartDev(ctx, cfg, logger, app.DevOptions{Ephemeral: true})
	require.NoError(b, err)
	b.Cleanup(func() { require.NoError(b, d.Stop()) })
	return d
}
