package app_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"

	"github.com/ballotflow/ballotflow/internal/app"
	"github.com/ballotflow/ballotflow/internal/ballot"
	"github.com/ballotflow/ballotflow/internal/codec"
	"github.com/ballotflow/ballotflow/internal/config"
	"github.com/ballotflow/ballotflow/internal/demo"
	"github.com/ballotflow/ballotflow/internal/sandbox"
	"github.com/ballotflow/ballotflow/internal/store"
	"github.com/ballotflow/ballotflow/internal/testdb"
	"github.com/ballotflow/ballotflow/worker"
	"github.com/ballotflow/ballotflow/workflows/contract"
)

// releasesFile lists the workflow code released to running ballots (see its header).
const releasesFile = "../../workflows/releases.txt"

// TestBallotsOfTheLastReleaseFinishOnThisCode is a deploy in the middle of an election. The
// newest release in workflows/releases.txt is built from git and run as `ballotflow dev`;
// it starts three ballots and is stopped with them in flight:
//
//   - a text waiting for the voter's contact hours,
//   - a challenged ballot waiting for its cure,
//   - a text whose provider fails, between two retries.
//
// Then this code takes over the same Temporal data and database, as a new worker would, and
// each ballot must finish correctly: no workflow task fails (a non-determinism error would),
// every notice arrives once.
func TestBallotsOfTheLastReleaseFinishOnThisCode(t *testing.T) {
	release, commit := lastRelease(t)
	bin := buildRelease(t, release, commit)

	dbURL := testdb.NewEmpty(t)
	dataDir := t.TempDir()
	keys, err := codec.NewKey("upgrade")
	require.NoError(t, err)
	ports := freePorts(t, 4)
	apiURL := fmt.Sprintf("http://127.0.0.1:%d", ports[0])
	sandboxURL := fmt.Sprintf("http://127.0.0.1:%d", ports[1])
	old := exec.Command(bin, "dev")
	old.Env = append(os.Environ(),
		"DATABASE_URL="+dbURL, "PAYLOAD_KEYS="+keys, "DEV_DATA_DIR="+dataDir,
		fmt.Sprintf("API_ADDR=127.0.0.1:%d", ports[0]), fmt.Sprintf("SANDBOX_ADDR=127.0.0.1:%d", ports[1]),
		"SANDBOX_URL="+sandboxURL, "PUBLIC_URL="+apiURL,
		fmt.Sprintf("DEV_TEMPORAL_PORT=%d", ports[2]), fmt.Sprintf("DEV_UI_PORT=%d", ports[3]),
		"LOG_FORMAT=text", "LOG_LEVEL=warn", "METRICS_ADDR=", "METRICS_TOKEN=")
	var oldLog bytes.Buffer
	old.Stdout, old.Stderr = &oldLog, &oldLog
	require.NoError(t, old.Start())
	oldExited := make(chan struct{})
	go func() { _ = old.Wait(); close(oldExited) }()
	stopOld := func() {
		select {
		case <-oldExited:
			return
		default:
		}
		_ = old.Process.Signal(syscall.SIGINT)
		select {
		case <-oldExited:
		case <-time.After(60 * time.Second):
			_ = old.Process.Kill()
			<-oldExited
		}
	}
	t.Cleanup(func() {
		stopOld()
		if t.Failed() {
			t.Logf("release %s's output:\n%s", release, oldLog.String())
		}
	})
	keyFile := filepath.Join(dataDir, "demo-county-key") // written last, once the stack is up
	for deadline := time.Now().Add(3 * time.Minute); ; {
		if _, err := os.Stat(keyFile); err == nil {
			resp, err := http.Get(apiURL + "/healthz")
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					break
				}
			}
		}
		select {
		case <-oldExited:
			t.Fatalf("release %s's dev stack exited while starting", release)
		case <-time.After(200 * time.Millisecond):
		}
		require.True(t, time.Now().Before(deadline), "release %s's dev stack starts", release)
	}
	demoKeyBytes, err := os.ReadFile(keyFile)
	require.NoError(t, err)
	oldKey := strings.TrimSpace(string(demoKeyBytes))

	ctx := context.Background()
	st, err := store.Open(ctx, dbURL) // no migration: the release's schema stays as it made it
	require.NoError(t, err)
	defer st.Close()
	maria, james, jose := demo.Voters[0], demo.Voters[1], demo.Voters[3]
	voterRef := func(v demo.Voter) int64 {
		got, err := st.VoterGetByID(ctx, "CO", v.VoterID)
		require.NoError(t, err)
		return got.Ref
	}
	// Maria's hours ended two hours ago: her text waits until tomorrow.
	now := denverNow(t)
	from, to := hoursEndedAgo(now, 2*time.Hour)
	subscribeHours(t, st, voterRef(maria), "sms", maria.SMS, from, to)
	// José's texts fail at the provider (503) until the new code takes over.
	subscribeHours(t, st, voterRef(jose), "sms", jose.SMS, "00:00", "00:00")
	faults, _ := json.Marshal([]sandbox.Fault{{Channel: ballot.ChannelSMS, To: jose.SMS, Kind: sandbox.ServerError, Code: 503}})
	resp, err := http.Post(sandboxURL+"/dev/faults", "application/json", bytes.NewReader(faults))
	require.NoError(t, err)
	resp.Body.Close()
	require.Less(t, resp.StatusCode, 300)

	at := time.Now().Add(-time.Hour).Truncate(time.Second)
	send := func(url, key, id string, v demo.Voter, ballotID, status string, when time.Time, extra string) string {
		t.Helper()
		body := eventJSON(id, v.VoterID, ballotID, status, when)
		if extra != "" {
			body = strings.TrimSuffix(body, "}") + "," + extra + "}"
		}
		req, err := http.NewRequest(http.MethodPost, url+"/v1/ballot-events", strings.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		require.Equal(t, http.StatusAccepted, resp.StatusCode, "%s", raw)
		var out apiResponse
		require.NoError(t, json.Unmarshal(raw, &out))
		require.Equal(t, "accepted", string(out.Results[0].Result), "%s", raw)
		return out.Results[0].WorkflowID
	}
	oldOutbox := func(channel, to string) int {
		resp, err := http.Get(sandboxURL + "/dev/outbox?channel=" + channel + "&to=" + strings.ReplaceAll(to, "+", "%2B"))
		if err != nil {
			return -1
		}
		defer resp.Body.Close()
		var msgs []json.RawMessage
		if json.NewDecoder(resp.Body).Decode(&msgs) != nil {
			return -1
		}
		return len(msgs)
	}

	// await waits until count() is want. Each event waits for the notice of the one before:
	// a status that arrives while the previous notice is on its way replaces it (one message
	// with the newest status), which would make the counts depend on timing.
	await := func(count func() int, want int, what string) {
		t.Helper()
		for deadline := time.Now().Add(time.Minute); count() != want; time.Sleep(100 * time.Millisecond) {
			require.True(t, time.Now().Before(deadline), "%s: %d messages, want %d", what, count(), want)
		}
	}
	oldEmails := func(v demo.Voter) func() int { return func() int { return oldOutbox("email", v.Email) } }
	waiting := send(apiURL, oldKey, "up-1", maria, "DEN-UP-1", "mailed", at, "")
	await(oldEmails(maria), 1, "Maria's mailed email")
	// While her text waits, she moves her hours (still not now): the release re-plans it, a
	// step that today's code records differently (behind a version gate), so replaying this
	// history is the real test of the gate.
	pc, err := codec.Parse(keys)
	require.NoError(t, err)
	oldTemporal, err := worker.Dial(ctx, fmt.Sprintf("127.0.0.1:%d", ports[2]), "default", pc.DataConverter(),
		slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	defer oldTemporal.Close()
	movedFrom, movedTo := hoursEndedAgo(now, 4*time.Hour)
	subscribeHours(t, st, voterRef(maria), "sms", maria.SMS, movedFrom, movedTo)
	require.NoError(t, oldTemporal.SignalWorkflow(ctx, waiting, "", ballot.SignalPreferencesChanged,
		contract.PreferencesChanged{Reason: "portal"}))
	require.Eventually(t, func() bool {
		q, err := oldTemporal.QueryWorkflow(ctx, waiting, "", ballot.QueryStatus)
		var v contract.BallotView
		return err == nil && q.Get(&v) == nil && len(v.Pending) == 1 &&
			v.Pending[0].DueAt.In(now.Location()).Format("15:04") == movedFrom
	}, time.Minute, 100*time.Millisecond, "the release re-plans Maria's text for her new hours")
	challenged := send(apiURL, oldKey, "up-2", james, "DEN-UP-2", "mailed", at, "")
	await(oldEmails(james), 1, "James's mailed email")
	send(apiURL, oldKey, "up-3", james, "DEN-UP-2", "received", at.Add(time.Minute), "")
	await(oldEmails(james), 2, "James's received email")
	send(apiURL, oldKey, "up-4", james, "DEN-UP-2", "challenged", at.Add(2*time.Minute),
		`"reason":"the signature does not match","cure_deadline":"`+time.Now().AddDate(0, 0, 7).Format("2006-01-02")+`"`)
	await(oldEmails(james), 3, "James's challenge email")
	retrying := send(apiURL, oldKey, "up-5", jose, "DEN-UP-3", "mailed", at, "")
	await(oldEmails(jose), 1, "José's mailed email")
	require.Eventually(t, func() bool {
		b, err := st.BallotGetByKey(ctx, retrying[strings.LastIndex(retrying, "/")+1:])
		if err != nil {
			return false
		}
		ds, err := st.DeliveryListByBallot(ctx, b.Ref)
		if err != nil {
			return false
		}
		for _, d := range ds {
			if d.Channel == ballot.ChannelSMS && d.State == store.DeliverySending && d.Attempts >= 2 {
				return true
			}
		}
		return false
	}, time.Minute, 100*time.Millisecond, "José's text has failed twice on the release")
	require.Zero(t, oldOutbox("sms", maria.SMS), "Maria's text waits for her hours")
	stopOld()

	// Today's code takes over the same Temporal data and database (and migrates it).
	cfg, err := config.FromEnv()
	require.NoError(t, err)
	cfg.DatabaseURL, cfg.PayloadKeys = dbURL, keys
	logger := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	startCtx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	d, err := app.StartDev(startCtx, cfg, logger, app.DevOptions{Ephemeral: true, TemporalDataDir: dataDir})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, d.Stop()) })

	// The text in retry goes once, on the new worker.
	require.Eventually(t, func() bool { return len(outboxFor(d, "sms", jose.SMS)) == 1 }, 2*time.Minute, 100*time.Millisecond,
		"José's text is sent by the new worker's retry")
	// The waiting text goes when Maria widens her hours.
	reachAnyHour(t, d, voterRef(maria), "sms", maria.SMS)
	require.NoError(t, d.Temporal.SignalWorkflow(ctx, waiting, "", ballot.SignalPreferencesChanged,
		contract.PreferencesChanged{Reason: "portal"}))
	require.Eventually(t, func() bool { return len(outboxFor(d, "sms", maria.SMS)) == 1 }, time.Minute, 100*time.Millisecond)
	// The challenged ballot is cured, accepted and counted; the others are counted.
	newEmails := func(v demo.Voter) func() int { return func() int { return len(outboxFor(d, "email", v.Email)) } }
	for i, status := range []string{"cured", "accepted", "counted"} {
		send(d.APIURL, d.DemoKey, fmt.Sprintf("up-%d", 6+i), james, "DEN-UP-2", status, at.Add(time.Duration(3+i)*time.Minute), "")
		await(newEmails(james), i+1, "James's "+status+" email")
	}
	send(d.APIURL, d.DemoKey, "up-9", maria, "DEN-UP-1", "counted", at.Add(5*time.Minute), "")
	send(d.APIURL, d.DemoKey, "up-10", jose, "DEN-UP-3", "counted", at.Add(5*time.Minute), "")

	for _, id := range []string{waiting, challenged, retrying} {
		waitSettled(t, d, id)
		iter := d.Temporal.GetWorkflowHistory(ctx, id, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		for iter.HasNext() {
			ev, err := iter.Next()
			require.NoError(t, err)
			require.NotEqual(t, enumspb.EVENT_TYPE_WORKFLOW_TASK_FAILED, ev.GetEventType(),
				"%s: a workflow task failed after the upgrade: %v", id, ev.GetWorkflowTaskFailedEventAttributes().GetFailure().GetMessage())
		}
	}
	require.Len(t, outboxFor(d, "email", james.Email), 3, "cured, accepted and counted, each once")
	require.Len(t, outboxFor(d, "sms", jose.SMS), 2, "mailed once (after its retries) and counted")
	require.Len(t, outboxFor(d, "sms", maria.SMS), 2, "mailed once, after she widened her hours, and counted")
	require.Len(t, outboxFor(d, "email", maria.Email), 1, "counted; mailed went before the upgrade, not again")
}

// lastRelease reads the newest "<name> <commit>" line of workflows/releases.txt.
func lastRelease(t *testing.T) (name, commit string) {
	t.Helper()
	f, err := os.Open(releasesFile)
	require.NoError(t, err)
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Fields(line)
		require.Len(t, fields, 2, "releases.txt: %q is not \"<name> <commit>\"", line)
		name, commit = fields[0], fields[1]
	}
	require.NoError(t, sc.Err())
	require.NotEmpty(t, commit, "releases.txt names no release")
	return name, commit
}

// buildRelease builds the release's `ballotflow` from git into a temporary directory. The
// build cache makes it cheap after the first time: most of the code is unchanged.
func buildRelease(t *testing.T, name, commit string) string {
	t.Helper()
	root, err := filepath.Abs("../..")
	require.NoError(t, err)
	if out, err := exec.Command("git", "-C", root, "cat-file", "-e", commit+"^{commit}").CombinedOutput(); err != nil {
		t.Fatalf("release %s (%s) is not in this clone's history (%v: %s): the deploy test needs the full history", name, commit, err, out)
	}
	src := t.TempDir()
	archive := exec.Command("git", "-C", root, "archive", "--format=tar", commit)
	untar := exec.Command("tar", "-x", "-C", src)
	pipe, err := archive.StdoutPipe()
	require.NoError(t, err)
	untar.Stdin = pipe
	require.NoError(t, untar.Start())
	require.NoError(t, archive.Run())
	require.NoError(t, untar.Wait())

	bin := filepath.Join(t.TempDir(), "ballotflow-"+name)
	build := exec.Command(filepath.Join(runtime.GOROOT(), "bin", "go"), "build", "-o", bin, "./cmd/ballotflow")
	build.Dir = src
	out, err := build.CombinedOutput()
	require.NoError(t, err, "build release %s: %s", name, out)
	return bin
}

// freePorts returns n loopback ports free a moment ago.
func freePorts(t testing.TB, n int) []int {
	t.Helper()
	var ports []int
	var lns []net.Listener
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		lns = append(lns, ln)
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	for _, ln := range lns {
		ln.Close()
	}
	return ports
}
