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
	"github.com/ballotflow/ballotflow/internal/store"
)

// A county turns on return reminders for an election through the API; a voter whose mailed
// ballot has not come back gets one reminder, by email and text, at the county's reminder
// time, saying the deadline, and no second one. The reminder is due a minute or two from
// now: the test waits on the real clock, through the real stack.
func TestAReturnReminderReachesTheVoterThroughTheStack(t *testing.T) {
	t.Parallel()
	d := startDev(t)
	ctx := context.Background()
	denver, err := time.LoadLocation("America/Denver")
	require.NoError(t, err)
	remindAt := time.Now().In(denver).Truncate(time.Minute).Add(2 * time.Minute) // 60 to 120 s away
	day := time.Date(remindAt.Year(), remindAt.Month(), remindAt.Day()+1, 0, 0, 0, 0, time.UTC)
	require.NoError(t, d.Store.ElectionUpsert(ctx, store.Election{ID: "remind-e2e", State: "CO", Name: "Reminder test",
		ElectionDay: day, CanvassEndsAt: day.AddDate(0, 0, 30)}))

	req, err := http.NewRequest(http.MethodPut, d.APIURL+"/v1/elections/remind-e2e/reminders", strings.NewReader(
		fmt.Sprintf(`{"return_days":[1],"cure_days":[],"remind_at":%q}`, remindAt.Format("15:04"))))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+d.DemoKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s", body)

	maria := demo.Voters[0]
	demoVoter(t, d, maria) // texts at any hour
	mailed := fmt.Sprintf(`{"event_id":"remind-1","election_id":"remind-e2e","voter_id":%q,"ballot_id":"DEN-REMIND",`+
		`"status":"mailed","occurred_at":%q}`, maria.VoterID, time.Now().Add(-time.Hour).Format(time.RFC3339))
	res := post(t, d, d.DemoKey, "application/json", mailed)
	require.Equal(t, http.StatusAccepted, res.Status, "%+v", res)
	require.Eventually(t, func() bool {
		return len(outboxFor(d, "email", maria.Email)) == 1 && len(outboxFor(d, "sms", maria.SMS)) == 1
	}, 30*time.Second, 50*time.Millisecond)
	require.Less(t, time.Now(), remindAt, "the mailed notices went before the reminder's time")

	require.Eventually(t, func() bool {
		return len(outboxFor(d, "email", maria.Email)) == 2 && len(outboxFor(d, "sms", maria.SMS)) == 2
	}, time.Until(remindAt)+time.Minute, 200*time.Millisecond, "the reminder at %s", remindAt.Format("15:04"))
	email := outboxFor(d, "email", maria.Email)[1]
	require.Equal(t, "Reminder: return your ballot", email.Subject)
	require.False(t, email.ReceivedAt.Before(remindAt), "not before the county's reminder time")
	deadline := day.Format("January 2") // election day, as the text says it
	require.Contains(t, email.Text, deadline)
	require.Contains(t, outboxFor(d, "sms", maria.SMS)[1].Text, deadline)
	time.Sleep(2 * time.Second)
	require.Len(t, outboxFor(d, "email", maria.Email), 2, "one reminder, once")
}
