package activities_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/testsuite"

	"github.com/ballotflow/ballotflow/activities"
	"github.com/ballotflow/ballotflow/internal/demo"
	"github.com/ballotflow/ballotflow/internal/store"
	"github.com/ballotflow/ballotflow/internal/testdb"
)

// demoStore is a fresh database with the demo county, election and voters.
func demoStore(t *testing.T) *store.Store {
	t.Helper()
	st := testdb.Open(t)
	require.NoError(t, demo.Seed(context.Background(), st, time.Now()))
	return st
}

// activityEnv runs acts' methods as Temporal runs activities (ExecuteActivity by name).
func activityEnv(acts *activities.Activities) *testsuite.TestActivityEnvironment {
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestActivityEnvironment()
	env.RegisterActivity(acts)
	return env
}

// mariaMailed records a "mailed" event an hour ago for the demo's first voter, Maria, on a
// new ballot ballotID, and returns the ballot's key.
func mariaMailed(t *testing.T, st *store.Store, ballotID string) string {
	t.Helper()
	bg := context.Background()
	maria, err := st.VoterGetByID(bg, "CO", demo.Voters[0].VoterID)
	require.NoError(t, err)
	rec, err := st.BallotEventRecord(bg, store.BallotEvent{JurisdictionID: store.JurisdictionID("CO", "denver"),
		ElectionID: demo.ElectionID, BallotID: ballotID, VoterRef: maria.Ref, EventID: "ev-" + ballotID, Status: "mailed",
		OccurredAt: time.Now().Add(-time.Hour)})
	require.NoError(t, err)
	return rec.Ballot.Key
}
