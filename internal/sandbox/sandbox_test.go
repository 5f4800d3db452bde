package sandbox_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sendgrid/sendgrid-go/helpers/eventwebhook"
	"github.com/stretchr/testify/require"
	"github.com/twilio/twilio-go/client"

	"github.com/ballotflow/ballotflow/internal/sandbox"
)

const (
	sid   = "AC0123456789abcdef0123456789abcdef"
	token = "s3cr3tt0k3n0123456789abcdefabcdef"
	key   = "SG.sandbox-key"

	voter     = "+15005550006"
	voterMail = "voter@example.org"
	county    = "+15005550001"
	body      = "Your ballot was received."
)

// syncBuffer is a goroutine-safe log sink.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

type fixture struct {
	sb   *sandbox.Server
	srv  *httptest.Server
	logs *syncBuffer
}

func newFixture(t *testing.T, opts sandbox.Options) *fixture {
	t.Helper()
	logs := &syncBuffer{}
	opts.TwilioAccountSID, opts.TwilioAuthToken, opts.SendGridAPIKey = sid, token, key
	opts.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	sb, err := sandbox.New(opts)
	require.NoError(t, err)
	t.Cleanup(sb.Close)
	srv := httptest.NewServer(sb.Handler())
	t.Cleanup(srv.Close)
	return &fixture{sb: sb, srv: srv, logs: logs}
}

// do sends a request and returns status, headers and body.
func (f *fixture) do(t *testing.T, method, path string, hdr http.Header, reqBody string) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, f.srv.URL+path, strings.NewReader(reqBody))
	require.NoError(t, err)
	for k, v := range hdr {
		req.Header[k] = v
	}
	resp, err := f.srv.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, resp.Header, b
}

func twilioHeaders(user, pass string) http.Header {
	r, _ := http.NewRequest(http.MethodPost, "/", nil)
	r.SetBasicAuth(user, pass)
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return r.Header
}

func sendGridHeaders(k string) http.Header {
	return http.Header{"Authorization": {"Bearer " + k}, "Content-Type": {"application/json"}}
}

func (f *fixture) postSMS(t *testing.T, form url.Values) (int, http.Header, map[string]any) {
	t.Helper()
	status, hdr, b := f.do(t, http.MethodPost, "/2010-04-01/Accounts/"+sid+"/Messages.json", twilioHeaders(sid, token), form.Encode())
	var m map[string]any
	require.NoError(t, json.Unmarshal(b, &m), string(b))
	return status, hdr, m
}

func TestNewValidatesOptions(t *testing.T) {
	_, err := sandbox.New(sandbox.Options{})
	require.Error(t, err)
	_, err = sandbox.New(sandbox.Options{TwilioAccountSID: sid, TwilioAuthToken: token, SendGridAPIKey: key, SendGridEventWebhookURL: "/relative"})
	require.Error(t, err)
	sb, err := sandbox.New(sandbox.Options{TwilioAccountSID: sid, TwilioAuthToken: token, SendGridAPIKey: key})
	require.NoError(t, err)
	sb.Close()
	sb.Close() // idempotent
}

func TestTwilioMessagesAPI(t *testing.T) {
	now := time.Date(2026, 11, 3, 14, 30, 0, 0, time.UTC)
	f := newFixture(t, sandbox.Options{Clock: func() time.Time { return now }})

	// Authentication.
	status, hdr, b := f.do(t, http.MethodPost, "/2010-04-01/Accounts/"+sid+"/Messages.json", twilioHeaders(sid, "wrong"), "To=%2B15005550006")
	require.Equal(t, http.StatusUnauthorized, status)
	require.NotEmpty(t, hdr.Get("WWW-Authenticate"))
	require.JSONEq(t, `{"code":20003,"message":"Authenticate","more_info":"https://www.twilio.com/docs/errors/20003","status":401}`, string(b))
	status, _, _ = f.do(t, http.MethodPost, "/2010-04-01/Accounts/ACother/Messages.json", twilioHeaders(sid, token), "")
	require.Equal(t, http.StatusNotFound, status)

	// Validation.
	status, _, m := f.postSMS(t, url.Values{"To": {"555-1234"}, "From": {county}, "Body": {body}})
	require.Equal(t, http.StatusBadRequest, status)
	require.EqualValues(t, 21211, m["code"])
	require.EqualValues(t, 400, m["status"])
	status, _, m = f.postSMS(t, url.Values{"To": {voter}, "From": {county}})
	require.Equal(t, http.StatusBadRequest, status)
	require.EqualValues(t, 21602, m["code"])
	status, _, m = f.postSMS(t, url.Values{"To": {voter}, "From": {county}, "Body": {body}, "StatusCallback": {"/relative"}})
	require.Equal(t, http.StatusBadRequest, status)
	require.EqualValues(t, 21609, m["code"])
	status, _, m = f.postSMS(t, url.Values{"To": {voter}, "From": {county}, "Body": {strings.Repeat("x", 1601)}})
	require.Equal(t, http.StatusBadRequest, status)
	require.EqualValues(t, 21617, m["code"])
	require.Empty(t, f.sb.Outbox())

	// Success.
	status, _, m = f.postSMS(t, url.Values{"To": {voter}, "From": {county}, "Body": {body}})
	require.Equal(t, http.StatusCreated, status)
	require.Regexp(t, `^SM[0-9a-f]{32}$`, m["sid"])
	require.Equal(t, "queued", m["status"])
	require.Equal(t, voter, m["to"])
	require.Equal(t, county, m["from"])
	require.Equal(t, body, m["body"])
	require.Equal(t, sid, m["account_sid"])
	require.Equal(t, "Tue, 03 Nov 2026 14:30:00 +0000", m["date_created"])

	out := f.sb.Outbox()
	require.Len(t, out, 1)
	require.Equal(t, m["sid"], out[0].ProviderID)
	require.Equal(t, now, out[0].ReceivedAt)
}

func TestTwilioCallsAPI(t *testing.T) {
	f := newFixture(t, sandbox.Options{})
	post := func(form url.Values) (int, map[string]any) {
		status, _, b := f.do(t, http.MethodPost, "/2010-04-01/Accounts/"+sid+"/Calls.json", twilioHeaders(sid, token), form.Encode())
		var m map[string]any
		require.NoError(t, json.Unmarshal(b, &m))
		return status, m
	}
	status, m := post(url.Values{"To": {voter}, "From": {county}})
	require.Equal(t, http.StatusBadRequest, status)
	require.EqualValues(t, 21205, m["code"])
	status, m = post(url.Values{"To": {voter}, "From": {county}, "Twiml": {"<Response><Say>unclosed</Response>"}})
	require.Equal(t, http.StatusBadRequest, status)
	require.EqualValues(t, 12100, m["code"])
	status, m = post(url.Values{"To": {"12"}, "From": {county}, "Twiml": {"<Response/>"}})
	require.Equal(t, http.StatusBadRequest, status)
	require.EqualValues(t, 21217, m["code"])

	status, m = post(url.Values{"To": {voter}, "From": {county}, "Url": {"https://example.org/twiml"}})
	require.Equal(t, http.StatusCreated, status)
	require.Regexp(t, `^CA[0-9a-f]{32}$`, m["sid"])
	out := f.sb.Outbox()
	require.Len(t, out, 1)
	require.Equal(t, "voice", out[0].Channel)
	require.Empty(t, out[0].Text)
	require.Equal(t, "https://example.org/twiml", out[0].Meta["url"])
}

func TestSendGridAPI(t *testing.T) {
	f := newFixture(t, sandbox.Options{})
	path := "/v3/mail/send"

	status, _, b := f.do(t, http.MethodPost, path, sendGridHeaders("wrong"), `{}`)
	require.Equal(t, http.StatusUnauthorized, status)
	require.Contains(t, string(b), `"errors":[`)

	status, _, b = f.do(t, http.MethodPost, path, sendGridHeaders(key), `{"personalizations":[{"to":[]}],"content":[]}`)
	require.Equal(t, http.StatusBadRequest, status)
	var errs struct {
		Errors []struct {
			Message string  `json:"message"`
			Field   *string `json:"field"`
		} `json:"errors"`
	}
	require.NoError(t, json.Unmarshal(b, &errs))
	var fields []string
	for _, e := range errs.Errors {
		require.NotEmpty(t, e.Message)
		require.NotNil(t, e.Field)
		fields = append(fields, *e.Field)
	}
	require.ElementsMatch(t, []string{"from.email", "personalizations.0.to", "subject", "content"}, fields)

	status, _, _ = f.do(t, http.MethodPost, path, sendGridHeaders(key), `{not json`)
	require.Equal(t, http.StatusBadRequest, status)
	require.Empty(t, f.sb.Outbox())

	// Two personalizations, one overriding the subject and a custom arg.
	mail := `{
	  "from": {"email": "notify@county.example.gov"},
	  "subject": "Ballot update",
	  "personalizations": [
	    {"to": [{"email": "a@example.org"}, {"email": "b@example.org", "name": "B"}]},
	    {"to": [{"email": "c@example.org"}], "subject": "Special", "custom_args": {"idempotency_key": "k2"}}
	  ],
	  "content": [{"type": "text/plain", "value": "plain"}, {"type": "text/html", "value": "<b>html</b>"}],
	  "custom_args": {"idempotency_key": "k1", "county": "17"}
	}`
	status, hdr, _ := f.do(t, http.MethodPost, path, sendGridHeaders(key), mail)
	require.Equal(t, http.StatusAccepted, status)
	id := hdr.Get("X-Message-Id")
	require.Len(t, id, 22)

	out := f.sb.Outbox()
	require.Len(t, out, 3)
	for i, want := range []struct{ to, subject, key string }{
		{"a@example.org", "Ballot update", "k1"}, {"b@example.org", "Ballot update", "k1"}, {"c@example.org", "Special", "k2"},
	} {
		require.Equal(t, want.to, out[i].To)
		require.Equal(t, want.subject, out[i].Subject)
		require.Equal(t, want.key, out[i].Meta["idempotency_key"])
		require.Equal(t, "17", out[i].Meta["county"])
		require.Equal(t, id, out[i].ProviderID)
		require.Equal(t, "plain", out[i].Text)
		require.Equal(t, "<b>html</b>", out[i].Meta["html"])
	}
	require.Equal(t, "B", out[1].Meta["to_name"])
}

func TestDevEndpoints(t *testing.T) {
	f := newFixture(t, sandbox.Options{})
	for _, to := range []string{"+15005550011", "+15005550012"} {
		status, _, _ := f.postSMS(t, url.Values{"To": {to}, "From": {county}, "Body": {body}})
		require.Equal(t, http.StatusCreated, status)
	}

	status, hdr, b := f.do(t, http.MethodGet, "/dev/outbox", nil, "")
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, "application/json", hdr.Get("Content-Type"))
	var out []sandbox.Message
	require.NoError(t, json.Unmarshal(b, &out))
	require.Len(t, out, 2)
	require.Equal(t, "+15005550012", out[1].To, "newest last")

	_, _, b = f.do(t, http.MethodGet, "/dev/outbox?to=%2B15005550011", nil, "")
	require.NoError(t, json.Unmarshal(b, &out))
	require.Len(t, out, 1)
	_, _, b = f.do(t, http.MethodGet, "/dev/outbox?channel=email", nil, "")
	require.Equal(t, "[]", string(b))

	// OutboxHandler works wherever it is mounted.
	mounted := httptest.NewServer(http.StripPrefix("/api", f.sb.OutboxHandler()))
	defer mounted.Close()
	resp, err := http.Get(mounted.URL + "/api/dev/outbox")
	require.NoError(t, err)
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
	resp.Body.Close()
	require.Len(t, out, 2)

	status, _, _ = f.do(t, http.MethodDelete, "/dev/outbox", nil, "")
	require.Equal(t, http.StatusNoContent, status)
	require.Empty(t, f.sb.Outbox())

	// Faults over HTTP.
	status, _, b = f.do(t, http.MethodPost, "/dev/faults", nil, `[{"kind":"nonsense"}]`)
	require.Equal(t, http.StatusBadRequest, status, string(b))
	status, _, b = f.do(t, http.MethodPost, "/dev/faults", nil, `[{"channel":"fax","kind":"latency"}]`)
	require.Equal(t, http.StatusBadRequest, status, string(b))
	status, _, b = f.do(t, http.MethodPost, "/dev/faults", nil,
		`[{"channel":"sms","to":"+15005550011","kind":"rate_limited","delay":"4s","times":2},{"channel":"sms","kind":"permanent","code":21610}]`)
	require.Equal(t, http.StatusNoContent, status, string(b))

	_, _, b = f.do(t, http.MethodGet, "/dev/faults", nil, "")
	var faults []sandbox.Fault
	require.NoError(t, json.Unmarshal(b, &faults))
	require.Equal(t, []sandbox.Fault{
		{Channel: "sms", To: "+15005550011", Kind: sandbox.RateLimited, Delay: 4 * time.Second, Times: 2},
		{Channel: "sms", Kind: sandbox.Permanent, Code: 21610},
	}, faults)

	status, hdr, m := f.postSMS(t, url.Values{"To": {"+15005550011"}, "From": {county}, "Body": {body}})
	require.Equal(t, http.StatusTooManyRequests, status)
	require.Equal(t, "4", hdr.Get("Retry-After"))
	require.NotEmpty(t, hdr.Get("X-RateLimit-Reset"))
	require.EqualValues(t, 20429, m["code"])
	status, _, m = f.postSMS(t, url.Values{"To": {"+15005550012"}, "From": {county}, "Body": {body}})
	require.Equal(t, http.StatusBadRequest, status)
	require.EqualValues(t, 21610, m["code"])

	status, _, _ = f.do(t, http.MethodDelete, "/dev/faults", nil, "")
	require.Equal(t, http.StatusNoContent, status)
	status, _, _ = f.postSMS(t, url.Values{"To": {"+15005550011"}, "From": {county}, "Body": {body}})
	require.Equal(t, http.StatusCreated, status)

	_, _, b = f.do(t, http.MethodGet, "/dev/sendgrid/public-key", nil, "")
	require.Equal(t, f.sb.SendGridPublicKeyBase64(), strings.TrimSpace(string(b)))
	_, err = eventwebhook.ConvertPublicKeyBase64ToECDSA(strings.TrimSpace(string(b)))
	require.NoError(t, err)
}

func TestLatencyComposesWithOtherFaults(t *testing.T) {
	f := newFixture(t, sandbox.Options{})
	f.sb.InjectFault(sandbox.Fault{Kind: sandbox.Latency, Delay: 150 * time.Millisecond, Times: 1})
	f.sb.InjectFault(sandbox.Fault{Kind: sandbox.ServerError, Code: 503, Times: 1})
	f.sb.InjectFault(sandbox.Fault{Kind: sandbox.Permanent, Times: 1}) // shadowed by the 503, so not used up

	start := time.Now()
	status, _, _ := f.postSMS(t, url.Values{"To": {voter}, "From": {county}, "Body": {body}})
	require.Equal(t, http.StatusServiceUnavailable, status)
	require.GreaterOrEqual(t, time.Since(start), 150*time.Millisecond)

	status, _, _ = f.postSMS(t, url.Values{"To": {voter}, "From": {county}, "Body": {body}})
	require.Equal(t, http.StatusBadRequest, status)
	status, _, _ = f.postSMS(t, url.Values{"To": {voter}, "From": {county}, "Body": {body}})
	require.Equal(t, http.StatusCreated, status)
}

func TestDropAfterAcceptRaw(t *testing.T) {
	rcv := newReceiver(t, nil)
	f := newFixture(t, sandbox.Options{})
	f.sb.InjectFault(sandbox.Fault{Channel: "sms", Kind: sandbox.DropAfterAccept, Times: 1})

	form := url.Values{"To": {voter}, "From": {county}, "Body": {body}, "StatusCallback": {rcv.URL + "/status"}}
	req, err := http.NewRequest(http.MethodPost, f.srv.URL+"/2010-04-01/Accounts/"+sid+"/Messages.json", strings.NewReader(form.Encode()))
	require.NoError(t, err)
	req.Header = twilioHeaders(sid, token)
	resp, err := f.srv.Client().Do(req)
	if resp != nil {
		resp.Body.Close()
	}
	require.Error(t, err, "the connection must be closed without a response")

	out := f.sb.Outbox()
	require.Len(t, out, 1)
	// The message was accepted, so its callbacks still come.
	rcv.wait(t, 2)
}

// receiver is a webhook endpoint whose answers a test controls.
type receiver struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []*http.Request
	// bodies holds the raw body of each request in reqs.
	bodies [][]byte
}

// newReceiver answers each request with answer(n, r) (n counts from 0), or
// 204 when answer is nil.
func newReceiver(t *testing.T, answer func(n int, w http.ResponseWriter, r *http.Request)) *receiver {
	t.Helper()
	rcv := &receiver{}
	rcv.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(b)) // let answer read it again
		rcv.mu.Lock()
		n := len(rcv.reqs)
		rcv.reqs = append(rcv.reqs, r.Clone(context.Background()))
		rcv.bodies = append(rcv.bodies, b)
		rcv.mu.Unlock()
		if answer == nil {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		answer(n, w, r)
	}))
	t.Cleanup(rcv.Close)
	return rcv
}

func (r *receiver) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.reqs)
}

// wait waits for n requests and returns their form-decoded bodies.
func (r *receiver) wait(t *testing.T, n int) []url.Values {
	t.Helper()
	require.Eventually(t, func() bool { return r.count() >= n }, 5*time.Second, 10*time.Millisecond)
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []url.Values
	for _, b := range r.bodies {
		v, _ := url.ParseQuery(string(b))
		out = append(out, v)
	}
	return out
}

func TestCallbackRetriesThenSucceeds(t *testing.T) {
	rcv := newReceiver(t, func(n int, w http.ResponseWriter, _ *http.Request) {
		if n < 2 {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	f := newFixture(t, sandbox.Options{})
	status, _, _ := f.postSMS(t, url.Values{"To": {voter}, "From": {county}, "Body": {body}, "StatusCallback": {rcv.URL}})
	require.Equal(t, http.StatusCreated, status)

	var statuses []string
	for _, v := range rcv.wait(t, 4) {
		statuses = append(statuses, v.Get("MessageStatus"))
	}
	require.Equal(t, []string{"sent", "sent", "sent", "delivered"}, statuses)
}

func TestCallbackDroppedAfterRetriesAndCloseWaits(t *testing.T) {
	rcv := newReceiver(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	})
	f := newFixture(t, sandbox.Options{})
	status, _, _ := f.postSMS(t, url.Values{"To": {voter}, "From": {county}, "Body": {body}, "StatusCallback": {rcv.URL}})
	require.Equal(t, http.StatusCreated, status, "failing callbacks must not affect the API response")

	// 4 attempts for "sent", then 4 for "delivered".
	rcv.wait(t, 8)
	f.sb.Close()
	require.Equal(t, 8, rcv.count(), "no attempts beyond the retry budget")
	require.Contains(t, f.logs.String(), "callback dropped")
}

func TestCloseCancelsInFlightCallbacks(t *testing.T) {
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	var answered atomic.Bool
	rcv := newReceiver(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		select { // hang until the sandbox gives up or the test ends
		case <-release:
		case <-r.Context().Done():
		}
		answered.Store(true)
	})
	// An attempt would give up after an hour: only Close can end the one in flight.
	f := newFixture(t, sandbox.Options{CallbackTimeout: time.Hour})
	status, _, _ := f.postSMS(t, url.Values{"To": {voter}, "From": {county}, "Body": {body}, "StatusCallback": {rcv.URL}})
	require.Equal(t, http.StatusCreated, status)
	require.False(t, answered.Load(), "the API answered while its callback was still held: callbacks do not block it")
	rcv.wait(t, 1)

	closed := make(chan struct{})
	go func() { f.sb.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(time.Minute):
		t.Fatal("Close waited for the callback attempt instead of canceling it")
	}
	// The receiving server sees the canceled request a moment after the sandbox lets go.
	require.Eventually(t, answered.Load, 30*time.Second, 10*time.Millisecond, "the held callback was canceled")
	require.Equal(t, 1, rcv.count())
}

func TestInboundSMS(t *testing.T) {
	validator := client.NewRequestValidator(token)
	var sigOK bool
	var mu sync.Mutex
	rcv := newReceiver(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		if r.ParseForm() != nil { // no require here: this is not the test goroutine
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		params := map[string]string{}
		for k, v := range r.PostForm {
			params[k] = v[0]
		}
		mu.Lock()
		sigOK = validator.Validate("http://"+r.Host+r.URL.RequestURI(), params, r.Header.Get("X-Twilio-Signature"))
		mu.Unlock()
		w.Header().Set("Content-Type", "text/xml")
		_, _ = io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?><Response><Message>You're confirmed.</Message><Message><Body>Reply STOP to opt out.</Body></Message></Response>`)
	})
	f := newFixture(t, sandbox.Options{TwilioInboundSMSURL: rcv.URL + "/webhooks/twilio/inbound?v=1"})

	status, _, b := f.do(t, http.MethodPost, "/dev/sms/inbound", http.Header{"Content-Type": {"application/json"}},
		`{"from":"`+voter+`","to":"`+county+`","body":"YES"}`)
	require.Equal(t, http.StatusNoContent, status, string(b))

	v := rcv.wait(t, 1)[0]
	require.Equal(t, voter, v.Get("From"))
	require.Equal(t, county, v.Get("To"))
	require.Equal(t, "YES", v.Get("Body"))
	require.Equal(t, sid, v.Get("AccountSid"))
	require.Regexp(t, `^SM[0-9a-f]{32}$`, v.Get("MessageSid"))
	mu.Lock()
	require.True(t, sigOK, "inbound webhook signature must validate")
	mu.Unlock()

	// TwiML replies are "sent" back to the voter.
	out := f.sb.Outbox()
	require.Len(t, out, 2)
	for i, text := range []string{"You're confirmed.", "Reply STOP to opt out."} {
		require.Equal(t, "sms", out[i].Channel)
		require.Equal(t, county, out[i].From)
		require.Equal(t, voter, out[i].To)
		require.Equal(t, text, out[i].Text)
		require.Equal(t, v.Get("MessageSid"), out[i].Meta["in_reply_to"])
	}
}

func TestInboundSMSErrors(t *testing.T) {
	f := newFixture(t, sandbox.Options{})
	require.ErrorIs(t, f.sb.InboundSMS(context.Background(), voter, county, "YES"), sandbox.ErrNoInboundURL)
	status, _, _ := f.do(t, http.MethodPost, "/dev/sms/inbound", nil, `{"from":"`+voter+`","to":"`+county+`","body":"YES"}`)
	require.Equal(t, http.StatusConflict, status)
	status, _, _ = f.do(t, http.MethodPost, "/dev/sms/inbound", nil, `{"body":"YES"}`)
	require.Equal(t, http.StatusBadRequest, status)

	rcv := newReceiver(t, func(_ int, w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusForbidden) })
	f = newFixture(t, sandbox.Options{TwilioInboundSMSURL: rcv.URL})
	err := f.sb.InboundSMS(context.Background(), voter, county, "YES")
	require.ErrorContains(t, err, "HTTP 403")
	require.NotContains(t, err.Error(), voter)
	require.Empty(t, f.sb.Outbox())
}

func TestSendGridEventsUseClock(t *testing.T) {
	now := time.Date(2026, 11, 3, 14, 30, 0, 0, time.UTC)
	rcv := newReceiver(t, nil)
	f := newFixture(t, sandbox.Options{SendGridEventWebhookURL: rcv.URL, Clock: func() time.Time { return now }})
	mail := `{"from":{"email":"n@county.example.gov"},"subject":"s","personalizations":[{"to":[{"email":"` + voterMail + `"}]}],` +
		`"content":[{"type":"text/plain","value":"` + body + `"}],"custom_args":{"event":"spoof","idempotency_key":"k"}}`
	status, _, _ := f.do(t, http.MethodPost, "/v3/mail/send", sendGridHeaders(key), mail)
	require.Equal(t, http.StatusAccepted, status)

	rcv.wait(t, 1)
	rcv.mu.Lock()
	raw, hdr := rcv.bodies[0], rcv.reqs[0].Header
	rcv.mu.Unlock()
	require.Equal(t, "1793716200", hdr.Get(eventwebhook.TimestampHTTPHeader))
	require.True(t, bytes.HasSuffix(raw, []byte("]\r\n")), "SendGrid bodies end in CRLF")
	var events []map[string]any
	require.NoError(t, json.Unmarshal(raw, &events))
	require.Len(t, events, 2)
	require.EqualValues(t, now.Unix(), events[0]["timestamp"])
	require.Equal(t, "processed", events[0]["event"], "custom args cannot override event fields")
	require.Equal(t, "k", events[0]["idempotency_key"])
}

// The sandbox must not log addresses or bodies, whatever happens.
func TestLogsHaveNoPII(t *testing.T) {
	rcv := newReceiver(t, func(_ int, w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusBadGateway) })
	f := newFixture(t, sandbox.Options{SendGridEventWebhookURL: rcv.URL + "/?email=" + url.QueryEscape(voterMail), TwilioInboundSMSURL: rcv.URL})

	f.postSMS(t, url.Values{"To": {voter}, "From": {county}, "Body": {body}, "StatusCallback": {rcv.URL + "/?to=" + url.QueryEscape(voter)}})
	f.sb.InjectFault(sandbox.Fault{To: voter, Kind: sandbox.Permanent, Times: 1})
	f.postSMS(t, url.Values{"To": {voter}, "From": {county}, "Body": {body}})
	f.sb.InjectFault(sandbox.Fault{Channel: "email", Kind: sandbox.RateLimited, Times: 1})
	mail := `{"from":{"email":"n@county.example.gov"},"subject":"s","personalizations":[{"to":[{"email":"` + voterMail + `"}]}],` +
		`"content":[{"type":"text/plain","value":"` + body + `"}]}`
	status, _, _ := f.do(t, http.MethodPost, "/v3/mail/send", sendGridHeaders(key), mail)
	require.Equal(t, http.StatusTooManyRequests, status)
	status, _, _ = f.do(t, http.MethodPost, "/v3/mail/send", sendGridHeaders(key), mail)
	require.Equal(t, http.StatusAccepted, status)
	require.Error(t, f.sb.InboundSMS(context.Background(), voter, county, body))

	rcv.wait(t, 1+4+4+4) // inbound, then two SMS statuses and one SendGrid post, 4 attempts each
	f.sb.Close()
	logs := f.logs.String()
	require.Contains(t, logs, "message accepted")
	require.Contains(t, logs, "callback dropped")
	for _, pii := range []string{voter, url.QueryEscape(voter), voterMail, url.QueryEscape(voterMail), body, county} {
		require.NotContains(t, logs, pii)
	}
}

func TestFaultJSON(t *testing.T) {
	in := sandbox.Fault{Channel: "voice", To: voter, Kind: sandbox.DropAfterAccept, Delay: 1500 * time.Millisecond, Times: 3}
	b, err := json.Marshal(in)
	require.NoError(t, err)
	require.JSONEq(t, `{"channel":"voice","to":"+15005550006","kind":"drop_after_accept","delay":"1.5s","times":3}`, string(b))
	var out sandbox.Fault
	require.NoError(t, json.Unmarshal(b, &out))
	require.Equal(t, in, out)

	require.NoError(t, json.Unmarshal([]byte(`{"kind":"Latency","delay":2000000}`), &out))
	require.Equal(t, sandbox.Fault{Kind: sandbox.Latency, Delay: 2 * time.Millisecond}, out)
	require.Error(t, json.Unmarshal([]byte(`{"kind":"latency","delay":"soon"}`), &out))
	require.Error(t, json.Unmarshal([]byte(`{"kind":"explode"}`), &out))
}

func TestConcurrentUse(t *testing.T) {
	rcv := newReceiver(t, nil)
	f := newFixture(t, sandbox.Options{})
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if i%5 == 0 {
				f.sb.InjectFault(sandbox.Fault{Kind: sandbox.Latency, Delay: time.Millisecond, Times: 1})
			}
			req, _ := http.NewRequest(http.MethodPost, f.srv.URL+"/2010-04-01/Accounts/"+sid+"/Messages.json",
				strings.NewReader(url.Values{"To": {voter}, "From": {county}, "Body": {body}, "StatusCallback": {rcv.URL}}.Encode()))
			req.Header = twilioHeaders(sid, token)
			resp, err := http.DefaultClient.Do(req)
			if err == nil {
				resp.Body.Close()
			}
			_ = f.sb.Outbox()
		}()
	}
	wg.Wait()
	require.Len(t, f.sb.Outbox(), 20)
	rcv.wait(t, 40)
}
