package devstack_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/ballotflow/ballotflow/internal/devstack"
)

const (
	taskQueue    = "devstack-test"
	workflowName = "WaitForDecision"
	signalName   = "decision"
	queryName    = "state"
)

var ballotSearchAttributes = map[string]enums.IndexedValueType{
	"BallotStatus": enums.INDEXED_VALUE_TYPE_KEYWORD,
	"County":       enums.INDEXED_VALUE_TYPE_KEYWORD,
	"ElectionId":   enums.INDEXED_VALUE_TYPE_KEYWORD,
}

// waitForDecision blocks until it receives a signal, like a ballot waiting for
// its next status change.
func waitForDecision(ctx workflow.Context) (string, error) {
	state := "waiting"
	if err := workflow.SetQueryHandler(ctx, queryName, func() (string, error) { return state, nil }); err != nil {
		return "", err
	}
	var decision string
	workflow.GetSignalChannel(ctx, signalName).Receive(ctx, &decision)
	state = "decided"
	return "decided: " + decision, nil
}

// TestRestartKeepsRunningWorkflows is the end-to-end check of the package:
// namespace, search attributes, UI, and that a workflow blocked on a signal
// survives Stop + Start on the same DataDir.
func TestRestartKeepsRunningWorkflows(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Temporal server twice")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	opts := devstack.Options{
		DataDir:          t.TempDir(),
		PickFreePorts:    true,
		SearchAttributes: ballotSearchAttributes,
	}

	// --- first start -----------------------------------------------------
	start := time.Now()
	stack, err := devstack.Start(ctx, opts)
	require.NoError(t, err)
	t.Cleanup(func() { _ = stack.Stop() })
	t.Logf("first start took %s (frontend %s, ui %s)", time.Since(start), stack.FrontendHostPort(), stack.UIURL())
	require.Equal(t, devstack.DefaultNamespace, stack.Namespace())
	require.NotEqual(t, "127.0.0.1:7233", stack.FrontendHostPort(), "PickFreePorts must not use the default port")

	c := dial(t, stack)

	ns, err := c.WorkflowService().DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{Namespace: stack.Namespace()})
	require.NoError(t, err)
	require.Equal(t, stack.Namespace(), ns.GetNamespaceInfo().GetName())
	require.Equal(t, devstack.DefaultRetention, ns.GetConfig().GetWorkflowExecutionRetentionTtl().AsDuration())
	requireSearchAttributes(ctx, t, c, stack.Namespace())

	// The UI serves its embedded single-page app ...
	status, contentType, body := get(ctx, t, stack.UIURL())
	require.Equal(t, http.StatusOK, status)
	require.Contains(t, contentType, "text/html")
	require.Contains(t, strings.ToLower(body), "<html")
	// ... and its API proxy reaches the frontend over gRPC.
	status, _, body = get(ctx, t, stack.UIURL()+"/api/v1/namespaces/"+stack.Namespace())
	require.Equal(t, http.StatusOK, status, body)
	require.Contains(t, body, stack.Namespace())

	w := startWorker(t, c)
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:        "ballot-42",
		TaskQueue: taskQueue,
		TypedSearchAttributes: temporal.NewSearchAttributes(
			temporal.NewSearchAttributeKeyKeyword("BallotStatus").ValueSet("Mailed"),
			temporal.NewSearchAttributeKeyKeyword("County").ValueSet("Travis"),
			temporal.NewSearchAttributeKeyKeyword("ElectionId").ValueSet("2026-general"),
		),
	}, workflowName)
	require.NoError(t, err)
	// A successful query means the first workflow task ran: the workflow is
	// now parked on the signal channel.
	require.Equal(t, "waiting", queryState(ctx, t, c, run.GetID()))

	// Custom search attributes work in visibility filters (what the UI uses).
	require.Eventually(t, func() bool {
		resp, err := c.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
			Namespace: stack.Namespace(),
			Query:     `BallotStatus = "Mailed" AND County = "Travis" AND ElectionId = "2026-general"`,
		})
		return err == nil && len(resp.GetExecutions()) == 1
	}, 20*time.Second, 200*time.Millisecond, "workflow not found by search attribute filter")

	w.Stop()
	c.Close()
	require.NoError(t, stack.Stop())
	require.NoError(t, stack.Stop(), "Stop must be safe to call twice")

	// --- restart on the same DataDir ---------------------------------------
	start = time.Now()
	stack, err = devstack.Start(ctx, opts)
	require.NoError(t, err)
	t.Logf("restart took %s (frontend %s)", time.Since(start), stack.FrontendHostPort())

	c = dial(t, stack)
	defer c.Close()
	requireSearchAttributes(ctx, t, c, stack.Namespace())

	desc, err := c.DescribeWorkflowExecution(ctx, run.GetID(), "")
	require.NoError(t, err)
	require.Equal(t, enums.WORKFLOW_EXECUTION_STATUS_RUNNING, desc.GetWorkflowExecutionInfo().GetStatus())

	w = startWorker(t, c)
	defer w.Stop()
	require.NoError(t, c.SignalWorkflow(ctx, run.GetID(), "", signalName, "Accepted"))
	var result string
	require.NoError(t, c.GetWorkflow(ctx, run.GetID(), run.GetRunID()).Get(ctx, &result))
	require.Equal(t, "decided: Accepted", result)
}

// TestSurvivesProcessKill checks durability for real: a child process (this
// test binary, re-executed) starts a workflow and is then SIGKILLed, and a new
// stack in this process resumes it from the SQLite file. The in-process
// restart above cannot prove this on its own, because the SQLite plugin keeps
// its connections in a process-wide pool that outlives a Stack.
func TestSurvivesProcessKill(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Temporal server in two processes")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dataDir := t.TempDir()

	child := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestHelperStartWorkflowAndHang$", "-test.count=1")
	child.Env = append(os.Environ(), helperDirEnv+"="+dataDir)
	child.Stderr = os.Stderr
	stdout, err := child.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, child.Start())
	ready := make(chan string, 1)
	go func() {
		scanner := bufio.NewScanner(stdout)
		for scanner.Scan() {
			if id, ok := strings.CutPrefix(scanner.Text(), helperReady); ok {
				ready <- id
			}
		}
		close(ready)
	}()
	var workflowID string
	select {
	case id, ok := <-ready:
		require.True(t, ok, "helper process exited before starting the workflow")
		workflowID = id
	case <-ctx.Done():
		t.Fatal("timed out waiting for the helper process")
	}
	require.NoError(t, child.Process.Kill())
	_ = child.Wait()

	stack, err := devstack.Start(ctx, devstack.Options{
		DataDir:          dataDir,
		PickFreePorts:    true,
		UIPort:           -1,
		SearchAttributes: ballotSearchAttributes,
	})
	require.NoError(t, err)
	defer func() { require.NoError(t, stack.Stop()) }()
	c := dial(t, stack)
	defer c.Close()

	desc, err := c.DescribeWorkflowExecution(ctx, workflowID, "")
	require.NoError(t, err)
	require.Equal(t, enums.WORKFLOW_EXECUTION_STATUS_RUNNING, desc.GetWorkflowExecutionInfo().GetStatus())

	w := startWorker(t, c)
	defer w.Stop()
	require.NoError(t, c.SignalWorkflow(ctx, workflowID, "", signalName, "Rejected"))
	var result string
	require.NoError(t, c.GetWorkflow(ctx, workflowID, "").Get(ctx, &result))
	require.Equal(t, "decided: Rejected", result)
}

const (
	helperDirEnv = "DEVSTACK_TEST_HELPER_DATA_DIR"
	helperReady  = "DEVSTACK-HELPER-READY "
)

// TestHelperStartWorkflowAndHang is not a test: it is the child process of
// TestSurvivesProcessKill and does nothing unless that test started it.
func TestHelperStartWorkflowAndHang(t *testing.T) {
	dataDir := os.Getenv(helperDirEnv)
	if dataDir == "" {
		t.Skip("helper process for TestSurvivesProcessKill")
	}
	ctx := context.Background()
	stack, err := devstack.Start(ctx, devstack.Options{
		DataDir:          dataDir,
		PickFreePorts:    true,
		UIPort:           -1,
		SearchAttributes: ballotSearchAttributes,
	})
	require.NoError(t, err)
	c := dial(t, stack)
	startWorker(t, c)
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "ballot-crash", TaskQueue: taskQueue}, workflowName)
	require.NoError(t, err)
	require.Equal(t, "waiting", queryState(ctx, t, c, run.GetID()))
	fmt.Println(helperReady + run.GetID())
	select {} // wait for SIGKILL: no Stop, no worker shutdown, nothing flushed
}

// TestInMemoryWithoutUI covers the mode most other packages' tests will use.
func TestInMemoryWithoutUI(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Temporal server")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	stack, err := devstack.Start(ctx, devstack.Options{
		PickFreePorts: true,
		UIPort:        -1,
		Namespace:     "ballots-test",
	})
	require.NoError(t, err)
	defer func() { require.NoError(t, stack.Stop()) }()

	require.Empty(t, stack.UIURL())
	require.Equal(t, "ballots-test", stack.Namespace())
	c := dial(t, stack)
	defer c.Close()
	_, err = c.WorkflowService().DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{Namespace: "ballots-test"})
	require.NoError(t, err)
}

func TestStartRejectsBadOptions(t *testing.T) {
	ctx := context.Background()
	for name, opts := range map[string]devstack.Options{
		"ip":               {IP: "not-an-ip"},
		"frontend port":    {FrontendPort: 70000},
		"retention":        {Retention: time.Hour},
		"search attribute": {SearchAttributes: map[string]enums.IndexedValueType{"X": enums.INDEXED_VALUE_TYPE_UNSPECIFIED}},
	} {
		t.Run(name, func(t *testing.T) {
			stack, err := devstack.Start(ctx, opts)
			require.Error(t, err)
			require.Nil(t, stack)
			require.Contains(t, err.Error(), "devstack:")
		})
	}
}

func dial(t *testing.T, stack *devstack.Stack) client.Client {
	t.Helper()
	c, err := client.Dial(client.Options{
		HostPort:  stack.FrontendHostPort(),
		Namespace: stack.Namespace(),
		Logger:    sdklog.NewStructuredLogger(quietLogger()),
	})
	require.NoError(t, err)
	return c
}

func startWorker(t *testing.T, c client.Client) worker.Worker {
	t.Helper()
	w := worker.New(c, taskQueue, worker.Options{})
	w.RegisterWorkflowWithOptions(waitForDecision, workflow.RegisterOptions{Name: workflowName})
	require.NoError(t, w.Start())
	return w
}

func requireSearchAttributes(ctx context.Context, t *testing.T, c client.Client, namespace string) {
	t.Helper()
	resp, err := c.OperatorService().ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: namespace})
	require.NoError(t, err)
	for name, typ := range ballotSearchAttributes {
		require.Equal(t, typ, resp.GetCustomAttributes()[name], "search attribute %s", name)
	}
}

func queryState(ctx context.Context, t *testing.T, c client.Client, workflowID string) string {
	t.Helper()
	val, err := c.QueryWorkflow(ctx, workflowID, "", queryName)
	require.NoError(t, err)
	var state string
	require.NoError(t, val.Get(&state))
	return state
}

func get(ctx context.Context, t *testing.T, url string) (status int, contentType, body string) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, resp.Header.Get("Content-Type"), string(b)
}

func quietLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
}
