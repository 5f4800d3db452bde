package app_test

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	sdkworker "go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/ballotflow/ballotflow/internal/app"
	"github.com/ballotflow/ballotflow/internal/ballot"
	"github.com/ballotflow/ballotflow/internal/config"
	"github.com/ballotflow/ballotflow/internal/demo"
	"github.com/ballotflow/ballotflow/internal/intake"
	"github.com/ballotflow/ballotflow/internal/store"
)

// BenchmarkMailOutDayToTheOutbox is mail-out day end to end (issue 12, item 1): N voters
// (BALLOTFLOW_BENCH_VOTERS, default 5,000), each with an email and an active SMS
// subscription reachable at any hour, get a "mailed" event, and the clock runs until every
// notice (2 per voter) is in the sandbox outbox. The ways in are sub-benchmarks on one
// stack, chosen by BALLOTFLOW_BENCH_MODES (comma-separated, default "bulk,batched,single"):
//
//   - bulk: one bulk file (POST /v1/ballot-events:bulk), as bulk-file;
//   - batched: POSTs to /v1/ballot-events of BALLOTFLOW_BENCH_BATCH events each (default
//     100), as batched-posts-<batch>;
//   - single: one event a POST (the bare event, as a county system posts each as it
//     happens), as single-posts.
//
// Batched and single POSTs come from BALLOTFLOW_BENCH_POSTERS goroutines (default 8), each
// keeping its connection alive.
//
// Beside each, measured in the same run on the same embedded Temporal server: the ceiling,
// bare SignalWithStart of a no-op workflow at its best concurrency (the same no-op workflow
// and signaling loop as BenchmarkBulkEvents, tried from 4, 16 and 64 goroutines), timed until
// every no-op workflow has run its task (noopsDone): an event counts only when its notices
// are in the outbox, and a signal only when its workflow has handled it. Its worker polls as
// ballotflow's does (autoscaled).
//
// The sandbox providers run in a process of their own (this test binary run again, see
// mailout_sandbox_test.go; the dev stack sends to it and verifies its webhooks through
// DevOptions.ExternalSandbox), and the outbox is read over its HTTP API. CPU is reported per
// event for each process: this one (the API, the worker and the embedded Temporal server
// together, with the benchmark's own posting and outbox reading), the sandbox process (its
// /proc/<pid>/stat), and PostgreSQL (every postgres process's /proc/<pid>/stat, with the
// backends that exited counted through the postmaster). The figures "to the outbox" stop
// when the last notice is in the outbox; the "settled" ones when the three processes are
// quiet again (webhooks processed, deliveries recorded), at most a minute later.
//
// It prints events/s and its ratio to the ceiling; p50/p99 of the emails (sent at once)
// from the POST (for the bulk file: from the moment the file was stored, when the POST
// answered) to their first appearance in the outbox (the sandbox's received_at), and the
// texts' in the log; the CPU above; Temporal history events and estimated Temporal Cloud
// actions per ballot; and worker memory per cached workflow. The provider rates
// (EMAIL_RATE, SMS_RATE) and INGEST_RATE are lifted so that the pace, not the configured
// limits, is measured.
//
// With BALLOTFLOW_BENCH_SERIES set to a directory it also writes each round's time series
// there, for `go run ./benchmarks/chart`.
//
// The benchmark fails only when a notice is missing; duplicates are reported, not failed.
func BenchmarkMailOutDayToTheOutbox(b *testing.B) {
	n := envInt(b, "BALLOTFLOW_BENCH_VOTERS", 5000)
	batch := envInt(b, "BALLOTFLOW_BENCH_BATCH", 100)
	posters := envInt(b, "BALLOTFLOW_BENCH_POSTERS", 8)
	modes := map[string]bool{}
	for _, m := range strings.Split(cmp.Or(os.Getenv("BALLOTFLOW_BENCH_MODES"), "bulk,batched,single"), ",") {
		switch m = strings.TrimSpace(m); m {
		case "bulk", "batched", "single":
			modes[m] = true
		default:
			b.Fatalf("BALLOTFLOW_BENCH_MODES: %q is not one of bulk, batched, single", m)
		}
	}
	var sb *benchSandbox
	d := startDevWith(b, app.DevOptions{ExternalSandbox: func(apiURL string) (string, string, error) {
		var key string
		var err error
		sb, key, err = startSandboxProcess(b, apiURL)
		if err != nil {
			return "", "", err
		}
		return sb.url, key, nil
	}}, func(c *config.Config) {
		c.IngestRate, c.EmailRate, c.SMSRate = 1e6, 1e6, 1e6
	})
	noop := sdkworker.New(d.Temporal, "bench-noop", noopWorkerOptions(b))
	noop.RegisterWorkflowWithOptions(noopWorkflow, workflow.RegisterOptions{Name: "BenchNoop"})
	require.NoError(b, noop.Start())
	b.Cleanup(noop.Stop)
	// The posters' client keeps a connection each, as a county system would.
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: posters}, Timeout: 5 * time.Minute}

	began := time.Now()
	voters := mailOutVoters(b, d, n)
	b.Logf("%d voters with email and SMS at any hour created in %s; sandbox providers in process %d",
		n, time.Since(began).Round(time.Millisecond), sb.pid)
	at := time.Now().Add(-time.Hour).Truncate(time.Second)

	round := 0
	if modes["bulk"] {
		b.Run("bulk-file", func(b *testing.B) {
			for b.Loop() {
				round++
				prefix := fmt.Sprintf("MO%d-", round)
				var file bytes.Buffer
				file.WriteString(bulkHeader + "\n")
				for i, v := range voters.ids {
					fmt.Fprintf(&file, "mailout-%d-%d,%s,%s,%s%d,mailed,%s,,\n", round, i, demo.ElectionID, v, prefix, i,
						at.Format(time.RFC3339))
				}
				mailOutRound(b, d, sb, voters, round, prefix, func(sent []time.Time) {
					res := postBulk(b, d, d.DemoKey, "text/csv", file.String())
					require.Equal(b, http.StatusAccepted, res.Status, res.Body)
					require.Equal(b, n, res.Accepted)
					stored := time.Now()
					for i := range sent {
						sent[i] = stored
					}
				})
			}
		})
	}
	if modes["batched"] {
		b.Run(fmt.Sprintf("batched-posts-%d", batch), func(b *testing.B) {
			for b.Loop() {
				round++
				prefix := fmt.Sprintf("MO%d-", round)
				mailOutRound(b, d, sb, voters, round, prefix, func(sent []time.Time) {
					postMailed(b, client, func(int) *app.Dev { return d }, posters, voters, at, fmt.Sprintf("mailout-%d-", round), prefix, batch, sent)
				})
			}
		})
	}
	if modes["single"] {
		b.Run("single-posts", func(b *testing.B) {
			for b.Loop() {
				round++
				prefix := fmt.Sprintf("MO%d-", round)
				mailOutRound(b, d, sb, voters, round, prefix, func(sent []time.Time) {
					postMailed(b, client, func(int) *app.Dev { return d }, posters, voters, at, fmt.Sprintf("mailout-%d-", round), prefix, 0, sent)
				})
			}
		})
	}
}

// postMailed posts a "mailed" event for every voter from posters goroutines, poster p to
// the API of dev(p), size events a request: a bare event when size is 0, else
// {"events": [...]}. Event ids are eventPrefix<i>, ballot ids ballotPrefix<i>; sent[i] is
// when voter i's event was posted.
func postMailed(b *testing.B, client *http.Client, dev func(poster int) *app.Dev, posters int, voters mailOutVoterSet,
	at time.Time, eventPrefix, ballotPrefix string, size int, sent []time.Time) {
	n := len(voters.ids)
	work := make(chan int)
	var wg sync.WaitGroup
	for p := range posters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d := dev(p)
			for from := range work {
				to := min(from+max(size, 1), n)
				events := make([]string, 0, to-from)
				for i := from; i < to; i++ {
					events = append(events, eventJSON(fmt.Sprintf("%s%d", eventPrefix, i), voters.ids[i],
						fmt.Sprintf("%s%d", ballotPrefix, i), "mailed", at))
				}
				body := events[0]
				if size > 0 {
					body = `{"events":[` + strings.Join(events, ",") + `]}`
				}
				posted := time.Now()
				for i := from; i < to; i++ {
					sent[i] = posted
				}
				results, err := tryPostEvents(client, d, body)
				if err != nil {
					b.Error(err)
					continue
				}
				for _, r := range results {
					if r.Result != intake.Accepted {
						b.Errorf("event not accepted: %s", r.Result)
					}
				}
			}
		}()
	}
	for from := 0; from < n; from += max(size, 1) {
		work <- from
	}
	close(work)
	wg.Wait()
}

// tryPostEvents posts a body to /v1/ballot-events from any goroutine: it returns its error.
func tryPostEvents(client *http.Client, d *app.Dev, body string) ([]intake.Result, error) {
	req, err := http.NewRequest(http.MethodPost, d.APIURL+"/v1/ballot-events", strings.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+d.DemoKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var out apiResponse
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusAccepted {
		return nil, fmt.Errorf("POST /v1/ballot-events answered %d: %s", resp.StatusCode, out.Error.Code)
	}
	return out.Results, nil
}

// mailOutVoterSet is the benchmark's voters: ids, and which voter each address belongs to.
type mailOutVoterSet struct {
	ids    []string
	byAddr map[string]int
}

// mailOutVoters creates n voters with an email (auto-enrolled) and an active SMS
// subscription at any hour, from 4 goroutines.
func mailOutVoters(b *testing.B, d *app.Dev, n int) mailOutVoterSet {
	b.Helper()
	ctx := context.Background()
	set := mailOutVoterSet{ids: make([]string, n), byAddr: make(map[string]int, 2*n)}
	emails, phones := make([]string, n), make([]string, n)
	for i := range n {
		set.ids[i] = fmt.Sprintf("73%07d", i)
		emails[i] = fmt.Sprintf("mailout%d@example.org", i)
		phones[i] = fmt.Sprintf("+1720%03d%04d", 200+i/10000, i%10000)
		set.byAddr[emails[i]], set.byAddr[phones[i]] = i, i
	}
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += 4 {
				ref, err := d.Store.VoterUpsert(ctx, store.Voter{State: "CO", VoterID: set.ids[i], County: "denver",
					FirstName: "Mailout", LastName: fmt.Sprintf("Voter%d", i), DateOfBirth: time.Date(1980, 1, 1+i%28, 0, 0, 0, 0, time.UTC),
					ResidentialZIP: "80202", Status: "active", Language: "en", Email: emails[i], Phone: phones[i]})
				if err == nil {
					err = d.Store.SubscriptionUpsert(ctx, store.Subscription{VoterRef: ref, Channel: ballot.ChannelSMS,
						Address: phones[i], State: "active", Source: "portal", ContactStart: "00:00", ContactEnd: "00:00"})
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	require.NoError(b, <-errs)
	return set
}

// cpuSplit is the CPU used so far by this process, the sandbox process and PostgreSQL.
type cpuSplit struct{ self, sandbox, pg time.Duration }

func cpuNow(sb *benchSandbox) cpuSplit {
	return cpuSplit{self: processCPU(), sandbox: sb.cpu(), pg: postgresCPU()}
}

func (c cpuSplit) sub(o cpuSplit) cpuSplit {
	return cpuSplit{self: c.self - o.self, sandbox: c.sandbox - o.sandbox, pg: c.pg - o.pg}
}

func (c cpuSplit) total() time.Duration { return c.self + c.sandbox + c.pg }

// perEvent is each share in ms per event.
func (c cpuSplit) perEvent(n int) (self, sandbox, pg, total float64) {
	return ms(c.self) / float64(n), ms(c.sandbox) / float64(n), ms(c.pg) / float64(n), ms(c.total()) / float64(n)
}

// mailOutRound measures one round: the ceiling first, then send (which posts the events and
// fills in, per voter, when its event was posted or stored), until every voter's email and
// text are in the outbox.
func mailOutRound(b *testing.B, d *app.Dev, sb *benchSandbox, voters mailOutVoterSet, round int, prefix string,
	send func(sent []time.Time)) {
	b.Helper()
	n := len(voters.ids)
	ceiling := bestSignalCeiling(b, d, round, min(n, 1000))

	require.NoError(b, sb.resetOutbox())
	accepted0, err := sb.accepted()
	require.NoError(b, err)
	runtime.GC()
	cpu0 := cpuNow(sb)
	start := time.Now()
	sent := make([]time.Time, n)
	send(sent)
	posted := time.Since(start)

	// Wait until every voter has both notices: the sandbox's counter of accepted provider
	// requests first (cheap), then the outbox itself.
	deadline := start.Add(max(10*time.Minute, time.Duration(n)*200*time.Millisecond))
	var (
		msgs   []sandboxMessage
		cpuOut cpuSplit
		reads  int
	)
	for {
		accepted, err := sb.accepted()
		require.NoError(b, err)
		if accepted-accepted0 >= 2*n {
			cpuOut = cpuNow(sb)
			msgs, err = sb.outbox()
			require.NoError(b, err)
			reads++
			if countCovered(msgs, voters) == 2*n {
				break
			}
		}
		if time.Now().After(deadline) {
			msgs, err = sb.outbox()
			require.NoError(b, err)
			b.Fatalf("after %s only %d of %d voters' notices are in the outbox (%d provider requests accepted)",
				time.Since(start).Round(time.Second), countCovered(msgs, voters), 2*n, accepted-accepted0)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// Each notice's first appearance in the outbox.
	first := firstArrivals(msgs, voters)
	writeMailOutSeries(b, start, first, voters)
	last, emailLat, smsLat := outboxLatencies(first, sent, voters, start)
	elapsed := last.Sub(start)
	// Then until the three processes are quiet (webhooks settled, deliveries recorded), at
	// most a minute.
	settled := waitQuiet(sb, time.Minute)
	cpuAll := cpuNow(sb)
	msgs, err = sb.outbox()
	require.NoError(b, err)
	duplicates := len(msgs) - 2*n

	pct := func(lat []time.Duration, p float64) time.Duration {
		if len(lat) == 0 {
			return 0
		}
		slices.Sort(lat)
		return lat[min(len(lat)-1, int(p*float64(len(lat))))]
	}
	perSecond := float64(n) / elapsed.Seconds()
	hist, actions, kinds := historyPerBallot(b, d, prefix, 5)
	memPerWF := memoryPerCachedWorkflow(n)
	out0, outSB, outPG, out := cpuOut.sub(cpu0).perEvent(n)
	all0, allSB, allPG, all := cpuAll.sub(cpu0).perEvent(n)

	b.ReportMetric(perSecond, "events/s")
	b.ReportMetric(ceiling.perSecond, "ceiling-signals/s")
	b.ReportMetric(perSecond/ceiling.perSecond, "e2e/ceiling")
	b.ReportMetric(float64(pct(emailLat, 0.5).Milliseconds()), "email-p50-ms")
	b.ReportMetric(float64(pct(emailLat, 0.99).Milliseconds()), "email-p99-ms")
	b.ReportMetric(out0, "cpu-ms/event")
	b.ReportMetric(outSB, "sandbox-cpu-ms/event")
	b.ReportMetric(outPG, "pg-cpu-ms/event")
	b.ReportMetric(all0, "settled-cpu-ms/event")
	b.ReportMetric(allSB, "settled-sandbox-cpu-ms/event")
	b.ReportMetric(allPG, "settled-pg-cpu-ms/event")
	b.ReportMetric(all, "settled-total-cpu-ms/event")
	b.ReportMetric(ceiling.cpuPerSignal, "ceiling-cpu-ms/signal")
	b.ReportMetric(hist, "history-events/ballot")
	b.ReportMetric(actions, "cloud-actions/ballot")
	if memPerWF > 0 {
		b.ReportMetric(memPerWF/1024, "KiB/cached-workflow")
	}
	b.ReportMetric(float64(duplicates), "duplicates")
	b.Logf("%d events, %d notices: posted in %s, all in the outbox after %s: %.1f events/s end to end, %.3f of the "+
		"ceiling (SignalWithStart of a no-op workflow: %.0f/s from %d goroutines, %.2f CPU-ms a signal in this process)",
		n, 2*n, posted.Round(time.Millisecond), elapsed.Round(time.Millisecond), perSecond, perSecond/ceiling.perSecond,
		ceiling.perSecond, ceiling.goroutines, ceiling.cpuPerSignal)
	b.Logf("POST→outbox: emails p50 %s p99 %s, texts p50 %s p99 %s",
		pct(emailLat, 0.5).Round(time.Millisecond), pct(emailLat, 0.99).Round(time.Millisecond),
		pct(smsLat, 0.5).Round(time.Millisecond), pct(smsLat, 0.99).Round(time.Millisecond))
	b.Logf("CPU-ms per event to the outbox: %.2f this process (API, worker and Temporal server together, with the "+
		"benchmark's posting) + %.2f sandbox process + %.2f PostgreSQL = %.2f; settled (%s later): %.2f + %.2f + %.2f = %.2f "+
		"(outbox read %d times)",
		out0, outSB, outPG, out, settled.Round(time.Millisecond), all0, allSB, allPG, all, reads+1)
	b.Logf("history %.1f events and ~%.1f Temporal Cloud actions a ballot; worker memory %.1f KiB a cached "+
		"workflow; %d duplicate notices", hist, actions, memPerWF/1024, duplicates)
	b.Logf("history of one ballot by event type: %s", kinds)
	b.Logf("provider webhooks the API has taken since the stack started: %s", webhookCounts(d))
}

// webhookCounts is the API's ballotflow_webhooks_total series from its /metrics, to show
// that the sandbox process's signed webhooks reach the API and are verified (result="ok").
func webhookCounts(d *app.Dev) string {
	resp, err := http.Get(d.APIURL + "/metrics")
	if err != nil {
		return err.Error()
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err.Error()
	}
	var series []string
	for line := range strings.Lines(string(body)) {
		if strings.HasPrefix(line, "ballotflow_webhooks_total{") {
			series = append(series, strings.TrimPrefix(strings.TrimSpace(line), "ballotflow_webhooks_total"))
		}
	}
	return strings.Join(series, ", ")
}

type sandboxMessage struct {
	channel string
	to      string
	at      time.Time
}

// countCovered counts the distinct benchmark addresses in the outbox.
func countCovered(msgs []sandboxMessage, voters mailOutVoterSet) int {
	seen := make(map[string]bool, len(msgs))
	for _, m := range msgs {
		if _, ok := voters.byAddr[m.to]; ok {
			seen[m.to] = true
		}
	}
	return len(seen)
}

// firstArrivals is the first message in the outbox to each of the voters' addresses.
func firstArrivals(msgs []sandboxMessage, voters mailOutVoterSet) map[string]sandboxMessage {
	first := make(map[string]sandboxMessage, len(voters.byAddr))
	for _, m := range msgs {
		if _, ok := voters.byAddr[m.to]; !ok {
			continue
		}
		if f, seen := first[m.to]; !seen || m.at.Before(f.at) {
			first[m.to] = m
		}
	}
	return first
}

// outboxLatencies is, for each first arrival, the time from its voter's post (sent, by voter
// index), by channel, and the last arrival (start when there is none).
func outboxLatencies(first map[string]sandboxMessage, sent []time.Time, voters mailOutVoterSet,
	start time.Time) (last time.Time, emailLat, smsLat []time.Duration) {
	last = start
	for addr, m := range first {
		lat := m.at.Sub(sent[voters.byAddr[addr]])
		if m.channel == ballot.ChannelEmail {
			emailLat = append(emailLat, lat)
		} else {
			smsLat = append(smsLat, lat)
		}
		last = later(last, m.at)
	}
	return last, emailLat, smsLat
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

type signalCeiling struct {
	perSecond    float64
	goroutines   int
	cpuPerSignal float64 // ms of this process's CPU (client, Temporal server, no-op worker)
}

// bestSignalCeiling measures SignalWithStart of a no-op workflow (signalNoopsFrom, as
// BenchmarkBulkEvents does) with signals each from 4, 16 and 64 goroutines, each until
// every no-op workflow has run its task (noopsDone), and returns the best.
func bestSignalCeiling(b *testing.B, d *app.Dev, round, signals int) signalCeiling {
	b.Helper()
	var best signalCeiling
	for k, goroutines := range []int{4, 16, 64} {
		cpu0 := processCPU()
		start := time.Now()
		require.NoError(b, signalNoopsFrom(context.Background(), d.Temporal, 1000*round+k, signals, goroutines))
		require.NoError(b, noopsDone(context.Background(), d.Temporal, 1000*round+k, signals))
		rate := float64(signals) / time.Since(start).Seconds()
		if rate > best.perSecond {
			best = signalCeiling{perSecond: rate, goroutines: goroutines, cpuPerSignal: ms(processCPU()-cpu0) / float64(signals)}
		}
	}
	return best
}

// processCPU is this process's user and system CPU so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// postgresCPU sums the CPU of every process named postgres on this machine, from
// /proc/<pid>/stat: user and system time, and that of their reaped children (so that a
// backend that exited between two readings still counts, through the postmaster). Other
// databases' work on the same server counts too; the benchmark's run is the only one
// expected.
func postgresCPU() time.Duration {
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	var total time.Duration
	for _, dir := range dirs {
		comm, err := os.ReadFile(dir + "/comm")
		if err != nil || strings.TrimSpace(string(comm)) != "postgres" {
			continue
		}
		total += procCPU(dir, true)
	}
	return total
}

// procCPU is the user and system CPU of the process at dir (/proc/<pid>) from its stat, and
// with children that of its reaped children too; 0 when it is gone. It counts clock ticks
// of 1/100 s, the Linux USER_HZ.
func procCPU(dir string, children bool) time.Duration {
	stat, err := os.ReadFile(dir + "/stat")
	if err != nil {
		return 0
	}
	// Fields after "pid (comm) ": state is the 3rd field, utime the 14th, stime the 15th,
	// cutime and cstime the 16th and 17th.
	rest := string(stat[bytes.LastIndexByte(stat, ')')+2:])
	fields := strings.Fields(rest)
	if len(fields) < 15 {
		return 0
	}
	upTo := 13
	if children {
		upTo = 15
	}
	var ticks int64
	for _, f := range fields[11:upTo] {
		v, _ := strconv.ParseInt(f, 10, 64)
		ticks += v
	}
	return time.Duration(ticks) * 10 * time.Millisecond
}

// waitQuiet waits until this process, the sandbox process and PostgreSQL together use less
// than a tenth of a core over half a second, at most limit, and says how long it waited.
func waitQuiet(sb *benchSandbox, limit time.Duration) time.Duration {
	start := time.Now()
	for time.Since(start) < limit {
		c0 := cpuNow(sb).total()
		time.Sleep(500 * time.Millisecond)
		if cpuNow(sb).total()-c0 < 50*time.Millisecond {
			break
		}
	}
	return time.Since(start)
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// historyPerBallot reads the histories of up to sample ballots of the round and returns the
// average number of history events and of estimated Temporal Cloud actions, and one
// ballot's events by type.
//
// The actions are counted from the history by the rule Temporal Cloud's documentation on
// actions gives per category, as an estimate: a workflow started (1; a SignalWithStart
// shows as a start and a signal, 2 actions); each signal received (1); each activity
// scheduled (1) and each retry of it (1 per attempt after the first); each timer started
// (1); each search-attribute upsert or memo change (1); each signal to, cancel of, or start
// of another workflow (1); side-effect markers (1 each); all the local activities that one
// workflow task ran count once together (1 per workflow task that recorded local-activity
// markers); version markers count nothing. Queries and activity heartbeats, which are not in
// the history, are not counted (the API's status page queries ballots; this run does not).
func historyPerBallot(b *testing.B, d *app.Dev, prefix string, sample int) (events, actions float64, kinds string) {
	b.Helper()
	ctx := context.Background()
	rows, err := d.Store.Pool().Query(ctx, `SELECT key FROM ballots WHERE ballot_id LIKE $1 ORDER BY id LIMIT $2`,
		prefix+"%", sample)
	require.NoError(b, err)
	var keys []string
	for rows.Next() {
		var k string
		require.NoError(b, rows.Scan(&k))
		keys = append(keys, k)
	}
	require.NoError(b, rows.Err())
	require.NotEmpty(b, keys)
	for j, key := range keys {
		iter := d.Temporal.GetWorkflowHistory(ctx, ballot.WorkflowID(demo.ElectionID, key), "", false,
			enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		var evs []*historypb.HistoryEvent
		for iter.HasNext() {
			ev, err := iter.Next()
			require.NoError(b, err)
			evs = append(evs, ev)
		}
		events += float64(len(evs))
		actions += float64(cloudActions(evs))
		if j == 0 {
			byType := map[string]int{}
			for _, ev := range evs {
				byType[strings.TrimPrefix(ev.GetEventType().String(), "EVENT_TYPE_")]++
			}
			var parts []string
			for t, c := range byType {
				parts = append(parts, fmt.Sprintf("%s %d", t, c))
			}
			slices.Sort(parts)
			kinds = strings.Join(parts, ", ")
		}
	}
	return events / float64(len(keys)), actions / float64(len(keys)), kinds
}

// cloudActions estimates the Temporal Cloud actions of a history (see historyPerBallot).
func cloudActions(evs []*historypb.HistoryEvent) int {
	actions := 0
	localTasks := map[int64]bool{} // workflow-task-completed event ids with local activities
	for _, ev := range evs {
		switch ev.GetEventType() {
		case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED,
			enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED,
			enumspb.EVENT_TYPE_TIMER_STARTED,
			enumspb.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES,
			enumspb.EVENT_TYPE_WORKFLOW_PROPERTIES_MODIFIED,
			enumspb.EVENT_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED,
			enumspb.EVENT_TYPE_REQUEST_CANCEL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED,
			enumspb.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED:
			actions++
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
			actions++
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_STARTED:
			if a := ev.GetActivityTaskStartedEventAttributes().GetAttempt(); a > 1 {
				actions += int(a) - 1
			}
		case enumspb.EVENT_TYPE_MARKER_RECORDED:
			attrs := ev.GetMarkerRecordedEventAttributes()
			switch attrs.GetMarkerName() {
			case "LocalActivity":
				localTasks[attrs.GetWorkflowTaskCompletedEventId()] = true
			case "SideEffect", "MutableSideEffect":
				actions++
			}
		}
	}
	return actions + len(localTasks)
}

// memoryPerCachedWorkflow is what the worker's sticky cache holds per workflow: the heap
// and goroutine stacks in use before and after purging the cache, divided by the ballot
// workflows this round put in it (at most the SDK's default cache of 10,000). Purging is
// harmless: a purged workflow replays its history at its next task. 0 when the
// difference is lost in the noise.
func memoryPerCachedWorkflow(cached int) float64 {
	inUse := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc + m.StackInuse
	}
	before := inUse()
	sdkworker.PurgeStickyWorkflowCache()
	time.Sleep(200 * time.Millisecond) // the evicted workflows' goroutines exit
	after := inUse()
	if after >= before {
		return 0
	}
	return float64(before-after) / float64(min(cached, 10000))
}

// envInt reads a positive whole number from the environment, or def.
func envInt(b *testing.B, name string, def int) int {
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	v, err := strconv.Atoi(s)
	if err != nil || v < 1 {
		b.Fatalf("%s=%q: want a positive whole number", name, s)
	}
	return v
}
