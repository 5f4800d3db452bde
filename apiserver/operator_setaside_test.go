package apiserver_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ballotflow/ballotflow/internal/store"
)

func (a *adminAPI) get(t testing.TB, path, key string) (int, map[string]any) {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, path, nil)
	req.Header.Set("Authorization", "Bearer "+key)
	rec := httptest.NewRecorder()
	a.h.ServeHTTP(rec, req)
	var out map[string]any
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &out), "body: %s", rec.Body)
	return rec.Code, out
}

// An event whose signal can never succeed is set aside rather than blocking the sweeper;
// operators see it, with its reason and its ballot's workflow, and nothing personal.
func TestOperatorsSeeSetAsideEventsWithTheirReason(t *testing.T) {
	t.Parallel()
	a := newAdminAPI(t)
	require.NoError(t, a.st.ElectionUpsert(rollCtx, store.Election{ID: "e1", State: "CO", Name: "General",
		ElectionDay: time.Now().AddDate(0, 0, -40), CanvassEndsAt: time.Now().AddDate(0, 0, -10)}))
	ref, err := a.st.VoterUpsert(rollCtx, store.Voter{State: "CO", VoterID: "V1", County: "denver", FirstName: "Maria",
		LastName: "Garcia", DateOfBirth: time.Date(1985, 3, 14, 0, 0, 0, 0, time.UTC), ResidentialZIP: "80202",
		Status: "active", Email: "maria@example.org"})
	require.NoError(t, err)
	rec, err := a.st.BallotEventRecord(rollCtx, store.BallotEvent{JurisdictionID: "co-denver", ElectionID: "e1", BallotID: "B1",
		VoterRef: ref, EventID: "ev-late", Status: "received", OccurredAt: time.Now().Add(-time.Hour)})
	require.NoError(t, err)
	require.NoError(t, a.st.BallotEventSetAside(rollCtx, rec.EventRef, store.SetAsideCanvassClosed, "the canvass ended"))

	status, body := a.get(t, "/v1/operator/set-aside-events?state=co", a.operator)
	require.Equal(t, http.StatusOK, status, body)
	require.EqualValues(t, 1, body["total"])
	events := body["events"].([]any)
	require.Len(t, events, 1)
	e := events[0].(map[string]any)
	require.Equal(t, "ev-late", e["event_id"])
	require.Equal(t, "e1", e["election_id"])
	require.Equal(t, "denver", e["county"])
	require.Equal(t, "canvass_closed: the canvass ended", e["reason"])
	require.Equal(t, "ballot/e1/"+rec.Ballot.Key, e["workflow_id"])
	raw, _ := json.Marshal(body)
	require.NotContains(t, string(raw), "Maria")
	require.NotContains(t, string(raw), "maria@example.org")

	status, body = a.get(t, "/v1/operator/set-aside-events?limit=0", a.operator)
	require.Equal(t, http.StatusBadRequest, status, body)
	require.Equal(t, "limit", errorField(body, "field"))
	status, _ = a.get(t, "/v1/operator/set-aside-events", a.coState)
	require.Equal(t, http.StatusForbidden, status, "only operators")
}
