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
	"github.com/ballotflow/ballotflow/internal/demo"
	"github.com/ballotflow/ballotflow/internal/store"
	"github.com/ballotflow/ballotflow/internal/testdb"
	"github.com/ballotflow/ballotflow/workflows"
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
	if name != workflows.SignalPreferencesChanged {
		return fmt.Errorf("unexpected signal %s", name)
	}
	f.signals[id] = append(f.signals[id], arg.(workflows.PreferencesChanged).Reason)
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
	v, err := f.st.VoterByID(whCtx, "CO", demo.Voters[i].VoterID)
	require.NoError(t, err)
	return v.Ref
}

// ballot records a county event for a demo voter and returns the ballot.
func (f *whFixture) ballot(t testing.TB, voter int, ballotID, status, reason string) store.Ballot {
	t.Helper()
	rec, err := f.st.RecordEvent(whCtx, store.BallotEvent{JurisdictionID: "co-denver", ElectionID: demo.ElectionID,
		BallotID: ballotID, VoterRef: f.voter(t, voter), EventID: ballotID + "-" + status, Status: status,
		OccurredAt: time.Now().Add(-time.Hour), Reason: reason})
	require.NoError(t, err)
	return rec.Ballot
}

// delivery writes a delivery the provider accepted with providerID ("" leaves it sending).
func (f *whFixture) delivery(t testing.TB, b store.Ballot, key, status, channel, providerID string) {
	t.Helper()
	_, err := f.st.BeginDelivery(whCtx, store.Delivery{IdempotencyKey: key, BallotRef: b.Ref, VoterRef: b.VoterRef,
		NoticeSeq: whNoticeSeq(t, key), NoticeStatus: status, Channel: channel})
	require.NoError(t, err)
	if providerID != "" {
		require.NoError(t, f.st.FinishDelivery(whCtx, key, store.DeliveryAccepted, providerID, ""))
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
	subs, err := f.st.Subscriptions(whCtx, voterRef)
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
	require.NoError(t, f.st.UpsertSubscription(whCtx, store.Subscription{VoterRef: voterRef, Channel: channel,
		Address: address, State: state, Source: source}))
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

// TestSendGridWebhookRefusesBadSignatures: the signed event webhook is verified over the raw
// body with the configured key, within a ten-minute window; anything else is a 403 and
// nothing is stored.
func TestSendGridWebhookRefusesBadSignatures(t *testing.T) {
	f := whSetup(t)
	b := f.ballot(t, 0, "DEN-SGSIG", "mailed", "")
	f.delivery(t, b, b.Key+"/1/email", "mailed", "email", "msgSIG")
	body := []byte(`[{"event":"bounce","type":"bounce","email":"maria.garcia@example.org","timestamp":1700000000,` +
		`"sg_event_id":"ev1","sg_message_id":"msgSIG.filter-1","idempotency_key":"` + b.Key + `/1/email"}]` + "\r\n")
	now := time.Now()
	ts := strconv.FormatInt(now.Unix(), 10)
	other, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	old := strconv.FormatInt(now.Add(-11*time.Minute).Unix(), 10)
	future := strconv.FormatInt(now.Add(6*time.Minute).Unix(), 10)
	reencoded := []byte(strings.TrimSuffix(string(body), "\r\n"))

	cases := []struct {
		name     string
		body     []byte
		sig, ts  string
		wantCode string
	}{
		{"missing signature", body, "", ts, "invalid_signature"},
		{"missing timestamp", body, whSignSendGrid(t, f.sgKey, ts, body), "", "invalid_signature"},
		{"altered body", []byte(strings.Replace(string(body), "bounce", "delivered", 1)), whSignSendGrid(t, f.sgKey, ts, body), ts, "invalid_signature"},
		{"body re-encoded (not the raw bytes)", reencoded, whSignSendGrid(t, f.sgKey, ts, body), ts, "invalid_signature"},
		{"other timestamp than signed", body, whSignSendGrid(t, f.sgKey, ts, body), strconv.FormatInt(now.Unix()-1, 10), "invalid_signature"},
		{"wrong key", body, whSignSendGrid(t, other, ts, body), ts, "invalid_signature"},
		{"not a signature", body, "bm90IGEgc2lnbmF0dXJl", ts, "invalid_signature"},
		{"timestamp not a number", body, whSignSendGrid(t, f.sgKey, "yesterday", body), "yesterday", "invalid_signature"},
		{"older than 10 minutes", body, whSignSendGrid(t, f.sgKey, old, body), old, "stale_signature"},
		{"more than 5 minutes ahead", body, whSignSendGrid(t, f.sgKey, future, body), future, "stale_signature"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := f.postSendGrid(t, tc.body, tc.sig, tc.ts)
			require.Equal(t, http.StatusForbidden, a.status, a.body)
			require.Equal(t, tc.wantCode, a.errorCode(t))
		})
	}
	require.Zero(t, f.count(t, "delivery_events"))
	require.Equal(t, "active", f.subState(t, b.VoterRef, "email"))

	a := f.postSendGrid(t, body, whSignSendGrid(t, f.sgKey, ts, body), ts)
	require.Equal(t, http.StatusOK, a.status, a.body)
	require.Equal(t, "bounced", f.subState(t, b.VoterRef, "email"))
}

// TestSMSKeywords: the whole message is the keyword, in any case and spacing; YES confirms
// every pending number of a household, STOP and Twilio's other opt-out words opt it out,
// START resubscribes what was opted out (not bounced, nor an opt-out the voter asked the
// county for: a shared phone must not undo it), HELP answers with the county's
// contact, in Spanish for Spanish readers, and anything else gets a short help reply.
func TestSMSKeywords(t *testing.T) {
	f := whSetup(t)
	const phone = "+13035550177"
	james, ana, jose := f.voter(t, 1), f.voter(t, 2), f.voter(t, 3)
	bJames := f.ballot(t, 1, "DEN-KW-J", "mailed", "")
	bAna := f.ballot(t, 2, "DEN-KW-A", "mailed", "")
	f.temporal.missing[workflows.WorkflowID(bAna.ElectionID, bAna.Key)] = true // Ana's ballot is done
	help := demo.Jurisdictions[0].HelpText

	cases := []struct {
		name, body      string
		from            string
		before          [2]string // James's and Ana's SMS states before
		after           [2]string
		reply           []string // substrings of the reply; nil for no reply
		noReply         bool
		signaled        bool
		notInReply      string
		spanishFromJose bool
	}{
		{name: "yes with spaces", body: " yes ", before: [2]string{"pending", "pending"}, after: [2]string{"active", "active"},
			reply: []string{"confirmed"}, signaled: true},
		{name: "YES confirms only pending", body: "YES", before: [2]string{"pending", "opted_out"}, after: [2]string{"active", "opted_out"},
			reply: []string{"confirmed"}, signaled: true},
		{name: "sí in Spanish", body: "Sí", before: [2]string{"pending", "pending"}, after: [2]string{"active", "active"},
			reply: []string{"confirmado"}, signaled: true},
		{name: "yes with nothing pending", body: "Yes!", before: [2]string{"active", "active"}, after: [2]string{"active", "active"},
			reply: []string{"Reply HELP"}, notInReply: "YES"},
		{name: "Stop", body: "Stop", before: [2]string{"active", "pending"}, after: [2]string{"opted_out", "opted_out"},
			noReply: true, signaled: true},
		{name: "STOP.", body: "STOP.", before: [2]string{"active", "bounced"}, after: [2]string{"opted_out", "opted_out"},
			noReply: true, signaled: true},
		{name: "stopall", body: "stopall", before: [2]string{"active", "active"}, after: [2]string{"opted_out", "opted_out"},
			noReply: true, signaled: true},
		{name: "unsubscribe", body: "  Unsubscribe\n", before: [2]string{"active", "active"}, after: [2]string{"opted_out", "opted_out"},
			noReply: true, signaled: true},
		{name: "quit", body: "QUIT", before: [2]string{"active", "active"}, after: [2]string{"opted_out", "opted_out"},
			noReply: true, signaled: true},
		{name: "start resubscribes opted out, not bounced", body: "start", before: [2]string{"opted_out", "bounced"},
			after: [2]string{"active", "bounced"}, noReply: true, signaled: true},
		{name: "start leaves an opt-out asked of the county", body: "START", before: [2]string{"opted_out", "opted_out/county"},
			after: [2]string{"active", "opted_out"}, noReply: true, signaled: true},
		{name: "unstop", body: "UNSTOP", before: [2]string{"opted_out", "opted_out"}, after: [2]string{"active", "active"},
			noReply: true, signaled: true},
		{name: "help", body: "help", before: [2]string{"active", "active"}, after: [2]string{"active", "active"},
			reply: []string{help, "Denver Elections Division", "STOP"}},
		{name: "ayuda", body: "ayuda", before: [2]string{"active", "active"}, after: [2]string{"active", "active"},
			reply: []string{help, "Responda STOP"}},
		{name: "hello", body: "hello", before: [2]string{"active", "active"}, after: [2]string{"active", "active"},
			reply: []string{"Reply HELP for help, STOP to stop"}, notInReply: "YES"},
		{name: "hello with a pending number mentions YES", body: "hello", before: [2]string{"pending", "active"},
			after: [2]string{"pending", "active"}, reply: []string{"Reply YES"}},
		{name: "stop inside a sentence is not a keyword", body: "please stop texting", before: [2]string{"active", "active"},
			after: [2]string{"active", "active"}, reply: []string{"Reply HELP"}},
		{name: "Spanish reader's help", body: "HELP", from: demo.Voters[3].SMS, spanishFromJose: true,
			before: [2]string{"active", "active"}, after: [2]string{"active", "active"}, reply: []string{"Avisos de boletas", help}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f.setSub(t, james, "sms", phone, tc.before[0])
			f.setSub(t, ana, "sms", phone, tc.before[1])
			f.temporal.signals = map[string][]string{}
			from := phone
			if tc.from != "" {
				from = tc.from
			}
			a := f.sms(t, from, tc.body)
			require.Equal(t, http.StatusOK, a.status, a.body)
			require.Equal(t, "text/xml; charset=utf-8", a.ctype)
			require.True(t, strings.HasPrefix(a.body, `<?xml version="1.0" encoding="UTF-8"?><Response>`), a.body)
			require.Equal(t, tc.after[0], f.subState(t, james, "sms"), "James")
			require.Equal(t, tc.after[1], f.subState(t, ana, "sms"), "Ana")
			if tc.noReply {
				require.NotContains(t, a.body, "<Message>")
			}
			for _, want := range tc.reply {
				require.Contains(t, a.body, "<Message>")
				require.Contains(t, a.body, whEscapeXML(want))
			}
			if tc.notInReply != "" {
				require.NotContains(t, a.body, tc.notInReply)
			}
			if tc.spanishFromJose {
				require.Equal(t, "active", f.subState(t, jose, "sms"))
			}
			sig := f.temporal.signaled()
			if tc.signaled {
				require.Equal(t, map[string][]string{workflows.WorkflowID(bJames.ElectionID, bJames.Key): {"sms-keyword"}}, sig,
					"James's running ballot is told; Ana's completed one is skipped")
			} else {
				require.Empty(t, sig)
			}
		})
	}

	var audits int
	require.NoError(t, f.st.Pool().QueryRow(whCtx, `SELECT count(*) FROM audit_log WHERE actor = 'provider:twilio'
		AND subject = $1 AND action = 'subscription.opted_out' AND detail->>'reason' = 'sms keyword STOPALL'`,
		fmt.Sprintf("voter:%d/sms", james)).Scan(&audits))
	require.Equal(t, 1, audits, "each opt-out is audited with the keyword, and no phone number")
	var leaked int
	require.NoError(t, f.st.Pool().QueryRow(whCtx, `SELECT count(*) FROM audit_log WHERE detail::text LIKE '%555%'`).Scan(&leaked))
	require.Zero(t, leaked, "no phone number in the audit log")
}

func whEscapeXML(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", "'", "&#39;", `"`, "&#34;").Replace(s)
}

// TestSMSFromAnUnknownNumberStoresNothing: someone who is not subscribed gets a generic
// answer (HELP: the county's contact), and no keyword changes anything.
func TestSMSFromAnUnknownNumberStoresNothing(t *testing.T) {
	f := whSetup(t)
	const stranger = "+13035550999"
	for _, body := range []string{"STOP", "YES", "START", "hello"} {
		a := f.sms(t, stranger, body)
		require.Equal(t, http.StatusOK, a.status, a.body)
		if body == "hello" {
			require.Contains(t, a.body, "Reply HELP for help, STOP to stop")
		}
	}
	a := f.sms(t, stranger, "HELP")
	require.Contains(t, a.body, whEscapeXML(demo.Jurisdictions[0].HelpText))
	require.Zero(t, f.count(t, "audit_log"))
	require.Zero(t, f.count(t, "subscriptions WHERE address = '"+stranger+"'"))
}

// TestTwilioStatusCallbacksInAnyOrderGiveTheSameRow: statuses only move a delivery forward
// (queued < sending < sent < delivered; undelivered and failed are terminal), so every order
// and every duplicate leave the same row.
func TestTwilioStatusCallbacksInAnyOrderGiveTheSameRow(t *testing.T) {
	f := whSetup(t)
	b := f.ballot(t, 0, "DEN-ORDER", "mailed", "")
	maria := demo.Voters[0].SMS

	type cb struct{ status, code string }
	runs := []struct {
		name      string
		callbacks []cb
		want      whDeliveryRow
	}{
		{"delivered", []cb{{"queued", ""}, {"sending", ""}, {"sent", ""}, {"delivered", ""}},
			whDeliveryRow{State: "delivered", Events: 4}},
		{"undelivered after sent and a stray delivered", []cb{{"sent", ""}, {"undelivered", "30007"}, {"delivered", ""}},
			whDeliveryRow{State: "failed", LastError: "Twilio error 30007", Events: 3}},
	}
	for _, run := range runs {
		for i, order := range whPermutations(run.callbacks) {
			key := fmt.Sprintf("%s/%d/sms", b.Key, 100*len(run.callbacks)+i)
			sid := fmt.Sprintf("SM%s%d", strings.ReplaceAll(run.name, " ", ""), i)
			f.delivery(t, b, key, "mailed", "sms", sid)
			// Every callback twice, the duplicate right away or at the end.
			seq := append(slices.Clone(order), order...)
			for _, c := range seq {
				params := url.Values{"MessageSid": {sid}, "MessageStatus": {c.status}, "To": {maria}}
				if c.code != "" {
					params.Set("ErrorCode", c.code)
				}
				a := f.twilio(t, apiserver.PathTwilioStatus+"?d="+url.QueryEscape(key), params)
				require.Equal(t, http.StatusOK, a.status, a.body)
			}
			want := run.want
			want.ProviderID = sid
			require.Equal(t, want, f.deliveryRow(t, key), "%s in order %v", run.name, order)
		}
	}
	require.Equal(t, "active", f.subState(t, f.voter(t, 0), "sms"), "30007 (carrier filtering) is not the number's fault")
}

func whPermutations[T any](xs []T) [][]T {
	if len(xs) <= 1 {
		return [][]T{slices.Clone(xs)}
	}
	var out [][]T
	for i := range xs {
		rest := append(slices.Clone(xs[:i]), xs[i+1:]...)
		for _, p := range whPermutations(rest) {
			out = append(out, append([]T{xs[i]}, p...))
		}
	}
	return out
}

// TestTwilioStatusCallbacks covers what a callback does besides ordering: an unreachable
// number bounces the SMS subscription of everyone on it; a callback that outruns the
// activity still finds its delivery by the key in the URL; an unknown sid is ignored.
func TestTwilioStatusCallbacks(t *testing.T) {
	f := whSetup(t)
	b := f.ballot(t, 0, "DEN-CB", "mailed", "")
	maria := f.voter(t, 0)
	james := f.voter(t, 1)
	phone := demo.Voters[0].SMS
	f.setSub(t, james, "sms", phone, "active") // a household phone

	t.Run("landline bounces the number", func(t *testing.T) {
		key := b.Key + "/1/sms"
		f.delivery(t, b, key, "mailed", "sms", "SMland")
		a := f.twilio(t, apiserver.PathTwilioStatus+"?d="+url.QueryEscape(key), url.Values{"MessageSid": {"SMland"},
			"MessageStatus": {"failed"}, "ErrorCode": {"30006"}, "To": {phone}})
		require.Equal(t, http.StatusOK, a.status, a.body)
		require.Equal(t, whDeliveryRow{State: "failed", ProviderID: "SMland", LastError: "Twilio error 30006", Events: 1}, f.deliveryRow(t, key))
		require.Equal(t, "bounced", f.subState(t, maria, "sms"))
		require.Equal(t, "bounced", f.subState(t, james, "sms"), "everyone on the number")
		require.Equal(t, "active", f.subState(t, maria, "email"), "only SMS")
		require.Equal(t, []string{"sms-bounce"}, f.temporal.signaled()[workflows.WorkflowID(b.ElectionID, b.Key)])
	})

	t.Run("a callback before the activity stored the sid", func(t *testing.T) {
		key := b.Key + "/2/voice"
		f.delivery(t, b, key, "mailed", "voice", "") // still "sending"
		for _, status := range []string{"initiated", "ringing", "completed"} {
			a := f.twilio(t, apiserver.PathTwilioStatus+"?d="+url.QueryEscape(key),
				url.Values{"CallSid": {"CAearly"}, "CallStatus": {status}, "Timestamp": {time.Now().Format(time.RFC1123Z)}})
			require.Equal(t, http.StatusOK, a.status, a.body)
		}
		require.Equal(t, whDeliveryRow{State: "delivered", ProviderID: "CAearly", Events: 3}, f.deliveryRow(t, key))
		// The activity settles afterwards: it must not move the row back.
		require.NoError(t, f.st.FinishDelivery(whCtx, key, store.DeliveryAccepted, "CAearly", ""))
		require.Equal(t, "delivered", f.deliveryRow(t, key).State)
		d, err := f.st.BeginDelivery(whCtx, store.Delivery{IdempotencyKey: key, BallotRef: b.Ref, VoterRef: b.VoterRef,
			NoticeSeq: 2, NoticeStatus: "mailed", Channel: "voice"})
		require.NoError(t, err)
		require.Equal(t, store.DeliveryDelivered, d.State, "a retried activity finds it settled and does not call again")
	})

	t.Run("matched by sid without a key", func(t *testing.T) {
		key := b.Key + "/3/sms"
		f.delivery(t, b, key, "mailed", "sms", "SMnokey")
		a := f.twilio(t, apiserver.PathTwilioStatus, url.Values{"MessageSid": {"SMnokey"}, "MessageStatus": {"delivered"}})
		require.Equal(t, http.StatusOK, a.status, a.body)
		require.Equal(t, "delivered", f.deliveryRow(t, key).State)
	})

	t.Run("an unreachable handset bounces only after three notices in a row", func(t *testing.T) {
		ana := f.voter(t, 2)
		const anasPhone = "+13035550166"
		f.setSub(t, ana, "sms", anasPhone, "active")
		bAna := f.ballot(t, 2, "DEN-CB-ANA", "mailed", "")
		callback := func(n int, status, code string) {
			t.Helper()
			key := fmt.Sprintf("%s/%d/sms", bAna.Key, n)
			sid := fmt.Sprintf("SMana%d", n)
			f.delivery(t, bAna, key, "mailed", "sms", sid)
			form := url.Values{"MessageSid": {sid}, "MessageStatus": {status}, "To": {anasPhone}}
			if code != "" {
				form.Set("ErrorCode", code)
			}
			a := f.twilio(t, apiserver.PathTwilioStatus+"?d="+url.QueryEscape(key), form)
			require.Equal(t, http.StatusOK, a.status, a.body)
		}
		callback(1, "undelivered", "30003") // her phone is off
		callback(2, "delivered", "")        // back on
		callback(3, "undelivered", "30003")
		callback(4, "undelivered", "30003")
		require.Equal(t, "active", f.subState(t, ana, "sms"), "two in a row: a phone switched off for a while")
		callback(5, "undelivered", "30003")
		require.Equal(t, "bounced", f.subState(t, ana, "sms"), "three in a row: the handset is gone")
	})

	t.Run("unknown sid is ignored", func(t *testing.T) {
		before := f.count(t, "delivery_events")
		a := f.twilio(t, apiserver.PathTwilioStatus, url.Values{"MessageSid": {"SMunknown"}, "MessageStatus": {"delivered"}})
		require.Equal(t, http.StatusOK, a.status, a.body)
		require.Equal(t, before, f.count(t, "delivery_events"))
	})

	t.Run("missing sid names the field", func(t *testing.T) {
		a := f.twilio(t, apiserver.PathTwilioStatus, url.Values{"MessageStatus": {"delivered"}})
		require.Equal(t, http.StatusBadRequest, a.status, a.body)
		require.Contains(t, a.body, `"field":"MessageSid"`)
	})
}

// TestSendGridEvents: processed and delivered move an email forward; a hard bounce fails it
// and turns email off for everyone on the address (audited, ballots told); a duplicate post is
// harmless; soft bounces are recorded only; a spam report opts out.
func TestSendGridEvents(t *testing.T) {
	f := whSetup(t)
	james, ana := f.voter(t, 1), f.voter(t, 2) // share smith.family@example.org
	b := f.ballot(t, 1, "DEN-SG", "mailed", "")
	key := b.Key + "/1/email"
	f.delivery(t, b, key, "mailed", "email", "msgJAMES")
	event := func(name, id string, extra map[string]any) map[string]any {
		e := map[string]any{"event": name, "email": "Smith.Family@example.org", "timestamp": time.Now().Unix(),
			"sg_event_id": id, "sg_message_id": "msgJAMES.filterdrecv-1.0", "idempotency_key": key}
		maps.Copy(e, extra)
		return e
	}

	a := f.sendGrid(t, event("processed", "e1", nil), event("open", "e0", nil), event("delivered", "e2", nil))
	require.Equal(t, http.StatusOK, a.status, a.body)
	require.Equal(t, whDeliveryRow{State: "delivered", ProviderID: "msgJAMES", Events: 2}, f.deliveryRow(t, key),
		"opens are not tracked")

	soft := event("bounce", "e3", map[string]any{"type": "blocked", "status": "4.0.0"})
	require.Equal(t, http.StatusOK, f.sendGrid(t, soft).status)
	require.Equal(t, "delivered", f.deliveryRow(t, key).State, "a soft bounce is recorded only")
	require.Equal(t, "active", f.subState(t, james, "email"))

	hard := event("bounce", "e4", map[string]any{"type": "bounce", "status": "5.1.1",
		"bounce_classification": "Invalid Address", "reason": "550 5.1.1 <smith.family@example.org>: no such user"})
	for range 2 {
		a := f.sendGrid(t, hard)
		require.Equal(t, http.StatusOK, a.status, a.body)
	}
	row := f.deliveryRow(t, key)
	require.Equal(t, whDeliveryRow{State: "failed", ProviderID: "msgJAMES", LastError: "bounce 5.1.1 Invalid Address", Events: 4}, row,
		"the duplicate is stored once; the bounce text that quotes the address is not stored")
	require.Equal(t, "bounced", f.subState(t, james, "email"))
	require.Equal(t, "bounced", f.subState(t, ana, "email"), "the address is shared: it bounces for both")
	require.Equal(t, 2, f.count(t, "audit_log WHERE actor = 'provider:sendgrid' AND action = 'subscription.bounced'"))
	require.Equal(t, []string{"email-bounce"}, f.temporal.signaled()[workflows.WorkflowID(b.ElectionID, b.Key)])

	t.Run("spam report opts out", func(t *testing.T) {
		maria := f.voter(t, 0)
		bm := f.ballot(t, 0, "DEN-SPAM", "mailed", "")
		mkey := bm.Key + "/1/email"
		f.delivery(t, bm, mkey, "mailed", "email", "msgMARIA")
		a := f.sendGrid(t, map[string]any{"event": "spamreport", "email": "maria.garcia@example.org",
			"timestamp": time.Now().Unix(), "sg_event_id": "s1", "sg_message_id": "msgMARIA.x.0"}) // no custom arg: by message id
		require.Equal(t, http.StatusOK, a.status, a.body)
		require.Equal(t, "opted_out", f.subState(t, maria, "email"))
		require.Equal(t, "accepted", f.deliveryRow(t, mkey).State, "the email itself did arrive")
	})

	t.Run("not a JSON list", func(t *testing.T) {
		body := []byte(`{"event":"delivered"}`)
		ts := strconv.FormatInt(time.Now().Unix(), 10)
		a := f.postSendGrid(t, body, whSignSendGrid(t, f.sgKey, ts, body), ts)
		require.Equal(t, http.StatusBadRequest, a.status, a.body)
	})
}

// TestVoiceRepeat: pressing 1 reads the call's notice again from its delivery, in the voter's
// language and with the county's reason; anything else hangs up.
func TestVoiceRepeat(t *testing.T) {
	f := whSetup(t)
	b := f.ballot(t, 3, "DEN-VOICE", "challenged", "falta la firma") // José reads Spanish
	key := b.Key + "/1/voice"
	f.delivery(t, b, key, "challenged", "voice", "CAvoice")
	path := apiserver.PathTwilioVoice + "?d=" + url.QueryEscape(key)

	a := f.twilio(t, path, url.Values{"CallSid": {"CAvoice"}, "Digits": {"1"}})
	require.Equal(t, http.StatusOK, a.status, a.body)
	require.Equal(t, "text/xml; charset=utf-8", a.ctype)
	require.Contains(t, a.body, "José Núñez")
	require.Contains(t, a.body, "falta la firma")
	require.Contains(t, a.body, `language="es-US"`)
	require.Contains(t, a.body, `<Gather numDigits="1"`)
	require.Contains(t, a.body, `action="`+whPublicURL+apiserver.PathTwilioVoice+"?d="+url.QueryEscape(key)+`"`)

	for _, digits := range []string{"2", ""} {
		a := f.twilio(t, path, url.Values{"CallSid": {"CAvoice"}, "Digits": {digits}})
		require.Equal(t, http.StatusOK, a.status)
		require.Contains(t, a.body, "<Hangup/>")
		require.NotContains(t, a.body, "Núñez")
	}
	a = f.twilio(t, apiserver.PathTwilioVoice+"?d=nope", url.Values{"Digits": {"1"}})
	require.Contains(t, a.body, "<Hangup/>")

	// Twilio may fetch with GET: the parameters are then in the signed URL.
	get := path + "&Digits=1"
	req := httptest.NewRequest(http.MethodGet, get, nil)
	req.Header.Set("X-Twilio-Signature", whTwilioSignature(whTwilioToken, whPublicURL+get, nil))
	a = whServe(f.handler, req)
	require.Equal(t, http.StatusOK, a.status, a.body)
	require.Contains(t, a.body, "José Núñez")
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

// TestReplayedSignedSMSDoesNotActAgain: Twilio's signature has no timestamp, so a captured
// STOP stays validly signed forever. Posted again after the voter texted START, it is
// recognised by its MessageSid, answered with an empty reply, and changes nothing.
func TestReplayedSignedSMSDoesNotActAgain(t *testing.T) {
	f := whSetup(t)
	maria := f.voter(t, 0)
	phone := demo.Voters[0].SMS
	b := f.ballot(t, 0, "DEN-REPLAY", "mailed", "")
	text := func(sid, body string) whAnswer {
		return f.twilio(t, apiserver.PathTwilioSMS, url.Values{"From": {phone}, "To": {whDenverSMS}, "Body": {body},
			"MessageSid": {sid}, "AccountSid": {"ACtest"}})
	}
	stop := "SM" + strings.Repeat("a", 32)
	require.Equal(t, http.StatusOK, text(stop, "STOP").status)
	require.Equal(t, "opted_out", f.subState(t, maria, "sms"))
	require.Equal(t, http.StatusOK, text("SM"+strings.Repeat("b", 32), "START").status)
	require.Equal(t, "active", f.subState(t, maria, "sms"))
	before, signals := f.stored(t), f.temporal.signaled()

	a := text(stop, "STOP")
	require.Equal(t, http.StatusOK, a.status, a.body)
	require.Equal(t, `<?xml version="1.0" encoding="UTF-8"?><Response></Response>`, a.body)
	require.Equal(t, "active", f.subState(t, maria, "sms"), "the replayed STOP must not opt her out again")
	require.Equal(t, before, f.stored(t))
	require.Equal(t, signals, f.temporal.signaled())
	require.Len(t, signals[workflows.WorkflowID(b.ElectionID, b.Key)], 2, "one signal each for STOP and START")

	// A HELP posted twice gets no second reply either: Twilio would send it as a text.
	help := "SM" + strings.Repeat("c", 32)
	require.Contains(t, text(help, "HELP").body, "<Message>")
	require.NotContains(t, text(help, "HELP").body, "<Message>")
}

// TestInboundSMSNeedsAMessageSid: without Twilio's MessageSid a text cannot be told from a
// replay, so it is refused with a 400 naming the field, and nothing changes.
func TestInboundSMSNeedsAMessageSid(t *testing.T) {
	f := whSetup(t)
	maria := f.voter(t, 0)
	for name, sid := range map[string]string{"missing": "", "not an id": "SM/../x", "too long": "SM" + strings.Repeat("a", 100)} {
		t.Run(name, func(t *testing.T) {
			params := url.Values{"From": {demo.Voters[0].SMS}, "To": {whDenverSMS}, "Body": {"STOP"}}
			if sid != "" {
				params.Set("MessageSid", sid)
			}
			a := f.twilio(t, apiserver.PathTwilioSMS, params)
			require.Equal(t, http.StatusBadRequest, a.status, a.body)
			require.Contains(t, a.body, `"field":"MessageSid"`)
		})
	}
	require.Equal(t, "active", f.subState(t, maria, "sms"))
	require.Zero(t, f.count(t, "inbound_messages"))
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

// TestSendGridBatchesWithBadFieldsAreRefusedWhole: a signed batch whose recorded events
// carry NUL bytes, oversized fields or impossible timestamps gets a 400 naming the event and
// field, and none of its events is stored, not even the good ones before it.
func TestSendGridBatchesWithBadFieldsAreRefusedWhole(t *testing.T) {
	f := whSetup(t)
	b := f.ballot(t, 0, "DEN-SGNUL", "mailed", "")
	key := b.Key + "/1/email"
	f.delivery(t, b, key, "mailed", "email", "msgNUL")
	good := map[string]any{"event": "delivered", "email": "maria.garcia@example.org", "timestamp": time.Now().Unix(),
		"sg_event_id": "good1", "sg_message_id": "msgNUL.filter", "idempotency_key": key}
	bad := func(k string, v any) map[string]any {
		e := maps.Clone(good)
		e["event"], e["sg_event_id"] = "bounce", "bad1"
		e[k] = v
		return e
	}
	cases := []struct {
		name  string
		event map[string]any
		field string
	}{
		{"NUL in email", bad("email", "maria\u0000@example.org"), "events[1].email"},
		{"NUL in sg_event_id", bad("sg_event_id", "ev\u0000"), "events[1].sg_event_id"},
		{"NUL in idempotency key", bad("idempotency_key", "\u0000"), "events[1].idempotency_key"},
		{"huge sg_message_id", bad("sg_message_id", strings.Repeat("m", 10000)), "events[1].sg_message_id"},
		{"timestamp past year 294276", bad("timestamp", int64(1)<<60), "events[1].timestamp"},
		{"negative timestamp", bad("timestamp", -5), "events[1].timestamp"},
		{"sg_event_id not a string", bad("sg_event_id", 7), "events[1]"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := f.sendGrid(t, good, tc.event)
			require.Equal(t, http.StatusBadRequest, a.status, a.body)
			require.Contains(t, a.body, `"field":"`+tc.field+`"`)
		})
	}
	require.Zero(t, f.count(t, "delivery_events"))
	require.Equal(t, "accepted", f.deliveryRow(t, key).State)

	t.Run("NUL in fields that are never stored is harmless", func(t *testing.T) {
		e := bad("reason", "550 \u0000")
		e["event"], e["type"], e["status"] = "dropped", "\u0000", "5.\u0000"
		a := f.sendGrid(t, e)
		require.Equal(t, http.StatusOK, a.status, a.body)
		require.Equal(t, "failed", f.deliveryRow(t, key).State)
		require.Empty(t, f.deliveryRow(t, key).LastError)
	})

	t.Run("more events than a batch holds", func(t *testing.T) {
		body := []byte("[" + strings.Repeat("{},", 10000) + "{}]")
		ts := strconv.FormatInt(time.Now().Unix(), 10)
		a := f.postSendGrid(t, body, whSignSendGrid(t, f.sgKey, ts, body), ts)
		require.Equal(t, http.StatusRequestEntityTooLarge, a.status, a.body)
	})

	t.Run("something after the list", func(t *testing.T) {
		body := []byte(`[] {"event":"spamreport"}`)
		ts := strconv.FormatInt(time.Now().Unix(), 10)
		a := f.postSendGrid(t, body, whSignSendGrid(t, f.sgKey, ts, body), ts)
		require.Equal(t, http.StatusBadRequest, a.status, a.body)
	})
}

// TestSendGridEventsWithoutAnEventIDAreNotActedOn: an event without sg_event_id cannot be
// told from its own replay within the signature's ten minutes, so it changes nothing; the
// same signed batch posted twice changes things once.
func TestSendGridEventsWithoutAnEventIDAreNotActedOn(t *testing.T) {
	f := whSetup(t)
	maria := f.voter(t, 0)
	b := f.ballot(t, 0, "DEN-SGID", "mailed", "")
	key := b.Key + "/1/email"
	f.delivery(t, b, key, "mailed", "email", "msgID")
	spam := map[string]any{"event": "spamreport", "email": "maria.garcia@example.org", "timestamp": time.Now().Unix(),
		"sg_message_id": "msgID.x", "idempotency_key": key}
	a := f.sendGrid(t, spam)
	require.Equal(t, http.StatusOK, a.status, a.body)
	require.Equal(t, "active", f.subState(t, maria, "email"))
	require.Zero(t, f.count(t, "delivery_events"))

	spam["sg_event_id"] = "spam-1"
	body, err := json.Marshal([]any{spam})
	require.NoError(t, err)
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	sig := whSignSendGrid(t, f.sgKey, ts, body)
	require.Equal(t, http.StatusOK, f.postSendGrid(t, body, sig, ts).status)
	require.Equal(t, "opted_out", f.subState(t, maria, "email"))
	f.setSub(t, maria, "email", "maria.garcia@example.org", "active") // she subscribes again on the portal
	require.Equal(t, http.StatusOK, f.postSendGrid(t, body, sig, ts).status, "the same signed post, replayed")
	require.Equal(t, "active", f.subState(t, maria, "email"), "a replayed spam report must not opt her out again")
	require.Equal(t, 1, f.count(t, "delivery_events"))
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

// TestStopCapturedBeforeANumberIsSubscribedCannotBeReplayedLater: a STOP from a number nobody
// is subscribed on changes nothing, but its MessageSid is kept, so posting it again after a
// voter subscribes that number does not opt them out.
func TestStopCapturedBeforeANumberIsSubscribedCannotBeReplayedLater(t *testing.T) {
	f := whSetup(t)
	const phone = "+13035550188"
	james := f.voter(t, 1)
	stop := url.Values{"From": {phone}, "To": {whDenverSMS}, "Body": {"STOP"}, "MessageSid": {"SM" + strings.Repeat("d", 32)}}
	require.Equal(t, http.StatusOK, f.twilio(t, apiserver.PathTwilioSMS, stop).status)
	f.setSub(t, james, "sms", phone, "active")

	a := f.twilio(t, apiserver.PathTwilioSMS, stop)
	require.Equal(t, http.StatusOK, a.status, a.body)
	require.Equal(t, "active", f.subState(t, james, "sms"))
	require.Zero(t, f.count(t, "audit_log WHERE action = 'subscription.opted_out'"))
}

// TestVoiceRepeatIsInTheCallsLanguage: a Spanish-reading voter in a county that offers only
// English heard the call in English (delivery falls back to the county's languages) and the
// "press 1" repeat in Spanish, because the repeat read the voter's language on its own. Both
// now use the one recipient reader.
func TestVoiceRepeatIsInTheCallsLanguage(t *testing.T) {
	f := whSetup(t)
	_, err := f.st.Pool().Exec(whCtx, `UPDATE jurisdictions SET languages = '{en}' WHERE county = 'denver'`)
	require.NoError(t, err)
	b := f.ballot(t, 3, "DEN-VOICE-EN", "challenged", "signature missing") // José reads Spanish
	key := b.Key + "/1/voice"
	f.delivery(t, b, key, "challenged", "voice", "CAvoice-en")
	a := f.twilio(t, apiserver.PathTwilioVoice+"?d="+url.QueryEscape(key), url.Values{"CallSid": {"CAvoice-en"}, "Digits": {"1"}})
	require.Equal(t, http.StatusOK, a.status, a.body)
	require.Contains(t, a.body, `language="en-US"`)
	require.NotContains(t, a.body, `language="es-US"`)
}
