package workflows_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/ballotflow/ballotflow/internal/codec"
	"github.com/ballotflow/ballotflow/workflows"
	"github.com/ballotflow/ballotflow/workflows/contract"
)

// TestReplayCommittedHistories replays the histories of representative ballots recorded by
// `make histories`. A change to the workflow that would break ballots already running (a
// command added, removed or reordered without versioning) fails here.
func TestReplayCommittedHistories(t *testing.T) {
	files, err := filepath.Glob("testdata/histories/*.json")
	require.NoError(t, err)
	require.NotEmpty(t, files, "no committed histories: run `make histories`")
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			f, err := os.Open(file)
			require.NoError(t, err)
			defer f.Close()
			history, err := client.HistoryFromJSON(f, client.HistoryJSONOptions{})
			require.NoError(t, err)
			// The histories' payloads are sealed with a test-only key committed beside them
			// (it encrypts nothing but the demo ballots recorded there).
			spec, err := os.ReadFile("testdata/histories/payload-key")
			require.NoError(t, err)
			pc, err := codec.Parse(strings.TrimSpace(string(spec)))
			require.NoError(t, err)
			replayer, err := worker.NewWorkflowReplayerWithOptions(worker.WorkflowReplayerOptions{DataConverter: pc.DataConverter()})
			require.NoError(t, err)
			replayer.RegisterWorkflowWithOptions(workflows.Ballot, workflow.RegisterOptions{Name: contract.BallotWorkflowName})
			require.NoError(t, replayer.ReplayWorkflowHistory(nil, history))
		})
	}
}
