package app_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ballotflow/ballotflow/internal/app"
	"github.com/ballotflow/ballotflow/internal/ballot"
	"github.com/ballotflow/ballotflow/internal/demo"
	"github.com/ballotflow/ballotflow/internal/intake"
	"github.com/ballotflow/ballotflow/internal/store"
	"github.com/ballotflow/ballotflow/workflows/contract"
)

// TestStateKeysSyncTheRollAndPostForEveryCounty runs through the whole stack what a state
// does: it syncs its roll (a canceled voter among the rest), posts ballot events for voters
// of two counties, and is refused at once when its key is revoked. Every post is audited.
func TestStateKeysSyncTheRollAndPostForEveryCounty(t *testing.T) {
	d := startDev(t)
	ctx := context.Background()
	stateKey, stateKeyRow := createRollKey(t, d, store.APIKey{Role: store.RoleState, State: "CO", Label: "CO SOS"})

	roll := "voter_id,first_name,last_name,date_of_birth,residential_zip,county,status,email\n" +
		"800000001,Lena,Fischer,1988-04-02,80012,arapahoe,active,lena.fischer@example.org\n" +
		"800000002,Omar,Haddad,1991-09-17,80202,denver,canceled,omar.haddad@example.org\n"
	status, body := postRoll(t, d, stateKey, roll)
	require.Equal(t, http.StatusOK, status, "%s", body)
	require.JSONEq(t, `{"rows":2,"inserted":2,"updated":0,"unchanged":0,"rejected":0,"enrolled":2,"rejections":[]}`, body)

	// A county key cannot sync the roll.
	status, _ = postRoll(t, d, d.DemoKey, roll)
	require.Equal(t, http.StatusForbidden, status)

	now := time.Now().Add(-time.Minute).Truncate(time.Second)
	resp := post(t, d, stateKey, "application/x-ndjson",
		eventJSON("sos-1", "800000001", "ARA-1", "mailed", now)+"\n"+
			eventJSON("sos-2", "800000002", "DEN-2", "mailed", now)+"\n"+
			eventJSON("sos-3", demo.Voters[0].VoterID, "DEN-3", "mailed", now)+"\n")
	require.Equal(t, http.StatusAccepted, resp.Status, "%+v", resp)
	for _, r := range resp.Results {
		require.Equal(t, intake.Accepted, r.Result, "a state key posts for every county of its state: %+v", r)
	}

	// The active voter hears about the ballot; the canceled one does not.
	require.Eventually(t, func() bool { return len(outboxFor(d, "email", "lena.fischer@example.org")) == 1 },
		30*time.Second, 50*time.Millisecond)
	canceled := resp.Results[1].WorkflowID
	require.Eventually(t, func() bool {
		q, err := d.Temporal.QueryWorkflow(ctx, canceled, "", ballot.QueryStatus)
		if err != nil {
			return false
		}
		var view contract.BallotView
		return q.Get(&view) == nil && view.Status == ballot.StatusMailed && len(view.Pending) == 0
	}, 30*time.Second, 50*time.Millisecond)
	b, err := d.Store.BallotGetByKey(ctx, canceled[strings.LastIndex(canceled, "/")+1:])
	require.NoError(t, err)
	deliveries, err := d.Store.DeliveryListByBallot(ctx, b.Ref)
	require.NoError(t, err)
	require.Empty(t, deliveries, "a canceled registration gets no notice")
	require.Empty(t, outboxFor(d, "email", "omar.haddad@example.org"))

	// The county key's own post of another county's voter is refused, and audited too.
	resp = post(t, d, d.DemoKey, "application/json", eventJSON("den-9", "800000001", "ARA-9", "mailed", now))
	require.Equal(t, http.StatusForbidden, resp.Status)

	var audits []string
	rows, err := d.Store.Pool().Query(ctx, `SELECT actor || ' ' || subject || ' ' || detail::text FROM audit_log
		WHERE action = 'ballot_events.post' ORDER BY id`)
	require.NoError(t, err)
	for rows.Next() {
		var s string
		require.NoError(t, rows.Scan(&s))
		audits = append(audits, s)
	}
	require.NoError(t, rows.Err())
	require.Len(t, audits, 2, "one audit row per request")
	require.Equal(t, "key:"+stateKeyRow.Prefix+` state:CO {"accepted": 3, "rejected": 0, "duplicate": 0}`, audits[0])
	require.Contains(t, audits[1], ` jurisdiction:co-denver {"accepted": 0, "rejected": 1, "duplicate": 0}`)

	// Revoked: refused at once, nothing stored.
	require.NoError(t, d.Store.APIKeyRevoke(ctx, stateKeyRow.Prefix, "test"))
	resp = post(t, d, stateKey, "application/json", eventJSON("sos-4", "800000001", "ARA-1", "received", now))
	require.Equal(t, http.StatusUnauthorized, resp.Status)
	status, _ = postRoll(t, d, stateKey, roll)
	require.Equal(t, http.StatusUnauthorized, status)
	var stored int
	require.NoError(t, d.Store.Pool().QueryRow(ctx, `SELECT count(*) FROM ballot_events WHERE event_id = 'sos-4'`).Scan(&stored))
	require.Zero(t, stored)
}

func createRollKey(t *testing.T, d *app.Dev, k store.APIKey) (string, store.APIKey) {
	t.Helper()
	created, plaintext, err := d.Store.APIKeyCreate(context.Background(), k, "test")
	require.NoError(t, err)
	return plaintext, created
}

func postRoll(t *testing.T, d *app.Dev, key, csv string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, d.APIURL+"/v1/voters:sync", strings.NewReader(csv))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "text/csv")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.True(t, json.Valid(raw), "%s", raw)
	return resp.StatusCode, string(raw)
}
