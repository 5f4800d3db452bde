package apiserver_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ballotflow/ballotflow/apiserver"
	"github.com/ballotflow/ballotflow/internal/store"
	"github.com/ballotflow/ballotflow/internal/testdb"
)

var rollCtx = context.Background()

// stateAPI is the API over a fresh database with two Colorado counties and one in Wyoming,
// and a key of each role.
type stateAPI struct {
	t                *testing.T
	url              string
	st               *store.Store
	coState, wyState string // state keys
	denver, operator string
	coStatePrefix    string
}

func newStateAPI(t *testing.T) *stateAPI {
	t.Helper()
	t.Parallel()
	st := testdb.Open(t)
	for _, j := range []store.Jurisdiction{
		{State: "CO", County: "denver"}, {State: "CO", County: "arapahoe"}, {State: "WY", County: "laramie"},
	} {
		j.Name, j.TimeZone, j.EmailFrom, j.EmailFromName = j.County+" elections", "America/Denver", "b@example.org", j.County
		j.SMSFrom, j.VoiceFrom, j.HelpText = "+17205550100", "+17205550100", "Call 720-555-0100."
		_, _, err := st.JurisdictionSave(rollCtx, j, "test")
		require.NoError(t, err)
	}
	key := func(k store.APIKey) (string, string) {
		created, plaintext, err := st.APIKeyCreate(rollCtx, k, "test")
		require.NoError(t, err)
		return plaintext, created.Prefix
	}
	a := &stateAPI{t: t, st: st}
	a.coState, a.coStatePrefix = key(store.APIKey{Role: store.RoleState, State: "CO"})
	a.wyState, _ = key(store.APIKey{Role: store.RoleState, State: "WY"})
	a.denver, _ = key(store.APIKey{Role: store.RoleCounty, State: "CO", County: "denver"})
	a.operator, _ = key(store.APIKey{Role: store.RoleOperator})
	srv := httptest.NewServer(apiserver.New(apiserver.Config{Store: st,
		Logger: slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))}))
	t.Cleanup(srv.Close)
	a.url = srv.URL
	return a
}

type answer struct {
	Status int
	Body   map[string]any
}

func (a answer) errorField(name string) string {
	e, _ := a.Body["error"].(map[string]any)
	s, _ := e[name].(string)
	return s
}

func (a *stateAPI) do(method, path, key, contentType, body string) answer {
	a.t.Helper()
	req, err := http.NewRequest(method, a.url+path, strings.NewReader(body))
	require.NoError(a.t, err)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(a.t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(a.t, err)
	out := answer{Status: resp.StatusCode}
	require.NoError(a.t, json.Unmarshal(raw, &out.Body), "body: %s", raw)
	return out
}

func (a *stateAPI) count(sql string, args ...any) int {
	a.t.Helper()
	var n int
	require.NoError(a.t, a.st.Pool().QueryRow(rollCtx, sql, args...).Scan(&n))
	return n
}

const rollHeader = "voter_id,first_name,last_name,date_of_birth,residential_zip,county,status,email,phone,confidential\n"

func TestVotersSyncLoadsTheRollOfTheKeysState(t *testing.T) {
	a := newStateAPI(t)
	csv := rollHeader +
		"100,Maria,Garcia,1985-03-14,80202-1234,denver,active,maria@example.org,303-555-0101,N\n" +
		"101,James,Smith,1962-07-04,80205,arapahoe,active,,,N\n" +
		"102,Riley,Park,1979-05-30,80203,denver,active,riley@example.org,,Y\n" +
		"103,Ann,Lee,1979-02-30,80203,denver,active,,,N\n" + // no February 30th
		"104,Sam,Lee,1975-01-09,82001,laramie,active,,,N\n" // a Wyoming county
	res := a.do(http.MethodPost, "/v1/voters:sync", a.coState, "text/csv; charset=utf-8", csv)
	require.Equal(t, http.StatusOK, res.Status, "%v", res.Body)
	require.EqualValues(t, 5, res.Body["rows"])
	require.EqualValues(t, 3, res.Body["inserted"])
	require.EqualValues(t, 2, res.Body["rejected"])
	require.EqualValues(t, 1, res.Body["enrolled"], "the confidential voter is not enrolled")
	require.Equal(t, []any{
		map[string]any{"line": 5.0, "field": "date_of_birth", "reason": "date_of_birth must be a date YYYY-MM-DD"},
		map[string]any{"line": 6.0, "field": "county", "reason": "county is not a configured jurisdiction of CO"},
	}, res.Body["rejections"])
	v, err := a.st.VoterGetByID(rollCtx, "CO", "100")
	require.NoError(t, err)
	require.Equal(t, "+13035550101", v.Phone)
	require.Equal(t, "80202", v.ResidentialZIP)
	require.Equal(t, 1, a.count(`SELECT count(*) FROM audit_log WHERE action = 'voters.import' AND actor = $1
		AND subject = 'state:CO' AND detail->>'inserted' = '3'`, "key:"+a.coStatePrefix))

	ndjson := `{"voter_id":"100","first_name":"Maria","last_name":"Garcia","date_of_birth":"1985-03-14","residential_zip":"80202","county":"denver","status":"inactive","email":"maria@example.org","phone":"+13035550101"}` + "\n"
	res = a.do(http.MethodPost, "/v1/voters:sync", a.coState, "application/x-ndjson", ndjson)
	require.Equal(t, http.StatusOK, res.Status, "%v", res.Body)
	require.EqualValues(t, 1, res.Body["updated"])
	v, err = a.st.VoterGetByID(rollCtx, "CO", "100")
	require.NoError(t, err)
	require.Equal(t, "inactive", v.Status)

	// The Wyoming key loads Wyoming's roll; Colorado's voter 100 is not Wyoming's.
	res = a.do(http.MethodPost, "/v1/voters:sync", a.wyState, "text/csv",
		rollHeader+"100,Sam,Lee,1975-01-09,82001,laramie,active,,,N\n")
	require.Equal(t, http.StatusOK, res.Status, "%v", res.Body)
	require.EqualValues(t, 1, res.Body["inserted"])
}

func TestVotersSyncRefusesBadFilesWhole(t *testing.T) {
	a := newStateAPI(t)
	cases := []struct {
		name, contentType, body string
		status                  int
		code, field             string
	}{
		{"JSON is not a roll", "application/json", `{}`, 415, "unsupported_media_type", ""},
		{"unknown column", "text/csv", "voter_id,first_name,last_name,date_of_birth,residential_zip,county,status,party\n", 400, "invalid_file", "header"},
		{"missing column", "text/csv", "voter_id,first_name,last_name\n", 400, "invalid_file", "date_of_birth"},
		{"empty", "text/csv", "", 400, "invalid_file", ""},
	}
	for _, tc := range cases {
		res := a.do(http.MethodPost, "/v1/voters:sync", a.coState, tc.contentType, tc.body)
		require.Equal(t, tc.status, res.Status, tc.name)
		require.Equal(t, tc.code, res.errorField("code"), tc.name)
		require.Equal(t, tc.field, res.errorField("field"), tc.name)
		require.NotEmpty(t, res.errorField("message"), tc.name)
	}
	require.Zero(t, a.count(`SELECT count(*) FROM voters`))
}

func TestSubscriptionsImportOverTheAPI(t *testing.T) {
	a := newStateAPI(t)
	res := a.do(http.MethodPost, "/v1/voters:sync", a.coState, "text/csv",
		rollHeader+"100,Maria,Garcia,1985-03-14,80202,denver,active,maria@example.org,,N\n")
	require.Equal(t, http.StatusOK, res.Status)
	res = a.do(http.MethodPost, "/v1/subscriptions:import", a.coState, "application/x-ndjson",
		`{"voter_id":"100","channel":"sms","address":"+13035550101","state":"active","contact_start":"09:00","contact_end":"18:00"}`+"\n"+
			`{"voter_id":"100","channel":"email","address":"maria@example.org","state":"opted_out"}`+"\n"+
			`{"voter_id":"999","channel":"email","address":"x@example.org","state":"active"}`+"\n")
	require.Equal(t, http.StatusOK, res.Status, "%v", res.Body)
	require.EqualValues(t, 1, res.Body["inserted"])
	require.EqualValues(t, 1, res.Body["updated"], "the auto-enrolled email is replaced by the voter's opt-out")
	require.EqualValues(t, 1, res.Body["rejected"])
	v, err := a.st.VoterGetByID(rollCtx, "CO", "100")
	require.NoError(t, err)
	subs, err := a.st.SubscriptionListByVoter(rollCtx, v.Ref)
	require.NoError(t, err)
	require.Len(t, subs, 2)
	require.Equal(t, "opted_out", subs[0].State)
	require.Equal(t, "09:00", subs[1].ContactStart)
}

// TestKeysActOnlyWithinTheirScope: county keys cannot load rolls or configure counties; a
// state key configures only its state; an operator sees every state but loads no roll.
func TestKeysActOnlyWithinTheirScope(t *testing.T) {
	a := newStateAPI(t)
	jurisdiction := `{"state":"CO","county":"boulder","name":"Boulder County Elections","time_zone":"America/Denver",
		"email_from":"ballots@boulder.example.org","email_from_name":"Boulder County","sms_from":"+13035550300",
		"voice_from":"+13035550300","help_text":"Call 303-555-0300."}`
	for _, tc := range []struct {
		name, key, method, path, contentType, body string
	}{
		{"county key loads a roll", a.denver, "POST", "/v1/voters:sync", "text/csv", rollHeader},
		{"county key imports subscriptions", a.denver, "POST", "/v1/subscriptions:import", "text/csv", "voter_id\n"},
		{"county key lists jurisdictions", a.denver, "GET", "/v1/jurisdictions", "", ""},
		{"county key creates a jurisdiction", a.denver, "POST", "/v1/jurisdictions", "application/json", jurisdiction},
		{"county key lists elections", a.denver, "GET", "/v1/elections", "", ""},
		{"operator loads a roll", a.operator, "POST", "/v1/voters:sync", "text/csv", rollHeader},
		{"Wyoming key creates a Colorado county", a.wyState, "POST", "/v1/jurisdictions", "application/json", jurisdiction},
		{"Wyoming key lists Colorado", a.wyState, "GET", "/v1/jurisdictions?state=CO", "", ""},
	} {
		res := a.do(tc.method, tc.path, tc.key, tc.contentType, tc.body)
		require.Equal(t, http.StatusForbidden, res.Status, "%s: %v", tc.name, res.Body)
	}
	require.Zero(t, a.count(`SELECT count(*) FROM jurisdictions WHERE county = 'boulder'`))

	res := a.do("GET", "/v1/jurisdictions", a.wyState, "", "")
	require.Equal(t, http.StatusOK, res.Status)
	require.Len(t, res.Body["jurisdictions"], 1, "a state key sees its own state")
	res = a.do("GET", "/v1/jurisdictions", a.operator, "", "")
	require.Len(t, res.Body["jurisdictions"], 3, "an operator sees every state")
	res = a.do("POST", "/v1/jurisdictions", a.operator, "application/json", jurisdiction)
	require.Equal(t, http.StatusCreated, res.Status, "%v", res.Body)
}

func TestARevokedKeyIsRefusedAtOnce(t *testing.T) {
	a := newStateAPI(t)
	require.Equal(t, http.StatusOK, a.do("GET", "/v1/jurisdictions", a.coState, "", "").Status)
	require.NoError(t, a.st.APIKeyRevoke(rollCtx, a.coStatePrefix, "test"))
	res := a.do("GET", "/v1/jurisdictions", a.coState, "", "")
	require.Equal(t, http.StatusUnauthorized, res.Status)
	require.Equal(t, "unauthenticated", res.errorField("code"))
	res = a.do(http.MethodPost, "/v1/voters:sync", a.coState, "text/csv", rollHeader)
	require.Equal(t, http.StatusUnauthorized, res.Status)
}

func TestJurisdictionsAreValidatedSavedAndAudited(t *testing.T) {
	a := newStateAPI(t)
	body := map[string]any{"county": "el-paso", "name": "El Paso County Clerk", "time_zone": "America/Denver",
		"email_from": "ballots@elpaso.example.org", "email_from_name": "El Paso County", "sms_from": "(719) 555-0100",
		"voice_from": "+17195550100", "help_text": "Call 719-555-0100."}
	post := func(changes map[string]any) answer {
		b := map[string]any{}
		for k, v := range body {
			b[k] = v
		}
		for k, v := range changes {
			b[k] = v
		}
		raw, err := json.Marshal(b)
		require.NoError(t, err)
		return a.do("POST", "/v1/jurisdictions", a.coState, "application/json", string(raw))
	}
	for field, value := range map[string]any{
		"time_zone": "Mountain", "sms_from": "555", "email_from": "ballots", "county": "El Paso!", "help_text": "",
		"name": 7, "vote": "yes", "languages": []string{"fr"},
	} {
		res := post(map[string]any{field: value})
		require.Equal(t, http.StatusBadRequest, res.Status, field)
		require.Equal(t, field, res.errorField("field"))
		require.NotEmpty(t, res.errorField("message"))
	}
	require.Zero(t, a.count(`SELECT count(*) FROM jurisdictions WHERE county = 'el-paso'`))

	res := post(nil)
	require.Equal(t, http.StatusCreated, res.Status, "%v", res.Body)
	require.Equal(t, "co-el-paso", res.Body["jurisdiction"].(map[string]any)["id"])
	require.Equal(t, "+17195550100", res.Body["jurisdiction"].(map[string]any)["sms_from"], "normalized to E.164")
	require.Equal(t, []any{"en", "es"}, res.Body["jurisdiction"].(map[string]any)["languages"], "both languages by default")
	res = post(map[string]any{"languages": []string{"es", "es"}})
	require.Equal(t, http.StatusBadRequest, res.Status, "a language listed twice")
	require.Equal(t, "languages", res.errorField("field"))
	res = post(map[string]any{"help_text": "Call 719-555-0199."})
	require.Equal(t, http.StatusOK, res.Status)
	require.Equal(t, "updated", res.Body["result"])
	res = post(map[string]any{"help_text": "Call 719-555-0199."})
	require.Equal(t, "unchanged", res.Body["result"])
	require.Equal(t, 2, a.count(`SELECT count(*) FROM audit_log WHERE subject = 'jurisdiction:co-el-paso' AND actor = $1`,
		"key:"+a.coStatePrefix), "one audit row per change")
}

func TestElectionsAreValidatedAndBelongToOneState(t *testing.T) {
	a := newStateAPI(t)
	election := `{"id":"2026-11-03-general","name":"General Election","election_day":"2026-11-03","canvass_ends_at":"2026-11-27T17:00:00-07:00"}`
	res := a.do("POST", "/v1/elections", a.coState, "application/json", election)
	require.Equal(t, http.StatusCreated, res.Status, "%v", res.Body)
	require.Equal(t, "CO", res.Body["election"].(map[string]any)["state"])

	res = a.do("POST", "/v1/elections", a.wyState, "application/json", election)
	require.Equal(t, http.StatusConflict, res.Status, "another state's election id")
	require.Equal(t, "id", res.errorField("field"))

	for _, tc := range []struct{ body, field string }{
		{strings.Replace(election, `"2026-11-27T17:00:00-07:00"`, `"2026-11-02T17:00:00-07:00"`, 1), "canvass_ends_at"},
		{strings.Replace(election, `"2026-11-27T17:00:00-07:00"`, `"2026-11-27"`, 1), "canvass_ends_at"},
		{strings.Replace(election, `"2026-11-03",`, `"11/03/2026",`, 1), "election_day"},
		{strings.Replace(election, `"2026-11-03-general"`, `"general election 2026"`, 1), "id"},
		{strings.Replace(election, `"id"`, `"state":"WY","id"`, 1), "state"},
	} {
		res := a.do("POST", "/v1/elections", a.coState, "application/json", tc.body)
		require.Contains(t, []int{http.StatusBadRequest, http.StatusForbidden}, res.Status, tc.body)
		require.Equal(t, tc.field, res.errorField("field"), tc.body)
	}
	res = a.do("GET", "/v1/elections", a.coState, "", "")
	require.Equal(t, http.StatusOK, res.Status)
	require.Len(t, res.Body["elections"], 1)
	res = a.do("GET", "/v1/elections", a.wyState, "", "")
	require.Empty(t, res.Body["elections"])
	require.Equal(t, 1, a.count(`SELECT count(*) FROM audit_log WHERE action = 'election.create'`))
}
