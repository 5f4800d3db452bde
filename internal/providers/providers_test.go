package providers_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sendgrid/sendgrid-go/helpers/eventwebhook"
	"github.com/stretchr/testify/require"
	"github.com/twilio/twilio-go/client"

	"github.com/ballotflow/ballotflow/internal/providers"
	"github.com/ballotflow/ballotflow/internal/sandbox"
)

// Credentials must be alphanumeric: twilio-go rejects anything else locally.
const (
	accountSID  = "AC0123456789abcdef0123456789abcdef"
	authToken   = "s3cr3tt0k3n0123456789abcdefabcdef"
	sendGridKey = "SG.sandbox-key"

	voter     = "+15005550006"
	voterMail = "voter@example.org"
	county    = "+15005550001"
)

// webhookReceiver records every request it gets, with the raw body.
type webhookReceiver struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []receivedRequest
}

type receivedRequest struct {
	URL    string // as the sender addressed it: receiver URL + path + query
	Header http.Header
	Body   []byte
}

func newReceiver(t *testing.T) *webhookReceiver {
	t.Helper()
	rcv := &webhookReceiver{}
	rcv.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rcv.mu.Lock()
		rcv.reqs = append(rcv.reqs, receivedRequest{URL: rcv.URL + r.URL.RequestURI(), Header: r.Header.Clone(), Body: body})
		rcv.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(rcv.Close)
	return rcv
}

func (r *webhookReceiver) requests() []receivedRequest {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]receivedRequest(nil), r.reqs...)
}

type env struct {
	sb *sandbox.Server
	sg *providers.SendGrid
	tw *providers.Twilio
	// url is the sandbox base URL, for clients with other settings.
	url string
}

// newEnv starts a sandbox behind httptest and real clients pointed at it.
func newEnv(t *testing.T, opts sandbox.Options) *env {
	t.Helper()
	opts.TwilioAccountSID, opts.TwilioAuthToken, opts.SendGridAPIKey = accountSID, authToken, sendGridKey
	sb, err := sandbox.New(opts)
	require.NoError(t, err)
	t.Cleanup(sb.Close) // after srv.Close (cleanups run last-in first-out)
	srv := httptest.NewServer(sb.Handler())
	t.Cleanup(srv.Close)
	return &env{
		sb:  sb,
		url: srv.URL,
		sg:  providers.NewSendGrid(providers.SendGridConfig{APIKey: sendGridKey, BaseURL: srv.URL, HTTPTimeout: 5 * time.Second}),
		tw:  providers.NewTwilio(providers.TwilioConfig{AccountSID: accountSID, AuthToken: authToken, BaseURL: srv.URL, HTTPTimeout: 5 * time.Second}),
	}
}

func testEmail() providers.Email {
	return providers.Email{
		To: voterMail, ToName: "Pat Voter", From: "notify@county.example.gov", FromName: "County Elections",
		ReplyTo: "help@county.example.gov", Subject: "Your ballot was received",
		Text: "Your ballot was received on Oct 3.", HTML: "<p>Your ballot was received on Oct 3.</p>",
		IdempotencyKey: "notif-123",
	}
}

const testTwiml = `<Response><Say voice="Polly.Joanna" language="en-US">Your ballot was received.</Say>` +
	`<Pause length="1"/><Gather><Say>Press 1 to repeat.</Say></Gather></Response>`

// requireProviderError asserts err is a *providers.Error and returns it.
func requireProviderError(t *testing.T, err error) *providers.Error {
	t.Helper()
	require.Error(t, err)
	var pe *providers.Error
	require.ErrorAs(t, err, &pe)
	return pe
}

// requireNoPII asserts that the error text leaks none of the test's
// addresses or bodies.
func requireNoPII(t *testing.T, err error) {
	t.Helper()
	for _, pii := range []string{voter, voterMail, "5551234", "ballot was received"} {
		require.NotContains(t, err.Error(), pii)
	}
}

func TestSendEmailAccepted(t *testing.T) {
	e := newEnv(t, sandbox.Options{})
	acc, err := e.sg.SendEmail(context.Background(), testEmail())
	require.NoError(t, err)
	require.Regexp(t, `^[A-Za-z0-9_-]{22}$`, acc.ProviderID)

	out := e.sb.Outbox()
	require.Len(t, out, 1)
	m := out[0]
	require.Equal(t, "email", m.Channel)
	require.Equal(t, acc.ProviderID, m.ProviderID)
	require.Equal(t, voterMail, m.To)
	require.Equal(t, "notify@county.example.gov", m.From)
	require.Equal(t, "Your ballot was received", m.Subject)
	require.Equal(t, "Your ballot was received on Oct 3.", m.Text)
	require.Equal(t, "notif-123", m.Meta["idempotency_key"])
	require.Equal(t, "<p>Your ballot was received on Oct 3.</p>", m.Meta["html"])
	require.Equal(t, "Pat Voter", m.Meta["to_name"])
	require.Equal(t, "County Elections", m.Meta["from_name"])
	require.Equal(t, "help@county.example.gov", m.Meta["reply_to"])
	require.False(t, m.ReceivedAt.IsZero())
}

func TestSendSMSAccepted(t *testing.T) {
	e := newEnv(t, sandbox.Options{})
	acc, err := e.tw.SendSMS(context.Background(), providers.SMS{
		To: voter, From: county, Body: "Your ballot was received.", StatusCallback: "https://api.example.org/webhooks/twilio/status",
	})
	require.NoError(t, err)
	require.Regexp(t, `^SM[0-9a-f]{32}$`, acc.ProviderID)

	out := e.sb.Outbox()
	require.Len(t, out, 1)
	require.Equal(t, sandbox.Message{
		Channel: "sms", ProviderID: acc.ProviderID, From: county, To: voter, Text: "Your ballot was received.",
		Meta:       map[string]string{"status_callback": "https://api.example.org/webhooks/twilio/status"},
		ReceivedAt: out[0].ReceivedAt,
	}, out[0])
}

func TestPlaceCallAccepted(t *testing.T) {
	e := newEnv(t, sandbox.Options{})
	acc, err := e.tw.PlaceCall(context.Background(), providers.Call{To: voter, From: county, Twiml: testTwiml})
	require.NoError(t, err)
	require.Regexp(t, `^CA[0-9a-f]{32}$`, acc.ProviderID)

	out := e.sb.Outbox()
	require.Len(t, out, 1)
	require.Equal(t, "voice", out[0].Channel)
	require.Equal(t, acc.ProviderID, out[0].ProviderID)
	require.Equal(t, voter, out[0].To)
	require.Equal(t, county, out[0].From)
	require.Equal(t, "Your ballot was received. Press 1 to repeat.", out[0].Text)
	require.Equal(t, testTwiml, out[0].Meta["twiml"])
}

// send performs one send on channel with the env's clients.
func (e *env) send(ctx context.Context, channel string) (providers.Accepted, error) {
	switch channel {
	case "email":
		return e.sg.SendEmail(ctx, testEmail())
	case "sms":
		return e.tw.SendSMS(ctx, providers.SMS{To: voter, From: county, Body: "Your ballot was received."})
	default:
		return e.tw.PlaceCall(ctx, providers.Call{To: voter, From: county, Twiml: testTwiml})
	}
}

func TestFaultClassification(t *testing.T) {
	tests := []struct {
		name       string
		fault      sandbox.Fault
		permanent  bool
		code       string
		status     int
		retryAfter time.Duration
		msg        string // substring of Message
	}{
		{"sms rate limited", sandbox.Fault{Channel: "sms", Kind: sandbox.RateLimited, Delay: 3 * time.Second},
			false, "20429", 429, 3 * time.Second, "rate limited"},
		{"voice rate limited", sandbox.Fault{Channel: "voice", Kind: sandbox.RateLimited},
			false, "20429", 429, time.Second, "rate limited"},
		{"email rate limited", sandbox.Fault{Channel: "email", Kind: sandbox.RateLimited, Delay: 2 * time.Second},
			false, "http_429", 429, 2 * time.Second, "rate limited"},
		{"sms 500", sandbox.Fault{Channel: "sms", Kind: sandbox.ServerError},
			false, "20500", 500, 0, "unavailable"},
		{"sms 503 with retry-after", sandbox.Fault{Channel: "sms", Kind: sandbox.ServerError, Code: 503, Delay: 5 * time.Second},
			false, "20503", 503, 5 * time.Second, "unavailable"},
		{"email 500", sandbox.Fault{Channel: "email", Kind: sandbox.ServerError},
			false, "http_500", 500, 0, "unavailable"},
		{"email 503", sandbox.Fault{Channel: "email", Kind: sandbox.ServerError, Code: 503},
			false, "http_503", 503, 0, "unavailable"},
		{"sms invalid number", sandbox.Fault{Channel: "sms", Kind: sandbox.Permanent, Code: 21211},
			true, "21211", 400, 0, "invalid 'To'"},
		{"sms unsubscribed", sandbox.Fault{Channel: "sms", Kind: sandbox.Permanent, Code: 21610},
			true, "21610", 400, 0, "unsubscribed"},
		{"sms unreachable", sandbox.Fault{Channel: "sms", Kind: sandbox.Permanent, Code: 21612},
			true, "21612", 400, 0, "cannot be reached"},
		{"sms not mobile", sandbox.Fault{Channel: "sms", Kind: sandbox.Permanent, Code: 21614},
			true, "21614", 400, 0, "not a mobile"},
		{"sms region", sandbox.Fault{Channel: "sms", Kind: sandbox.Permanent, Code: 21408},
			true, "21408", 400, 0, "region"},
		{"voice invalid number", sandbox.Fault{Channel: "voice", Kind: sandbox.Permanent},
			true, "21217", 400, 0, "not appear to be valid"},
		{"sms unknown 4xx code", sandbox.Fault{Channel: "sms", Kind: sandbox.Permanent, Code: 21999},
			true, "21999", 400, 0, "rejected"},
		{"email rejected", sandbox.Fault{Channel: "email", Kind: sandbox.Permanent},
			true, "http_400", 400, 0, "personalizations.0.to.0.email"},
		{"email too large", sandbox.Fault{Channel: "email", Kind: sandbox.Permanent, Code: 413},
			true, "http_413", 413, 0, "too large"},
		{"email forbidden", sandbox.Fault{Channel: "email", Kind: sandbox.Permanent, Code: 403},
			true, "http_403", 403, 0, "configuration"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, sandbox.Options{})
			tc.fault.To = map[string]string{"email": voterMail}[tc.fault.Channel]
			if tc.fault.To == "" {
				tc.fault.To = voter
			}
			tc.fault.Times = 1
			e.sb.InjectFault(tc.fault)

			_, err := e.send(context.Background(), tc.fault.Channel)
			pe := requireProviderError(t, err)
			require.Equal(t, wantProvider(tc.fault.Channel), pe.Provider)
			require.Equal(t, tc.permanent, pe.Permanent, pe.Error())
			require.Equal(t, tc.permanent, providers.IsPermanent(err))
			require.Equal(t, tc.code, pe.Code)
			require.Equal(t, tc.status, pe.HTTPStatus)
			// Retry-After is whole seconds; X-RateLimit-Reset is not
			// consulted when Retry-After is present.
			require.Equal(t, tc.retryAfter, pe.RetryAfter)
			require.Contains(t, pe.Message, tc.msg)
			requireNoPII(t, err)
			require.Empty(t, e.sb.Outbox(), "a rejected message must not be in the outbox")

			// Times: 1 was used up, so the retry goes through.
			acc, err := e.send(context.Background(), tc.fault.Channel)
			require.NoError(t, err)
			require.NotEmpty(t, acc.ProviderID)
			require.Len(t, e.sb.Outbox(), 1)
		})
	}
}

func wantProvider(channel string) string {
	if channel == "email" {
		return providers.ProviderSendGrid
	}
	return providers.ProviderTwilio
}

// Faults for other recipients or channels must not fire.
func TestFaultScoping(t *testing.T) {
	e := newEnv(t, sandbox.Options{})
	e.sb.InjectFault(sandbox.Fault{Channel: "sms", To: "+15005559999", Kind: sandbox.Permanent, Code: 21610})
	e.sb.InjectFault(sandbox.Fault{Channel: "voice", Kind: sandbox.ServerError})
	_, err := e.send(context.Background(), "sms")
	require.NoError(t, err)
	_, err = e.send(context.Background(), "email")
	require.NoError(t, err)
	_, err = e.send(context.Background(), "voice")
	require.False(t, requireProviderError(t, err).Permanent)

	// Times: 0 means until cleared.
	_, err = e.send(context.Background(), "voice")
	require.Error(t, err)
	e.sb.ClearFaults()
	_, err = e.send(context.Background(), "voice")
	require.NoError(t, err)
}

// DropAfterAccept is the "accepted but response lost" case: the provider
// took the message (it is in the outbox and will be delivered) but the
// client only sees a dropped connection. The client must classify it as
// transient, because it cannot know; a retry may therefore duplicate the
// message, which is what idempotency keys and webhook correlation are for.
func TestDropAfterAcceptIsTransientButAccepted(t *testing.T) {
	for _, channel := range []string{"email", "sms", "voice"} {
		t.Run(channel, func(t *testing.T) {
			e := newEnv(t, sandbox.Options{})
			e.sb.InjectFault(sandbox.Fault{Channel: channel, Kind: sandbox.DropAfterAccept, Times: 1})

			_, err := e.send(context.Background(), channel)
			pe := requireProviderError(t, err)
			require.False(t, pe.Permanent)
			require.Equal(t, "network_error", pe.Code)
			require.Zero(t, pe.HTTPStatus)
			requireNoPII(t, err)

			out := e.sb.Outbox()
			require.Len(t, out, 1, "the provider accepted the message although the client saw an error")
			require.Equal(t, channel, out[0].Channel)
		})
	}
}

func TestInvalidNumberFromSandboxValidation(t *testing.T) {
	e := newEnv(t, sandbox.Options{})
	_, err := e.tw.SendSMS(context.Background(), providers.SMS{To: "5551234", From: county, Body: "hi"})
	pe := requireProviderError(t, err)
	require.True(t, pe.Permanent)
	require.Equal(t, "21211", pe.Code)
	// The sandbox, like Twilio, quotes the number in its error message.
	requireNoPII(t, err)

	_, err = e.tw.PlaceCall(context.Background(), providers.Call{To: "5551234", From: county, Twiml: testTwiml})
	pe = requireProviderError(t, err)
	require.True(t, pe.Permanent)
	require.Equal(t, "21217", pe.Code)
	requireNoPII(t, err)

	m := testEmail()
	m.Subject = ""
	_, err = e.sg.SendEmail(context.Background(), m)
	pe = requireProviderError(t, err)
	require.True(t, pe.Permanent)
	require.Equal(t, "http_400", pe.Code)
	require.Contains(t, pe.Message, "subject")
	require.Empty(t, e.sb.Outbox())
}

func TestWrongCredentialsArePermanentConfigErrors(t *testing.T) {
	e := newEnv(t, sandbox.Options{})

	sg := providers.NewSendGrid(providers.SendGridConfig{APIKey: "SG.wrong", BaseURL: e.url})
	_, err := sg.SendEmail(context.Background(), testEmail())
	pe := requireProviderError(t, err)
	require.True(t, pe.Permanent)
	require.Equal(t, 401, pe.HTTPStatus)
	require.Contains(t, pe.Message, "configuration")

	tw := providers.NewTwilio(providers.TwilioConfig{AccountSID: accountSID, AuthToken: "wrongtoken0123456789", BaseURL: e.url})
	_, err = tw.SendSMS(context.Background(), providers.SMS{To: voter, From: county, Body: "hi"})
	pe = requireProviderError(t, err)
	require.True(t, pe.Permanent)
	require.Equal(t, 401, pe.HTTPStatus)
	require.Equal(t, "20003", pe.Code)
	require.Contains(t, pe.Message, "configuration")

	// twilio-go refuses non-alphanumeric credentials before sending anything.
	tw = providers.NewTwilio(providers.TwilioConfig{AccountSID: accountSID, AuthToken: "not-alphanumeric!", BaseURL: e.url})
	_, err = tw.PlaceCall(context.Background(), providers.Call{To: voter, From: county, Twiml: testTwiml})
	pe = requireProviderError(t, err)
	require.True(t, pe.Permanent)
	require.Zero(t, pe.HTTPStatus)
	require.Equal(t, "21224", pe.Code)
	require.Contains(t, pe.Message, "configuration")

	tw = providers.NewTwilio(providers.TwilioConfig{AccountSID: accountSID, AuthToken: authToken, BaseURL: "::not a url"})
	_, err = tw.SendSMS(context.Background(), providers.SMS{To: voter, From: county, Body: "hi"})
	require.True(t, requireProviderError(t, err).Permanent)

	require.Empty(t, e.sb.Outbox())
}

// Cancellation must reach the wire for both SDKs. twilio-go builds its
// requests with context.Background(), so this proves the transport wiring.
func TestTimeoutsAndCancellation(t *testing.T) {
	const latency = 5 * time.Second
	for _, channel := range []string{"email", "sms", "voice"} {
		t.Run(channel, func(t *testing.T) {
			e := newEnv(t, sandbox.Options{})
			e.sb.InjectFault(sandbox.Fault{Channel: channel, Kind: sandbox.Latency, Delay: latency})

			// Caller's deadline.
			ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			defer cancel()
			start := time.Now()
			_, err := e.send(ctx, channel)
			require.Less(t, time.Since(start), latency/2, "the request was not canceled")
			pe := requireProviderError(t, err)
			require.False(t, pe.Permanent)
			require.Equal(t, "timeout", pe.Code)
			require.ErrorIs(t, err, context.DeadlineExceeded)

			// Caller's cancellation.
			ctx, cancel = context.WithCancel(context.Background())
			time.AfterFunc(100*time.Millisecond, cancel)
			start = time.Now()
			_, err = e.send(ctx, channel)
			require.Less(t, time.Since(start), latency/2, "the request was not canceled")
			require.Equal(t, "canceled", requireProviderError(t, err).Code)
			require.ErrorIs(t, err, context.Canceled)

			// The client's own HTTPTimeout.
			short := &env{
				sg: providers.NewSendGrid(providers.SendGridConfig{APIKey: sendGridKey, BaseURL: e.url, HTTPTimeout: 200 * time.Millisecond}),
				tw: providers.NewTwilio(providers.TwilioConfig{AccountSID: accountSID, AuthToken: authToken, BaseURL: e.url, HTTPTimeout: 200 * time.Millisecond}),
			}
			start = time.Now()
			_, err = short.send(context.Background(), channel)
			require.Less(t, time.Since(start), latency/2, "HTTPTimeout was not applied")
			require.Equal(t, "timeout", requireProviderError(t, err).Code)
		})
	}
}

func TestConnectionRefusedIsTransient(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	base := srv.URL
	srv.Close() // nothing listens there any more

	_, err := providers.NewTwilio(providers.TwilioConfig{AccountSID: accountSID, AuthToken: authToken, BaseURL: base}).
		SendSMS(context.Background(), providers.SMS{To: voter, From: county, Body: "hi"})
	pe := requireProviderError(t, err)
	require.False(t, pe.Permanent)
	require.Equal(t, "network_error", pe.Code)
	require.NotContains(t, pe.Error(), accountSID, "the request URL must not leak into messages")

	_, err = providers.NewSendGrid(providers.SendGridConfig{APIKey: sendGridKey, BaseURL: base}).
		SendEmail(context.Background(), testEmail())
	pe = requireProviderError(t, err)
	require.False(t, pe.Permanent)
	require.Equal(t, "network_error", pe.Code)
}

// A gateway in front of the provider may answer with non-JSON bodies; the
// HTTP status must still drive the classification, and X-RateLimit-Reset is
// the fallback retry hint.
func TestNonJSONErrorBodies(t *testing.T) {
	var status int
	var header http.Header
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for k, v := range header {
			w.Header()[k] = v
		}
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, "<html>Bad Gateway</html>")
	}))
	defer srv.Close()
	tw := providers.NewTwilio(providers.TwilioConfig{AccountSID: accountSID, AuthToken: authToken, BaseURL: srv.URL})

	status, header = http.StatusBadGateway, nil
	_, err := tw.SendSMS(context.Background(), providers.SMS{To: voter, From: county, Body: "hi"})
	pe := requireProviderError(t, err)
	require.False(t, pe.Permanent)
	require.Equal(t, "http_502", pe.Code)
	require.Equal(t, 502, pe.HTTPStatus)

	reset := time.Now().Add(30 * time.Second).Unix()
	status, header = http.StatusTooManyRequests, http.Header{"X-Ratelimit-Reset": {jsonInt(reset)}}
	_, err = tw.SendSMS(context.Background(), providers.SMS{To: voter, From: county, Body: "hi"})
	pe = requireProviderError(t, err)
	require.False(t, pe.Permanent)
	require.Equal(t, "http_429", pe.Code)
	require.InDelta(t, 30*time.Second, pe.RetryAfter, float64(3*time.Second))

	status, header = http.StatusNotFound, nil
	_, err = tw.SendSMS(context.Background(), providers.SMS{To: voter, From: county, Body: "hi"})
	pe = requireProviderError(t, err)
	require.True(t, pe.Permanent)
	require.Equal(t, "http_404", pe.Code)
}

func jsonInt(n int64) string { b, _ := json.Marshal(n); return string(b) }

// collect waits until rcv got n requests and returns them.
func collect(t *testing.T, rcv *webhookReceiver, n int) []receivedRequest {
	t.Helper()
	require.Eventually(t, func() bool { return len(rcv.requests()) >= n }, 5*time.Second, 10*time.Millisecond)
	reqs := rcv.requests()
	require.Len(t, reqs, n)
	return reqs
}

// formParams decodes a form body into the map RequestValidator.Validate wants.
func formParams(t *testing.T, body []byte) map[string]string {
	t.Helper()
	vals, err := url.ParseQuery(string(body))
	require.NoError(t, err)
	params := map[string]string{}
	for k, v := range vals {
		require.Len(t, v, 1)
		params[k] = v[0]
	}
	return params
}

func TestTwilioStatusCallbacksAreSigned(t *testing.T) {
	rcv := newReceiver(t)
	e := newEnv(t, sandbox.Options{})
	validator := client.NewRequestValidator(authToken)

	smsCallback := rcv.URL + "/webhooks/twilio/sms-status?notification=n-1"
	acc, err := e.tw.SendSMS(context.Background(), providers.SMS{To: voter, From: county, Body: "hi", StatusCallback: smsCallback})
	require.NoError(t, err)

	var statuses []string
	for _, r := range collect(t, rcv, 2) {
		require.Equal(t, smsCallback, r.URL)
		require.Equal(t, "application/x-www-form-urlencoded", r.Header.Get("Content-Type"))
		params := formParams(t, r.Body)
		sig := r.Header.Get("X-Twilio-Signature")
		require.True(t, validator.Validate(r.URL, params, sig), "signature must validate")
		require.True(t, validator.ValidateBody(r.URL, r.Body, sig))

		require.Equal(t, acc.ProviderID, params["MessageSid"])
		require.Equal(t, accountSID, params["AccountSid"])
		require.Equal(t, voter, params["To"])
		require.Equal(t, county, params["From"])
		statuses = append(statuses, params["MessageStatus"])

		// The check can fail: a tampered parameter, URL or token must not validate.
		params["MessageStatus"] = "failed"
		require.False(t, validator.Validate(r.URL, params, sig))
		params["MessageStatus"] = statuses[len(statuses)-1]
		require.False(t, validator.Validate(r.URL+"&x=1", params, sig))
		other := client.NewRequestValidator("anothertoken")
		require.False(t, other.Validate(r.URL, params, sig))
	}
	require.Equal(t, []string{"sent", "delivered"}, statuses)
}

func TestTwilioCallStatusCallbacks(t *testing.T) {
	rcv := newReceiver(t)
	e := newEnv(t, sandbox.Options{})
	validator := client.NewRequestValidator(authToken)

	acc, err := e.tw.PlaceCall(context.Background(), providers.Call{To: voter, From: county, Twiml: testTwiml, StatusCallback: rcv.URL + "/call-status"})
	require.NoError(t, err)

	var statuses []string
	for _, r := range collect(t, rcv, 4) {
		params := formParams(t, r.Body)
		require.True(t, validator.Validate(r.URL, params, r.Header.Get("X-Twilio-Signature")))
		require.Equal(t, acc.ProviderID, params["CallSid"])
		statuses = append(statuses, params["CallStatus"])
	}
	require.Equal(t, []string{"initiated", "ringing", "in-progress", "completed"}, statuses)
}

func TestSendGridEventsAreSigned(t *testing.T) {
	rcv := newReceiver(t)
	e := newEnv(t, sandbox.Options{SendGridEventWebhookURL: rcv.URL + "/webhooks/sendgrid"})
	pub, err := eventwebhook.ConvertPublicKeyBase64ToECDSA(e.sb.SendGridPublicKeyBase64())
	require.NoError(t, err)

	acc, err := e.sg.SendEmail(context.Background(), testEmail())
	require.NoError(t, err)

	r := collect(t, rcv, 1)[0]
	sig := r.Header.Get(eventwebhook.VerificationHTTPHeader)
	ts := r.Header.Get(eventwebhook.TimestampHTTPHeader)
	require.NotEmpty(t, sig)
	require.Regexp(t, regexp.MustCompile(`^\d+$`), ts)

	ok, err := eventwebhook.VerifySignature(pub, r.Body, sig, ts)
	require.NoError(t, err)
	require.True(t, ok, "signature must verify over the raw body")

	// The check can fail: a different body or timestamp must not verify.
	ok, err = eventwebhook.VerifySignature(pub, []byte(strings.Replace(string(r.Body), "delivered", "bounce", 1)), sig, ts)
	require.NoError(t, err)
	require.False(t, ok)
	ok, err = eventwebhook.VerifySignature(pub, r.Body, sig, ts+"1")
	require.NoError(t, err)
	require.False(t, ok)

	var events []map[string]any
	require.NoError(t, json.Unmarshal(r.Body, &events))
	require.Len(t, events, 2)
	for i, want := range []string{"processed", "delivered"} {
		ev := events[i]
		require.Equal(t, want, ev["event"])
		require.Equal(t, voterMail, ev["email"])
		require.Equal(t, "notif-123", ev["idempotency_key"], "custom_args are merged into events")
		require.True(t, strings.HasPrefix(ev["sg_message_id"].(string), acc.ProviderID+"."), "sg_message_id is prefixed by X-Message-Id")
		require.IsType(t, float64(0), ev["timestamp"])
	}
}

func TestConcurrentSends(t *testing.T) {
	rcv := newReceiver(t)
	e := newEnv(t, sandbox.Options{SendGridEventWebhookURL: rcv.URL})
	const n = 10
	var wg sync.WaitGroup
	errs := make(chan error, 3*n)
	for range n {
		wg.Add(3)
		go func() { defer wg.Done(); _, err := e.send(context.Background(), "email"); errs <- err }()
		go func() { defer wg.Done(); _, err := e.send(context.Background(), "sms"); errs <- err }()
		go func() { defer wg.Done(); _, err := e.send(context.Background(), "voice"); errs <- err }()
		_ = e.sb.Outbox()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.Len(t, e.sb.Outbox(), 3*n)
	collect(t, rcv, n)
}

// errors.As must not expose provider texts through Unwrap.
func TestErrorDoesNotWrapProviderText(t *testing.T) {
	e := newEnv(t, sandbox.Options{})
	e.sb.InjectFault(sandbox.Fault{Channel: "sms", Kind: sandbox.Permanent, Code: 21211})
	_, err := e.send(context.Background(), "sms")
	require.Error(t, err)
	for u := err; u != nil; u = errors.Unwrap(u) {
		requireNoPII(t, u)
	}
}
