package apiserver_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ballotflow/ballotflow/apiserver"
	"github.com/ballotflow/ballotflow/internal/store"
)

// fuzzLimits let a fuzz run go on for long without a limit answering instead of the parser;
// the circuit breaker stays at its default, far above what the seeds fail.
var fuzzLimits = apiserver.PortalLimits{PerClient: 1 << 30, PerClientWindow: time.Minute, PerIdentity: 1 << 30,
	PerIdentityWindow: time.Minute, PerNameZIP: 1 << 30, PerNameZIPWindow: time.Minute, GlobalFailures: 1 << 30,
	GlobalFailuresWindow: time.Minute, SavesPerSession: 1 << 30, SavesPerSessionWindow: time.Minute}

// tableCount counts the rows of a table the portal writes.
func (p *portal) tableCount(t testing.TB, table string) int {
	var n int
	require.NoError(t, p.st.Pool().QueryRow(portalCtx, `SELECT count(*) FROM `+table).Scan(&n))
	return n
}

// FuzzPortalLookupBody posts any body to POST /v1/portal/session through the real handler:
// no panic, no 5xx, and a refused lookup (4xx other than a non-match) stores nothing, not
// even a rate-limit count.
func FuzzPortalLookupBody(f *testing.F) {
	for _, seed := range []string{
		`{"first_name":"Maria","last_name":"Garcia","date_of_birth":"03-14-1985","zip":"80202"}`,
		`{"first_name":"Chris","last_name":"Taylor","date_of_birth":"02-02-1970","zip":"80210","voter_id":"700000002"}`,
		`{"first_name":"MARÍA","last_name":" garcia ","date_of_birth":"03-14-1985","zip":"80202"}`,
		`{"first_name":"Maria","last_name":"Garcia","date_of_birth":"02-30-1985","zip":"80202"}`,
		`{"first_name":"Maria","last_name":"Garcia","date_of_birth":"12-31-1899","zip":"80202"}`,
		`{"first_name":"Maria","last_name":"Garcia","date_of_birth":"03-14-9999","zip":"80202"}`,
		`{"first_name":"Maria","last_name":"Garcia","date_of_birth":"03-14-1985","zip":"80202-1234"}`,
		`{"first_name":"\u0301","last_name":"Garcia","date_of_birth":"03-14-1985","zip":"80202"}`,
		`{"first_name":"` + strings.Repeat("a", 101) + `","last_name":"G","date_of_birth":"03-14-1985","zip":"80202"}`,
		`{"first_name":"M","last_name":"G","date_of_birth":"03-14-1985","zip":"80202","voter_id":"` + strings.Repeat("9", 33) + `"}`,
		`{"first_name":1,"last_name":"G"}`, `{"ssn":"1"}`, `{"first_name":`, `null`, `[]`, `""`, `{}{}`, `{} x`, ``,
		`{"first_name":"Maria","first_name":"Ana","last_name":"Smith","date_of_birth":"11-20-1964","zip":"80205"}`,
		"{\"first_name\":\"Ma\x00ria\",\"last_name\":\"Garcia\",\"date_of_birth\":\"03-14-1985\",\"zip\":\"80202\"}",
		`{"first_name":"` + strings.Repeat("x", 17<<10) + `"}`,
	} {
		f.Add(seed)
	}
	p := newPortal(f, fuzzLimits)
	f.Fuzz(func(t *testing.T, body string) {
		q := *p
		q.t = t
		sessions, counts := q.tableCount(t, "portal_sessions"), q.tableCount(t, "portal_rate_limits")
		a := q.do(http.MethodPost, "/v1/portal/session", "", body, "")
		require.Less(t, a.Status, 500, "%s", a.Body)
		switch a.Status {
		case http.StatusCreated:
			return
		case http.StatusNotFound:
			require.Equal(t, noMatch, string(a.Body))
		case http.StatusConflict:
		default:
			require.NotEmpty(t, a.Error.Code, "%d %s", a.Status, a.Body)
			require.NotEmpty(t, a.Error.Message)
			require.Equal(t, counts, q.tableCount(t, "portal_rate_limits"), "a refused lookup counts nothing")
		}
		require.Equal(t, sessions, q.tableCount(t, "portal_sessions"), "only a match opens a session")
	})
}

// FuzzPortalPreferencesBody puts any body to PUT /v1/portal/preferences through the real
// handler: no panic, no 5xx, and a refused save stores nothing and sends nothing.
func FuzzPortalPreferencesBody(f *testing.F) {
	for _, seed := range []string{
		`{"sms":{"enabled":true,"phone":"(720) 555-0199"}}`,
		`{"email":{"enabled":true,"address":"maria.garcia@example.org"},"sms":{"enabled":true,"phone":"+13035550101"}}`,
		`{"sms":{"enabled":true,"phone":"+19005550123"}}`,
		`{"voice":{"enabled":true,"phone":"1-900-555-0123"}}`,
		`{"sms":{"enabled":true,"phone":"+1 (303) 976-1234"}}`,
		`{"voice":{"enabled":true,"phone":"+442071838750"}}`,
		`{"sms":{"enabled":true,"phone":"+18765550123"}}`,
		`{"sms":{"enabled":false,"phone":"call me"}}`,
		`{"email":{"enabled":true,"address":"Maria <maria@example.org>"}}`,
		`{"email":{"enabled":"yes"}}`, `{"email":null}`, `{"sms":{}}`, `{"fax":{"enabled":true}}`,
		`{"contact_hours":{"start":"24:00","end":"20:00","time_zone":"America/Denver"}}`,
		`{"contact_hours":{"start":"08:00","end":"20:00","time_zone":"../../etc/passwd"}}`,
		`{"contact_hours":{"start":"08:00","end":"20:00","time_zone":"Local"}}`,
		`{"language":"fr"}`, `{"language":"es","email_waits_for_contact_hours":true}`,
		`{"confirmations_sent":["sms"]}`,
		`{"confirmations_not_sent":[{"channel":"sms"}]}`,
		`{"sms":{"enabled":true,"phone":"+17205550199","state":"active","problem":"x"}}`,
		`null`, `[]`, `{`, ``, `{}{}`, `{"sms":{"enabled":true,"phone":"` + strings.Repeat("5", 20<<10) + `"}}`,
	} {
		f.Add(seed)
	}
	p := newPortal(f, fuzzLimits)
	token := p.signIn("Maria", "Garcia", "03-14-1985", "80202")
	ref := mariaRef(f, p)
	f.Fuzz(func(t *testing.T, body string) {
		q := *p
		q.t = t
		before := subscriptionsOf(t, q.st, ref)
		audits, starts := q.tableCount(t, "audit_log"), len(q.tc.confirmations())
		a := q.do(http.MethodPut, "/v1/portal/preferences", token, body, "")
		require.Less(t, a.Status, 500, "%s", a.Body)
		if a.Status == http.StatusOK {
			return
		}
		require.NotEmpty(t, a.Error.Code, "%d %s", a.Status, a.Body)
		require.NotEmpty(t, a.Error.Message)
		require.Equal(t, before, subscriptionsOf(t, q.st, ref), "a refused save stores nothing")
		require.Equal(t, audits, q.tableCount(t, "audit_log"))
		require.Len(t, q.tc.confirmations(), starts, "a refused save sends nothing")
	})
}

func subscriptionsOf(t testing.TB, st *store.Store, ref int64) []store.Subscription {
	subs, err := st.SubscriptionListByVoter(portalCtx, ref)
	require.NoError(t, err)
	return subs
}
