package apiserver_test

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
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

var portalCtx = context.Background()

// portalTemporal records the workflows the portal starts and the signals it sends; any other
// use of Temporal panics (the portal must not query Temporal on page views).
type portalTemporal struct {
	client.Client
	mu        sync.Mutex
	started   []client.StartWorkflowOptions
	inputs    []contract.ConfirmInput
	signals   []string // workflow ids
	failStart bool
}

func (f *portalTemporal) ExecuteWorkflow(_ context.Context, opts client.StartWorkflowOptions, wf any, args ...any) (client.WorkflowRun, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failStart {
		return nil, errors.New("temporal is down")
	}
	if wf != contract.ConfirmWorkflowName || len(args) != 1 {
		panic("unexpected workflow start")
	}
	f.started = append(f.started, opts)
	f.inputs = append(f.inputs, args[0].(contract.ConfirmInput))
	return nil, nil
}

func (f *portalTemporal) SignalWorkflow(_ context.Context, id, _, name string, _ any) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if name != ballot.SignalPreferencesChanged {
		panic("unexpected signal " + name)
	}
	f.signals = append(f.signals, id)
	return nil
}

func (f *portalTemporal) confirmations() []contract.ConfirmInput {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]contract.ConfirmInput(nil), f.inputs...)
}

// portal is the API on a fresh database seeded with the demo voters and a few more.
type portal struct {
	t  testing.TB
	h  http.Handler
	st *store.Store
	tc *portalTemporal
}

// More registrations for the lookup rules.
var extraVoters = []store.Voter{
	{State: "CO", VoterID: "700000001", County: "denver", FirstName: "Chris", LastName: "Taylor",
		DateOfBirth: voterDate("1970-02-02"), ResidentialZIP: "80210", Status: "active"},
	{State: "CO", VoterID: "700000002", County: "denver", FirstName: "Chris", LastName: "Taylor",
		DateOfBirth: voterDate("1970-02-02"), ResidentialZIP: "80210", Status: "active"},
	{State: "CO", VoterID: "700000003", County: "denver", FirstName: "Pat", LastName: "Inactive",
		DateOfBirth: voterDate("1950-05-05"), ResidentialZIP: "80211", Status: "inactive"},
	{State: "CO", VoterID: "700000004", County: "denver", FirstName: "Casey", LastName: "Canceled",
		DateOfBirth: voterDate("1951-06-06"), ResidentialZIP: "80212", Status: "canceled"},
	// Same facts as an active voter, but canceled: the active one is found without a voter ID.
	{State: "CO", VoterID: "700000005", County: "denver", FirstName: "Lee", LastName: "Moreno",
		DateOfBirth: voterDate("1988-08-08"), ResidentialZIP: "80214", Status: "active"},
	{State: "CO", VoterID: "700000006", County: "denver", FirstName: "Lee", LastName: "Moreno",
		DateOfBirth: voterDate("1988-08-08"), ResidentialZIP: "80214", Status: "canceled"},
}

func voterDate(s string) time.Time {
	d, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return d
}

var generous = apiserver.PortalLimits{PerClient: 10000, PerClientWindow: time.Minute, PerIdentity: 10000, PerIdentityWindow: time.Minute}

func newPortal(t testing.TB, limits apiserver.PortalLimits, trustedProxies ...string) *portal {
	t.Helper()
	st := testdb.Open(t)
	require.NoError(t, demo.Seed(portalCtx, st, time.Now()))
	for _, v := range extraVoters {
		_, err := st.VoterUpsert(portalCtx, v)
		require.NoError(t, err)
	}
	tc := &portalTemporal{}
	h := apiserver.New(apiserver.Config{Store: st, Temporal: tc, PublicURL: "https://portal.example.org",
		PortalLimits: limits, TrustedProxies: trustedProxies, Logger: slog.New(slog.DiscardHandler)})
	return &portal{t: t, h: h, st: st, tc: tc}
}

type portalAnswer struct {
	Status int
	Header http.Header
	Body   []byte
	Error  struct{ Code, Message, Field string }
}

func (p *portal) do(method, path, token string, body any, remoteAddr string, headers ...string) portalAnswer {
	p.t.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		r = strings.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		require.NoError(p.t, err)
		r = strings.NewReader(string(raw))
	}
	req := httptest.NewRequest(method, path, r)
	if remoteAddr != "" {
		req.RemoteAddr = remoteAddr
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	rec := httptest.NewRecorder()
	p.h.ServeHTTP(rec, req)
	a := portalAnswer{Status: rec.Code, Header: rec.Header(), Body: rec.Body.Bytes()}
	var env struct {
		Error struct{ Code, Message, Field string }
	}
	if json.Unmarshal(a.Body, &env) == nil {
		a.Error = env.Error
	}
	return a
}

func lookup(first, last, dob, zip string) map[string]string {
	return map[string]string{"first_name": first, "last_name": last, "date_of_birth": dob, "zip": zip}
}

// signIn looks a voter up and returns the session token.
func (p *portal) signIn(first, last, dob, zip string) string {
	p.t.Helper()
	a := p.do(http.MethodPost, "/v1/portal/session", "", lookup(first, last, dob, zip), "")
	require.Equal(p.t, http.StatusCreated, a.Status, "%s", a.Body)
	var s struct {
		Token     string    `json:"token"`
		ExpiresAt time.Time `json:"expires_at"`
	}
	require.NoError(p.t, json.Unmarshal(a.Body, &s))
	require.Regexp(p.t, `^[A-Za-z0-9_-]{43}$`, s.Token)
	require.WithinDuration(p.t, time.Now().Add(apiserver.PortalSessionTTL), s.ExpiresAt, time.Minute)
	return s.Token
}

func maria(p *portal) string { return p.signIn("Maria", "Garcia", "03-14-1985", "80202") }

const noMatch = `{"error":{"code":"no_match","message":"The information you entered does not match any voters in our system."}}`

func TestPortalLookupMatchesExactlyWithCaseSpacingAndAccentsFolded(t *testing.T) {
	t.Parallel()
	p := newPortal(t, generous)
	for _, tc := range []struct {
		name                 string
		first, last, dob, zi string
		status               int
	}{
		{"as registered", "Maria", "Garcia", "03-14-1985", "80202", 201},
		{"case and spacing folded", "  maria ", "GARCÍA", "03-14-1985", " 80202 ", 201},
		{"accents folded", "jose", "  NUNEZ", "12-01-1990", "80219", 201},
		{"accents typed", "José", "Núñez", "12-01-1990", "80219", 201},
		{"an alias is not the registered name", "Jim", "Smith", "07-04-1962", "80205", 404},
		{"the registered name is", "James", "Smith", "07-04-1962", "80205", 201},
		{"wrong date of birth", "James", "Smith", "07-05-1962", "80205", 404},
		{"wrong ZIP (a mailing address)", "James", "Smith", "07-04-1962", "80206", 404},
		{"confidential voter", "Riley", "Park", "05-30-1979", "80203", 404},
		{"inactive voter", "Pat", "Inactive", "05-05-1950", "80211", 404},
		{"canceled voter", "Casey", "Canceled", "06-06-1951", "80212", 404},
		{"an active and a canceled registration: the active one", "Lee", "Moreno", "08-08-1988", "80214", 201},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := p.do(http.MethodPost, "/v1/portal/session", "", lookup(tc.first, tc.last, tc.dob, tc.zi), "")
			require.Equal(t, tc.status, a.Status, "%s", a.Body)
			if tc.status == 404 {
				require.JSONEq(t, noMatch, string(a.Body))
			}
		})
	}
}

func TestPortalAmbiguousMatchAsksForTheVoterIDWhichSelectsOne(t *testing.T) {
	t.Parallel()
	p := newPortal(t, generous)
	req := lookup("Chris", "Taylor", "02-02-1970", "80210")
	a := p.do(http.MethodPost, "/v1/portal/session", "", req, "")
	require.Equal(t, http.StatusConflict, a.Status)
	require.JSONEq(t, `{"error":{"code":"voter_id_required","message":"More than one voter matches; enter your voter ID too.","field":"voter_id"}}`,
		string(a.Body))

	req["voter_id"] = "700000002"
	a = p.do(http.MethodPost, "/v1/portal/session", "", req, "")
	require.Equal(t, http.StatusCreated, a.Status, "%s", a.Body)
	var s struct{ Token string }
	require.NoError(t, json.Unmarshal(a.Body, &s))
	ref, err := p.st.PortalSessionGetVoterRef(portalCtx, s.Token)
	require.NoError(t, err)
	v, err := p.st.VoterGetByRef(portalCtx, ref)
	require.NoError(t, err)
	require.Equal(t, "700000002", v.VoterID, "the voter ID selects its voter")

	req["voter_id"] = "700000009"
	a = p.do(http.MethodPost, "/v1/portal/session", "", req, "")
	require.Equal(t, http.StatusNotFound, a.Status)
	require.JSONEq(t, noMatch, string(a.Body))

	// A voter ID that does not belong to the one matching voter is a non-match too.
	a = p.do(http.MethodPost, "/v1/portal/session", "", map[string]string{"first_name": "Maria", "last_name": "Garcia",
		"date_of_birth": "03-14-1985", "zip": "80202", "voter_id": "700000002"}, "")
	require.Equal(t, http.StatusNotFound, a.Status)
}

func TestPortalEveryNonMatchGetsTheSameBodyAndHeaders(t *testing.T) {
	t.Parallel()
	p := newPortal(t, generous)
	nonMatches := map[string]map[string]string{
		"nobody":       lookup("Nobody", "Here", "01-01-1980", "80202"),
		"alias":        lookup("Jim", "Smith", "07-04-1962", "80205"),
		"confidential": lookup("Riley", "Park", "05-30-1979", "80203"),
		"inactive":     lookup("Pat", "Inactive", "05-05-1950", "80211"),
		"canceled":     lookup("Casey", "Canceled", "06-06-1951", "80212"),
		"wrong voter ID": {"first_name": "Chris", "last_name": "Taylor", "date_of_birth": "02-02-1970", "zip": "80210",
			"voter_id": "nope"},
	}
	var first *portalAnswer
	for name, req := range nonMatches {
		a := p.do(http.MethodPost, "/v1/portal/session", "", req, "")
		require.Equal(t, http.StatusNotFound, a.Status, name)
		require.Equal(t, noMatch, string(a.Body), name)
		a.Header.Del("Date")
		if first == nil {
			first = &a
			continue
		}
		require.Equal(t, first.Header, a.Header, "%s: the headers must not tell non-matches apart", name)
	}
	require.Equal(t, "no-store", first.Header.Get("Cache-Control"))
}

func TestPortalLookupRefusesBadInputNamingTheField(t *testing.T) {
	t.Parallel()
	p := newPortal(t, generous)
	tomorrow := time.Now().AddDate(0, 0, 2).Format("01-02-2006")
	for _, tc := range []struct {
		name        string
		body        any
		code, field string
		message     string
	}{
		{"date not MM-DD-YYYY", lookup("Maria", "Garcia", "1985-03-14", "80202"), "invalid_date", "date_of_birth",
			"Enter your date of birth as MM-DD-YYYY, for example 01-23-1980."},
		{"date without dashes", lookup("Maria", "Garcia", "03141985", "80202"), "invalid_date", "date_of_birth", ""},
		{"no such day", lookup("Maria", "Garcia", "02-30-1985", "80202"), "invalid_date", "date_of_birth", ""},
		{"date before 1900", lookup("Maria", "Garcia", "12-31-1899", "80202"), "date_before_1900", "date_of_birth",
			"Date of Birth (DOB) cannot be before 01-01-1900."},
		{"date in the future", lookup("Maria", "Garcia", tomorrow, "80202"), "date_in_future", "date_of_birth",
			"Date of Birth (DOB) cannot be in the future."},
		{"ZIP+4", lookup("Maria", "Garcia", "03-14-1985", "80202-1234"), "invalid_zip", "zip", ""},
		{"short ZIP", lookup("Maria", "Garcia", "03-14-1985", "8020"), "invalid_zip", "zip", ""},
		{"overseas postal code", lookup("Maria", "Garcia", "03-14-1985", "SW1A 1AA"), "invalid_zip", "zip", ""},
		{"no first name", lookup(" ", "Garcia", "03-14-1985", "80202"), "missing_field", "first_name", ""},
		{"no last name", lookup("Maria", "", "03-14-1985", "80202"), "missing_field", "last_name", ""},
		{"unknown field", `{"first_name":"Maria","last_name":"Garcia","date_of_birth":"03-14-1985","zip":"80202","ssn":"1"}`,
			"invalid_field", "ssn", ""},
		{"not JSON", `{"first_name":`, "invalid_body", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := p.do(http.MethodPost, "/v1/portal/session", "", tc.body, "")
			require.Equal(t, http.StatusBadRequest, a.Status, "%s", a.Body)
			require.Equal(t, tc.code, a.Error.Code)
			require.Equal(t, tc.field, a.Error.Field)
			require.NotEmpty(t, a.Error.Message)
			if tc.message != "" {
				require.Equal(t, tc.message, a.Error.Message)
			}
		})
	}
	var sessions int
	require.NoError(t, p.st.Pool().QueryRow(portalCtx, `SELECT count(*) FROM portal_sessions`).Scan(&sessions))
	require.Zero(t, sessions)
}

// clearOfWindowEdges waits, when a rate-limit window of one of these lengths ends within the
// next few seconds, until it has ended: the limits count in fixed windows aligned to the
// clock, and a burst of attempts cut in two by a window's end would find its count reset.
func clearOfWindowEdges(windows ...time.Duration) {
	const margin = 5 * time.Second
	for _, w := range windows {
		if left := w - time.Duration(time.Now().UnixNano()%int64(w)); left < margin {
			time.Sleep(left + 100*time.Millisecond)
		}
	}
}

func TestPortalLookupIsRateLimitedPerClientAndPerIdentity(t *testing.T) {
	t.Parallel()
	p := newPortal(t, apiserver.PortalLimits{PerClient: 3, PerClientWindow: time.Minute, PerIdentity: 3, PerIdentityWindow: 10 * time.Minute})
	clearOfWindowEdges(10*time.Minute, time.Minute)
	post := func(req map[string]string, remote string, headers ...string) portalAnswer {
		return p.do(http.MethodPost, "/v1/portal/session", "", req, remote, headers...)
	}

	// Per client: three failed lookups from one address, then the fourth is refused even
	// though it would match, and X-Forwarded-For does not get around it (no trusted proxy).
	for i, who := range []map[string]string{lookup("A", "One", "01-01-1980", "80202"), lookup("B", "Two", "01-01-1980", "80202"),
		lookup("C", "Three", "01-01-1980", "80202")} {
		a := post(who, "198.51.100.7:1000")
		require.Equal(t, http.StatusNotFound, a.Status, "attempt %d", i+1)
	}
	requireRateLimited(t, post(lookup("Maria", "Garcia", "03-14-1985", "80202"), "198.51.100.7:1000", "X-Forwarded-For", "203.0.113.9"), 60)
	require.Equal(t, http.StatusCreated, post(lookup("Maria", "Garcia", "03-14-1985", "80202"), "198.51.100.8:1000").Status,
		"another client is not limited")

	// Per identity: the same person from many addresses, signed in or not (the refused
	// attempt above did not count).
	require.Equal(t, http.StatusCreated, post(lookup("maria", "GARCIA", "03-14-1985", "80202"), "198.51.100.9:1000").Status)
	require.Equal(t, http.StatusCreated, post(lookup("Maria", "Garcia", "03-14-1985", "80202"), "198.51.100.10:1000").Status)
	requireRateLimited(t, post(lookup("Maria", "Garcia", "03-14-1985", "80202"), "198.51.100.11:1000"), 600)
	// A non-existent identity is limited the same way: the limit says nothing about the roll.
	require.Equal(t, http.StatusNotFound, post(lookup("No", "Body", "01-01-1990", "80202"), "198.51.100.11:1000").Status)
	require.Equal(t, http.StatusNotFound, post(lookup("No", "Body", "01-01-1990", "80202"), "198.51.100.12:1000").Status)
	require.Equal(t, http.StatusNotFound, post(lookup("no", "body", "01-01-1990", "80202"), "198.51.100.13:1000").Status)
	requireRateLimited(t, post(lookup("No", "Body", "01-01-1990", "80202"), "198.51.100.14:1000"), 600)

	// The counters live in PostgreSQL (shared by API replicas), keyed by hashes only, and by
	// keyed hashes: hashing a guessed address or name does not find its row.
	var buckets int
	require.NoError(t, p.st.Pool().QueryRow(portalCtx, `SELECT count(*) FROM portal_rate_limits WHERE length(bucket) = 32`).Scan(&buckets))
	require.Positive(t, buckets)
	var found bool
	require.NoError(t, p.st.Pool().QueryRow(portalCtx,
		`SELECT EXISTS (SELECT 1 FROM portal_rate_limits WHERE position('garcia'::bytea IN bucket) > 0 OR position('198.51'::bytea IN bucket) > 0)`).Scan(&found))
	require.False(t, found, "rate-limit rows must not hold names or addresses")
	unkeyed := sha256.Sum256([]byte("portal-client\x00198.51.100.7"))
	require.NoError(t, p.st.Pool().QueryRow(portalCtx, `SELECT EXISTS (SELECT 1 FROM portal_rate_limits WHERE bucket = $1 OR bucket = sha256($1))`,
		unkeyed[:]).Scan(&found))
	require.False(t, found, "buckets are keyed with the database's secret")
}

// requireRateLimited checks a 429 that says in Retry-After, in seconds, how long to wait.
func requireRateLimited(t *testing.T, a portalAnswer, maxWait int) {
	t.Helper()
	require.Equal(t, http.StatusTooManyRequests, a.Status, "%s", a.Body)
	require.Equal(t, "rate_limited", a.Error.Code)
	require.NotEmpty(t, a.Error.Message)
	wait, err := strconv.Atoi(a.Header.Get("Retry-After"))
	require.NoError(t, err, "Retry-After must be seconds")
	require.Positive(t, wait)
	require.LessOrEqual(t, wait, maxWait)
}

func TestPortalTrustsForwardedForOnlyFromTrustedProxies(t *testing.T) {
	t.Parallel()
	p := newPortal(t, apiserver.PortalLimits{PerClient: 1, PerClientWindow: time.Minute, PerIdentity: 100, PerIdentityWindow: time.Minute},
		"10.0.0.0/8")
	clearOfWindowEdges(time.Minute)
	post := func(remote, forwarded string) int {
		return p.do(http.MethodPost, "/v1/portal/session", "", lookup("No", "Body", "01-01-1990", "80202"), remote,
			"X-Forwarded-For", forwarded).Status
	}
	require.Equal(t, http.StatusNotFound, post("10.1.1.1:443", "203.0.113.1"))
	require.Equal(t, http.StatusNotFound, post("10.1.1.1:443", "203.0.113.2"), "behind the proxy, clients are told apart")
	require.Equal(t, http.StatusTooManyRequests, post("10.1.1.1:443", "203.0.113.2"))
	require.Equal(t, http.StatusNotFound, post("192.0.2.1:443", "203.0.113.3"))
	require.Equal(t, http.StatusTooManyRequests, post("192.0.2.1:443", "203.0.113.4"), "an untrusted peer cannot pick its address")
}

func TestPortalSessionsExpireAndCanBeRevoked(t *testing.T) {
	t.Parallel()
	p := newPortal(t, generous)
	requireUnauthorized := func(token string) {
		t.Helper()
		a := p.do(http.MethodGet, "/v1/portal/ballot", token, nil, "")
		require.Equal(t, http.StatusUnauthorized, a.Status, "%s", a.Body)
		require.Equal(t, "session_expired", a.Error.Code)
		require.NotEmpty(t, a.Header.Get("WWW-Authenticate"))
	}
	requireUnauthorized("")
	requireUnauthorized("made-up-token")

	token := maria(p)
	require.Equal(t, http.StatusOK, p.do(http.MethodGet, "/v1/portal/ballot", token, nil, "").Status)
	var stored []byte
	require.NoError(t, p.st.Pool().QueryRow(portalCtx, `SELECT token_hash FROM portal_sessions`).Scan(&stored))
	require.Len(t, stored, 32, "only the token's SHA-256 is stored")
	require.NotContains(t, string(stored), token)

	// Logout revokes at once.
	require.Equal(t, http.StatusNoContent, p.do(http.MethodDelete, "/v1/portal/session", token, nil, "").Status)
	requireUnauthorized(token)

	// Expiry.
	token = maria(p)
	_, err := p.st.Pool().Exec(portalCtx, `UPDATE portal_sessions SET expires_at = now() - interval '1 second' WHERE revoked_at IS NULL`)
	require.NoError(t, err)
	requireUnauthorized(token)

	// A voter who became confidential mid-session is out at once.
	token = maria(p)
	_, err = p.st.Pool().Exec(portalCtx, `UPDATE voters SET confidential = true WHERE voter_id = $1`, demo.Voters[0].VoterID)
	require.NoError(t, err)
	requireUnauthorized(token)
}

func TestPortalBallotShowsTheVotersBallotsAndTimelineFromPostgres(t *testing.T) {
	t.Parallel()
	p := newPortal(t, generous)
	m, err := p.st.VoterGetByID(portalCtx, "CO", demo.Voters[0].VoterID)
	require.NoError(t, err)
	james, err := p.st.VoterGetByID(portalCtx, "CO", demo.Voters[1].VoterID)
	require.NoError(t, err)
	at := time.Now().Add(-3 * time.Hour).Truncate(time.Second).UTC()
	record := func(v store.Voter, ballotID, eventID, status string, when time.Time, reason string, deadline *time.Time) {
		rec, err := p.st.BallotEventRecord(portalCtx, store.BallotEvent{JurisdictionID: "co-denver", ElectionID: demo.ElectionID,
			BallotID: ballotID, VoterRef: v.Ref, EventID: eventID, Status: status, OccurredAt: when, Reason: reason,
			CureDeadline: deadline})
		require.NoError(t, err)
		// What the ballot workflow's RecordStatus activity does when the event moves the ballot.
		require.NoError(t, p.st.BallotSetStatus(portalCtx, rec.Ballot.Key, status, when))
	}
	deadline := voterDate(time.Now().AddDate(0, 0, 10).Format(time.DateOnly))
	// Maria's ballot is mailed with its envelopes' tracking codes, and USPS scans both.
	mailedEvent, err := p.st.BallotEventRecord(portalCtx, store.BallotEvent{JurisdictionID: "co-denver",
		ElectionID: demo.ElectionID, BallotID: "DEN-1", VoterRef: m.Ref, EventID: "m1", Status: "mailed", OccurredAt: at,
		OutboundIMb: mariaOutbound[:20], ReturnIMb: mariaReturn[:20]})
	require.NoError(t, err)
	require.NoError(t, p.st.BallotSetStatus(portalCtx, mailedEvent.Ballot.Key, "mailed", at))
	record(m, "DEN-1", "m2", "received", at.Add(time.Hour), "", nil)
	record(m, "DEN-1", "m3", "challenged", at.Add(2*time.Hour), "signature missing", &deadline)
	record(james, "DEN-2", "j1", "mailed", at, "", nil)
	scanned, err := p.st.MailScanRecordBatch(portalCtx, store.MailScanScope{State: "CO", County: "denver"}, []store.StagedMailScan{
		{Line: 2, PieceKey: mariaOutbound[2:20], ScannedAt: at.Add(10 * time.Minute), OperationCode: "891",
			FacilityZIP: "80266", FacilityName: "DENVER CO P&DC", FacilityCity: "DENVER", FacilityState: "CO"},
		{Line: 3, PieceKey: mariaReturn[2:20], ScannedAt: at.Add(50 * time.Minute), OperationCode: "271",
			FacilityZIP: "80266", FacilityName: "DENVER CO P&DC"},
	}, time.Now())
	require.NoError(t, err)
	require.Equal(t, 2, scanned.Matched)

	token := maria(p)
	a := p.do(http.MethodGet, "/v1/portal/ballot", token, nil, "")
	require.Equal(t, http.StatusOK, a.Status, "%s", a.Body)
	require.Equal(t, "no-store", a.Header.Get("Cache-Control"))
	var got struct {
		Voter   struct{ FirstName, LastName string } `json:"voter"`
		Ballots []struct {
			Election struct {
				ID, Name string
			} `json:"election"`
			County   string    `json:"county"`
			Status   string    `json:"status"`
			StatusAt time.Time `json:"status_at"`
			Timeline []struct {
				Status       string    `json:"status"`
				At           time.Time `json:"at"`
				Reason       string    `json:"reason"`
				CureDeadline string    `json:"cure_deadline"`
			} `json:"timeline"`
			// What the page's history shows of the mail (apiserver/web/app.js, mailItem).
			Mail []struct {
				Direction string    `json:"direction"`
				ScannedAt time.Time `json:"scanned_at"`
				Facility  string    `json:"facility"`
				City      string    `json:"city"`
				State     string    `json:"state"`
			} `json:"mail"`
		} `json:"ballots"`
	}
	require.NoError(t, json.Unmarshal(a.Body, &got))
	require.Len(t, got.Ballots, 1, "only the voter's own ballots")
	b := got.Ballots[0]
	require.Equal(t, "Demo General Election", b.Election.Name)
	require.Equal(t, "Denver Elections Division", b.County)
	require.Equal(t, "challenged", b.Status)
	require.True(t, b.StatusAt.Equal(at.Add(2*time.Hour)))
	require.Len(t, b.Timeline, 3)
	require.Equal(t, []string{"mailed", "received", "challenged"},
		[]string{b.Timeline[0].Status, b.Timeline[1].Status, b.Timeline[2].Status})
	require.Equal(t, "signature missing", b.Timeline[2].Reason)
	require.Equal(t, deadline.Format(time.DateOnly), b.Timeline[2].CureDeadline)
	require.Len(t, b.Mail, 2)
	require.Equal(t, store.MailOutbound, b.Mail[0].Direction)
	require.True(t, b.Mail[0].ScannedAt.Equal(at.Add(10*time.Minute)))
	require.Equal(t, []string{"DENVER CO P&DC", "DENVER", "CO"}, []string{b.Mail[0].Facility, b.Mail[0].City, b.Mail[0].State})
	require.Equal(t, store.MailReturn, b.Mail[1].Direction)
	require.Equal(t, []string{"DENVER CO P&DC", "", ""}, []string{b.Mail[1].Facility, b.Mail[1].City, b.Mail[1].State})
	require.NotContains(t, string(a.Body), mariaOutbound[2:20], "no tracking code reaches the page")
	require.NotContains(t, string(a.Body), "80202", "nor the routing code's ZIP")
	require.NotContains(t, string(a.Body), "Smith")
	require.NotContains(t, string(a.Body), "DEN-2")
	require.Empty(t, p.tc.signals, "a page view never talks to Temporal")
}

func mariaRef(t testing.TB, p *portal) int64 {
	v, err := p.st.VoterGetByID(portalCtx, "CO", demo.Voters[0].VoterID)
	require.NoError(t, err)
	return v.Ref
}

func TestPortalPageIsServedWithItsSecurityHeaders(t *testing.T) {
	t.Parallel()
	p := newPortal(t, generous)
	a := p.do(http.MethodGet, "/", "", nil, "")
	require.Equal(t, http.StatusOK, a.Status)
	require.Contains(t, a.Header.Get("Content-Type"), "text/html")
	require.Contains(t, a.Header.Get("Content-Security-Policy"), "default-src 'self'")
	page := string(a.Body)
	require.Contains(t, page, `<script src="/static/app.js" defer></script>`)
	require.NotContains(t, page, "<script>", "no inline script")
	require.NotContains(t, page, "http://", "no external resources")
	require.NotContains(t, page, "https://", "no external resources")
	// base.css (shared with the operator dashboard) comes first; style.css builds on it.
	require.Contains(t, page, "<link rel=\"stylesheet\" href=\"/static/base.css\">\n<link rel=\"stylesheet\" href=\"/static/style.css\">")
	for _, asset := range []string{"/static/app.js", "/static/base.css", "/static/style.css"} {
		a := p.do(http.MethodGet, asset, "", nil, "")
		require.Equal(t, http.StatusOK, a.Status, asset)
		require.Equal(t, "nosniff", a.Header.Get("X-Content-Type-Options"), asset)
		require.Equal(t, "no-cache", a.Header.Get("Cache-Control"), asset)
	}
	require.Equal(t, http.StatusNotFound, p.do(http.MethodGet, "/static/../portal.go", "", nil, "").Status)
	require.Equal(t, http.StatusNotFound, p.do(http.MethodGet, "/static/nope.js", "", nil, "").Status)
}
