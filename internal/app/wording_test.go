package app_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ballotflow/ballotflow/internal/demo"
)

// A county sets its own wording of the "mailed" text through the API; the voter's text,
// sent through the whole stack, is the county's, and its delivery records the version of
// the wording it used. The email, whose texts the county left alone, records none.
func TestACountysWordingReachesTheVoterThroughTheStack(t *testing.T) {
	t.Parallel()
	d := startDev(t)
	req, err := http.NewRequest(http.MethodPut, d.APIURL+"/v1/jurisdictions/co-denver/messages/notice.mailed.sms/en",
		strings.NewReader(`{"text":"{{.Jurisdiction}}: {{.FirstName}}, your ballot is in the mail. Drop boxes open Oct 13."}`))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+d.DemoKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusCreated, resp.StatusCode, "%s", body)

	maria := demo.Voters[0]
	demoVoter(t, d, maria) // texts at any hour
	mailed := fmt.Sprintf(`{"event_id":"wording-1","election_id":%q,"voter_id":%q,"ballot_id":"DEN-WORDING",`+
		`"status":"mailed","occurred_at":%q}`, demo.ElectionID, maria.VoterID, time.Now().Add(-time.Hour).Format(time.RFC3339))
	res := post(t, d, d.DemoKey, "application/json", mailed)
	require.Equal(t, http.StatusAccepted, res.Status, "%+v", res)
	require.Eventually(t, func() bool {
		return len(outboxFor(d, "email", maria.Email)) == 1 && len(outboxFor(d, "sms", maria.SMS)) == 1
	}, 30*time.Second, 50*time.Millisecond)
	require.Contains(t, outboxFor(d, "sms", maria.SMS)[0].Text, "Maria, your ballot is in the mail. Drop boxes open Oct 13.")
	require.Contains(t, outboxFor(d, "email", maria.Email)[0].Text, "has mailed the ballot of Maria Garcia")

	versions := map[string]int64{}
	require.Eventually(t, func() bool {
		rows, err := d.Store.Pool().Query(context.Background(), `
			SELECT d.channel, coalesce(d.messages_version, 0) FROM deliveries d JOIN ballots b ON b.id = d.ballot_ref
			WHERE b.ballot_id = 'DEN-WORDING' AND d.state IN ('accepted', 'delivered')`)
		if err != nil {
			return false
		}
		defer rows.Close()
		for rows.Next() {
			var channel string
			var version int64
			if rows.Scan(&channel, &version) == nil {
				versions[channel] = version
			}
		}
		return len(versions) == 2
	}, 10*time.Second, 50*time.Millisecond)
	require.Equal(t, map[string]int64{"sms": 1, "email": 0}, versions)
}
