package apiserver_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/ballotflow/ballotflow/apiserver"
	"github.com/ballotflow/ballotflow/internal/demo"
	"github.com/ballotflow/ballotflow/internal/intake"
	"github.com/ballotflow/ballotflow/internal/store"
	"github.com/ballotflow/ballotflow/internal/testdb"
)

// eventsTemporal counts the signals the events API sends; they always succeed.
type eventsTemporal struct {
	client.Client
	signals atomic.Int64
	closed  atomic.Bool // the ballot workflows have ended: signal-with-start finds them closed
}

func (f *eventsTemporal) SignalWithStartWorkflow(context.Context, string, string, any, client.StartWorkflowOptions,
	any, ...any) (client.WorkflowRun, error) {
	if f.closed.Load() {
		return nil, serviceerror.NewWorkflowExecutionAlreadyStarted("workflow execution already finished", "", "")
	}
	f.signals.Add(1)
	return nil, nil
}

// eventsAPI is the county events API on a fresh database with the demo data and a Denver key.
type eventsAPI struct {
	h      http.Handler
	st     *store.Store
	tc     *eventsTemporal
	county string
}

func newEventsAPI(t testing.TB) *eventsAPI {
	t.Helper()
	st := testdb.Open(t)
	require.NoError(t, demo.Seed(context.Background(), st, time.Now()))
	_, key, err := st.APIKeyCreate(context.Background(), store.APIKey{Role: store.RoleCounty, State: "CO", County: "denver"}, "test")
	require.NoError(t, err)
	tc := &eventsTemporal{}
	logger := slog.New(slog.DiscardHandler)
	h := apiserver.New(apiserver.Config{Store: st, Temporal: tc, Logger: logger,
		Intake: &intake.Service{Store: st, Temporal: tc, Logger: logger}})
	return &eventsAPI{h: h, st: st, tc: tc, county: key}
}

type eventsAnswer struct {
	Status int
	Body   string
	Error  struct{ Code, Message, Field string }
}

func (a *eventsAPI) post(t testing.TB, contentType, body string) eventsAnswer {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/v1/ballot-events", strings.NewReader(body))
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("Authorization", "Bearer "+a.county)
	rec := httptest.NewRecorder()
	a.h.ServeHTTP(rec, req)
	ans := eventsAnswer{Status: rec.Code, Body: rec.Body.String()}
	var env struct {
		Error struct{ Code, Message, Field string }
	}
	if json.Unmarshal(rec.Body.Bytes(), &env) == nil {
		ans.Error = env.Error
	}
	return ans
}

func (a *eventsAPI) storedEvents(t testing.TB) int {
	t.Helper()
	var n int
	require.NoError(t, a.st.Pool().QueryRow(context.Background(), `SELECT count(*) FROM ballot_events`).Scan(&n))
	return n
}

// event is a valid "mailed" event for the demo's first voter, with fields replaced by
// overrides (a nil value removes the field).
func event(overrides map[string]any) string {
	ev := map[string]any{"event_id": "ev-1", "election_id": demo.ElectionID, "voter_id": demo.Voters[0].VoterID,
		"ballot_id": "B-1", "status": "mailed", "occurred_at": time.Now().Add(-time.Hour).Format(time.RFC3339)}
	for k, v := range overrides {
		if v == nil {
			delete(ev, k)
		} else {
			ev[k] = v
		}
	}
	raw, _ := json.Marshal(ev)
	return string(raw)
}

func TestBallotEventsRefuseImpossibleTimesAndControlCharactersNamingTheField(t *testing.T) {
	t.Parallel()
	a := newEventsAPI(t)
	for _, tc := range []struct {
		name  string
		body  string
		field string
	}{
		{"NUL in reason", event(map[string]any{"status": "challenged", "reason": "signature\u0000mismatch"}), "reason"},
		{"bell in reason", event(map[string]any{"status": "challenged", "reason": "x\u0007"}), "reason"},
		{"year 0000", event(map[string]any{"occurred_at": "0000-01-01T00:00:00Z"}), "occurred_at"},
		{"offset +24:00", event(map[string]any{"occurred_at": time.Now().Format("2006-01-02T15:04:05") + "+24:00"}), "occurred_at"},
		{"two years ago", event(map[string]any{"occurred_at": time.Now().AddDate(-2, 0, 0).Format(time.RFC3339)}), "occurred_at"},
		{"cure deadline in year 0", event(map[string]any{"status": "challenged", "cure_deadline": "0000-01-01"}), "cure_deadline"},
		{"cure deadline before the challenge", event(map[string]any{"status": "challenged",
			"cure_deadline": time.Now().AddDate(0, 0, -3).Format(time.DateOnly)}), "cure_deadline"},
		{"cure deadline years away", event(map[string]any{"status": "challenged", "cure_deadline": "9999-12-31"}), "cure_deadline"},
		{"a number for a string", event(map[string]any{"event_id": 7}), "event_id"},
		{"NUL in an id", event(map[string]any{"ballot_id": "B\u00001"}), "ballot_id"},
		{"batch with a NUL", `{"events":[` + event(map[string]any{"reason": "\u0000"}) + `]}`, "events[0].reason"},
		{"unknown field", event(map[string]any{"ballot_choice": "yes"}), "ballot_choice"},
	} {
		ans := a.post(t, "application/json", tc.body)
		require.Equal(t, http.StatusBadRequest, ans.Status, "%s: %s", tc.name, ans.Body)
		require.Equal(t, tc.field, ans.Error.Field, "%s: %s", tc.name, ans.Body)
		require.NotContains(t, ans.Error.Message, "\x00", tc.name)
	}
	for _, tc := range []struct{ name, body, message string }{
		{"a list", `[]`, "The body must be a JSON object."},
		{"a string", `"event"`, "The body must be a JSON object."},
		{"two objects", event(nil) + event(nil), "The body holds more than one JSON value, or text after it; send one JSON object."},
		{"an unknown field that could be data", `{"Maria Garcia":1}`, "The body has a field that is not part of this API; see /openapi.json."},
	} {
		ans := a.post(t, "application/json", tc.body)
		require.Equal(t, http.StatusBadRequest, ans.Status, "%s: %s", tc.name, ans.Body)
		require.Equal(t, tc.message, ans.Error.Message, tc.name)
		require.Empty(t, ans.Error.Field, tc.name)
	}
	ans := a.post(t, "application/x-ndjson", event(nil)+"\n"+event(map[string]any{"event_id": "ev-2", "reason": "a\u0000"})+"\n")
	require.Equal(t, http.StatusBadRequest, ans.Status, ans.Body)
	require.Equal(t, "reason", ans.Error.Field)
	require.True(t, strings.HasPrefix(ans.Error.Message, "Line 2: "), ans.Error.Message)

	require.Zero(t, a.storedEvents(t), "nothing refused is stored")
	require.Zero(t, a.tc.signals.Load(), "nothing refused is signaled")

	// The same event, well formed, goes through: the refusals were about the fields.
	ans = a.post(t, "application/json", event(map[string]any{"status": "challenged", "reason": "signature mismatch",
		"cure_deadline": time.Now().AddDate(0, 0, 10).Format(time.DateOnly)}))
	require.Equal(t, http.StatusAccepted, ans.Status, ans.Body)
	require.Equal(t, 1, a.storedEvents(t))
}

func TestAddressesWithControlCharactersAreRefusedBeforeAnyHandler(t *testing.T) {
	t.Parallel()
	a := newEventsAPI(t)
	for _, target := range []string{
		"/v1/operator/voters/CO/6001%00/ballots",
		"/v1/operator/voters/CO/%FF%FE/ballots",
		"/v1/operator/reports/counts?election_id=demo%00general",
		"/v1/imports/1?x=%01",
	} {
		req := httptest.NewRequest(http.MethodGet, target, nil)
		req.Header.Set("Authorization", "Bearer "+a.county)
		rec := httptest.NewRecorder()
		a.h.ServeHTTP(rec, req)
		require.Equal(t, http.StatusBadRequest, rec.Code, "%s: %s", target, rec.Body)
		require.Contains(t, rec.Body.String(), "invalid_url", target)
	}
}

// FuzzBallotEventsBody posts arbitrary bodies as JSON and NDJSON. Whatever comes, the API
// answers without a 5xx, and a refused body stores nothing.
func FuzzBallotEventsBody(f *testing.F) {
	now := time.Now().Add(-time.Hour).Format(time.RFC3339)
	for _, seed := range []string{
		event(nil),
		`{"events":[` + event(nil) + `,` + event(map[string]any{"event_id": "ev-2", "status": "received"}) + `]}`,
		event(map[string]any{"reason": "a\u0000b"}),
		event(map[string]any{"occurred_at": "0000-01-01T00:00:00Z"}),
		event(map[string]any{"occurred_at": "2026-11-25T10:00:00+24:00"}),
		event(map[string]any{"status": "challenged", "cure_deadline": "0000-01-01"}),
		`{"event_id":"` + strings.Repeat("x", 200) + `"}`,
		`{"events":[{"events":[]}]}`,
		`{"event_id":"a","event_id":"b"}`,
		event(map[string]any{"event_id": "fix-1", "status": "undeliverable", "corrects": "ev-1"}),
		event(map[string]any{"event_id": "fix-1", "corrects": "fix-1"}),
		event(map[string]any{"event_id": "fix-1", "corrects": strings.Repeat("y", 200)}),
		"{\"reason\":\"\xff\xfe\"}",
		`[]`, `null`, `{}`, `{"events":null}`, `{"events":{}}`, `"`, `{"occurred_at":"` + now + `"`,
	} {
		f.Add(seed, false)
		f.Add(seed+"\n"+seed, true)
	}
	a := newEventsAPI(f)
	f.Fuzz(func(t *testing.T, body string, ndjson bool) {
		contentType := "application/json"
		if ndjson {
			contentType = "application/x-ndjson"
		}
		before := a.storedEvents(t)
		ans := a.post(t, contentType, body)
		require.Less(t, ans.Status, 500, ans.Body)
		if ans.Status >= 400 {
			require.Equal(t, before, a.storedEvents(t), "a refused body stores nothing")
		}
	})
}

// TestACorrectionMustNameAnEventOfItsBallot posts corrections: one naming no event of the
// ballot, one naming itself and one carrying barcodes are refused with the field named and
// store nothing; one naming the ballot's event is stored and signaled, and posting it again
// is a duplicate.
func TestACorrectionMustNameAnEventOfItsBallot(t *testing.T) {
	t.Parallel()
	a := newEventsAPI(t)
	ans := a.post(t, "application/json", event(nil))
	require.Equal(t, http.StatusAccepted, ans.Status, ans.Body)
	var first struct {
		EventID string `json:"event_id"`
	}
	require.NoError(t, json.Unmarshal([]byte(event(nil)), &first))

	for _, bad := range []struct {
		fields map[string]any
		status int
		code   string
	}{
		{map[string]any{"event_id": "fix-1", "status": "undeliverable", "corrects": "no-such-event"}, 422, "corrects_unknown"},
		{map[string]any{"event_id": "fix-1", "status": "undeliverable", "corrects": "fix-1"}, 400, "invalid_field"},
		{map[string]any{"event_id": "fix-1", "status": "mailed", "corrects": first.EventID,
			"outbound_imb": "0027012345678901234580204"}, 400, "invalid_field"},
	} {
		ans := a.post(t, "application/json", event(bad.fields))
		require.Equal(t, bad.status, ans.Status, ans.Body)
		require.Equal(t, bad.code, ans.Error.Code, ans.Body)
		require.Equal(t, "corrects", ans.Error.Field, ans.Body)
		require.Equal(t, 1, a.storedEvents(t), "a refused correction stores nothing")
	}

	signals := a.tc.signals.Load()
	fix := event(map[string]any{"event_id": "fix-2", "status": "undeliverable", "corrects": first.EventID})
	ans = a.post(t, "application/json", fix)
	require.Equal(t, http.StatusAccepted, ans.Status, ans.Body)
	require.Equal(t, 2, a.storedEvents(t))
	require.Equal(t, signals+1, a.tc.signals.Load(), "the correction is signaled")
	var corrects string
	require.NoError(t, a.st.Pool().QueryRow(context.Background(),
		`SELECT corrects FROM ballot_events WHERE event_id = 'fix-2'`).Scan(&corrects))
	require.Equal(t, first.EventID, corrects)

	ans = a.post(t, "application/json", fix)
	require.Equal(t, http.StatusAccepted, ans.Status, ans.Body)
	require.Contains(t, ans.Body, `"duplicate"`)
	ans = a.post(t, "application/json", event(map[string]any{"event_id": "fix-2", "status": "received", "corrects": first.EventID}))
	require.Equal(t, http.StatusConflict, ans.Status, ans.Body)
}

// A correction for a ballot whose workflow has ended (it reached its final status on a
// release before corrections) cannot reach its voter: it is recorded, set aside for the
// operators with why, and the county is told so with 409 ballot_closed. A status event for
// such a ballot is recorded quietly, as before: it is older news than the final status.
func TestACorrectionForAnEndedBallotIsSetAsideAndSaidSo(t *testing.T) {
	t.Parallel()
	a := newEventsAPI(t)
	require.Equal(t, http.StatusAccepted, a.post(t, "application/json", event(nil)).Status)
	a.tc.closed.Store(true)
	ans := a.post(t, "application/json", event(map[string]any{"event_id": "ev-2", "status": "received"}))
	require.Equal(t, http.StatusAccepted, ans.Status, ans.Body)

	ans = a.post(t, "application/json", event(map[string]any{"event_id": "fix-1", "status": "undeliverable", "corrects": "ev-1"}))
	require.Equal(t, http.StatusConflict, ans.Status, ans.Body)
	require.Equal(t, "ballot_closed", ans.Error.Code)
	require.Equal(t, "corrects", ans.Error.Field)
	var reason string
	require.NoError(t, a.st.Pool().QueryRow(context.Background(),
		`SELECT set_aside_reason FROM ballot_events WHERE event_id = 'fix-1' AND set_aside_at IS NOT NULL`).Scan(&reason))
	require.Contains(t, reason, "ballot_closed")
	var asideOthers int
	require.NoError(t, a.st.Pool().QueryRow(context.Background(),
		`SELECT count(*) FROM ballot_events WHERE event_id <> 'fix-1' AND set_aside_at IS NOT NULL`).Scan(&asideOthers))
	require.Zero(t, asideOthers)
}
