package apiserver_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"

	"github.com/ballotflow/ballotflow/internal/demo"
	"github.com/ballotflow/ballotflow/internal/store"
)

// ExecuteWorkflow starts nothing: the correction of an import starts its ingestion workflow.
func (f *eventsTemporal) ExecuteWorkflow(context.Context, client.StartWorkflowOptions, any, ...any) (client.WorkflowRun, error) {
	return nil, nil
}

// correctionsAPI is the events API with an operator key and a finished import of one
// "rejected" event to correct.
type correctionsAPI struct {
	*eventsAPI
	operator string
	importID int64
}

func newCorrectionsAPI(t testing.TB) *correctionsAPI {
	t.Helper()
	ctx := context.Background()
	a := &correctionsAPI{eventsAPI: newEventsAPI(t)}
	_, key, err := a.st.APIKeyCreate(ctx, store.APIKey{Role: store.RoleOperator, Label: "help desk"}, "test")
	require.NoError(t, err)
	a.operator = key
	require.Equal(t, http.StatusAccepted, a.post(t, "application/json", event(nil)).Status)
	scope := store.EventScope{State: "CO", County: "denver"}
	a.importID, err = a.st.EventImportCreate(ctx, scope, "test")
	require.NoError(t, err)
	_, err = a.st.EventImportLoadBatch(ctx, a.importID, scope, store.EventBatch{Rows: 1, Events: []store.StagedEvent{{
		Line: 2, EventID: "imp-1", ElectionID: demo.ElectionID, VoterID: demo.Voters[0].VoterID, BallotID: "B-1",
		Status: "rejected", OccurredAt: time.Now().Add(-time.Minute).Truncate(time.Second)}}})
	require.NoError(t, err)
	_, err = a.st.Pool().Exec(ctx, `UPDATE ballot_events SET signaled_at = now() WHERE import_id = $1`, a.importID)
	require.NoError(t, err)
	require.NoError(t, a.st.EventImportFinishLoad(ctx, a.importID))
	require.NoError(t, a.st.EventImportSetStatus(ctx, a.importID, store.ImportSignaling, []string{store.ImportChecking}, ""))
	require.NoError(t, a.st.EventImportSetStatus(ctx, a.importID, store.ImportDone, []string{store.ImportSignaling}, ""))
	return a
}

func (a *correctionsAPI) operatorPost(t testing.TB, path, body string) (int, string) {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+a.operator)
	rec := httptest.NewRecorder()
	a.h.ServeHTTP(rec, req)
	return rec.Code, rec.Body.String()
}

func (a *correctionsAPI) stored(t testing.TB) [2]int {
	t.Helper()
	var imports int
	require.NoError(t, a.st.Pool().QueryRow(context.Background(), `SELECT count(*) FROM imports`).Scan(&imports))
	return [2]int{a.storedEvents(t), imports}
}

// FuzzCorrectionBodies posts arbitrary bodies to an operator's correction of one ballot and
// of a whole import. Whatever comes, the API answers without a 5xx, and a refused body
// stores nothing.
func FuzzCorrectionBodies(f *testing.F) {
	one := fmt.Sprintf(`{"election_id":%q,"ballot_id":"B-1","corrects":"imp-1","status":"accepted","note":"wrong file, ticket 9"}`,
		demo.ElectionID)
	for _, seed := range []string{
		one,
		strings.Replace(one, `"accepted"`, `"bogus"`, 1),
		strings.Replace(one, `"imp-1"`, `"no-such-event"`, 1),
		strings.Replace(one, `"B-1"`, `"B-2"`, 1),
		strings.Replace(one, "ticket 9", "voter at maria@example.org", 1),
		strings.Replace(one, "ticket 9", strings.Repeat("x", 600), 1),
		strings.Replace(one, `"imp-1"`, `"`+strings.Repeat("y", 200)+`"`, 1),
		strings.Replace(one, `"accepted"`, `"challenged","cure_deadline":"0000-01-01"`, 1),
		`{"note":"wrong file, ticket 9"}`, `{"status":"accepted","note":"wrong file"}`, `{"status":"","note":""}`,
		"{\"note\":\"\xff\xfe\"}", `{"note":"a\u0000b"}`, `[]`, `null`, `{}`, `"`, ``,
	} {
		f.Add(seed, false)
		f.Add(seed, true)
	}
	a := newCorrectionsAPI(f)
	f.Fuzz(func(t *testing.T, body string, wholeImport bool) {
		path := "/v1/operator/voters/CO/" + demo.Voters[0].VoterID + "/corrections"
		if wholeImport {
			path = fmt.Sprintf("/v1/imports/%d/correction", a.importID)
		}
		before := a.stored(t)
		status, answer := a.operatorPost(t, path, body)
		require.Less(t, status, 500, answer)
		if status >= 400 {
			require.Equal(t, before, a.stored(t), "a refused body stores nothing")
		}
	})
}
