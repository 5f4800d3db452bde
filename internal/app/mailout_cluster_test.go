package app_test

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/serviceerror"
	taskqueuepb "go.temporal.io/api/taskqueue/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	sdkworker "go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/ballotflow/ballotflow/internal/app"
	"github.com/ballotflow/ballotflow/internal/config"
	"github.com/ballotflow/ballotflow/internal/demo"
	"github.com/ballotflow/ballotflow/internal/store"
	"github.com/ballotflow/ballotflow/workflows/contract"
)

// BenchmarkMailOutDayCluster is BenchmarkMailOutDayToTheOutbox on the production topology
// (issue 12, deliverable 3): the real Temporal server, built from go.temporal.io/server,
// persisting to PostgreSQL with the schema its own SQL tool set up; `ballotflow api` twice,
// `ballotflow worker` once and then twice, and `ballotflow sandbox`, each a process of its
// own. `make bench-cluster` (scripts/bench-cluster.sh) builds the binaries and runs it;
// without BALLOTFLOW_CLUSTER_BIN (the directory holding ballotflow, temporal-server and
// temporal-sql-tool) it is skipped, so `make bench` passes it by.
//
// Every run makes three databases of its own (BALLOTFLOW_CLUSTER_RUN_app, _temporal,
// _visibility; the script names the run), and drops them when it ends, after stopping
// every process it started; their pids are written to BALLOTFLOW_CLUSTER_DIR/pids so that
// the script's trap can stop them if this process dies first. The Temporal server runs
// with BALLOTFLOW_CLUSTER_SHARDS history shards (default 4; see clusterServerConfig) and
// deploy/temporal/dynamicconfig.yaml, as docker-compose.yml runs it.
//
// The rounds are the same as the in-process benchmark's, chosen by BALLOTFLOW_BENCH_MODES
// (default "bulk,single" here), for each worker count up to BALLOTFLOW_CLUSTER_WORKERS
// (default 2) as sub-benchmarks workers-<k>/<mode>: N voters (BALLOTFLOW_BENCH_VOTERS,
// default 5,000) with email and SMS get "mailed" until both notices are in the sandbox's
// outbox. Single POSTs are spread over the two APIs from BALLOTFLOW_BENCH_POSTERS
// connections (default 8); each bulk file goes to one of them, in turn. Beside each round,
// the same ceiling (bare SignalWithStart of a no-op workflow, whose worker runs in this
// process, until every no-op workflow has run) on the same cluster. BALLOTFLOW_BENCH_SHAPES
// first runs the shape ladder (shape_bench_test.go).
//
// CPU per event is read from /proc for each process group: the two APIs, the workers, the
// Temporal server, the sandbox, PostgreSQL (the backends serving this run's three
// databases; a backend's CPU is kept when it exits) and this driver (posting, reading the
// outbox and the database, the no-op worker). It prints events/s, its ratio to the
// ceiling, the CPU split, history events per ballot, and checks that nothing is lost or
// sent twice: every voter's email and text in the outbox exactly once, and one delivery
// each in the database. Only a lost notice fails the run; no figure is judged.
func BenchmarkMailOutDayCluster(b *testing.B) {
	bin := os.Getenv("BALLOTFLOW_CLUSTER_BIN")
	if bin == "" {
		b.Skip("BALLOTFLOW_CLUSTER_BIN is not set: run `make bench-cluster`")
	}
	n := envInt(b, "BALLOTFLOW_BENCH_VOTERS", 5000)
	batch := envInt(b, "BALLOTFLOW_BENCH_BATCH", 100)
	posters := envInt(b, "BALLOTFLOW_BENCH_POSTERS", 8)
	maxWorkers := envInt(b, "BALLOTFLOW_CLUSTER_WORKERS", 2)
	var modes []string
	for _, m := range strings.Split(cmp.Or(os.Getenv("BALLOTFLOW_BENCH_MODES"), "bulk,single"), ",") {
		switch m = strings.TrimSpace(m); m {
		case "none":
		case "bulk", "batched", "single":
			modes = append(modes, m)
		default:
			b.Fatalf("BALLOTFLOW_BENCH_MODES: %q is not one of bulk, batched, single, none", m)
		}
	}

	c := startCluster(b, bin, envInt(b, "BALLOTFLOW_CLUSTER_SHARDS", 4))
	noop := sdkworker.New(c.temporal, "bench-noop", noopWorkerOptions(b))
	noop.RegisterWorkflowWithOptions(noopWorkflow, workflow.RegisterOptions{Name: "BenchNoop"})
	registerShapes(noop)
	require.NoError(b, noop.Start())
	b.Cleanup(noop.Stop)
	if k := envInt(b, "BALLOTFLOW_BENCH_SHAPES", 0); k > 0 {
		c.shapeLadderOn(b, k)
	}
	if len(modes) == 0 {
		return // BALLOTFLOW_BENCH_MODES=none: the ladder alone
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: posters}, Timeout: 5 * time.Minute}

	began := time.Now()
	voters := mailOutVoters(b, c.dev(0), n)
	b.Logf("%d voters with email and SMS at any hour created in %s", n, time.Since(began).Round(time.Millisecond))
	at := time.Now().Add(-time.Hour).Truncate(time.Second)

	var results []clusterResult
	round := 0
	for workers := 1; workers <= maxWorkers; workers++ {
		c.startWorkers(b, workers)
		b.Run(fmt.Sprintf("workers-%d", workers), func(b *testing.B) {
			for _, mode := range modes {
				name := map[string]string{"bulk": "bulk-file", "batched": fmt.Sprintf("batched-posts-%d", batch),
					"single": "single-posts"}[mode]
				b.Run(name, func(b *testing.B) {
					for b.Loop() {
						round++
						prefix := fmt.Sprintf("CL%d-", round)
						var send func(sent []time.Time)
						switch mode {
						case "bulk":
							d := c.dev(round)
							send = func(sent []time.Time) {
								var file bytes.Buffer
								file.WriteString(bulkHeader + "\n")
								for i, v := range voters.ids {
									fmt.Fprintf(&file, "cluster-%d-%d,%s,%s,%s%d,mailed,%s,,\n", round, i, demo.ElectionID, v,
										prefix, i, at.Format(time.RFC3339))
								}
								res := postBulk(b, d, d.DemoKey, "text/csv", file.String())
								require.Equal(b, http.StatusAccepted, res.Status, res.Body)
								require.Equal(b, n, res.Accepted)
								stored := time.Now()
								for i := range sent {
									sent[i] = stored
								}
							}
						case "batched":
							send = func(sent []time.Time) {
								postMailed(b, client, c.dev, posters, voters, at, fmt.Sprintf("cluster-%d-", round), prefix, batch, sent)
							}
						case "single":
							send = func(sent []time.Time) {
								postMailed(b, client, c.dev, posters, voters, at, fmt.Sprintf("cluster-%d-", round), prefix, 0, sent)
							}
						}
						profiled := profileRound(b, round)
						r := clusterRound(b, c, voters, round, prefix, send)
						profiled()
						r.workers, r.mode = workers, name
						results = append(results, r)
					}
				})
			}
		})
	}
	c.summary(b, n, results)
}

// noopWorkerOptions are the no-op worker's options: BALLOTFLOW_BENCH_NOOP_POLLERS sets its
// workflow task pollers, a number or "auto" (the SDK's autoscaling, as ballotflow's worker
// polls, and the default: the ceiling at its best).
func noopWorkerOptions(b *testing.B) sdkworker.Options {
	switch v := os.Getenv("BALLOTFLOW_BENCH_NOOP_POLLERS"); v {
	case "", "auto":
		return sdkworker.Options{WorkflowTaskPollerBehavior: sdkworker.NewPollerBehaviorAutoscaling(sdkworker.PollerBehaviorAutoscalingOptions{})}
	default:
		return sdkworker.Options{MaxConcurrentWorkflowTaskPollers: envInt(b, "BALLOTFLOW_BENCH_NOOP_POLLERS", 2)}
	}
}

// clusterPprofAddr is where the first worker serves its profiles when
// BALLOTFLOW_CLUSTER_PPROF names a directory.
const clusterPprofAddr = "127.0.0.1:16060"

// clusterWorkerMetricsAddr is where the first worker serves its Prometheus metrics.
const clusterWorkerMetricsAddr = "127.0.0.1:16062"

// profileRound takes CPU profiles of the first worker and of the Temporal server for the
// first BALLOTFLOW_CLUSTER_PPROF_SECONDS (20) of a round, into the directory
// BALLOTFLOW_CLUSTER_PPROF names (worker-1-round-<n>.pprof and temporal-round-<n>.pprof,
// for go tool pprof); it does nothing without it. The function it returns waits for both.
func profileRound(b *testing.B, round int) func() {
	dir := os.Getenv("BALLOTFLOW_CLUSTER_PPROF")
	if dir == "" {
		return func() {}
	}
	seconds := envInt(b, "BALLOTFLOW_CLUSTER_PPROF_SECONDS", 20)
	var wg sync.WaitGroup
	for name, addr := range map[string]string{"worker-1": clusterPprofAddr, "temporal": clusterTemporalPprofAddr} {
		wg.Go(func() {
			if err := saveProfile(addr, seconds, filepath.Join(dir, fmt.Sprintf("%s-round-%d.pprof", name, round))); err != nil {
				b.Logf("profile of %s: %v", name, err)
			}
		})
	}
	return wg.Wait
}

// saveProfile saves a CPU profile of the given seconds from the pprof server at addr.
func saveProfile(addr string, seconds int, path string) error {
	resp, err := http.Get(fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", addr, seconds))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s", resp.Status)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// clusterTemporalPprofAddr is where the Temporal server serves its profiles when
// BALLOTFLOW_CLUSTER_PPROF names a directory.
const clusterTemporalPprofAddr = "127.0.0.1:16061"

// temporalPprofPort is the Temporal server's pprof port: none (0) unless
// BALLOTFLOW_CLUSTER_PPROF names a directory.
func temporalPprofPort() int {
	if os.Getenv("BALLOTFLOW_CLUSTER_PPROF") == "" {
		return 0
	}
	return 16061
}

// clusterResult is one round's figures, for the summary.
type clusterResult struct {
	workers        int
	mode           string
	perSecond      float64
	ceiling        float64
	cpu            map[string]float64 // ms per event by process group, to the outbox
	lost, twice    int
	emailDelivered int
}

// clusterGroups are the process groups CPU is reported for, in order.
var clusterGroups = []string{"api", "worker", "temporal", "sandbox", "postgres", "driver"}

// clusterRound measures one round as mailOutRound does: the ceiling first, then send, until
// every voter's email and text are in the outbox; then until the processes are quiet.
func clusterRound(b *testing.B, c *cluster, voters mailOutVoterSet, round int, prefix string,
	send func(sent []time.Time)) clusterResult {
	b.Helper()
	n := len(voters.ids)
	ceiling, ceilingCPU := c.signalCeiling(b, round, min(n, 1000))

	require.NoError(b, c.sandbox.resetOutbox())
	cpu0 := c.cpu()
	start := time.Now()
	sent := make([]time.Time, n)
	send(sent)
	posted := time.Since(start)

	// Wait for the deliveries the worker recorded as accepted by the provider (cheap), then
	// read the outbox itself.
	deadline := start.Add(max(10*time.Minute, time.Duration(n)*200*time.Millisecond))
	var (
		msgs   []sandboxMessage
		cpuOut map[string]time.Duration
		err    error
	)
	for {
		st := c.deliveries(b, prefix)
		if st.sent >= 2*n {
			cpuOut = c.cpu()
			msgs, err = c.sandbox.outbox()
			require.NoError(b, err)
			if countCovered(msgs, voters) == 2*n {
				break
			}
		}
		if time.Now().After(deadline) {
			msgs, err = c.sandbox.outbox()
			require.NoError(b, err)
			b.Fatalf("after %s only %d of %d voters' notices are in the outbox (%d deliveries accepted)",
				time.Since(start).Round(time.Second), countCovered(msgs, voters), 2*n, st.sent)
		}
		time.Sleep(500 * time.Millisecond)
	}
	first := firstArrivals(msgs, voters)
	last, emailLat, smsLat := outboxLatencies(first, sent, voters, start)
	elapsed := last.Sub(start)

	// Settled: webhooks processed, deliveries recorded; at most a minute.
	quiet := time.Now()
	for time.Since(quiet) < time.Minute {
		c0 := sumCPU(c.cpu())
		time.Sleep(time.Second)
		if sumCPU(c.cpu())-c0 < 100*time.Millisecond {
			break
		}
	}
	settled := time.Since(quiet)
	cpuAll := c.cpu()
	msgs, err = c.sandbox.outbox()
	require.NoError(b, err)
	perAddr := map[string]int{}
	for _, m := range msgs {
		if _, ok := voters.byAddr[m.to]; ok {
			perAddr[m.to]++
		}
	}
	twice := 0
	for _, k := range perAddr {
		twice += k - 1
	}
	lost := 2*n - len(perAddr)
	st := c.deliveries(b, prefix)

	pct := func(lat []time.Duration, p float64) time.Duration {
		if len(lat) == 0 {
			return 0
		}
		slices.Sort(lat)
		return lat[min(len(lat)-1, int(p*float64(len(lat))))]
	}
	perSecond := float64(n) / elapsed.Seconds()
	hist, actions, kinds := historyPerBallot(b, c.dev(0), prefix, 5)
	out, all := map[string]float64{}, map[string]float64{}
	var outTotal, allTotal float64
	for _, g := range clusterGroups {
		out[g] = ms(cpuOut[g]-cpu0[g]) / float64(n)
		all[g] = ms(cpuAll[g]-cpu0[g]) / float64(n)
		outTotal += out[g]
		allTotal += all[g]
	}

	b.ReportMetric(perSecond, "events/s")
	b.ReportMetric(ceiling, "ceiling-signals/s")
	b.ReportMetric(perSecond/ceiling, "e2e/ceiling")
	b.ReportMetric(float64(pct(emailLat, 0.5).Milliseconds()), "email-p50-ms")
	b.ReportMetric(float64(pct(emailLat, 0.99).Milliseconds()), "email-p99-ms")
	for _, g := range clusterGroups {
		b.ReportMetric(all[g], "settled-"+g+"-cpu-ms/event")
	}
	b.ReportMetric(allTotal, "settled-total-cpu-ms/event")
	b.ReportMetric(ceilingCPU, "ceiling-cpu-ms/signal")
	b.ReportMetric(hist, "history-events/ballot")
	b.ReportMetric(actions, "cloud-actions/ballot")
	b.ReportMetric(float64(lost), "lost")
	b.ReportMetric(float64(twice), "duplicates")

	split := func(m map[string]float64, total float64) string {
		var parts []string
		for _, g := range clusterGroups {
			parts = append(parts, fmt.Sprintf("%s %.2f", g, m[g]))
		}
		return strings.Join(parts, " + ") + fmt.Sprintf(" = %.2f", total)
	}
	b.Logf("%d events, %d notices: posted in %s, all in the outbox after %s: %.1f events/s end to end, %.3f of the "+
		"ceiling (SignalWithStart of a no-op workflow on the same cluster: %.0f/s, %.2f CPU-ms a signal in Temporal, "+
		"PostgreSQL and this driver)", n, 2*n, posted.Round(time.Millisecond), elapsed.Round(time.Millisecond),
		perSecond, perSecond/ceiling, ceiling, ceilingCPU)
	b.Logf("POST→outbox: emails p50 %s p99 %s, texts p50 %s p99 %s",
		pct(emailLat, 0.5).Round(time.Millisecond), pct(emailLat, 0.99).Round(time.Millisecond),
		pct(smsLat, 0.5).Round(time.Millisecond), pct(smsLat, 0.99).Round(time.Millisecond))
	b.Logf("CPU-ms per event to the outbox: %s", split(out, outTotal))
	b.Logf("CPU-ms per event settled (%s later): %s", settled.Round(time.Millisecond), split(all, allTotal))
	b.Logf("PostgreSQL CPU-ms per event by database, settled: ballotflow's %.2f, Temporal's %.2f, Temporal visibility %.2f",
		ms(cpuAll["postgres:app"]-cpu0["postgres:app"])/float64(n),
		ms(cpuAll["postgres:temporal"]-cpu0["postgres:temporal"])/float64(n),
		ms(cpuAll["postgres:visibility"]-cpu0["postgres:visibility"])/float64(n))
	b.Logf("resident memory: %s", c.rss())
	b.Logf("outbox: %d of %d notices, %d lost, %d sent twice; deliveries in the database: %d for %d ballots "+
		"(%d distinct ballot and channel), %d emails and %d texts settled as delivered by the providers' callbacks",
		len(perAddr), 2*n, lost, twice, st.rows, n, st.distinct, st.emailDelivered, st.smsDelivered)
	b.Logf("history %.1f events and ~%.1f Temporal Cloud actions a ballot; one ballot by event type: %s",
		hist, actions, kinds)
	b.Logf("provider webhooks API 1 has taken since it started: %s", webhookCounts(c.dev(0)))
	if lost > 0 {
		b.Errorf("%d notices lost", lost)
	}
	return clusterResult{perSecond: perSecond, ceiling: ceiling, cpu: all, lost: lost, twice: twice,
		emailDelivered: st.emailDelivered}
}

func sumCPU(m map[string]time.Duration) time.Duration {
	var t time.Duration
	for _, g := range clusterGroups {
		if g != "driver" { // the driver's own polling is not the stack's work
			t += m[g]
		}
	}
	return t
}

// summary prints the rounds side by side: events/s by worker count, and the CPU split.
func (c *cluster) summary(b *testing.B, n int, results []clusterResult) {
	if len(results) == 0 {
		return
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "production topology, %d voters, %d history shards, %d cores; CPU-ms per event, settled:\n",
		n, c.shards, runtime.NumCPU())
	fmt.Fprintf(&sb, "%-8s %-16s %9s %9s %6s", "workers", "mode", "events/s", "ceiling", "ratio")
	for _, g := range clusterGroups {
		fmt.Fprintf(&sb, " %8s", g)
	}
	fmt.Fprintf(&sb, " %6s %6s\n", "lost", "twice")
	byMode := map[string]map[int]float64{}
	for _, r := range results {
		fmt.Fprintf(&sb, "%-8d %-16s %9.1f %9.1f %6.3f", r.workers, r.mode, r.perSecond, r.ceiling, r.perSecond/r.ceiling)
		for _, g := range clusterGroups {
			fmt.Fprintf(&sb, " %8.2f", r.cpu[g])
		}
		fmt.Fprintf(&sb, " %6d %6d\n", r.lost, r.twice)
		if byMode[r.mode] == nil {
			byMode[r.mode] = map[int]float64{}
		}
		byMode[r.mode][r.workers] = r.perSecond
	}
	for _, mode := range slices.Sorted(maps.Keys(byMode)) {
		if one, two := byMode[mode][1], byMode[mode][2]; one > 0 && two > 0 {
			fmt.Fprintf(&sb, "%s: two workers / one worker = %.2f\n", mode, two/one)
		}
	}
	b.Log("\n" + sb.String())
}

// cluster is the production topology on this machine.
type cluster struct {
	run, dir, bin string
	shards        int
	namespace     string
	appDB         string // the ballotflow database's URL
	env           []string
	apiURLs       []string
	sandbox       *benchSandbox
	store         *store.Store
	temporal      client.Client
	key           string // a Denver county key

	mu       sync.Mutex
	procs    map[string][]*clusterProc // by group
	pgSeen   map[string]time.Duration  // CPU of this run's PostgreSQL backends, by database, pid and start time
	launcher chan func()
}

// clusterProc is one process of the cluster.
type clusterProc struct {
	name string
	cmd  *exec.Cmd
	log  *os.File
	done chan struct{}
}

const clusterPG = "postgres://postgres@127.0.0.1:5432/"

// startCluster sets up the databases, the Temporal server, the sandbox and the two APIs
// (the workers come with startWorkers); everything goes when the benchmark ends. env is
// given to ballotflow's processes after the benchmark's own settings, so it overrides them.
func startCluster(b *testing.B, bin string, shards int, env ...string) *cluster {
	b.Helper()
	began := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	bin, err := filepath.Abs(bin)
	require.NoError(b, err)
	c := &cluster{
		run: cmp.Or(os.Getenv("BALLOTFLOW_CLUSTER_RUN"), fmt.Sprintf("bfc_%d_%d", time.Now().Unix(), os.Getpid())),
		dir: cmp.Or(os.Getenv("BALLOTFLOW_CLUSTER_DIR"), b.TempDir()), bin: bin, shards: shards,
		namespace: "default", procs: map[string][]*clusterProc{}, pgSeen: map[string]time.Duration{},
		launcher: make(chan func()),
	}
	// Children get SIGKILL when the thread that started them exits (Pdeathsig), so they are
	// all started from one goroutine locked to a thread that lives as long as the benchmark.
	go func() {
		runtime.LockOSThread()
		for f := range c.launcher {
			f()
		}
	}()
	b.Cleanup(func() { close(c.launcher) })
	dbs := []string{c.run + "_app", c.run + "_temporal", c.run + "_visibility"}
	b.Cleanup(func() { // last: after every process stopped
		conn, err := pgx.Connect(context.Background(), clusterPG+"postgres?sslmode=disable")
		if err != nil {
			b.Errorf("drop the run's databases: %v", err)
			return
		}
		defer conn.Close(context.Background())
		for _, db := range dbs {
			if _, err := conn.Exec(context.Background(), "DROP DATABASE IF EXISTS "+pgx.Identifier{db}.Sanitize()+" WITH (FORCE)"); err != nil {
				b.Errorf("drop database %s: %v", db, err)
			}
		}
	})

	// Temporal's databases, with its own tool, as deploy/temporal/setup-schema.sh does.
	sqlTool := func(args ...string) {
		cmd := exec.Command(filepath.Join(bin, "temporal-sql-tool"), append([]string{"--plugin", "postgres12",
			"--ep", "127.0.0.1", "-p", "5432", "-u", "postgres"}, args...)...)
		out, err := cmd.CombinedOutput()
		require.NoError(b, err, "temporal-sql-tool %s: %s", strings.Join(args, " "), lastLines(out, 5))
	}
	for db, schema := range map[string]string{dbs[1]: "postgresql/v12/temporal", dbs[2]: "postgresql/v12/visibility"} {
		sqlTool("--db", db, "create-database")
		sqlTool("--db", db, "setup-schema", "-v", "0.0")
		sqlTool("--db", db, "update-schema", "--schema-name", schema)
	}

	ports := clusterPorts(b, 12)
	frontend := fmt.Sprintf("127.0.0.1:%d", ports[0])
	dynamic, err := filepath.Abs("../../deploy/temporal/dynamicconfig.yaml")
	require.NoError(b, err)
	serverConfig := filepath.Join(c.dir, "temporal.yaml")
	require.NoError(b, os.WriteFile(serverConfig,
		[]byte(clusterServerConfig(shards, dbs[1], dbs[2], ports[:9], dynamic, temporalPprofPort())), 0o600))
	c.start(b, "temporal", "temporal", []string{filepath.Join(bin, "temporal-server"),
		"--config-file", serverConfig, "--allow-no-auth", "start"}, os.Environ())
	c.temporal = c.registerNamespace(b, ctx, frontend)
	b.Cleanup(c.temporal.Close)

	// ballotflow's database, its demo county and election, a county key.
	c.appDB = clusterPG + dbs[0] + "?sslmode=disable"
	base := []string{"DATABASE_URL=" + c.appDB}
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if !slices.ContainsFunc(config.Vars, func(v config.Var) bool { return v.Name == name }) {
			base = append(base, kv)
		}
	}
	c.output(b, base, "migrate")
	c.store, err = store.Open(ctx, c.appDB)
	require.NoError(b, err)
	b.Cleanup(c.store.Close)
	require.NoError(b, demo.Seed(ctx, c.store, time.Now()))
	_, c.key, err = c.store.APIKeyCreate(ctx, store.APIKey{Role: store.RoleCounty, State: "CO", County: "denver",
		Label: "bench-cluster"}, "bench")
	require.NoError(b, err)
	payloadKey := strings.TrimSpace(c.output(b, base, "payload-key"))
	keys := map[string]string{}
	for line := range strings.Lines(c.output(b, base, "sandbox-key")) {
		name, value, _ := strings.Cut(strings.TrimSpace(line), "=")
		keys[name] = value
	}

	c.apiURLs = []string{fmt.Sprintf("http://127.0.0.1:%d", ports[9]), fmt.Sprintf("http://127.0.0.1:%d", ports[10])}
	sandboxURL := fmt.Sprintf("http://127.0.0.1:%d", ports[11])
	c.env = append(base,
		"TEMPORAL_ADDRESS="+frontend, "TEMPORAL_NAMESPACE="+c.namespace,
		// Webhooks go to the first API, as they would to a load balancer's one address.
		"PUBLIC_URL="+c.apiURLs[0], "SANDBOX_URL="+sandboxURL, "PAYLOAD_KEYS="+payloadKey,
		// Lifted as in the in-process benchmark: the pace is measured, not the limits.
		"EMAIL_RATE=1000000", "SMS_RATE=1000000", "INGEST_RATE=1000000",
		"LOG_FORMAT=json", "LOG_LEVEL=info")
	c.env = append(c.env, env...)

	c.start(b, "sandbox", "sandbox", []string{filepath.Join(bin, "ballotflow"), "sandbox"},
		append(slices.Clip(c.env), "SANDBOX_ADDR="+strings.TrimPrefix(sandboxURL, "http://"),
			"SANDBOX_SENDGRID_SIGNING_KEY="+keys["SANDBOX_SENDGRID_SIGNING_KEY"]))
	c.sandbox = &benchSandbox{url: sandboxURL, pid: c.procs["sandbox"][0].cmd.Process.Pid,
		client: &http.Client{Timeout: time.Minute}}
	c.waitHTTP(b, "sandbox", sandboxURL+"/dev/faults")
	for i, u := range c.apiURLs {
		c.start(b, fmt.Sprintf("api-%d", i+1), "api", []string{filepath.Join(bin, "ballotflow"), "api"},
			append(slices.Clip(c.env), "API_ADDR="+strings.TrimPrefix(u, "http://"),
				"SENDGRID_WEBHOOK_PUBLIC_KEY="+keys["SENDGRID_WEBHOOK_PUBLIC_KEY"]))
		c.waitHTTP(b, fmt.Sprintf("api-%d", i+1), u+"/healthz")
	}
	b.Logf("cluster %s up in %s: Temporal %s (%d history shards) on PostgreSQL, APIs %s, sandbox %s; logs in %s",
		c.run, time.Since(began).Round(time.Millisecond),
		frontend, shards, strings.Join(c.apiURLs, " "), sandboxURL, c.dir)
	return c
}

// clusterServerConfig is the Temporal server's configuration: PostgreSQL (postgres12
// plugin) for persistence and visibility, the four services in one process on loopback
// ports (frontend gRPC, HTTP and membership, then gRPC and membership for history, matching
// and worker), the dynamic config docker-compose.yml uses.
//
// History shards: 4 by default. A shard is the unit the history service owns and works
// through: each has its own transfer, timer and visibility queue readers polling
// PostgreSQL and its own range lock, so every shard costs background work even when idle,
// while workflows spread over shards by hash and more shards than busy cores buy no more
// parallelism. On 2 cores with one history host 4 keeps two busy shards per core; production
// sets 512 (docker-compose.yml) because the count is fixed when a cluster is created and has
// to be enough for the hosts it grows to.
func clusterServerConfig(shards int, db, visibilityDB string, ports []int, dynamicConfig string, pprofPort int) string {
	return fmt.Sprintf(`log:
  stdout: true
  level: warn
persistence:
  defaultStore: default
  visibilityStore: visibility
  numHistoryShards: %d
  datastores:
    default:
      sql:
        pluginName: postgres12
        databaseName: %s
        connectAddr: 127.0.0.1:5432
        connectProtocol: tcp
        user: postgres
        maxConns: 10
        maxIdleConns: 10
        maxConnLifetime: 1h
    visibility:
      sql:
        pluginName: postgres12
        databaseName: %s
        connectAddr: 127.0.0.1:5432
        connectProtocol: tcp
        user: postgres
        maxConns: 2
        maxIdleConns: 2
        maxConnLifetime: 1h
global:
  membership:
    maxJoinDuration: 30s
    broadcastAddress: 127.0.0.1
  pprof:
    port: %d
    host: 127.0.0.1
services:
  frontend:
    rpc: {grpcPort: %d, httpPort: %d, membershipPort: %d, bindOnLocalHost: true}
  history:
    rpc: {grpcPort: %d, membershipPort: %d, bindOnLocalHost: true}
  matching:
    rpc: {grpcPort: %d, membershipPort: %d, bindOnLocalHost: true}
  worker:
    rpc: {grpcPort: %d, membershipPort: %d, bindOnLocalHost: true}
clusterMetadata:
  enableGlobalNamespace: false
  failoverVersionIncrement: 10
  masterClusterName: active
  currentClusterName: active
  clusterInformation:
    active:
      enabled: true
      initialFailoverVersion: 1
      rpcName: frontend
      rpcAddress: 127.0.0.1:%d
dcRedirectionPolicy:
  policy: noop
dynamicConfigClient:
  filepath: %s
  pollInterval: 60s
`, shards, db, visibilityDB, pprofPort, ports[0], ports[1], ports[2], ports[3], ports[4], ports[5], ports[6], ports[7], ports[8],
		ports[0], dynamicConfig)
}

// registerNamespace waits for the frontend, creates the namespace and the search attributes
// the ballot workflows use, as deploy/temporal/setup-namespace.sh does, and waits until the
// frontend's namespace registry knows them; it returns a client of the namespace.
func (c *cluster) registerNamespace(b *testing.B, ctx context.Context, frontend string) client.Client {
	b.Helper()
	var tc client.Client
	c.retry(b, ctx, "Temporal frontend", func() error {
		var err error
		tc, err = client.DialContext(ctx, client.Options{HostPort: frontend, Namespace: c.namespace,
			Logger: sdklog.NewStructuredLogger(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))})
		return err
	})
	c.retry(b, ctx, "namespace registration", func() error {
		_, err := tc.WorkflowService().RegisterNamespace(ctx, &workflowservice.RegisterNamespaceRequest{
			Namespace: c.namespace, WorkflowExecutionRetentionPeriod: durationpb.New(24 * time.Hour)})
		if errors.As(err, new(*serviceerror.NamespaceAlreadyExists)) {
			return nil
		}
		return err
	})
	c.retry(b, ctx, "search attributes", func() error {
		_, err := tc.OperatorService().AddSearchAttributes(ctx, &operatorservice.AddSearchAttributesRequest{
			Namespace: c.namespace, SearchAttributes: app.SearchAttributes})
		if errors.As(err, new(*serviceerror.AlreadyExists)) {
			return nil
		}
		return err
	})
	c.retry(b, ctx, "search attributes in the namespace registry", func() error {
		ns, err := tc.WorkflowService().DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{
			Namespace: c.namespace, WeakConsistency: true})
		if err != nil {
			return err
		}
		aliases := map[string]bool{}
		for _, alias := range ns.GetConfig().GetCustomSearchAttributeAliases() {
			aliases[alias] = true
		}
		for name := range app.SearchAttributes {
			if !aliases[name] {
				return fmt.Errorf("search attribute %s not in the namespace registry yet", name)
			}
		}
		return nil
	})
	return tc
}

// retry calls f until it succeeds, every half second, failing the benchmark when ctx ends
// or the Temporal server has exited.
func (c *cluster) retry(b *testing.B, ctx context.Context, what string, f func() error) {
	b.Helper()
	for {
		err := f()
		if err == nil {
			return
		}
		if c.exited("temporal") || ctx.Err() != nil {
			b.Fatalf("%s: %v (Temporal server log: %s)", what, err, filepath.Join(c.dir, "temporal.log"))
		}
		time.Sleep(500 * time.Millisecond)
	}
}

func (c *cluster) exited(name string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, ps := range c.procs {
		for _, p := range ps {
			if p.name == name {
				select {
				case <-p.done:
					return true
				default:
				}
			}
		}
	}
	return false
}

// startWorkers starts `ballotflow worker` processes until there are k, and waits until the
// ballot task queue has a poller from each.
func (c *cluster) startWorkers(b *testing.B, k int) {
	b.Helper()
	for i := len(c.procs["worker"]); i < k; i++ {
		env := c.env
		if i == 0 {
			env = append(slices.Clip(env), "METRICS_ADDR="+clusterWorkerMetricsAddr)
			if os.Getenv("BALLOTFLOW_CLUSTER_PPROF") != "" {
				env = append(env, "PPROF_ADDR="+clusterPprofAddr)
			}
		}
		c.start(b, fmt.Sprintf("worker-%d", i+1), "worker", []string{filepath.Join(c.bin, "ballotflow"), "worker"}, env)
	}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		resp, err := c.temporal.DescribeTaskQueue(context.Background(), contract.TaskQueue, enumspb.TASK_QUEUE_TYPE_WORKFLOW)
		polling := 0
		if err == nil {
			for _, p := range c.procs["worker"] {
				if slices.ContainsFunc(resp.GetPollers(), func(pi *taskqueuepb.PollerInfo) bool {
					return strings.HasPrefix(pi.GetIdentity(), strconv.Itoa(p.cmd.Process.Pid)+"@")
				}) {
					polling++
				}
			}
		}
		if polling == k {
			return
		}
		for _, p := range c.procs["worker"] {
			if c.exited(p.name) {
				b.Fatalf("%s exited; its log: %s", p.name, p.log.Name())
			}
		}
		if time.Now().After(deadline) {
			b.Fatalf("after 2 minutes %d of %d workers poll the %s task queue (%v)", polling, k, contract.TaskQueue, err)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// start runs a process of the cluster, its output to <dir>/<name>.log, and stops it when
// the benchmark ends: SIGTERM, then SIGKILL after 15 seconds.
func (c *cluster) start(b *testing.B, name, group string, argv, env []string) {
	b.Helper()
	logf, err := os.Create(filepath.Join(c.dir, name+".log"))
	require.NoError(b, err)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env, cmd.Stdout, cmd.Stderr = env, logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	started := make(chan error)
	c.launcher <- func() { started <- cmd.Start() }
	require.NoError(b, <-started, name)
	p := &clusterProc{name: name, cmd: cmd, log: logf, done: make(chan struct{})}
	go func() { cmd.Wait(); close(p.done) }()
	if f, err := os.OpenFile(filepath.Join(c.dir, "pids"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600); err == nil {
		fmt.Fprintln(f, cmd.Process.Pid)
		f.Close()
	}
	c.mu.Lock()
	c.procs[group] = append(c.procs[group], p)
	c.mu.Unlock()
	b.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(15 * time.Second):
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-p.done
		}
		logf.Close()
	})
}

// output runs `ballotflow args...` to completion and returns its standard output.
func (c *cluster) output(b *testing.B, env []string, args ...string) string {
	b.Helper()
	cmd := exec.Command(filepath.Join(c.bin, "ballotflow"), args...)
	cmd.Env = env
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(b, err, "ballotflow %s: %s", strings.Join(args, " "), lastLines(stderr.Bytes(), 5))
	return string(out)
}

// waitHTTP waits until url answers 200, for at most a minute.
func (c *cluster) waitHTTP(b *testing.B, name, url string) {
	b.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if c.exited(name) || time.Now().After(deadline) {
			b.Fatalf("%s does not answer at %s (%v); its log: %s", name, url, err, filepath.Join(c.dir, name+".log"))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// dev is a handle for the shared helpers of the in-process benchmarks (mailOutVoters,
// postBulk, tryPostEvents, historyPerBallot, webhookCounts), which read only these fields
// of app.Dev: the store, the Temporal client, the API's URL (API i mod 2) and a county key.
func (c *cluster) dev(i int) *app.Dev {
	return &app.Dev{Store: c.store, Temporal: c.temporal, APIURL: c.apiURLs[i%len(c.apiURLs)], DemoKey: c.key}
}

// signalCeiling is bestSignalCeiling on the cluster: SignalWithStart of a no-op workflow
// from 4, 16 and 64 goroutines, each until every no-op workflow has run its task, the best
// rate, and its CPU in the Temporal server, PostgreSQL and this driver (where the no-op
// worker runs) per signal.
func (c *cluster) signalCeiling(b *testing.B, round, signals int) (perSecond, cpuPerSignal float64) {
	b.Helper()
	for k, goroutines := range []int{4, 16, 64} {
		cpu0 := c.cpu()
		start := time.Now()
		require.NoError(b, signalNoopsFrom(context.Background(), c.temporal, 1000*round+k, signals, goroutines))
		require.NoError(b, noopsDone(context.Background(), c.temporal, 1000*round+k, signals))
		rate := float64(signals) / time.Since(start).Seconds()
		if rate > perSecond {
			cpu1 := c.cpu()
			var used time.Duration
			for _, g := range []string{"temporal", "postgres", "driver"} {
				used += cpu1[g] - cpu0[g]
			}
			perSecond, cpuPerSignal = rate, ms(used)/float64(signals)
		}
	}
	return perSecond, cpuPerSignal
}

// cpu is the CPU used so far by each process group.
func (c *cluster) cpu() map[string]time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string]time.Duration{"driver": processCPU()}
	for db, cpu := range c.postgresCPU() {
		out["postgres"] += cpu
		out["postgres:"+db] = cpu
	}
	for group, ps := range c.procs {
		for _, p := range ps {
			out[group] += procCPU(fmt.Sprintf("/proc/%d", p.cmd.Process.Pid), false)
		}
	}
	return out
}

// postgresCPU is the CPU of the PostgreSQL backends serving this run's databases (their
// process title names the database), by database (app, temporal, visibility): each
// backend's last reading is kept, keyed by pid and start time, so that one that exits still
// counts. Other users of the same server are left out. Called with c.mu held.
func (c *cluster) postgresCPU() map[string]time.Duration {
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, dir := range dirs {
		comm, err := os.ReadFile(dir + "/comm")
		if err != nil || strings.TrimSpace(string(comm)) != "postgres" {
			continue
		}
		title, err := os.ReadFile(dir + "/cmdline")
		_, rest, found := bytes.Cut(title, []byte(" "+c.run+"_"))
		if err != nil || !found {
			continue
		}
		db, _, _ := bytes.Cut(rest, []byte(" "))
		stat, err := os.ReadFile(dir + "/stat")
		if err != nil {
			continue
		}
		fields := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+2:]))
		if len(fields) < 20 {
			continue
		}
		key := string(db) + "/" + dir + "@" + fields[19] // starttime, the 22nd field
		if cpu := procCPU(dir, false); cpu > c.pgSeen[key] {
			c.pgSeen[key] = cpu
		}
	}
	byDB := map[string]time.Duration{}
	for key, v := range c.pgSeen {
		db, _, _ := strings.Cut(key, "/")
		byDB[db] += v
	}
	return byDB
}

// rss is each process group's resident memory now.
func (c *cluster) rss() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var parts []string
	for _, g := range clusterGroups {
		var kib int64
		for _, p := range c.procs[g] {
			status, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
			for line := range strings.Lines(string(status)) {
				if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
					k, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
					kib += k
				}
			}
		}
		if len(c.procs[g]) > 0 {
			parts = append(parts, fmt.Sprintf("%s %d MiB (%d processes)", g, kib/1024, len(c.procs[g])))
		}
	}
	return strings.Join(parts, ", ")
}

// clusterDeliveries is what the database says of a round's deliveries.
type clusterDeliveries struct {
	rows, distinct, sent, emailDelivered, smsDelivered int
}

// deliveries reads the round's deliveries: rows, distinct ballot and channel pairs, those
// the provider accepted (or later reported delivered), and those settled as delivered.
func (c *cluster) deliveries(b *testing.B, prefix string) clusterDeliveries {
	b.Helper()
	var d clusterDeliveries
	require.NoError(b, c.store.Pool().QueryRow(context.Background(), `
		SELECT count(*), count(DISTINCT (d.ballot_ref, d.channel)),
		       count(*) FILTER (WHERE d.state IN ('accepted', 'delivered')),
		       count(*) FILTER (WHERE d.state = 'delivered' AND d.channel = 'email'),
		       count(*) FILTER (WHERE d.state = 'delivered' AND d.channel = 'sms')
		FROM deliveries d JOIN ballots b ON b.id = d.ballot_ref
		WHERE b.ballot_id LIKE $1`, prefix+"%").Scan(&d.rows, &d.distinct, &d.sent, &d.emailDelivered, &d.smsDelivered))
	return d
}

// clusterPorts finds k consecutive free loopback ports below 32768, where Temporal's
// membership ports must be (it stores them in a smallint column); freePorts' are above.
func clusterPorts(b *testing.B, k int) []int {
	b.Helper()
	for range 100 {
		base := 20000 + rand.IntN(12000)
		var lns []net.Listener
		for p := base; p < base+k; p++ {
			ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
			if err != nil {
				break
			}
			lns = append(lns, ln)
		}
		for _, ln := range lns {
			ln.Close()
		}
		if len(lns) == k {
			ports := make([]int, k)
			for i := range ports {
				ports[i] = base + i
			}
			return ports
		}
	}
	b.Fatalf("no %d consecutive free ports found below 32768", k)
	return nil
}

// lastLines is the last k lines of a tool's output, for an error message.
func lastLines(out []byte, k int) string {
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	return strings.Join(lines[max(0, len(lines)-k):], "\n")
}
