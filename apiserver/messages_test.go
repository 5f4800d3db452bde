package apiserver_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ballotflow/ballotflow/internal/notices"
	"github.com/ballotflow/ballotflow/internal/store"
)

// wordingAPI is the admin API with a second Colorado county (Boulder), a key of each
// county and a California state key.
type wordingAPI struct {
	*adminAPI
	denver, boulder, caState string
}

func newWordingAPI(t testing.TB) *wordingAPI {
	t.Helper()
	a := &wordingAPI{adminAPI: newAdminAPI(t)}
	for _, j := range []store.Jurisdiction{{State: "CO", County: "boulder", Name: "Boulder County Elections",
		TimeZone: "America/Denver"}, {State: "CA", County: "alameda", Name: "Alameda County", TimeZone: "America/Los_Angeles"}} {
		j.EmailFrom, j.EmailFromName, j.SMSFrom, j.VoiceFrom, j.HelpText = "b@example.org", j.Name, "+13035550100",
			"+13035550100", "Call 303-555-0100."
		_, err := a.st.JurisdictionUpsert(rollCtx, j)
		require.NoError(t, err)
	}
	for _, k := range []struct {
		dst *string
		key store.APIKey
	}{
		{&a.denver, store.APIKey{Role: store.RoleCounty, State: "CO", County: "denver"}},
		{&a.boulder, store.APIKey{Role: store.RoleCounty, State: "CO", County: "boulder"}},
		{&a.caState, store.APIKey{Role: store.RoleState, State: "CA"}},
	} {
		_, plaintext, err := a.st.APIKeyCreate(rollCtx, k.key, "test")
		require.NoError(t, err)
		*k.dst = plaintext
	}
	return a
}

// wordingRows counts what a change of wording writes: versions and their audit rows.
func (a *wordingAPI) wordingRows(t testing.TB) int {
	t.Helper()
	var n int
	require.NoError(t, a.st.Pool().QueryRow(rollCtx, `SELECT (SELECT count(*) FROM message_versions) +
		(SELECT count(*) FROM audit_log WHERE action LIKE 'message.%')`).Scan(&n))
	return n
}

const (
	denverSMS     = "/v1/jurisdictions/co-denver/messages/notice.mailed.sms/en"
	goodSMSText   = "{{.Jurisdiction}}: {{.FirstName}}, your ballot is in the mail. Drop boxes open Oct 13."
	goodSMSBody   = `{"text":"` + goodSMSText + `"}`
	secretWording = "PLEASE-DO-NOT-ECHO"
)

// A county key overrides its own county's message, as a new audited version; reads it back
// with its history and the catalog's text; and reverts it, as another version.
func TestACountyOverridesRevertsAndReadsItsWording(t *testing.T) {
	t.Parallel()
	a := newWordingAPI(t)

	status, body := a.put(t, denverSMS, a.denver, goodSMSBody)
	require.Equal(t, http.StatusCreated, status, body)
	require.Equal(t, store.Created, body["result"])
	v := body["version"].(map[string]any)
	require.EqualValues(t, 1, v["version"])
	require.Equal(t, goodSMSText, v["text"])
	require.True(t, strings.HasPrefix(v["actor"].(string), "key:"), "the key's prefix, never its secret")
	secret := strings.SplitN(a.denver, "_", 3)[2] // bf_<prefix>_<secret>
	require.NotContains(t, v["actor"], secret)

	status, body = a.put(t, denverSMS, a.denver, goodSMSBody)
	require.Equal(t, http.StatusOK, status, body)
	require.Equal(t, store.Unchanged, body["result"])

	status, body = a.send(t, http.MethodGet, "/v1/jurisdictions/co-denver/messages", a.coState, "")
	require.Equal(t, http.StatusOK, status, body)
	require.EqualValues(t, 1, body["version"])
	require.Len(t, body["overrides"], 1)

	status, body = a.send(t, http.MethodDelete, denverSMS, a.denver, "")
	require.Equal(t, http.StatusOK, status, body)
	require.Equal(t, store.MessageReverted, body["result"])
	require.EqualValues(t, 2, body["version"].(map[string]any)["version"])
	require.Nil(t, body["version"].(map[string]any)["text"])

	status, body = a.send(t, http.MethodGet, denverSMS, a.denver, "")
	require.Equal(t, http.StatusOK, status, body)
	require.Nil(t, body["override"], "back to the catalog's")
	require.Contains(t, body["default"], "mailed your ballot")
	require.Len(t, body["history"], 2)

	var actions []string
	rows, err := a.st.Pool().Query(rollCtx, `SELECT action FROM audit_log WHERE subject = 'jurisdiction:co-denver' ORDER BY id`)
	require.NoError(t, err)
	for rows.Next() {
		var action string
		require.NoError(t, rows.Scan(&action))
		actions = append(actions, action)
	}
	require.Equal(t, []string{"message.override", "message.revert"}, actions)
}

// A county key cannot touch another county's wording, nor a state key another state's.
func TestACountyCannotOverrideAnotherCounty(t *testing.T) {
	t.Parallel()
	a := newWordingAPI(t)
	for _, c := range []struct{ key, code string }{{a.boulder, "other_county"}, {a.caState, "other_state"}} {
		for _, method := range []string{http.MethodPut, http.MethodDelete, http.MethodGet} {
			status, body := a.send(t, method, denverSMS, c.key, goodSMSBody)
			require.Equal(t, http.StatusForbidden, status, body)
			require.Equal(t, c.code, errorField(body, "code"))
			require.Equal(t, "jurisdiction", errorField(body, "field"))
		}
	}
	status, body := a.put(t, "/v1/jurisdictions/co-boulder/messages/notice.mailed.sms/en", a.coState, goodSMSBody)
	require.Equal(t, http.StatusCreated, status, body, "a state key: any county of its state")
	status, body = a.put(t, "/v1/jurisdictions/co-nowhere/messages/notice.mailed.sms/en", a.coState, goodSMSBody)
	require.Equal(t, http.StatusNotFound, status, body)
	require.Equal(t, 2, a.wordingRows(t), "only Boulder's version and its audit row")
}

// Each refusal is a 422 naming the field and the rule; nothing is stored, and the answer
// never repeats the text.
func TestEachWordingRefusalNamesItsField(t *testing.T) {
	t.Parallel()
	a := newWordingAPI(t)
	for _, c := range []struct{ path, text, code, field string }{
		{denverSMS, "{{.Jurisdiction}}: {{.FirstName}} {{.Link}} " + secretWording, notices.CodeUnknownPlaceholder, "text"},
		{denverSMS, "{{.Jurisdiction}}: your ballot is in the mail. " + secretWording, notices.CodeMissingVoterName, "text"},
		{denverSMS, "{{.Jurisdiction}}: {{.FirstName}} {{if .Name}}x{{end}} " + secretWording, notices.CodeNotAPlaceholder, "text"},
		{denverSMS, "{{.Jurisdiction}}: {{.FirstName}}, <b>mailed</b> " + secretWording, notices.CodeInvalidMarkup, "text"},
		{denverSMS, "{{.Jurisdiction}}: {{.FirstName}}, " + strings.Repeat(secretWording+" ", 12), notices.CodeOverBudget, "text"},
		{denverSMS, "", notices.CodeInvalidText, "text"},
		{"/v1/jurisdictions/co-denver/messages/notice.mailed.sms/xx", goodSMSText, notices.CodeUnknownLanguage, "language"},
		{"/v1/jurisdictions/co-denver/messages/reply.help/en", goodSMSText, notices.CodeUnknownMessage, "message_id"},
	} {
		raw, err := json.Marshal(map[string]string{"text": c.text})
		require.NoError(t, err)
		status, body := a.put(t, c.path, a.denver, string(raw))
		require.GreaterOrEqual(t, status, 400, c.text)
		require.Less(t, status, 500, c.text)
		require.Equal(t, c.code, errorField(body, "code"), "%s: %v", c.text, body)
		require.Equal(t, c.field, errorField(body, "field"), c.text)
		require.NotContains(t, errorField(body, "message"), secretWording)
	}
	status, body := a.put(t, denverSMS, a.denver, `{"text":"x","extra":1}`)
	require.Equal(t, http.StatusBadRequest, status, body)
	require.Equal(t, 0, a.wordingRows(t))
}

// A dry run checks and previews a text without saving it; the preview of a county shows
// its wording in force, with the version.
func TestAWordingDryRunAndTheCountysPreview(t *testing.T) {
	t.Parallel()
	a := newWordingAPI(t)
	status, body := a.put(t, denverSMS, a.denver, `{"text":"`+goodSMSText+`","dry_run":true}`)
	require.Equal(t, http.StatusOK, status, body)
	require.Equal(t, "valid", body["result"])
	preview, _ := json.Marshal(body["preview"])
	require.Contains(t, string(preview), "your ballot is in the mail. Drop boxes open Oct 13.")
	require.Equal(t, 0, a.wordingRows(t), "a dry run saves nothing")

	status, body = a.put(t, denverSMS, a.denver, goodSMSBody)
	require.Equal(t, http.StatusCreated, status, body)
	status, body = a.send(t, http.MethodGet, "/v1/notices/preview?county=denver&language=en&message=notice.mailed&channel=sms",
		a.denver, "")
	require.Equal(t, http.StatusOK, status, body)
	msgs := body["previews"].([]any)[0].(map[string]any)["messages"].([]any)
	require.NotEmpty(t, msgs)
	for _, m := range msgs {
		m := m.(map[string]any)
		require.Contains(t, m["text"], "Drop boxes open Oct 13.")
		require.EqualValues(t, 1, m["version"])
	}
	status, body = a.send(t, http.MethodGet, "/v1/notices/preview?county=denver&language=en", a.boulder, "")
	require.Equal(t, http.StatusForbidden, status, body)
}

// FuzzWordingBodies: whatever body comes, no 5xx, and a refused one stores nothing.
func FuzzWordingBodies(f *testing.F) {
	for _, seed := range []string{goodSMSBody, `{"text":"` + goodSMSText + `","dry_run":true}`, `{"text":""}`,
		`{"text":"{{.Jurisdiction}} {{.FirstName}} {{template \"x\"}}"}`, `{"text":"{{.Jurisdiction}} {{.FirstName}}\u0000"}`,
		`{"text":"{{.Jurisdiction}} {{.FirstName}} <script>"}`, `{"text":"{{"}`, `{"text":"}}{{.FirstName}}{{.Jurisdiction}}"}`,
		`{"text":"{{.Jurisdiction}} {{.FirstName}} e\u0301"}`, `{"text":1}`, `{"dry_run":"yes"}`, `[]`, `null`, ``,
		`{"text":"` + strings.Repeat("é", 3000) + `"}`} {
		f.Add(seed)
	}
	a := newWordingAPI(f)
	f.Fuzz(func(t *testing.T, body string) {
		before := a.wordingRows(t)
		status, answer := a.put(t, denverSMS, a.denver, body)
		require.Less(t, status, 500, answer)
		if status >= 400 {
			require.Equal(t, before, a.wordingRows(t))
			require.NotEmpty(t, errorField(answer, "code"), answer)
		}
	})
}
