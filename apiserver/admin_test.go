package apiserver_test

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ballotflow/ballotflow/apiserver"
	"github.com/ballotflow/ballotflow/internal/store"
	"github.com/ballotflow/ballotflow/internal/testdb"
)

// adminAPI is the API over a fresh database with a Colorado state key and an operator key,
// called in-process so a fuzz target can post many bodies.
type adminAPI struct {
	h                 http.Handler
	st                *store.Store
	coState, operator string
}

func newAdminAPI(t testing.TB) *adminAPI {
	t.Helper()
	st := testdb.Open(t)
	// A state key needs a county of its state configured.
	_, err := st.JurisdictionUpsert(rollCtx, store.Jurisdiction{State: "CO", County: "denver", Name: "Denver Elections",
		TimeZone: "America/Denver", EmailFrom: "b@example.org", EmailFromName: "Denver", SMSFrom: "+17205550100",
		VoiceFrom: "+17205550100", HelpText: "Call 720-555-0100."})
	require.NoError(t, err)
	a := &adminAPI{st: st}
	for _, k := range []struct {
		dst *string
		key store.APIKey
	}{
		{&a.coState, store.APIKey{Role: store.RoleState, State: "CO"}},
		{&a.operator, store.APIKey{Role: store.RoleOperator}},
	} {
		_, plaintext, err := st.APIKeyCreate(rollCtx, k.key, "test")
		require.NoError(t, err)
		*k.dst = plaintext
	}
	a.h = apiserver.New(apiserver.Config{Store: st, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	return a
}

// post sends body to path with key and returns the status and the decoded answer.
func (a *adminAPI) post(t testing.TB, path, key, body string) (int, map[string]any) {
	t.Helper()
	return a.send(t, http.MethodPost, path, key, body)
}

// send sends body to path with method and key and returns the status and the decoded answer.
func (a *adminAPI) send(t testing.TB, method, path, key, body string) (int, map[string]any) {
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	a.h.ServeHTTP(rec, req)
	var out map[string]any
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &out), "body: %s", rec.Body)
	return rec.Code, out
}

// stored counts what the admin endpoints write: jurisdictions, elections and their audit rows.
func (a *adminAPI) stored(t testing.TB) int {
	t.Helper()
	var n int
	require.NoError(t, a.st.Pool().QueryRow(rollCtx, `SELECT (SELECT count(*) FROM jurisdictions) +
		(SELECT count(*) FROM elections) + (SELECT count(*) FROM audit_log)`).Scan(&n))
	return n
}

func errorField(body map[string]any, name string) string {
	e, _ := body["error"].(map[string]any)
	s, _ := e[name].(string)
	return s
}

const (
	goodJurisdiction = `{"state":"CO","county":"denver","name":"Denver Elections","time_zone":"America/Denver",` +
		`"email_from":"ballots@denver.example.org","email_from_name":"Denver Elections","sms_from":"+17205550100",` +
		`"voice_from":"+17205550100","help_text":"Call 720-555-0100."}`
	goodElection = `{"id":"2026-11-03-general","state":"CO","name":"General Election","election_day":"2026-11-03",` +
		`"canvass_ends_at":"2026-11-27T17:00:00-07:00"}`
)

// An election whose canvass ends in the year 9999 used to be saved, and then every event of
// it was answered "accepted" and never reached a ballot workflow (the workflow timeout
// overflowed). It is refused when saved, naming the field, and nothing is stored.
func TestElectionWithACanvassInTheYear9999IsRefused(t *testing.T) {
	t.Parallel()
	a := newAdminAPI(t)
	before := a.stored(t)
	status, body := a.post(t, "/v1/elections", a.coState,
		strings.Replace(goodElection, "2026-11-27T17:00:00-07:00", "9999-12-31T00:00:00Z", 1))
	require.Equal(t, http.StatusBadRequest, status, body)
	require.Equal(t, "canvass_ends_at", errorField(body, "field"))
	require.Equal(t, before, a.stored(t))

	status, body = a.post(t, "/v1/elections", a.coState, strings.Replace(goodElection, `"2026-11-03",`, `"1899-11-07",`, 1))
	require.Equal(t, http.StatusBadRequest, status, body)
	require.Equal(t, "election_day", errorField(body, "field"))
	require.Equal(t, before, a.stored(t))
}

// FuzzAdminBodies posts arbitrary bodies to POST /v1/jurisdictions and /v1/elections, with a
// state key or an operator key. Whatever comes, the API answers without a 5xx, and a refused
// body stores nothing.
func FuzzAdminBodies(f *testing.F) {
	for _, seed := range []string{
		goodJurisdiction,
		goodElection,
		strings.Replace(goodElection, "2026-11-27T17:00:00-07:00", "9999-12-31T23:59:59Z", 1),
		strings.Replace(goodElection, `"2026-11-03",`, `"1899-12-31",`, 1),
		strings.Replace(goodElection, `"2026-11-03",`, `"0000-01-01",`, 1),
		strings.Replace(goodElection, "2026-11-27T17:00:00-07:00", "1800-01-01T00:00:00Z", 1),
		strings.Replace(goodElection, "2026-11-27T17:00:00-07:00", "2026-11-27T17:00:00+24:00", 1),
		strings.Replace(goodElection, `"2026-11-03",`, `"`+time.Now().AddDate(0, 0, 1).Format(time.DateOnly)+`",`, 1),
		strings.Replace(goodElection, "General Election", "General\u0000Election", 1),
		strings.Replace(goodElection, "2026-11-03-general", "2026\u0000general", 1),
		strings.Replace(goodJurisdiction, "Denver Elections", "Denver\u0000Elections", 1),
		strings.Replace(goodJurisdiction, "America/Denver", "America/Denver\u0000", 1),
		strings.Replace(goodJurisdiction, "America/Denver", "../../etc/passwd", 1),
		strings.Replace(goodJurisdiction, `"CO"`, `"WY"`, 1),
		strings.Replace(goodJurisdiction, "Call 720-555-0100.", strings.Repeat("x", 600), 1),
		strings.Replace(goodJurisdiction, `"help_text"`, `"languages":["xx"],"help_text"`, 1),
		strings.Replace(goodJurisdiction, `"help_text"`, `"languages":["en","vi"],"help_texts":{"vi":"Xin gọi."},"help_text"`, 1),
		strings.Replace(goodJurisdiction, `"help_text"`, `"help_texts":{"es":"a\u0000b"},"help_text"`, 1),
		strings.Replace(goodJurisdiction, `"help_text"`, `"help_texts":[],"help_text"`, 1),
		strings.Replace(goodJurisdiction, `"help_text"`, `"reply_to":"elections@denver.example.org","help_text"`, 1),
		strings.Replace(goodJurisdiction, `"help_text"`, `"reply_to":"a@b\u0000.org","help_text"`, 1),
		"{\"name\":\"\xff\xfe\"}",
		`{"id":"x","id":"y"}`, `{"election_day":7}`, `[]`, `null`, `{}`, `"`, ``,
		goodElection + goodElection,
	} {
		f.Add(seed, false, false)
		f.Add(seed, true, true)
	}
	f.Add(strings.Replace(goodElection, "2026", "9999", -1), true, true)
	a := newAdminAPI(f)
	f.Fuzz(func(t *testing.T, body string, election, operator bool) {
		path, key := "/v1/jurisdictions", a.coState
		if election {
			path = "/v1/elections"
		}
		if operator {
			key = a.operator
		}
		before := a.stored(t)
		status, answer := a.post(t, path, key, body)
		require.Less(t, status, 500, answer)
		if status >= 400 {
			require.Equal(t, before, a.stored(t), "a refused body stores nothing")
			require.NotEmpty(t, errorField(answer, "code"), answer)
			require.NotEmpty(t, errorField(answer, "message"), answer)
		}
	})
}

// A county's reply-to address (where voters' answers to notice emails go) is optional,
// checked like any address, and read back as saved.
func TestJurisdictionReplyTo(t *testing.T) {
	a := newAdminAPI(t)
	status, answer := a.post(t, "/v1/jurisdictions", a.coState,
		strings.Replace(goodJurisdiction, `"help_text"`, `"reply_to":"not an address","help_text"`, 1))
	require.Equal(t, http.StatusBadRequest, status, answer)
	require.Equal(t, "reply_to", errorField(answer, "field"))

	status, answer = a.post(t, "/v1/jurisdictions", a.coState,
		strings.Replace(goodJurisdiction, `"help_text"`, `"reply_to":" Elections@Denver.Example.org ","help_text"`, 1))
	require.Less(t, status, 300, answer)
	j, err := a.st.JurisdictionGetByCounty(rollCtx, "CO", "denver")
	require.NoError(t, err)
	require.Equal(t, answer["jurisdiction"].(map[string]any)["reply_to"], j.ReplyTo)
	require.Contains(t, []string{"Elections@Denver.Example.org", "Elections@denver.example.org", "elections@denver.example.org"}, j.ReplyTo)

	status, answer = a.post(t, "/v1/jurisdictions", a.coState, goodJurisdiction)
	require.Less(t, status, 300, answer)
	j, err = a.st.JurisdictionGetByCounty(rollCtx, "CO", "denver")
	require.NoError(t, err)
	require.Empty(t, j.ReplyTo, "left out, it is removed")
}
