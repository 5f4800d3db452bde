package providers

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/twilio/twilio-go/client"
	twilioapi "github.com/twilio/twilio-go/rest/api/v2010"
)

// SMS is one text message to one recipient.
type SMS struct {
	To, From, Body string
	StatusCallback string // optional URL for Twilio message status callbacks
}

// Call is one outbound voice call.
type Call struct {
	To, From       string
	Twiml          string // inline TwiML, e.g. <Response><Say>...</Say></Response>
	StatusCallback string // optional URL for Twilio call status callbacks
}

// TwilioConfig configures Twilio.
type TwilioConfig struct {
	AccountSID, AuthToken string
	// BaseURL is empty for the real Twilio API. Otherwise (e.g.
	// http://127.0.0.1:8026) every request the SDK builds for
	// https://api.twilio.com is rewritten to this scheme, host and path prefix.
	BaseURL     string
	HTTPTimeout time.Duration // per request; default DefaultHTTPTimeout
}

// Twilio sends SMS and places calls through twilio-go's 2010-04-01 API. It
// is safe for concurrent use.
//
// twilio-go (v1.31) has no context-aware API: client.Client.SendRequest builds
// every request with context.Background(), and on a non-2xx answer it returns
// a *client.TwilioRestError decoded from the body without the response
// headers. Twilio therefore builds a tiny SDK client per call whose
// http.Client uses a callTransport: it re-attaches the caller's context (so
// cancellation and deadlines work), rewrites the URL to BaseURL, and keeps the
// status and headers of the response for classification (Retry-After). The
// underlying *http.Transport, and with it the connection pool, is shared.
type Twilio struct {
	sid, token string
	target     *url.URL // nil: talk to the URLs the SDK builds
	configErr  *Error   // set when BaseURL is unusable; returned by every call
	timeout    time.Duration
	transport  http.RoundTripper
	now        func() time.Time
}

// NewTwilio returns a Twilio client. It does no I/O. An unparsable BaseURL is
// reported, as a permanent *Error, by every send.
func NewTwilio(cfg TwilioConfig) *Twilio {
	t := &Twilio{
		sid:       cfg.AccountSID,
		token:     cfg.AuthToken,
		timeout:   cfg.HTTPTimeout,
		transport: newTransport(),
		now:       time.Now,
	}
	if t.timeout <= 0 {
		t.timeout = DefaultHTTPTimeout
	}
	if cfg.BaseURL != "" {
		u, err := url.Parse(strings.TrimRight(cfg.BaseURL, "/"))
		if err != nil || u.Scheme == "" || u.Host == "" {
			t.configErr = &Error{Provider: ProviderTwilio, Permanent: true, Config: true, Code: "config",
				Message: "invalid Twilio BaseURL: configuration problem"}
		} else {
			t.target = u
		}
	}
	return t
}

// SendSMS submits one SMS and returns its SM... sid. Every failure is an *Error.
func (t *Twilio) SendSMS(ctx context.Context, m SMS) (Accepted, error) {
	params := &twilioapi.CreateMessageParams{}
	params.SetTo(m.To).SetFrom(m.From).SetBody(m.Body)
	if m.StatusCallback != "" {
		params.SetStatusCallback(m.StatusCallback)
	}
	return t.do(ctx, func(api *twilioapi.ApiService) (string, error) {
		msg, err := api.CreateMessage(params)
		if err != nil || msg.Sid == nil {
			return "", err
		}
		return *msg.Sid, nil
	})
}

// PlaceCall starts one outbound call with inline TwiML and returns its CA...
// sid. Every failure is an *Error.
func (t *Twilio) PlaceCall(ctx context.Context, c Call) (Accepted, error) {
	params := &twilioapi.CreateCallParams{}
	params.SetTo(c.To).SetFrom(c.From).SetTwiml(c.Twiml)
	if c.StatusCallback != "" {
		params.SetStatusCallback(c.StatusCallback)
	}
	return t.do(ctx, func(api *twilioapi.ApiService) (string, error) {
		call, err := api.CreateCall(params)
		if err != nil || call.Sid == nil {
			return "", err
		}
		return *call.Sid, nil
	})
}

// do runs one SDK call with a per-call client (see Twilio) and classifies
// its outcome.
func (t *Twilio) do(ctx context.Context, fn func(*twilioapi.ApiService) (string, error)) (Accepted, error) {
	if t.configErr != nil {
		return Accepted{}, t.configErr
	}
	ctx, cancel := context.WithTimeout(ctx, t.timeout)
	defer cancel()

	rt := &callTransport{ctx: ctx, base: t.transport, target: t.target}
	c := &client.Client{
		Credentials: client.NewCredentials(t.sid, t.token),
		HTTPClient: &http.Client{
			Transport: rt,
			// Same policy as the SDK's default client: never follow redirects.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}
	c.SetAccountSid(t.sid)

	sid, err := fn(twilioapi.NewApiServiceWithClient(c))
	if err == nil && sid != "" {
		return Accepted{ProviderID: sid}, nil
	}
	return Accepted{}, t.classify(err, rt.status, rt.header)
}

// callTransport is the http.RoundTripper of a single SDK call. It is not
// shared between calls, so its fields need no locking: the SDK issues its
// requests sequentially and reads the result only after they return.
type callTransport struct {
	ctx    context.Context
	base   http.RoundTripper
	target *url.URL

	status int         // status of the last response received; 0 if none
	header http.Header // headers of the last response received
}

// RoundTrip sends req with the call's context and, in sandbox mode, with the
// scheme and host (plus any path prefix) of the target.
func (rt *callTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	out := req.Clone(rt.ctx)
	if rt.target != nil {
		out.URL.Scheme = rt.target.Scheme
		out.URL.Host = rt.target.Host
		if p := rt.target.Path; p != "" {
			out.URL.Path = p + out.URL.Path
			out.URL.RawPath = ""
		}
		out.Host = "" // derive the Host header from the rewritten URL
	}
	resp, err := rt.base.RoundTrip(out)
	if err == nil {
		rt.status, rt.header = resp.StatusCode, resp.Header.Clone()
	}
	return resp, err
}

// twilioCodeMessages are safe descriptions of the Twilio error codes the
// workflows care about. Twilio's own messages are not used: they can quote
// the phone number.
var twilioCodeMessages = map[int]string{
	20003: "authentication failed: configuration problem",
	20404: "resource not found: check the account SID",
	21211: "invalid 'To' phone number",
	21217: "phone number does not appear to be valid",
	21408: "sending to this region is not enabled",
	21610: "recipient has unsubscribed (replied STOP)",
	21612: "'To' number cannot be reached from this 'From' number",
	21614: "'To' number is not a mobile number",
	21602: "message body is required",
	21603: "'From' number is required",
	21604: "'To' number is required",
	21606: "'From' number cannot send SMS: configuration problem",
	21222: "account SID contains illegal characters: configuration problem",
	21224: "auth token contains illegal characters: configuration problem",
}

// twilioConfigCodes are refusals caused by ballotflow's account or sender settings rather
// than by the recipient's number.
var twilioConfigCodes = map[int]bool{20003: true, 20404: true, 21408: true, 21603: true, 21606: true, 21222: true, 21224: true}

// twilioUnsubscribed is Twilio's refusal to text a number that replied STOP to the sender.
const twilioUnsubscribed = 21610

// classify turns the outcome of one SDK call into an *Error. status and
// header describe the last HTTP response, if any; err is whatever the SDK
// returned (a *client.TwilioRestError for error bodies it could decode).
func (t *Twilio) classify(err error, status int, header http.Header) *Error {
	var restErr *client.TwilioRestError
	errors.As(err, &restErr)

	if status == 0 {
		if restErr != nil {
			// twilio-go validates credentials locally (alphanumeric only) and
			// reports it as a TwilioRestError with Status 400 but no request.
			return &Error{Provider: ProviderTwilio, Permanent: true, Config: true, Code: strconv.Itoa(restErr.Code),
				HTTPStatus: 0, Message: twilioMessage(restErr.Code, "invalid credentials: configuration problem")}
		}
		if err == nil {
			err = errors.New("no response")
		}
		return transportError(ProviderTwilio, err)
	}

	e := &Error{Provider: ProviderTwilio, HTTPStatus: status, Code: httpCode(status)}
	// TwilioRestError.Status comes from the JSON body, not from HTTP, and is
	// 0 when the body lacks it; the HTTP status captured above is the truth.
	// Bodies that are not Twilio JSON (a proxy's HTML 502) make the SDK return
	// a wrapped decode error instead, so the code may be missing.
	if restErr != nil && restErr.Code != 0 {
		e.Code = strconv.Itoa(restErr.Code)
	}
	switch {
	case status >= 200 && status < 300:
		// A success status whose body could not be read or decoded: the
		// message may well have been accepted. Transient, like a lost response.
		e.Code = "bad_response"
		e.Message = "success response could not be read; the provider may have accepted the message"
	case status >= 300 && status < 400:
		e.Permanent, e.Config = true, true
		e.Message = "unexpected redirect: configuration problem (check BaseURL)"
	case isTransientStatus(status):
		e.markTransient(status, header, t.now())
	case isAuthStatus(status):
		e.Permanent, e.Config = true, true
		e.Message = "credentials rejected: configuration problem"
	default:
		e.Permanent = true
		code := 0
		if restErr != nil {
			code = restErr.Code
		}
		e.Message = twilioMessage(code, "request rejected")
		e.Config = twilioConfigCodes[code]
		e.Unsubscribed = code == twilioUnsubscribed
	}
	return e
}

func twilioMessage(code int, fallback string) string {
	if msg, ok := twilioCodeMessages[code]; ok {
		return msg
	}
	return fallback
}

// newTransport returns a private copy of http.DefaultTransport (same proxy,
// dial and TLS settings, own connection pool), or DefaultTransport itself if
// something replaced it with another RoundTripper type.
func newTransport() http.RoundTripper {
	if t, ok := http.DefaultTransport.(*http.Transport); ok {
		return t.Clone()
	}
	return http.DefaultTransport
}
