package activities_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/ballotflow/ballotflow/activities"
	"github.com/ballotflow/ballotflow/internal/demo"
	"github.com/ballotflow/ballotflow/internal/store"
	"github.com/ballotflow/ballotflow/workflows"
	"github.com/ballotflow/ballotflow/workflows/contract"
)

// retentionStore is the demo database with one ballot of the demo election for each of the
// first n demo voters, each with a county's reason on its event; it returns the ballots' refs
// in the order stored and the election's records_until.
func retentionStore(t *testing.T, n int) (*store.Store, []int64, time.Time) {
	t.Helper()
	bg := context.Background()
	st := demoStore(t)
	var refs []int64
	for i, v := range demo.Voters[:n] {
		voter, err := st.VoterGetByID(bg, v.State, v.VoterID)
		require.NoError(t, err)
		rec, err := st.BallotEventRecord(bg, store.BallotEvent{JurisdictionID: store.JurisdictionID("CO", v.County),
			ElectionID: demo.ElectionID, BallotID: "DEN-R" + v.VoterID, VoterRef: voter.Ref, EventID: "ret-" + v.VoterID,
			Status: "mailed", OccurredAt: time.Now().Add(-time.Duration(i+1) * time.Minute).Truncate(time.Second),
			Reason: "returned to sender at " + v.Email})
		require.NoError(t, err)
		refs = append(refs, rec.Ballot.Ref)
	}
	e, err := st.ElectionGetByID(bg, demo.ElectionID)
	require.NoError(t, err)
	return st, refs, e.RecordsUntil
}

// tied says which of the ballots still have their voter.
func tied(t *testing.T, st *store.Store, refs []int64) []bool {
	t.Helper()
	out := make([]bool, len(refs))
	for i, ref := range refs {
		require.NoError(t, st.Pool().QueryRow(context.Background(),
			`SELECT voter_ref IS NOT NULL FROM ballots WHERE id = $1`, ref).Scan(&out[i]))
	}
	return out
}

// runPurge runs the RetentionPurge workflow with the real activities on a database, in the
// test environment starting at start: the activities read the environment's clock, so the
// run happens 22 months on without anyone waiting for them.
func runPurge(t *testing.T, st *store.Store, start time.Time) contract.RetentionResult {
	t.Helper()
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestWorkflowEnvironment()
	env.SetStartTime(start)
	env.RegisterWorkflowWithOptions(workflows.RetentionPurge, workflow.RegisterOptions{Name: contract.RetentionWorkflowName})
	env.RegisterActivity(&activities.Retention{Store: st, PageSize: 2, Now: env.Now})
	env.ExecuteWorkflow(contract.RetentionWorkflowName, contract.RetentionInput{})
	require.True(t, env.IsWorkflowCompleted())
	require.NoError(t, env.GetWorkflowError())
	var res contract.RetentionResult
	require.NoError(t, env.GetWorkflowResult(&res))
	return res
}

// On its records_until day an election's records are whole; the first run after that day
// purges them, in pages, and a run after that has nothing left to do.
func TestRetentionPurgeTakesAnElectionTheDayAfterItsRecordsPeriod(t *testing.T) {
	t.Parallel()
	st, refs, until := retentionStore(t, 5)

	res := runPurge(t, st, until.Add(23*time.Hour+59*time.Minute))
	require.Empty(t, res.Purged, "records are kept through records_until (UTC)")
	require.Equal(t, []bool{true, true, true, true, true}, tied(t, st, refs))

	res = runPurge(t, st, until.AddDate(0, 0, 1).Add(9*time.Hour))
	require.Equal(t, []string{demo.ElectionID}, res.Purged)
	require.Equal(t, []bool{false, false, false, false, false}, tied(t, st, refs), "every page of two ballots")
	var reasons int
	require.NoError(t, st.Pool().QueryRow(context.Background(),
		`SELECT count(*) FROM ballot_events WHERE reason <> ''`).Scan(&reasons))
	require.Zero(t, reasons)

	res = runPurge(t, st, until.AddDate(0, 0, 2).Add(9*time.Hour))
	require.Equal(t, contract.RetentionResult{}, res)
}

// A retried PurgeElection carries on after the last page its earlier attempt heartbeated, and
// the election is marked purged only once none of its ballots is tied to a voter: an attempt
// that skipped pages (here, a heartbeat from a purge that never ran them) fails, and the
// next one, starting over, finishes.
func TestPurgeElectionResumesAfterItsHeartbeatAndFinishesOnlyWhenDone(t *testing.T) {
	t.Parallel()
	st, refs, until := retentionStore(t, 4)
	clock := func() time.Time { return until.AddDate(0, 0, 3) }
	acts := &activities.Retention{Store: st, PageSize: 1, Now: clock}

	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestActivityEnvironment()
	env.RegisterActivity(acts)
	env.SetHeartbeatDetails(activities.PurgeProgress{ElectionID: demo.ElectionID, AfterRef: refs[1]})
	_, err := env.ExecuteActivity("PurgeElection", activities.PurgeElectionInput{ElectionID: demo.ElectionID})
	require.ErrorContains(t, err, "run the purge again")
	require.Equal(t, []bool{true, true, false, false}, tied(t, st, refs), "pages after the heartbeat only")
	e, err := st.ElectionGetByID(context.Background(), demo.ElectionID)
	require.NoError(t, err)
	require.Nil(t, e.PurgedAt)
	require.NotNil(t, e.PurgeStartedAt, "exports stop as soon as the purge begins")

	env = suite.NewTestActivityEnvironment()
	env.RegisterActivity(acts)
	val, err := env.ExecuteActivity("PurgeElection", activities.PurgeElectionInput{ElectionID: demo.ElectionID})
	require.NoError(t, err)
	var res activities.PurgeElectionResult
	require.NoError(t, val.Get(&res))
	require.True(t, res.Finished)
	require.EqualValues(t, 2, res.Changed.Ballots, "the two ballots the first attempt left")
	require.Equal(t, []bool{false, false, false, false}, tied(t, st, refs))
}
