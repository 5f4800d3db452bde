package apiserver_test

import (
	"bytes"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ballotflow/ballotflow/apiserver"
	"github.com/ballotflow/ballotflow/internal/demo"
	"github.com/ballotflow/ballotflow/internal/store"
)

// An election's records export holds one row per county event and per delivery, with the
// ballot's and the voter's ids; a county's reason that a spreadsheet would run as a formula
// is defused; the file the command line writes is the same; operators alone may take it,
// and each export is audited.
func TestElectionRecordsExportHoldsEveryEventAndDelivery(t *testing.T) {
	t.Parallel()
	e := newOperatorEnv(t)
	maria, sam := demo.Voters[0], demo.Voters[5]
	b := e.ballot(maria.VoterID, "DEN-X-1", statusMove{"mailed", time.Now().Add(-2 * time.Hour)})
	deadline := time.Now().AddDate(0, 0, 7)
	_, err := e.st.BallotEventRecord(opCtx, store.BallotEvent{JurisdictionID: "co-denver", ElectionID: demo.ElectionID,
		BallotID: "DEN-X-1", VoterRef: b.VoterRef, EventID: "ev-DEN-X-1-ch", Status: "challenged",
		OccurredAt: time.Now().Add(-time.Hour).Truncate(time.Second), Reason: `=HYPERLINK("http://evil.example","fix")`,
		CureDeadline: &deadline})
	require.NoError(t, err)
	e.delivery(b, 1, "mailed", "email", store.DeliveryDelivered, "SG-1", "")
	e.delivery(b, 2, "challenged", "sms", store.DeliveryFailed, "", "Twilio error 30003")
	e.ballot(sam.VoterID, "ARA-X-1")

	path := "/v1/operator/elections/" + demo.ElectionID + "/records"
	rows := e.getCSV(path)
	require.Equal(t, apiserver.ElectionRecordsHeader, rows[0])
	col := func(name string) int { return slices.Index(rows[0], name) }
	var got []string
	for _, r := range rows[1:] {
		got = append(got, r[col("county")]+" "+r[col("ballot_id")]+" "+r[col("voter_id")]+" "+r[col("record")]+" "+
			r[col("status")]+" "+r[col("channel")]+" "+r[col("outcome")])
	}
	require.Equal(t, []string{
		"denver DEN-X-1 600100001 event mailed  not_signaled",
		"denver DEN-X-1 600100001 event challenged  not_signaled",
		"denver DEN-X-1 600100001 delivery mailed email delivered",
		"denver DEN-X-1 600100001 delivery challenged sms failed",
		"arapahoe ARA-X-1 600200001 event mailed  not_signaled",
	}, got)
	challenged := rows[2]
	require.Equal(t, `'=HYPERLINK("http://evil.example","fix")`, challenged[col("reason")], "a formula is defused")
	require.Equal(t, deadline.Format(time.DateOnly), challenged[col("cure_deadline")])
	require.NotEmpty(t, challenged[col("received_at")])
	email, sms := rows[3], rows[4]
	require.Equal(t, "1", email[col("notice")])
	require.Equal(t, "SG-1", email[col("provider_id")])
	require.NotEmpty(t, email[col("settled_at")])
	require.Equal(t, "Twilio error 30003", sms[col("detail")])
	require.Equal(t, "1", sms[col("attempts")])

	require.Len(t, e.getCSV(path+"?county=arapahoe"), 2, "one county's ballots")

	// The command line writes the same file.
	var file bytes.Buffer
	n, err := apiserver.ExportElectionRecords(opCtx, e.st, &file, demo.ElectionID, "", "cli:test")
	require.NoError(t, err)
	require.Equal(t, len(rows)-1, n)
	require.Equal(t, string(e.do(http.MethodGet, path, e.operator, nil).Body), file.String())

	var exports int
	require.NoError(t, e.st.Pool().QueryRow(opCtx, `
		SELECT count(*) FROM audit_log WHERE action = 'election.export' AND subject = $1 AND actor = $2`,
		"election:"+demo.ElectionID, "key:"+e.operatorKey.Prefix).Scan(&exports))
	require.Equal(t, 3, exports, "each API export is audited")

	for _, key := range []string{e.county, e.stateKey} {
		a := e.do(http.MethodGet, path, key, nil)
		require.Equal(t, http.StatusForbidden, a.Status, "%s", a.Body)
	}
	a := e.do(http.MethodGet, "/v1/operator/elections/no-such-election/records", e.operator, nil)
	require.Equal(t, http.StatusNotFound, a.Status)
}

// Once an election's purge has begun its records cannot be exported, by the API or the
// command line, and the answer says when its records period ended; the election itself no
// longer changes.
func TestElectionRecordsAreRefusedOnceThePurgeBegins(t *testing.T) {
	t.Parallel()
	e := newOperatorEnv(t)
	e.ballot(demo.Voters[0].VoterID, "DEN-P-1")
	election, err := e.st.ElectionGetByID(opCtx, demo.ElectionID)
	require.NoError(t, err)
	_, err = e.st.ElectionBeginPurge(opCtx, demo.ElectionID, election.RecordsUntil.AddDate(0, 0, 1))
	require.NoError(t, err)

	path := "/v1/operator/elections/" + demo.ElectionID + "/records"
	a := e.do(http.MethodGet, path, e.operator, nil)
	require.Equal(t, http.StatusConflict, a.Status, "%s", a.Body)
	require.Equal(t, "election_purged", a.Error.Code)
	require.Contains(t, a.Error.Message, election.RecordsUntil.Format(time.DateOnly))
	_, err = apiserver.ExportElectionRecords(opCtx, e.st, &bytes.Buffer{}, demo.ElectionID, "", "cli:test")
	require.ErrorIs(t, err, store.ErrElectionPurged)

	for {
		page, err := e.st.ElectionPurgeBatch(opCtx, demo.ElectionID, 0, 100)
		require.NoError(t, err)
		if page.Ballots < 100 {
			break
		}
	}
	finished, err := e.st.ElectionFinishPurge(opCtx, demo.ElectionID)
	require.NoError(t, err)
	require.True(t, finished)
	a = e.do(http.MethodGet, path, e.operator, nil)
	require.Equal(t, http.StatusConflict, a.Status)
	require.Contains(t, a.Error.Message, "were purged on")

	var exports int
	require.NoError(t, e.st.Pool().QueryRow(opCtx, `SELECT count(*) FROM audit_log WHERE action = 'election.export'`).Scan(&exports))
	require.Zero(t, exports, "a refused export is no export")

	// Counts remain.
	var counts struct{ Total int64 }
	e.get("/v1/operator/elections/"+demo.ElectionID+"/counts", &counts)
	require.Equal(t, int64(1), counts.Total)

	a = e.do(http.MethodPost, "/v1/elections", e.operator, map[string]any{"id": demo.ElectionID, "state": "CO",
		"name": "Renamed", "election_day": election.ElectionDay.Format(time.DateOnly),
		"canvass_ends_at": election.CanvassEndsAt.Format(time.RFC3339)})
	require.Equal(t, http.StatusConflict, a.Status, "%s", a.Body)
	require.Equal(t, "election_purged", a.Error.Code)
}

// records_until is read and written by the elections API: left out it is election day + 22
// months, it may be set to any day from the end of the canvass, and the purge's times are
// ballotflow's to set.
func TestElectionsAPIKeepsTheRecordsPeriod(t *testing.T) {
	t.Parallel()
	a := newAdminAPI(t)
	status, body := a.post(t, "/v1/elections", a.coState, goodElection)
	require.Equal(t, http.StatusCreated, status, "%v", body)
	saved := body["election"].(map[string]any)
	require.Equal(t, "2028-09-03", saved["records_until"])
	require.NotContains(t, saved, "purged_at")

	withUntil := goodElection[:len(goodElection)-1] + `,"records_until":"2031-12-31"}`
	status, body = a.post(t, "/v1/elections", a.coState, withUntil)
	require.Equal(t, http.StatusOK, status, "%v", body)
	require.Equal(t, "2031-12-31", body["election"].(map[string]any)["records_until"])

	for _, tc := range []struct{ name, body, field string }{
		{"before the canvass ends", goodElection[:len(goodElection)-1] + `,"records_until":"2026-11-27"}`, "records_until"},
		{"not a date", goodElection[:len(goodElection)-1] + `,"records_until":"in two years"}`, "records_until"},
		{"decades away", goodElection[:len(goodElection)-1] + `,"records_until":"2099-01-01"}`, "records_until"},
		{"purged_at", goodElection[:len(goodElection)-1] + `,"purged_at":"2026-12-01T00:00:00Z"}`, "purged_at"},
	} {
		before := a.stored(t)
		status, body := a.post(t, "/v1/elections", a.coState, tc.body)
		require.Equal(t, http.StatusBadRequest, status, "%s: %v", tc.name, body)
		require.Equal(t, tc.field, errorField(body, "field"), tc.name)
		require.Equal(t, before, a.stored(t), "%s: nothing is stored", tc.name)
	}
	e, err := a.st.ElectionGetByID(opCtx, "2026-11-03-general")
	require.NoError(t, err)
	require.Equal(t, "2031-12-31", e.RecordsUntil.Format(time.DateOnly))
}
