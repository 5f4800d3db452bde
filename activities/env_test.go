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
