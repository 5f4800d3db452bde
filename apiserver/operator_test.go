package apiserver_test

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"

	"github.com/ballotflow/ballotflow/apiserver"
	"github.com/ballotflow/ballotflow/internal/ballot"
	"github.com/ballotflow/ballotflow/internal/demo"
	"github.com/ballotflow/ballotflow/internal/store"
	"github.com/ballotflow/ballotflow/internal/testdb"
	"github.com/ballotflow/ballotflow/workflows/contract"
)

var opCtx = context.Background()

// operatorTemporal records the preferences-changed signals the operator API sends; any
// other use of Temporal panics (reports must never ask Temporal).
type operatorTemporal struct {
	client.Client
	mu      sync.Mutex
	signals []string // workflow ids
	fail    bool
}

func (f *operatorTemporal) SignalWorkflow(_ context.Context, id, _, name string, arg any) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if name != ballot.SignalPreferencesChanged {
		panic("unexpected signal " + name)
	}
	if arg.(contract.PreferencesChanged).Reason != apiserver.ReasonCountyAssisted {
		panic("unexpected reason")
	}
	if f.fail {
		return errors.New("temporal is down")
	}
	f.signals = append(f.signals, id)
	return nil
}

func (f *operatorTemporal) signaled() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.signals...)
}

// operatorEnv is the API on a fresh database with the demo data and one key of each role.
type operatorEnv struct {
	t                          *testing.T
	h                          http.Handler
	st                         *store.Store
	tc                         *operatorTemporal
	operatorKey                store.APIKey
	operator, county, stateKey string
}

const testUIURL = "http://temporal-ui.test:8233"

func newOperatorEnv(t *testing.T) *operatorEnv {
	t.Helper()
	st := testdb.Open(t)
	require.NoError(t, demo.Seed(opCtx, st, time.Now()))
	tc := &operatorTemporal{}
	e := &operatorEnv{t: t, st: st, tc: tc,
		h: apiserver.New(apiserver.Config{Store: st, Temporal: tc, TemporalUIURL: testUIURL + "/", TemporalNamespace: "ballots",
			Logger: slog.New(slog.DiscardHandler)})}
	var err error
	e.operatorKey, e.operator, err = st.APIKeyCreate(opCtx, store.APIKey{Role: store.RoleOperator, Label: "help desk"}, "test")
	require.NoError(t, err)
	_, e.county, err = st.APIKeyCreate(opCtx, store.APIKey{Role: store.RoleCounty, State: "CO", County: "denver"}, "test")
	require.NoError(t, err)
	_, e.stateKey, err = st.APIKeyCreate(opCtx, store.APIKey{Role: store.RoleState, State: "CO"}, "test")
	require.NoError(t, err)
	return e
}

type opAnswer struct {
	Status int
	Header http.Header
	Body   []byte
	Error  struct{ Code, Message, Field string }
}

func (e *operatorEnv) do(method, path, key string, body any, headers ...string) opAnswer {
	e.t.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		r = strings.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		require.NoError(e.t, err)
		r = strings.NewReader(string(raw))
	}
	req := httptest.NewRequest(method, path, r)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, req)
	a := opAnswer{Status: rec.Code, Header: rec.Header(), Body: rec.Body.Bytes()}
	var env struct {
		Error struct{ Code, Message, Field string }
	}
	if json.Unmarshal(a.Body, &env) == nil {
		a.Error = env.Error
	}
	return a
}

func (e *operatorEnv) get(path string, out any) {
	e.t.Helper()
	a := e.do(http.MethodGet, path, e.operator, nil)
	require.Equal(e.t, http.StatusOK, a.Status, "%s: %s", path, a.Body)
	require.NoError(e.t, json.Unmarshal(a.Body, out), "%s", a.Body)
}

// getCSV fetches a report as CSV and parses it; the first row is the header.
func (e *operatorEnv) getCSV(path string, headers ...string) [][]string {
	e.t.Helper()
	a := e.do(http.MethodGet, path, e.operator, nil, headers...)
	require.Equal(e.t, http.StatusOK, a.Status, "%s: %s", path, a.Body)
	require.Equal(e.t, "text/csv; charset=utf-8", a.Header.Get("Content-Type"))
	require.Regexp(e.t, `^attachment; filename="ballotflow-[A-Za-z0-9_.-]+\.csv"$`, a.Header.Get("Content-Disposition"))
	rows, err := csv.NewReader(strings.NewReader(string(a.Body))).ReadAll()
	require.NoError(e.t, err, "%s", a.Body)
	require.NotEmpty(e.t, rows, "a CSV export always has its header row")
	return rows
}

func (e *operatorEnv) voter(voterID string) store.Voter {
	e.t.Helper()
	v, err := e.st.VoterGetByID(opCtx, "CO", voterID)
	require.NoError(e.t, err)
	return v
}

// ballot records a ballot of a demo voter in the demo election and moves it through
// statuses at the given times, as the ballot workflow's RecordStatus would.
func (e *operatorEnv) ballot(voterID, ballotID string, moves ...statusMove) store.Ballot {
	e.t.Helper()
	v := e.voter(voterID)
	at := time.Now().Add(-time.Hour)
	if len(moves) > 0 {
		at = moves[0].at
	}
	rec, err := e.st.BallotEventRecord(opCtx, store.BallotEvent{JurisdictionID: store.JurisdictionID(v.State, v.County),
		ElectionID: demo.ElectionID, BallotID: ballotID, VoterRef: v.Ref, EventID: "ev-" + ballotID, Status: "mailed", OccurredAt: at})
	require.NoError(e.t, err)
	for _, m := range moves {
		require.NoError(e.t, e.st.BallotSetStatus(opCtx, rec.Ballot.Key, m.status, m.at))
	}
	b, err := e.st.BallotGetByKey(opCtx, rec.Ballot.Key)
	require.NoError(e.t, err)
	return b
}

type statusMove struct {
	status string
	at     time.Time
}

// delivery records notice seq of a ballot on a channel, settled in state.
func (e *operatorEnv) delivery(b store.Ballot, seq int, notice, channel, state, providerID, lastError string) string {
	e.t.Helper()
	key := fmt.Sprintf("%s/%d/%s", b.Key, seq, channel)
	_, err := e.st.DeliveryBegin(opCtx, store.Delivery{IdempotencyKey: key, BallotRef: b.Ref, VoterRef: b.VoterRef,
		NoticeSeq: seq, NoticeStatus: notice, Channel: channel})
	require.NoError(e.t, err)
	if state != store.DeliverySending {
		finish := state
		if state == store.DeliveryDelivered {
			finish = store.DeliveryAccepted
		}
		require.NoError(e.t, e.st.DeliveryFinish(opCtx, key, finish, providerID, lastError))
	}
	if state == store.DeliveryDelivered {
		_, err := e.st.DeliveryEventRecord(opCtx, store.ProviderEvent{Provider: "sendgrid", IdempotencyKey: key,
			Channels: []string{channel}, EventID: key + "-delivered", Status: "delivered", OccurredAt: time.Now(),
			State: store.DeliveryDelivered})
		require.NoError(e.t, err)
	}
	return key
}

func workflowLink(id string) string {
	return testUIURL + "/namespaces/ballots/workflows/" + url.PathEscape(id)
}

func TestOperatorAPIRefusesRequestsWithoutAnOperatorKey(t *testing.T) {
	t.Parallel()
	e := newOperatorEnv(t)
	endpoints := []struct{ method, path string }{
		{http.MethodGet, "/v1/operator/voters/CO/600100001/ballots"},
		{http.MethodGet, "/v1/operator/voters/CO/600100001/deliveries"},
		{http.MethodPost, "/v1/operator/voters/CO/600100001/opt-out"},
		{http.MethodGet, "/v1/operator/elections/demo-general/counts"},
		{http.MethodGet, "/v1/operator/elections/demo-general/status-over-time"},
		{http.MethodGet, "/v1/operator/unreachable?election_id=demo-general"},
		{http.MethodGet, "/v1/operator/unreachable?election_id=demo-general&format=csv"},
	}
	for _, ep := range endpoints {
		body := any(nil)
		if ep.method == http.MethodPost {
			body = map[string]any{"note": "ticket 1"}
		}
		a := e.do(ep.method, ep.path, "", body)
		require.Equal(t, http.StatusUnauthorized, a.Status, "%s %s without a key", ep.method, ep.path)
		require.Equal(t, "unauthenticated", a.Error.Code)
		a = e.do(ep.method, ep.path, "bf_aaaaaaaa_not-a-real-secret", body)
		require.Equal(t, http.StatusUnauthorized, a.Status, "%s %s with an unknown key", ep.method, ep.path)
		for name, key := range map[string]string{"county": e.county, "state": e.stateKey} {
			a = e.do(ep.method, ep.path, key, body)
			require.Equal(t, http.StatusForbidden, a.Status, "%s %s with a %s key", ep.method, ep.path, name)
			require.Equal(t, "forbidden", a.Error.Code)
		}
		a = e.do(ep.method, ep.path, e.operator, body)
		require.Contains(t, []int{http.StatusOK}, a.Status, "%s %s with an operator key: %s", ep.method, ep.path, a.Body)
	}
	// Nobody was opted out by the refused requests: only the operator's went through.
	var audits int
	require.NoError(t, e.st.Pool().QueryRow(opCtx,
		`SELECT count(*) FROM audit_log WHERE action = 'subscription.county_assisted_opt_out'`).Scan(&audits))
	require.Equal(t, 1, audits)
}

func TestOperatorSeesAVotersBallotsWithTemporalLinksAndMaskedAddresses(t *testing.T) {
	t.Parallel()
	e := newOperatorEnv(t)
	maria := demo.Voters[0]
	mailed := time.Date(2026, 10, 14, 16, 0, 0, 0, time.UTC)
	received := mailed.Add(48 * time.Hour)
	b := e.ballot(maria.VoterID, "DEN-OP-1", statusMove{"mailed", mailed}, statusMove{"received", received})
	id := ballot.WorkflowID(demo.ElectionID, b.Key)

	var got struct {
		Voter struct {
			State, VoterID, County, Status string
		}
		Ballots []struct {
			ElectionID    string     `json:"election_id"`
			BallotID      string     `json:"ballot_id"`
			County        string     `json:"county"`
			WorkflowID    string     `json:"workflow_id"`
			TemporalUIURL string     `json:"temporal_ui_url"`
			Status        string     `json:"status"`
			StatusAt      *time.Time `json:"status_at"`
			History       []struct {
				Status string    `json:"status"`
				At     time.Time `json:"at"`
			} `json:"history"`
		}
		Subscriptions []struct{ Channel, State, Source, Address string }
	}
	e.get("/v1/operator/voters/co/"+maria.VoterID+"/ballots", &got)
	require.Len(t, got.Ballots, 1)
	g := got.Ballots[0]
	require.Equal(t, id, g.WorkflowID)
	require.Equal(t, workflowLink(id), g.TemporalUIURL)
	require.Contains(t, g.TemporalUIURL, "/workflows/ballot%2F"+demo.ElectionID+"%2F"+b.Key, "the workflow id is one path segment")
	require.Equal(t, "DEN-OP-1", g.BallotID)
	require.Equal(t, "denver", g.County)
	require.Equal(t, "received", g.Status)
	require.True(t, received.Equal(*g.StatusAt))
	require.Len(t, g.History, 2)
	require.Equal(t, "mailed", g.History[0].Status)
	require.True(t, mailed.Equal(g.History[0].At))
	require.Equal(t, "received", g.History[1].Status)

	require.Len(t, got.Subscriptions, 2)
	require.Equal(t, "email", got.Subscriptions[0].Channel)
	require.Equal(t, "m•••@example.org", got.Subscriptions[0].Address)
	require.Equal(t, "active", got.Subscriptions[0].State)
	require.Equal(t, "auto_enrolled", got.Subscriptions[0].Source)
	require.Equal(t, "sms", got.Subscriptions[1].Channel)
	require.Equal(t, "+1••••••0101", got.Subscriptions[1].Address)

	raw := string(e.do(http.MethodGet, "/v1/operator/voters/CO/"+maria.VoterID+"/ballots", e.operator, nil).Body)
	for _, secret := range []string{maria.Email, maria.SMS, "5550101", maria.FirstName, maria.LastName, "1985"} {
		require.NotContains(t, raw, secret, "no name, date of birth or full address")
	}

	rows := e.getCSV("/v1/operator/voters/CO/" + maria.VoterID + "/ballots?format=csv")
	require.Equal(t, []string{"election_id", "ballot_id", "county", "status", "status_at", "workflow_id", "temporal_ui_url", "history"}, rows[0])
	require.Len(t, rows, 2)
	require.Equal(t, []string{demo.ElectionID, "DEN-OP-1", "denver", "received", received.Format(time.RFC3339), id, workflowLink(id),
		"mailed " + mailed.Format(time.RFC3339) + "; received " + received.Format(time.RFC3339)}, rows[1])

	// A voter without ballots has an empty list; bad and unknown voters are named.
	var none struct{ Ballots []any }
	e.get("/v1/operator/voters/CO/"+demo.Voters[1].VoterID+"/ballots", &none)
	require.NotNil(t, none.Ballots)
	require.Empty(t, none.Ballots)
	a := e.do(http.MethodGet, "/v1/operator/voters/CO/999999999/ballots", e.operator, nil)
	require.Equal(t, http.StatusNotFound, a.Status)
	require.Equal(t, "voter_id", a.Error.Field)
	a = e.do(http.MethodGet, "/v1/operator/voters/Colorado/600100001/ballots", e.operator, nil)
	require.Equal(t, http.StatusBadRequest, a.Status)
	require.Equal(t, "state", a.Error.Field)
	a = e.do(http.MethodGet, "/v1/operator/voters/CO/600100001/ballots?format=xml", e.operator, nil)
	require.Equal(t, http.StatusBadRequest, a.Status)
	require.Equal(t, "format", a.Error.Field)
}

func TestOperatorDeliveryLogListsEachDeliveryWithItsProviderEvents(t *testing.T) {
	t.Parallel()
	e := newOperatorEnv(t)
	maria := demo.Voters[0]
	b := e.ballot(maria.VoterID, "DEN-OP-2", statusMove{"mailed", time.Now().Add(-2 * time.Hour)})
	e.delivery(b, 1, "mailed", "email", store.DeliveryDelivered, "SG-1", "")
	e.delivery(b, 1, "mailed", "sms", store.DeliveryFailed, "", "twilio 21211: invalid 'To' number")
	id := ballot.WorkflowID(demo.ElectionID, b.Key)

	var got struct {
		Deliveries []struct {
			WorkflowID    string `json:"workflow_id"`
			TemporalUIURL string `json:"temporal_ui_url"`
			NoticeStatus  string `json:"notice_status"`
			Channel       string `json:"channel"`
			State         string `json:"state"`
			Attempts      int    `json:"attempts"`
			ProviderID    string `json:"provider_id"`
			LastError     string `json:"last_error"`
			Events        []struct {
				Status string `json:"status"`
			} `json:"events"`
		}
	}
	e.get("/v1/operator/voters/CO/"+maria.VoterID+"/deliveries", &got)
	require.Len(t, got.Deliveries, 2)
	bySMS := map[string]int{got.Deliveries[0].Channel: 0, got.Deliveries[1].Channel: 1}
	email, sms := got.Deliveries[bySMS["email"]], got.Deliveries[bySMS["sms"]]
	require.Equal(t, id, email.WorkflowID)
	require.Equal(t, workflowLink(id), email.TemporalUIURL)
	require.Equal(t, "mailed", email.NoticeStatus)
	require.Equal(t, store.DeliveryDelivered, email.State)
	require.Equal(t, "SG-1", email.ProviderID)
	require.Equal(t, 1, email.Attempts)
	require.Len(t, email.Events, 1)
	require.Equal(t, "delivered", email.Events[0].Status)
	require.Equal(t, store.DeliveryFailed, sms.State)
	require.Equal(t, "twilio 21211: invalid 'To' number", sms.LastError)
	require.NotNil(t, sms.Events)
	require.Empty(t, sms.Events)

	rows := e.getCSV("/v1/operator/voters/CO/"+maria.VoterID+"/deliveries", "Accept", "text/csv")
	require.Equal(t, []string{"election_id", "ballot_id", "workflow_id", "notice_status", "channel", "state", "attempts",
		"provider_id", "last_error", "created_at", "updated_at", "event_status", "event_detail", "event_occurred_at"}, rows[0])
	require.Len(t, rows, 3, "one row per event, one for the delivery without events")
	states := map[string][]string{}
	for _, r := range rows[1:] {
		require.Len(t, r, len(rows[0]))
		states[r[4]] = []string{r[5], r[11]}
	}
	require.Equal(t, []string{"delivered", "delivered"}, states["email"])
	require.Equal(t, []string{"failed", ""}, states["sms"])
}

func TestCountyAssistedOptOutIsAuditedAndSignalsTheVotersBallots(t *testing.T) {
	t.Parallel()
	e := newOperatorEnv(t)
	maria := demo.Voters[0]
	v := e.voter(maria.VoterID)
	b1 := e.ballot(maria.VoterID, "DEN-OP-3")
	b2 := e.ballot(maria.VoterID, "DEN-OP-4")
	path := "/v1/operator/voters/CO/" + maria.VoterID + "/opt-out"

	// Bad requests change nothing.
	for _, tc := range []struct {
		name  string
		body  any
		field string
	}{
		{"no channel", map[string]any{"channels": []string{}, "note": "ticket 1"}, "channels"},
		{"unknown channel", map[string]any{"channels": []string{"fax"}, "note": "ticket 1"}, "channels"},
		{"channels not a list", map[string]any{"channels": "sms", "note": "ticket 1"}, "channels"},
		{"no note", map[string]any{"channels": []string{"sms"}}, "note"},
		{"blank note", map[string]any{"note": "   "}, "note"},
		{"email in note", map[string]any{"note": "voter maria.garcia@example.org called"}, "note"},
		{"phone in note", map[string]any{"note": "called from (303) 555-0101"}, "note"},
		{"bare phone in note", map[string]any{"note": "callback +13035550101"}, "note"},
		{"long note", map[string]any{"note": strings.Repeat("x", 501)}, "note"},
		{"UK phone in note", map[string]any{"note": "call back on +44 20 7946 0958"}, "note"},
		{"UK phone without a plus", map[string]any{"note": "call back on 020 7946 0958"}, "note"},
		{"voter's name in note", map[string]any{"note": "MARÍA garcia called, ticket 12"}, "note"},
		{"date of birth in note", map[string]any{"note": "caller confirmed 03/14/1985"}, "note"},
		{"date of birth written out", map[string]any{"note": "born March 14th, 1985"}, "note"},
		{"birthday without a year", map[string]any{"note": "birthday 14 March, ticket 3"}, "note"},
		{"NUL in note", map[string]any{"note": "ticket\u00001"}, "note"},
		{"unknown field", map[string]any{"note": "ticket 1", "reason": "x"}, "reason"},
	} {
		a := e.do(http.MethodPost, path, e.operator, tc.body)
		require.Equal(t, http.StatusBadRequest, a.Status, "%s: %s", tc.name, a.Body)
		require.Equal(t, tc.field, a.Error.Field, tc.name)
	}
	a := e.do(http.MethodPost, path, e.operator, "{not json")
	require.Equal(t, http.StatusBadRequest, a.Status)
	a = e.do(http.MethodPost, "/v1/operator/voters/CO/999999999/opt-out", e.operator, map[string]any{"note": "ticket 1"})
	require.Equal(t, http.StatusNotFound, a.Status)
	require.Equal(t, "voter_id", a.Error.Field)
	subs, err := e.st.SubscriptionListByVoter(opCtx, v.Ref)
	require.NoError(t, err)
	require.Len(t, subs, 2)
	for _, s := range subs {
		require.Equal(t, "active", s.State, "refused requests change nothing")
	}
	require.Empty(t, e.tc.signaled())

	// Texts only.
	var got struct {
		Changed         []string `json:"changed"`
		BallotsSignaled bool     `json:"ballots_signaled"`
		Subscriptions   []struct{ Channel, State, Source, Address string }
	}
	a = e.do(http.MethodPost, path, e.operator, map[string]any{"channels": []string{"SMS"}, "note": "Voter called 2026-11-03 10:15, ticket 4411"})
	require.Equal(t, http.StatusOK, a.Status, "%s", a.Body)
	require.NoError(t, json.Unmarshal(a.Body, &got))
	require.Equal(t, []string{"sms"}, got.Changed)
	require.True(t, got.BallotsSignaled)
	require.ElementsMatch(t, []string{ballot.WorkflowID(demo.ElectionID, b1.Key), ballot.WorkflowID(demo.ElectionID, b2.Key)},
		e.tc.signaled(), "every ballot of the voter re-plans its waiting notices")
	subs, err = e.st.SubscriptionListByVoter(opCtx, v.Ref)
	require.NoError(t, err)
	require.Equal(t, "active", subs[0].State, "email stays on")
	require.Equal(t, "sms", subs[1].Channel)
	require.Equal(t, "opted_out", subs[1].State)
	require.Equal(t, "county_assisted", subs[1].Source)
	require.Equal(t, maria.SMS, subs[1].Address, "the number is kept, so a STOP later still finds the voter")

	var actor, subject string
	var detail map[string]any
	require.NoError(t, e.st.Pool().QueryRow(opCtx, `
		SELECT actor, subject, detail FROM audit_log WHERE action = 'subscription.county_assisted_opt_out' ORDER BY id DESC LIMIT 1`).
		Scan(&actor, &subject, &detail))
	require.Equal(t, "key:"+e.operatorKey.Prefix, actor, "the operator is recorded")
	require.Equal(t, fmt.Sprintf("voter:%d", v.Ref), subject)
	require.Equal(t, "Voter called 2026-11-03 10:15, ticket 4411", detail["note"])
	require.Equal(t, []any{"sms"}, detail["changed"])

	// Again: nothing changes, no signal, but the request is on record.
	a = e.do(http.MethodPost, path, e.operator, map[string]any{"channels": []string{"sms"}, "note": "ticket 4411 again"})
	require.Equal(t, http.StatusOK, a.Status)
	require.NoError(t, json.Unmarshal(a.Body, &got))
	require.Empty(t, got.Changed)
	require.Len(t, e.tc.signaled(), 2)

	// Everything, when Temporal is down: stored anyway, and the answer says the ballots were not told.
	e.tc.mu.Lock()
	e.tc.fail = true
	e.tc.mu.Unlock()
	a = e.do(http.MethodPost, path, e.operator, map[string]any{"note": "no contact list, ticket 4412"})
	require.Equal(t, http.StatusOK, a.Status, "%s", a.Body)
	require.NoError(t, json.Unmarshal(a.Body, &got))
	require.Equal(t, []string{"email", "voice"}, got.Changed, "voice had no subscription: a no-contact row is added")
	require.False(t, got.BallotsSignaled)
	require.Len(t, got.Subscriptions, 3)
	for _, s := range got.Subscriptions {
		require.Equal(t, "opted_out", s.State, s.Channel)
		require.NotContains(t, s.Address, "maria", "addresses are masked")
	}
	var audits int
	require.NoError(t, e.st.Pool().QueryRow(opCtx, `
		SELECT count(*) FROM audit_log WHERE action = 'subscription.county_assisted_opt_out' AND actor = $1`,
		"key:"+e.operatorKey.Prefix).Scan(&audits))
	require.Equal(t, 3, audits)

	// A later roll sync does not enroll the voter's email again.
	_, err = e.st.VoterUpsert(opCtx, maria.Voter)
	require.NoError(t, err)
	subs, err = e.st.SubscriptionListByVoter(opCtx, v.Ref)
	require.NoError(t, err)
	require.Equal(t, "opted_out", subs[0].State)
}

func TestElectionCountsByCountyAndStatus(t *testing.T) {
	t.Parallel()
	e := newOperatorEnv(t)
	now := time.Now().Add(-time.Hour)
	e.ballot(demo.Voters[0].VoterID, "DEN-C-1", statusMove{"mailed", now})
	e.ballot(demo.Voters[1].VoterID, "DEN-C-2", statusMove{"mailed", now}, statusMove{"received", now.Add(time.Minute)})
	e.ballot(demo.Voters[2].VoterID, "DEN-C-3", statusMove{"mailed", now}, statusMove{"received", now.Add(time.Minute)})
	e.ballot(demo.Voters[3].VoterID, "DEN-C-4") // no status recorded yet
	e.ballot(demo.Voters[5].VoterID, "ARA-C-1", statusMove{"mailed", now})

	var got struct {
		ElectionID string           `json:"election_id"`
		State      string           `json:"state"`
		Total      int64            `json:"total"`
		Statuses   []string         `json:"statuses"`
		ByStatus   map[string]int64 `json:"by_status"`
		Counties   []struct {
			County   string           `json:"county"`
			Total    int64            `json:"total"`
			ByStatus map[string]int64 `json:"by_status"`
		} `json:"counties"`
	}
	e.get("/v1/operator/elections/"+demo.ElectionID+"/counts?state=co", &got)
	require.Equal(t, int64(5), got.Total)
	require.Equal(t, "CO", got.State)
	require.Equal(t, []string{"none", "mailed", "received"}, got.Statuses, "in the order of a ballot's life")
	require.Equal(t, map[string]int64{"none": 1, "mailed": 2, "received": 2}, got.ByStatus)
	require.Len(t, got.Counties, 2)
	require.Equal(t, "arapahoe", got.Counties[0].County)
	require.Equal(t, map[string]int64{"mailed": 1}, got.Counties[0].ByStatus)
	require.Equal(t, "denver", got.Counties[1].County)
	require.Equal(t, int64(4), got.Counties[1].Total)
	require.Equal(t, map[string]int64{"none": 1, "mailed": 1, "received": 2}, got.Counties[1].ByStatus)

	e.get("/v1/operator/elections/"+demo.ElectionID+"/counts?county=arapahoe", &got)
	require.Equal(t, int64(1), got.Total)
	require.Len(t, got.Counties, 1)

	rows := e.getCSV("/v1/operator/elections/" + demo.ElectionID + "/counts?format=csv")
	require.Equal(t, [][]string{{"county", "status", "ballots"}, {"arapahoe", "mailed", "1"}, {"denver", "none", "1"},
		{"denver", "mailed", "1"}, {"denver", "received", "2"}}, rows)

	for _, tc := range []struct {
		path   string
		status int
		field  string
	}{
		{"/v1/operator/elections/no-such-election/counts", http.StatusNotFound, "id"},
		{"/v1/operator/elections/" + demo.ElectionID + "/counts?state=WA", http.StatusNotFound, "state"},
		{"/v1/operator/elections/" + demo.ElectionID + "/counts?county=boulder", http.StatusNotFound, "county"},
		{"/v1/operator/elections/" + demo.ElectionID + "/counts?county=Den%20ver", http.StatusBadRequest, "county"},
	} {
		a := e.do(http.MethodGet, tc.path, e.operator, nil)
		require.Equal(t, tc.status, a.Status, "%s: %s", tc.path, a.Body)
		require.Equal(t, tc.field, a.Error.Field, tc.path)
	}
}

func TestStatusOverTimeCountsEachBallotAtItsStatusAtTheEndOfEachDay(t *testing.T) {
	t.Parallel()
	e := newOperatorEnv(t)
	denver, err := time.LoadLocation("America/Denver")
	require.NoError(t, err)
	today := time.Now().In(denver)
	day := func(daysAgo, hour int) time.Time {
		return time.Date(today.Year(), today.Month(), today.Day()-daysAgo, hour, 0, 0, 0, denver)
	}
	// A: mailed, received, accepted on three days. B: mailed on day 2. C: mailed and received
	// on day 1 (only the evening's status counts). D (Arapahoe) only with ?county= left out.
	e.ballot(demo.Voters[0].VoterID, "DEN-T-A", statusMove{"mailed", day(3, 9)}, statusMove{"received", day(2, 10)},
		statusMove{"accepted", day(1, 11)})
	e.ballot(demo.Voters[1].VoterID, "DEN-T-B", statusMove{"mailed", day(2, 9)})
	e.ballot(demo.Voters[2].VoterID, "DEN-T-C", statusMove{"mailed", day(3, 8)}, statusMove{"received", day(3, 23)})
	e.ballot(demo.Voters[5].VoterID, "ARA-T-D", statusMove{"mailed", day(3, 9)})

	type dayCounts struct {
		Date   string           `json:"date"`
		Total  int64            `json:"total"`
		Counts map[string]int64 `json:"counts"`
	}
	var got struct {
		TimeZone string      `json:"time_zone"`
		Statuses []string    `json:"statuses"`
		Days     []dayCounts `json:"days"`
	}
	e.get("/v1/operator/elections/"+demo.ElectionID+"/status-over-time?county=denver", &got)
	require.Equal(t, "America/Denver", got.TimeZone)
	require.Equal(t, []string{"mailed", "received", "accepted"}, got.Statuses)
	require.GreaterOrEqual(t, len(got.Days), 4, "from the first status to today")
	date := func(daysAgo int) string { return day(daysAgo, 0).Format(time.DateOnly) }
	require.Equal(t, dayCounts{date(3), 2, map[string]int64{"mailed": 1, "received": 1, "accepted": 0}}, got.Days[0])
	require.Equal(t, dayCounts{date(2), 3, map[string]int64{"mailed": 1, "received": 2, "accepted": 0}}, got.Days[1])
	require.Equal(t, dayCounts{date(1), 3, map[string]int64{"mailed": 1, "received": 1, "accepted": 1}}, got.Days[2])
	for _, d := range got.Days[3:] {
		require.Equal(t, got.Days[2].Counts, d.Counts, "nothing moved after day 1: %s", d.Date)
	}

	var all struct{ Days []dayCounts }
	e.get("/v1/operator/elections/"+demo.ElectionID+"/status-over-time", &all)
	require.Equal(t, map[string]int64{"mailed": 2, "received": 1, "accepted": 0}, all.Days[0].Counts, "every county")

	rows := e.getCSV("/v1/operator/elections/" + demo.ElectionID + "/status-over-time?county=denver&format=csv")
	require.Equal(t, []string{"date", "mailed", "received", "accepted"}, rows[0])
	require.Equal(t, []string{date(3), "1", "1", "0"}, rows[1])
	require.Equal(t, []string{date(1), "1", "1", "1"}, rows[3])
	require.Len(t, rows, len(got.Days)+1)

	// An election with no ballots has no days, and its CSV still has its header.
	var empty struct{ Days []dayCounts }
	e.get("/v1/operator/elections/"+demo.ElectionID+"/status-over-time?county=arapahoe&format=json", &empty)
	require.GreaterOrEqual(t, len(empty.Days), 4)
	_, err = e.st.Pool().Exec(opCtx, `DELETE FROM ballot_status_history`)
	require.NoError(t, err)
	e.get("/v1/operator/elections/"+demo.ElectionID+"/status-over-time", &empty)
	require.NotNil(t, empty.Days)
	require.Empty(t, empty.Days)
	require.Equal(t, [][]string{{"date"}}, e.getCSV("/v1/operator/elections/"+demo.ElectionID+"/status-over-time?format=csv"))
}

func TestUnreachableVotersAreThoseNoNoticeCanReach(t *testing.T) {
	t.Parallel()
	e := newOperatorEnv(t)
	at := time.Now().Add(-3 * time.Hour)
	mailed := statusMove{"mailed", at}
	extra := []store.Voter{
		{State: "CO", VoterID: "700000010", County: "denver", FirstName: "Fall", LastName: "Back", DateOfBirth: voterDate("1980-01-01"),
			ResidentialZIP: "80202", Status: "active", Email: "fall.back@example.org"},
		{State: "CO", VoterID: "700000011", County: "denver", FirstName: "Gone", LastName: "Away", DateOfBirth: voterDate("1980-01-02"),
			ResidentialZIP: "80202", Status: "canceled"},
		{State: "CO", VoterID: "700000012", County: "denver", FirstName: "No", LastName: "Channel", DateOfBirth: voterDate("1980-01-03"),
			ResidentialZIP: "80202", Status: "active"},
	}
	for _, v := range extra {
		_, err := e.st.VoterUpsert(opCtx, v)
		require.NoError(t, err)
	}
	sub := func(voterID, channel, address, state string) {
		require.NoError(t, e.st.SubscriptionUpsert(opCtx, store.Subscription{VoterRef: e.voter(voterID).Ref, Channel: channel,
			Address: address, State: state, Source: "portal"}))
	}

	// Maria: her latest notice (2) failed on email and was skipped on SMS; notice 1 went out.
	maria := e.ballot("600100001", "DEN-U-1", mailed, statusMove{"received", at.Add(time.Hour)})
	e.delivery(maria, 1, "mailed", "email", store.DeliveryDelivered, "SG-M1", "")
	e.delivery(maria, 2, "received", "email", store.DeliveryFailed, "", "sendgrid 400")
	e.delivery(maria, 2, "received", "sms", store.DeliverySkipped, "", "channel not active at send time")
	// James: reachable, his notice went out. His first ballot, replaced since, does not count:
	// a voter is judged by their newest ballot.
	oldJames := e.ballot("600100002", "DEN-U-2-OLD", mailed)
	e.delivery(oldJames, 1, "mailed", "email", store.DeliveryFailed, "", "sendgrid 400")
	james := e.ballot("600100002", "DEN-U-2", mailed)
	e.delivery(james, 1, "mailed", "email", store.DeliveryAccepted, "SG-J1", "")
	// Ana: her only channel bounced.
	e.ballot("600100003", "DEN-U-3", mailed)
	sub("600100003", "email", "smith.family@example.org", "bounced")
	// José: email bounced, texts still work.
	e.ballot("600100004", "DEN-U-4", mailed)
	sub("600100004", "email", "jose.nunez@example.org", "bounced")
	// Riley is confidential and Gone Away canceled: never notified, never listed.
	e.ballot("600100005", "DEN-U-5", mailed)
	e.ballot("700000011", "DEN-U-6", mailed)
	// Fall Back: email failed, the fallback text went out: reachable.
	sub("700000010", "sms", "+13035550177", "active")
	fb := e.ballot("700000010", "DEN-U-7", mailed)
	e.delivery(fb, 1, "mailed", "email", store.DeliveryFailed, "", "sendgrid 400")
	e.delivery(fb, 1, "mailed", "sms", store.DeliveryAccepted, "SM-FB", "")
	// No Channel: nothing on file. Sam (Arapahoe) opted out of everything.
	noChannel := e.ballot("700000012", "DEN-U-8", mailed)
	sam := e.ballot("600200001", "ARA-U-1", mailed)
	_, err := e.st.SubscriptionOptOutAll(opCtx, e.voter("600200001").Ref, "portal")
	require.NoError(t, err)

	type row struct {
		VoterID       string   `json:"voter_id"`
		County        string   `json:"county"`
		Reason        string   `json:"reason"`
		Detail        string   `json:"detail"`
		Channels      []string `json:"channels"`
		WorkflowID    string   `json:"workflow_id"`
		TemporalUIURL string   `json:"temporal_ui_url"`
	}
	var got struct {
		Voters    []row `json:"voters"`
		Truncated bool  `json:"truncated"`
	}
	e.get("/v1/operator/unreachable?election_id="+demo.ElectionID, &got)
	require.False(t, got.Truncated)
	reasons := make([]string, len(got.Voters))
	for i, v := range got.Voters {
		reasons[i] = v.County + " " + v.VoterID + " " + v.Reason
	}
	require.Equal(t, []string{
		"arapahoe 600200001 no_active_channel",
		"denver 600100001 latest_notice_failed",
		"denver 600100003 no_active_channel",
		"denver 600100004 channel_bounced",
		"denver 700000012 no_active_channel",
	}, reasons)
	byVoter := map[string]row{}
	for _, v := range got.Voters {
		byVoter[v.VoterID] = v
	}
	samID := ballot.WorkflowID(demo.ElectionID, sam.Key)
	require.Equal(t, samID, byVoter["600200001"].WorkflowID)
	require.Equal(t, workflowLink(samID), byVoter["600200001"].TemporalUIURL)
	require.Equal(t, "email opted out", byVoter["600200001"].Detail)
	require.Equal(t, "latest notice (received): email failed, sms skipped", byVoter["600100001"].Detail)
	require.Equal(t, "email bounced", byVoter["600100003"].Detail)
	require.Equal(t, []string{"email:bounced", "sms:active"}, byVoter["600100004"].Channels)
	require.Equal(t, "email bounced", byVoter["600100004"].Detail)
	require.Equal(t, "no email or phone on file", byVoter["700000012"].Detail)
	require.Equal(t, ballot.WorkflowID(demo.ElectionID, noChannel.Key), byVoter["700000012"].WorkflowID)

	raw := string(e.do(http.MethodGet, "/v1/operator/unreachable?election_id="+demo.ElectionID, e.operator, nil).Body)
	for _, secret := range []string{"example.org", "+1303", "Garcia", "Smith", "Lee"} {
		require.NotContains(t, raw, secret, "no names or addresses in the list")
	}

	e.get("/v1/operator/unreachable?election_id="+demo.ElectionID+"&county=arapahoe", &got)
	require.Len(t, got.Voters, 1)
	require.Equal(t, "600200001", got.Voters[0].VoterID)
	e.get("/v1/operator/unreachable?election_id="+demo.ElectionID+"&limit=2", &got)
	require.Len(t, got.Voters, 2)
	require.True(t, got.Truncated)

	rows := e.getCSV("/v1/operator/unreachable?election_id=" + demo.ElectionID + "&limit=2&format=csv")
	require.Equal(t, []string{"voter_id", "county", "reason", "detail", "channels", "workflow_id", "temporal_ui_url"}, rows[0])
	require.Len(t, rows, 6, "a CSV export has every row, whatever the limit")
	require.Equal(t, []string{"600200001", "arapahoe", "no_active_channel", "email opted out", "email:opted_out", samID, workflowLink(samID)}, rows[1])
	require.Equal(t, rows, e.getCSV("/v1/operator/unreachable?election_id="+demo.ElectionID, "Accept", "text/csv"))

	for _, tc := range []struct {
		query string
		code  int
		field string
	}{
		{"", http.StatusBadRequest, "election_id"},
		{"?election_id=nope", http.StatusNotFound, "election_id"},
		{"?election_id=" + demo.ElectionID + "&limit=0", http.StatusBadRequest, "limit"},
		{"?election_id=" + demo.ElectionID + "&limit=lots", http.StatusBadRequest, "limit"},
		{"?election_id=" + demo.ElectionID + "&county=nowhere", http.StatusNotFound, "county"},
	} {
		a := e.do(http.MethodGet, "/v1/operator/unreachable"+tc.query, e.operator, nil)
		require.Equal(t, tc.code, a.Status, "%s: %s", tc.query, a.Body)
		require.Equal(t, tc.field, a.Error.Field, tc.query)
	}
}

func TestOperatorDashboardPageIsServedWithItsSecurityHeaders(t *testing.T) {
	t.Parallel()
	e := newOperatorEnv(t)
	a := e.do(http.MethodGet, "/operator/", "", nil)
	require.Equal(t, http.StatusOK, a.Status)
	require.Equal(t, "text/html; charset=utf-8", a.Header.Get("Content-Type"))
	require.Contains(t, a.Header.Get("Content-Security-Policy"), "default-src 'self'")
	require.Equal(t, "no-store", a.Header.Get("Cache-Control"))
	require.Contains(t, string(a.Body), `<script src="/operator/operator.js" defer></script>`)
	require.NotContains(t, string(a.Body), "<script>", "no inline script")
	// The look it shares with the portal comes first, from the portal's /static/ ('self').
	require.Contains(t, string(a.Body), "<link rel=\"stylesheet\" href=\"/static/base.css\">\n<link rel=\"stylesheet\" href=\"/operator/operator.css\">")
	for _, asset := range []string{"/static/base.css", "/operator/operator.css"} {
		a := e.do(http.MethodGet, asset, "", nil)
		require.Equal(t, http.StatusOK, a.Status, asset)
		require.Contains(t, a.Header.Get("Content-Type"), "text/css", asset)
		require.Equal(t, "nosniff", a.Header.Get("X-Content-Type-Options"), asset)
	}

	a = e.do(http.MethodGet, "/operator", "", nil)
	require.Equal(t, http.StatusMovedPermanently, a.Status)
	require.Equal(t, "/operator/", a.Header.Get("Location"))
	a = e.do(http.MethodGet, "/operator/operator.js", "", nil)
	require.Equal(t, http.StatusOK, a.Status)
	require.Contains(t, a.Header.Get("Content-Type"), "javascript")
	a = e.do(http.MethodGet, "/operator/../openapi.json", "", nil)
	require.NotEqual(t, http.StatusOK, a.Status)
	a = e.do(http.MethodGet, "/operator/nothing.js", "", nil)
	require.Equal(t, http.StatusNotFound, a.Status)
}
