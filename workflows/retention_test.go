package workflows_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/ballotflow/ballotflow/activities"
	"github.com/ballotflow/ballotflow/workflows"
	"github.com/ballotflow/ballotflow/workflows/contract"
)

// retentionEnv runs RetentionPurge in the test environment, whose clock skips the activities'
// retry backoffs, with purge standing in for the PurgeElection activity.
func retentionEnv(t *testing.T, due []string,
	purge func(in activities.PurgeElectionInput, attempt int) (activities.PurgeElectionResult, error),
) (*testsuite.TestWorkflowEnvironment, func(id string) []time.Time) {
	t.Helper()
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestWorkflowEnvironment()
	env.RegisterWorkflowWithOptions(workflows.RetentionPurge, workflow.RegisterOptions{Name: contract.RetentionWorkflowName})
	env.RegisterActivityWithOptions(func(context.Context) ([]string, error) { return due, nil },
		activity.RegisterOptions{Name: "ListElectionsDue"})
	var mu sync.Mutex
	attempts := map[string][]time.Time{}
	env.RegisterActivityWithOptions(func(_ context.Context, in activities.PurgeElectionInput) (activities.PurgeElectionResult, error) {
		mu.Lock()
		attempts[in.ElectionID] = append(attempts[in.ElectionID], env.Now())
		n := len(attempts[in.ElectionID])
		mu.Unlock()
		return purge(in, n)
	}, activity.RegisterOptions{Name: "PurgeElection"})
	return env, func(id string) []time.Time {
		mu.Lock()
		defer mu.Unlock()
		return append([]time.Time(nil), attempts[id]...)
	}
}

// An election whose purge keeps failing is retried with backoff (on the test's clock, not
// waited for), then left for the next day's run; the elections after it are still purged,
// and the run fails naming the one it could not purge.
func TestRetentionPurgeRetriesAFailingElectionThenGoesOn(t *testing.T) {
	env, attempts := retentionEnv(t, []string{"2026-primary", "2026-general", "2026-recall"},
		func(in activities.PurgeElectionInput, attempt int) (activities.PurgeElectionResult, error) {
			switch in.ElectionID {
			case "2026-primary":
				return activities.PurgeElectionResult{}, errors.New("connection refused")
			case "2026-general":
				if attempt < 3 {
					return activities.PurgeElectionResult{}, errors.New("connection reset")
				}
				return activities.PurgeElectionResult{Finished: true}, nil
			}
			return activities.PurgeElectionResult{Kept: true}, nil
		})
	start := time.Date(2028, 9, 4, 9, 0, 0, 0, time.UTC)
	env.SetStartTime(start)
	env.ExecuteWorkflow(contract.RetentionWorkflowName, contract.RetentionInput{})

	require.True(t, env.IsWorkflowCompleted())
	err := env.GetWorkflowError()
	require.ErrorContains(t, err, "2026-primary")
	require.NotContains(t, err.Error(), "2026-general")

	failing := attempts("2026-primary")
	require.Len(t, failing, 8, "every attempt of the retry policy, then the next election")
	// 10 s doubling to 640 s: about twenty minutes of backoff, skipped rather than waited.
	require.Equal(t, 1270*time.Second, failing[7].Sub(failing[0]))
	general := attempts("2026-general")
	require.Len(t, general, 3)
	require.False(t, general[0].Before(failing[7]), "one election after the other")
	require.Len(t, attempts("2026-recall"), 1)
}

// A run that finds every election due purges them all and says which, and one whose records
// period was moved later meanwhile is reported as kept.
func TestRetentionPurgeReportsPurgedAndKeptElections(t *testing.T) {
	env, _ := retentionEnv(t, []string{"a", "b", "held"},
		func(in activities.PurgeElectionInput, _ int) (activities.PurgeElectionResult, error) {
			return activities.PurgeElectionResult{Kept: in.ElectionID == "held", Finished: in.ElectionID != "held"}, nil
		})
	env.ExecuteWorkflow(contract.RetentionWorkflowName, contract.RetentionInput{})
	require.True(t, env.IsWorkflowCompleted())
	require.NoError(t, env.GetWorkflowError())
	var res contract.RetentionResult
	require.NoError(t, env.GetWorkflowResult(&res))
	require.Equal(t, contract.RetentionResult{Purged: []string{"a", "b"}, Kept: []string{"held"}}, res)
}
