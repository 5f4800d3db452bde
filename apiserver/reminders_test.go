package apiserver_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ballotflow/ballotflow/internal/store"
)

// put sends body to path with key (PUT) and returns the status and the decoded answer.
func (a *adminAPI) put(t testing.TB, path, key, body string) (int, map[string]any) {
	t.Helper()
	return a.send(t, http.MethodPut, path, key, body)
}

// reminderRows counts stored reminder settings.
func (a *adminAPI) reminderRows(t testing.TB) int {
	var n int
	require.NoError(t, a.st.Pool().QueryRow(rollCtx, `SELECT count(*) FROM election_reminders`).Scan(&n))
	return n
}

// newReminderAPI is the admin API with an election and a Denver county key.
func newReminderAPI(t testing.TB) (*adminAPI, string) {
	a := newAdminAPI(t)
	status, body := a.post(t, "/v1/elections", a.coState, goodElection)
	require.Equal(t, http.StatusCreated, status, body)
	_, county, err := a.st.APIKeyCreate(rollCtx, store.APIKey{Role: store.RoleCounty, State: "CO", County: "denver"}, "test")
	require.NoError(t, err)
	return a, county
}

const goodReminders = `{"return_days":[2,7],"cure_days":[3,1],"returns_close":"19:00"}`

// A county key sets its own county's reminders; a state key names the county; a key of
// another county or a bad setting is refused naming the field, storing nothing.
func TestCountiesSetTheirRemindersPerElection(t *testing.T) {
	t.Parallel()
	a, county := newReminderAPI(t)
	path := "/v1/elections/2026-11-03-general/reminders"

	status, body := a.put(t, path, county, goodReminders)
	require.Equal(t, http.StatusOK, status, body)
	r := body["reminders"].(map[string]any)
	require.Equal(t, []any{7.0, 2.0}, r["return_days"])
	require.Equal(t, "denver", r["county"])

	for _, c := range []struct{ body, field string }{
		{`{"return_days":[0],"cure_days":[]}`, "return_days"},
		{`{"return_days":[7],"cure_days":[45]}`, "cure_days"},
		{`{"return_days":[7]}`, "cure_days"},
		{`{"return_days":[7],"cure_days":[],"returns_close":"7pm"}`, "returns_close"},
		{`{"county":"boulder","return_days":[7],"cure_days":[]}`, "county"},
	} {
		status, body := a.put(t, path, county, c.body)
		require.GreaterOrEqual(t, status, 400, c.body)
		require.Equal(t, c.field, errorField(body, "field"), c.body)
	}
	status, body = a.put(t, path, a.coState, `{"return_days":[7],"cure_days":[]}`)
	require.Equal(t, http.StatusBadRequest, status, body)
	require.Equal(t, "county", errorField(body, "field"), "a state key names the county")
	status, body = a.put(t, "/v1/elections/nope/reminders", county, goodReminders)
	require.Equal(t, http.StatusNotFound, status, body)
	require.Equal(t, 1, a.reminderRows(t))

	got, err := a.st.RemindersGet(rollCtx, "2026-11-03-general", "CO", "denver")
	require.NoError(t, err)
	require.Equal(t, []int{3, 1}, got.CureDays)
}

// FuzzReminderBodies: whatever body comes, no 5xx, and a refused one stores nothing.
func FuzzReminderBodies(f *testing.F) {
	for _, seed := range []string{goodReminders, `{"return_days":[],"cure_days":[]}`, `{"return_days":[1,2,3,4,5,6],"cure_days":[]}`,
		`{"return_days":[-1],"cure_days":[]}`, `{"return_days":[9223372036854775807],"cure_days":[]}`,
		`{"state":"CA","return_days":[7],"cure_days":[]}`, `{"returns_close":"24:00","return_days":[],"cure_days":[]}`,
		`{"election_id":"x"}`, `[]`, `null`, ``, `{"return_days":"7"}`} {
		f.Add(seed)
	}
	a, county := newReminderAPI(f)
	f.Fuzz(func(t *testing.T, body string) {
		before := a.reminderRows(t)
		status, answer := a.put(t, "/v1/elections/2026-11-03-general/reminders", county, body)
		require.Less(t, status, 500, answer)
		if status >= 400 {
			require.Equal(t, before, a.reminderRows(t))
			require.NotEmpty(t, errorField(answer, "code"), answer)
		}
	})
}
