package apiserver_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/ballotflow/ballotflow/apiserver"
	"github.com/ballotflow/ballotflow/internal/ballot"
	"github.com/ballotflow/ballotflow/internal/demo"
	"github.com/ballotflow/ballotflow/internal/store"
	"github.com/ballotflow/ballotflow/internal/testdb"
	"github.com/ballotflow/ballotflow/workflows/contract"
)

const (
	whPublicURL   = "https://ballots.example.org"
	whTwilioToken = "webhooktesttoken0000000000000000"
	whDenverSMS   = "+17205550100" // the demo Denver number voters text
)

var whCtx = context.Background()

// whTemporal records preferences-changed signals; every other call panics (nil interface).
type whTemporal struct {
	client.Client
	mu      sync.Mutex
	signals map[string][]string // workflow id -> reasons
	missing map[string]bool     // workflow ids that have completed
}

func (f *whTemporal) SignalWorkflow(_ context.Context, id, _, name string, arg any) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.missing[id] {
		return serviceerror.NewNotFound("workflow execution already completed")
	}
	if name != ballot.SignalPreferencesChanged {
		return fmt.Errorf("unexpected signal %s", name)
	}
	f.signals[id] = append(f.signals[id], arg.(contract.PreferencesChanged).Reason)
	return nil
}

func (f *whTemporal) signaled() map[string][]string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return maps.Clone(f.signals)
}

// whFixture is the API with its webhooks on a fresh database seeded with the demo data.
type whFixture struct {
	st       *store.Store
	temporal *whTemporal
	handler  http.Handler
	sgKey    *ecdsa.PrivateKey
}

func whSetup(t *testing.T) *whFixture {
	t.Helper()
	t.Parallel()
	return whNew(t)
}

// whNew is whSetup for fuzz targets, which cannot run in parallel.
func whNew(t testing.TB) *whFixture {
	t.Helper()
	st := testdb.Open(t)
	require.NoError(t, demo.Seed(whCtx, st, time.Now()))
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	require.NoError(t, err)
	f := &whFixture{st: st, sgKey: key,
		temporal: &whTemporal{signals: map[string][]string{}, missing: map[string]bool{}}}
	f.handler = apiserver.New(apiserver.Config{
		Store: st, Temporal: f.temporal, Logger: slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn})),
		PublicURL: whPublicURL, TwilioAuthToken: whTwilioToken,
		SendGridWebhookPublicKey: base64.StdEncoding.EncodeToString(der),
	})
	return f
}

// whTwilioSignature signs like Twilio: base64 HMAC-SHA1 of the URL followed by the sorted
// parameters' names and values.
func whTwilioSignature(token, fullURL string, params url.Values) string {
	b := fullURL
	for _, k := range slices.Sorted(maps.Keys(params)) {
		b += k + params.Get(k)
	}
	mac := hmac.New(sha1.New, []byte(token))
	mac.Write([]byte(b))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

type whAnswer struct {
	status int
	body   string
	ctype  string
}

func (a whAnswer) errorCode(t *testing.T) string {
	t.Helper()
	var e struct {
		Error struct{ Code, Message, Field string } `json:"error"`
	}
	require.NoError(t, json.Unmarshal([]byte(a.body), &e), a.body)
	require.NotEmpty(t, e.Error.Message)
	return e.Error.Code
}

// postTwilio posts form params to path (with query) signed with sig.
func (f *whFixture) postTwilio(t testing.TB, pathAndQuery string, params url.Values, sig string) whAnswer {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, pathAndQuery, strings.NewReader(params.Encode()))
	req.Host = "api.internal:8080" // as a load balancer forwards it: never the signed URL
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if sig != "" {
		req.Header.Set("X-Twilio-Signature", sig)
	}
	return whServe(f.handler, req)
}

// twilio posts params to path (with query), signed as Twilio signs for PUBLIC_URL.
func (f *whFixture) twilio(t testing.TB, pathAndQuery string, params url.Values) whAnswer {
	t.Helper()
	return f.postTwilio(t, pathAndQuery, params, whTwilioSignature(whTwilioToken, whPublicURL+pathAndQuery, params))
}

func whServe(h http.Handler, req *http.Request) whAnswer {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	body, _ := io.ReadAll(rec.Body)
	return whAnswer{status: rec.Code, body: string(body), ctype: rec.Header().Get("Content-Type")}
}

func (f *whFixture) sms(t testing.TB, from, body string) whAnswer {
	t.Helper()
	return f.twilio(t, apiserver.PathTwilioSMS, url.Values{"From": {from}, "To": {whDenverSMS}, "Body": {body},
		"MessageSid": {"SMinbound" + strconv.FormatInt(time.Now().UnixNano(), 10)}, "AccountSid": {"ACtest"}})
}

// postSendGrid posts a raw body with the given signature headers.
func (f *whFixture) postSendGrid(t testing.TB, body []byte, sig, ts string) whAnswer {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, apiserver.PathSendGridEvents, strings.NewReader(string(body)))
	req.Header.Set("Content-Type", "application/json")
	if sig != "" {
		req.Header.Set("X-Twilio-Email-Event-Webhook-Signature", sig)
	}
	if ts != "" {
		req.Header.Set("X-Twilio-Email-Event-Webhook-Timestamp", ts)
	}
	return whServe(f.handler, req)
}

func whSignSendGrid(t testing.TB, key *ecdsa.PrivateKey, ts string, body []byte) string {
	t.Helper()
	h := sha256.Sum256(append([]byte(ts), body...))
	sig, err := ecdsa.SignASN1(rand.Reader, key, h[:])
	require.NoError(t, err)
	return base64.StdEncoding.EncodeToString(sig)
}

// sendGrid posts events signed now with the configured key.
func (f *whFixture) sendGrid(t testing.TB, events ...map[string]any) whAnswer {
	t.Helper()
	body, err := json.Marshal(events)
	require.NoError(t, err)
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	return f.postSendGrid(t, append(body, '\r', '\n'), whSignSendGrid(t, f.sgKey, ts, append(body, '\r', '\n')), ts)
}

// voter returns a demo voter's internal id.
func (f *whFixture) voter(t testing.TB, i int) int64 {
	t.Helper()
	v, err := f.st.VoterGetByID(whCtx, "CO", demo.Voters[i].VoterID)
	require.NoError(t, err)
	return v.Ref
}

// ballot records a county event for a demo voter and returns the ballot.
func (f *whFixture) ballot(t testing.TB, voter int, ballotID, status, reason string) store.Ballot {
	t.Helper()
	rec, err := f.st.BallotEventRecord(whCtx, store.BallotEvent{JurisdictionID: "co-denver", ElectionID: demo.ElectionID,
		BallotID: ballotID, VoterRef: f.voter(t, voter), EventID: ballotID + "-" + status, Status: status,
		OccurredAt: time.Now().Add(-time.Hour), Reason: reason})
	require.NoError(t, err)
	return rec.Ballot
}

// delivery writes a delivery the provider accepted with providerID ("" leaves it sending).
func (f *whFixture) delivery(t testing.TB, b store.Ballot, key, status, channel, providerID string) {
	t.Helper()
	_, err := f.st.DeliveryBegin(whCtx, store.Delivery{IdempotencyKey: key, BallotRef: b.Ref, VoterRef: b.VoterRef,
		NoticeSeq: whNoticeSeq(t, key), NoticeStatus: status, Channel: channel})
	require.NoError(t, err)
	if providerID != "" {
		require.NoError(t, f.st.DeliveryFinish(whCtx, key, store.DeliveryAccepted, providerID, ""))
	}
}

type whDeliveryRow struct {
	State, ProviderID, LastError string
	Events                       int
}

// whNoticeSeq is the notice number in a delivery key, <ballot>/<seq>/<channel>.
func whNoticeSeq(t testing.TB, key string) int {
	t.Helper()
	parts := strings.Split(key, "/")
	require.Len(t, parts, 3, key)
	seq, err := strconv.Atoi(parts[1])
	require.NoError(t, err, key)
	return seq
}

func (f *whFixture) deliveryRow(t testing.TB, key string) whDeliveryRow {
	t.Helper()
	var r whDeliveryRow
	require.NoError(t, f.st.Pool().QueryRow(whCtx, `
		SELECT d.state, coalesce(d.provider_id, ''), d.last_error, (SELECT count(*) FROM delivery_events e WHERE e.delivery_ref = d.id)
		FROM deliveries d WHERE d.idempotency_key = $1`, key).Scan(&r.State, &r.ProviderID, &r.LastError, &r.Events))
	return r
}

func (f *whFixture) subState(t testing.TB, voterRef int64, channel string) string {
	t.Helper()
	subs, err := f.st.SubscriptionListByVoter(whCtx, voterRef)
	require.NoError(t, err)
	for _, s := range subs {
		if s.Channel == channel {
			return s.State
		}
	}
	return ""
}

// setSub sets a voter's subscription; a state "opted_out/county" is an opt-out the voter asked
// the county for.
func (f *whFixture) setSub(t testing.TB, voterRef int64, channel, address, state string) {
	t.Helper()
	source := "portal"
	if s, ok := strings.CutSuffix(state, "/county"); ok {
		state, source = s, "county_assisted"
	}
	asked := true // a pending number was asked to confirm, unless "/unasked" says a limit held it back
	if s, ok := strings.CutSuffix(state, "/unasked"); ok {
		state, asked = s, false
	}
	require.NoError(t, f.st.SubscriptionUpsert(whCtx, store.Subscription{VoterRef: voterRef, Channel: channel,
		Address: address, State: state, Source: source}))
	_, err := f.st.Pool().Exec(whCtx, `UPDATE subscriptions SET confirm_requested_at = CASE WHEN $3 AND state = 'pending'
		THEN now() END WHERE voter_ref = $1 AND channel = $2`, voterRef, channel, asked)
	require.NoError(t, err)
}

func (f *whFixture) count(t testing.TB, table string) int {
	t.Helper()
	var n int
	require.NoError(t, f.st.Pool().QueryRow(whCtx, "SELECT count(*) FROM "+table).Scan(&n))
	return n
}

// TestTwilioWebhooksRefuseBadSignatures: every Twilio webhook answers 403 with the error
// envelope and stores nothing unless X-Twilio-Signature signs exactly PUBLIC_URL + path (+
// query) and the parameters with the account's token; the Host header is never trusted.
func TestTwilioWebhooksRefuseBadSignatures(t *testing.T) {
	f := whSetup(t)
	maria := f.voter(t, 0)
	b := f.ballot(t, 0, "DEN-SIG", "mailed", "")
	f.delivery(t, b, b.Key+"/1/sms", "mailed", "sms", "SMsig")
	f.delivery(t, b, b.Key+"/1/voice", "mailed", "voice", "CAsig")

	endpoints := []struct {
		name, path string
		params     url.Values
	}{
		{"sms", apiserver.PathTwilioSMS, url.Values{"From": {demo.Voters[0].SMS}, "To": {whDenverSMS}, "Body": {"STOP"},
			"MessageSid": {"SMsig0000000000000000000000000000"}}},
		{"status", apiserver.PathTwilioStatus + "?d=" + url.QueryEscape(b.Key+"/1/sms"),
			url.Values{"MessageSid": {"SMsig"}, "MessageStatus": {"undelivered"}, "ErrorCode": {"30006"}, "To": {demo.Voters[0].SMS}}},
		{"voice", apiserver.PathTwilioVoice + "?d=" + url.QueryEscape(b.Key+"/1/voice"),
			url.Values{"CallSid": {"CAsig"}, "Digits": {"1"}}},
	}
	for _, ep := range endpoints {
		altered := url.Values{}
		for k, v := range ep.params {
			altered[k] = slices.Clone(v)
		}
		for k := range altered {
			altered.Set(k, altered.Get(k)+"x")
			break
		}
		cases := []struct {
			name   string
			params url.Values
			sig    string
		}{
			{"missing signature", ep.params, ""},
			{"altered parameter", altered, whTwilioSignature(whTwilioToken, whPublicURL+ep.path, ep.params)},
			{"added parameter", whWithParam(ep.params, "Extra", "1"), whTwilioSignature(whTwilioToken, whPublicURL+ep.path, ep.params)},
			{"other public URL", ep.params, whTwilioSignature(whTwilioToken, "https://evil.example.org"+ep.path, ep.params)},
			{"URL from the Host header", ep.params, whTwilioSignature(whTwilioToken, "http://api.internal:8080"+ep.path, ep.params)},
			{"http instead of https", ep.params, whTwilioSignature(whTwilioToken, "http://ballots.example.org"+ep.path, ep.params)},
			{"other path", ep.params, whTwilioSignature(whTwilioToken, whPublicURL+"/v1/webhooks/twilio/other", ep.params)},
			{"wrong token", ep.params, whTwilioSignature("someoneelsestoken000000000000000", whPublicURL+ep.path, ep.params)},
			{"garbage", ep.params, "bm90IGEgc2lnbmF0dXJl"},
		}
		if strings.Contains(ep.path, "?") {
			noQuery := ep.path[:strings.Index(ep.path, "?")]
			cases = append(cases, struct {
				name   string
				params url.Values
				sig    string
			}{"query not signed", ep.params, whTwilioSignature(whTwilioToken, whPublicURL+noQuery, ep.params)})
		}
		for _, tc := range cases {
			t.Run(ep.name+"/"+tc.name, func(t *testing.T) {
				a := f.postTwilio(t, ep.path, tc.params, tc.sig)
				require.Equal(t, http.StatusForbidden, a.status, a.body)
				require.Equal(t, "invalid_signature", a.errorCode(t))
			})
		}
	}
	require.Equal(t, "active", f.subState(t, maria, "sms"), "nothing may change on a bad signature")
	require.Zero(t, f.count(t, "delivery_events"))
	require.Zero(t, f.count(t, "audit_log WHERE action LIKE 'subscription.%'"))
	require.Empty(t, f.temporal.signaled())

	// The same requests, signed right, are taken.
	for _, ep := range endpoints {
		a := f.twilio(t, ep.path, ep.params)
		require.Equal(t, http.StatusOK, a.status, "%s: %s", ep.name, a.body)
	}
	require.Equal(t, "opted_out", f.subState(t, maria, "sms"))
	require.Equal(t, 1, f.count(t, "delivery_events"))
}

func whWithParam(v url.Values, k, val string) url.Values {
	out := url.Values{k: {val}}
	for key, vs := range v {
		out[key] = slices.Clone(vs)
	}
	return out
}

// rawTwilio posts a raw form body to path, signed as Twilio signs it (the first value of
// each parameter), so that tests can send repeated keys and bytes url.Values would not.
func (f *whFixture) rawTwilio(t testing.TB, pathAndQuery, body string) whAnswer {
	t.Helper()
	params, _ := url.ParseQuery(body)
	req := httptest.NewRequest(http.MethodPost, pathAndQuery, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Twilio-Signature", whTwilioSignature(whTwilioToken, whPublicURL+pathAndQuery, params))
	return whServe(f.handler, req)
}

// whStored counts what a webhook can change, to show that a refused request changed nothing.
type whStored struct {
	DeliveryEvents, Audits, InboundMessages int
	Subscriptions                           string
}

func (f *whFixture) stored(t testing.TB) whStored {
	t.Helper()
	var s whStored
	require.NoError(t, f.st.Pool().QueryRow(whCtx, `SELECT
		(SELECT count(*) FROM delivery_events), (SELECT count(*) FROM audit_log), (SELECT count(*) FROM inbound_messages),
		(SELECT coalesce(string_agg(voter_ref || channel || state, ',' ORDER BY voter_ref, channel), '') FROM subscriptions)`).
		Scan(&s.DeliveryEvents, &s.Audits, &s.InboundMessages, &s.Subscriptions))
	return s
}

// TestTwilioParametersThatAreNotCleanTextAreRefused: NUL bytes, invalid UTF-8 and oversized
// values in a signed form get a 400 naming the parameter (PostgreSQL would refuse them with
// a 500) and change nothing; a text body that is not clean text is simply not a keyword.
func TestTwilioParametersThatAreNotCleanTextAreRefused(t *testing.T) {
	f := whSetup(t)
	maria := f.voter(t, 0)
	phone := demo.Voters[0].SMS
	b := f.ballot(t, 0, "DEN-NUL", "mailed", "")
	key := b.Key + "/1/sms"
	f.delivery(t, b, key, "mailed", "sms", "SMnul")
	sms := "From=" + url.QueryEscape(phone) + "&To=" + url.QueryEscape(whDenverSMS) + "&Body=STOP&MessageSid=SMnul1"
	status := "MessageSid=SMnul&MessageStatus=failed&ErrorCode=30006&To=" + url.QueryEscape(phone)
	statusPath := apiserver.PathTwilioStatus + "?d=" + url.QueryEscape(key)

	cases := []struct {
		name, path, body, field string
	}{
		{"sms From with NUL", apiserver.PathTwilioSMS, strings.Replace(sms, "From=", "From=%00", 1), "From"},
		{"sms From not UTF-8", apiserver.PathTwilioSMS, strings.Replace(sms, "From=", "From=%FF", 1), "From"},
		{"sms From huge", apiserver.PathTwilioSMS, strings.Replace(sms, "From=", "From="+strings.Repeat("9", 5000), 1), "From"},
		{"sms To with NUL", apiserver.PathTwilioSMS, strings.Replace(sms, "To=", "To=%00", 1), "To"},
		{"sms MessageSid with NUL", apiserver.PathTwilioSMS, strings.Replace(sms, "MessageSid=", "MessageSid=%00", 1), "MessageSid"},
		{"status sid with NUL", statusPath, strings.Replace(status, "MessageSid=SMnul", "MessageSid=SMnul%00", 1), "MessageSid"},
		{"status not UTF-8", statusPath, strings.Replace(status, "failed", "fail%C3%28ed", 1), "MessageStatus"},
		{"status To with NUL", statusPath, strings.Replace(status, "To=", "To=%00", 1), "To"},
		{"status key huge", apiserver.PathTwilioStatus + "?d=" + strings.Repeat("k", 300), status, "d"},
		// The API refuses these addresses before any handler sees them; still a 400.
		{"status key with NUL", apiserver.PathTwilioStatus + "?d=%00", status, ""},
		{"status key not UTF-8", apiserver.PathTwilioStatus + "?d=%FF", status, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := f.rawTwilio(t, tc.path, tc.body)
			require.Equal(t, http.StatusBadRequest, a.status, a.body)
			if tc.field != "" {
				require.Contains(t, a.body, `"field":"`+tc.field+`"`)
			}
		})
	}
	require.Equal(t, "active", f.subState(t, maria, "sms"))
	require.Zero(t, f.count(t, "delivery_events"))
	require.Zero(t, f.count(t, "inbound_messages"))

	t.Run("a body with NUL or invalid UTF-8 is not a keyword", func(t *testing.T) {
		for i, body := range []string{"STOP%00", "%00", "ST%FFOP", "%FF%FE"} {
			a := f.rawTwilio(t, apiserver.PathTwilioSMS, strings.NewReplacer("Body=STOP", "Body="+body,
				"MessageSid=SMnul1", fmt.Sprintf("MessageSid=SMbody%d", i)).Replace(sms))
			require.Equal(t, http.StatusOK, a.status, a.body)
			require.Contains(t, a.body, "Reply HELP for help")
		}
		require.Equal(t, "active", f.subState(t, maria, "sms"))
	})

	t.Run("a voice key longer than any delivery's hangs up", func(t *testing.T) {
		a := f.rawTwilio(t, apiserver.PathTwilioVoice+"?d="+strings.Repeat("k", 300), "CallSid=CAx&Digits=1")
		require.Equal(t, http.StatusOK, a.status, a.body)
		require.Contains(t, a.body, "<Hangup/>")
	})
}

// TestMetricsAreServedOnTheAPIOnlyWhenConfigured: with METRICS_ADDR the API does not show
// /metrics to the public; without it, the handler given is served.
func TestMetricsAreServedOnTheAPIOnlyWhenConfigured(t *testing.T) {
	t.Parallel()
	logger := slog.New(slog.DiscardHandler)
	off := apiserver.New(apiserver.Config{Logger: logger})
	a := whServe(off, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	require.Equal(t, http.StatusNotFound, a.status, a.body)

	on := apiserver.New(apiserver.Config{Logger: logger,
		Metrics: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "metric 1\n") })})
	a = whServe(on, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	require.Equal(t, http.StatusOK, a.status)
	require.Equal(t, "metric 1\n", a.body)
}
