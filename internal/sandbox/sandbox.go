// Package sandbox is a look-alike of the SendGrid and Twilio HTTP APIs for
// development and tests.
//
// It answers the requests the real SDKs (sendgrid-go, twilio-go) make, with
// the same authentication, status codes, headers and JSON shapes, records
// every accepted message in an outbox, and then behaves like the providers do
// afterwards: it POSTs signed SendGrid event webhooks and signed Twilio status
// callbacks. Faults (latency, rate limiting, 5xx, hard rejections, and a
// response lost after acceptance) can be injected per channel and recipient.
//
// The sandbox never logs phone numbers, email addresses or message bodies,
// even though in practice it only ever sees fake ones: the logs of a dev
// environment end up in the same places as production logs.
package sandbox

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Options configures a Server.
type Options struct {
	// TwilioAccountSID and TwilioAuthToken are the credentials Twilio API
	// requests must carry as Basic auth; callbacks are signed with the token.
	TwilioAccountSID, TwilioAuthToken string
	// SendGridAPIKey is the key SendGrid API requests must carry as Bearer.
	SendGridAPIKey string
	// SendGridEventWebhookURL is where signed SendGrid events (processed,
	// delivered) are POSTed; empty disables them.
	SendGridEventWebhookURL string
	// SendGridSigningKey signs the SendGrid events (ECDSA P-256, as SendGrid's
	// own); nil: a fresh key for this Server, whose public half only
	// SendGridPublicKeyBase64 tells. A fixed key lets a verifier in another
	// process be configured before the sandbox starts (`ballotflow sandbox`).
	SendGridSigningKey *ecdsa.PrivateKey
	// TwilioInboundSMSURL is where InboundSMS posts Twilio-signed inbound SMS
	// webhooks; empty disables InboundSMS.
	TwilioInboundSMSURL string
	// RateLimits are the requests per second each channel (ballot.ChannelEmail, ...) accepts,
	// like a provider account's limit; above it the sandbox answers 429 with Retry-After, as
	// the providers do, so a worker that sends too fast shows up. Missing or 0: no limit.
	RateLimits map[string]float64
	// CallbackTimeout bounds each attempt to deliver a callback or an inbound SMS webhook;
	// default 5 s.
	CallbackTimeout time.Duration
	// Clock stamps outbox messages, API responses and callbacks; default time.Now.
	Clock func() time.Time
	// Logger receives operational logs without PII; default discards.
	Logger *slog.Logger
}

// Message is one message accepted by the sandbox, as shown in the outbox.
type Message struct {
	Channel    string            `json:"channel"`     // ballot.ChannelEmail, ChannelSMS or ChannelVoice
	ProviderID string            `json:"provider_id"` // SendGrid X-Message-Id, Twilio SM.../CA... sid
	From       string            `json:"from"`
	To         string            `json:"to"`
	Subject    string            `json:"subject,omitempty"`
	Text       string            `json:"text"`           // email plain text, SMS body, or the spoken text of the TwiML <Say> elements
	Meta       map[string]string `json:"meta,omitempty"` // custom args, status_callback, html, twiml, ...
	// Headers are an email's custom headers (List-Unsubscribe, ...), as SendGrid adds them.
	Headers map[string]string `json:"headers,omitempty"`
	// MIME is an email as SendGrid would deliver it to the inbox: an RFC 5322 message with
	// its headers (From, To, Reply-To, Subject, the custom ones) and a multipart/alternative
	// body of the text/plain and text/html parts. Tests read it with net/mail.
	MIME       string    `json:"mime,omitempty"`
	ReceivedAt time.Time `json:"received_at"`
}

// Server is a sandbox instance. It is safe for concurrent use.
type Server struct {
	opts  Options
	clock func() time.Time
	log   *slog.Logger

	signingKey   *ecdsa.PrivateKey // SendGrid event webhook signing key (P-256)
	publicKeyB64 string            // base64 PKIX DER of its public key, as SendGrid shows it

	handler  http.Handler
	cb       *callbacks
	limiters map[string]*rate.Limiter // per channel, from Options.RateLimits
	limited  map[string]int           // refusals by the rate limits, per channel, never reset

	mu       sync.Mutex
	outbox   []Message
	faults   []*Fault   // Times counts down on use; exhausted faults are removed
	requests []*Request // the request log, oldest first
}

// New returns a Server. Unless Options.SendGridSigningKey is set, it generates
// a fresh ECDSA P-256 key for signing SendGrid events; configure verifiers with
// SendGridPublicKeyBase64.
func New(opts Options) (*Server, error) {
	if opts.TwilioAccountSID == "" || opts.TwilioAuthToken == "" || opts.SendGridAPIKey == "" {
		return nil, errors.New("sandbox: TwilioAccountSID, TwilioAuthToken and SendGridAPIKey are required")
	}
	for name, u := range map[string]string{
		"SendGridEventWebhookURL": opts.SendGridEventWebhookURL,
		"TwilioInboundSMSURL":     opts.TwilioInboundSMSURL,
	} {
		if u == "" {
			continue
		}
		if p, err := url.Parse(u); err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
			return nil, fmt.Errorf("sandbox: %s must be an absolute http(s) URL", name)
		}
	}
	key := opts.SendGridSigningKey
	if key == nil {
		var err error
		if key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
			return nil, fmt.Errorf("sandbox: generating SendGrid signing key: %w", err)
		}
	} else if key.Curve != elliptic.P256() {
		return nil, errors.New("sandbox: SendGridSigningKey must be a P-256 key, as SendGrid's")
	}
	der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("sandbox: encoding SendGrid public key: %w", err)
	}

	s := &Server{
		opts:         opts,
		clock:        opts.Clock,
		log:          opts.Logger,
		signingKey:   key,
		publicKeyB64: base64.StdEncoding.EncodeToString(der),
		limiters:     newLimiters(opts.RateLimits),
	}
	if s.clock == nil {
		s.clock = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.opts.CallbackTimeout <= 0 {
		s.opts.CallbackTimeout = defaultCallbackAttemptTimeout
	}
	s.cb = newCallbacks(s.log, s.opts.CallbackTimeout)

	mux := http.NewServeMux()
	mux.HandleFunc("POST /v3/mail/send", s.handleMailSend)
	mux.HandleFunc("POST /2010-04-01/Accounts/{sid}/Messages.json", s.handleCreateMessage)
	mux.HandleFunc("POST /2010-04-01/Accounts/{sid}/Calls.json", s.handleCreateCall)
	mux.Handle("/dev/outbox", s.OutboxHandler())
	mux.HandleFunc("POST /dev/sms/inbound", s.handleDevInbound)
	mux.HandleFunc("GET /dev/faults", s.handleListFaults)
	mux.HandleFunc("POST /dev/faults", s.handleAddFaults)
	mux.HandleFunc("DELETE /dev/faults", func(w http.ResponseWriter, _ *http.Request) {
		s.ClearFaults()
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("GET /dev/rate-limited", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(s.RateLimited())
	})
	mux.HandleFunc("GET /dev/sendgrid/public-key", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, s.publicKeyB64)
	})
	s.handler = mux
	return s, nil
}

// Handler returns the provider APIs (/v3/mail/send, /2010-04-01/...) and the
// /dev/* endpoints:
//
//	GET    /dev/outbox               outbox as JSON, newest last (?channel=, ?to= filter)
//	DELETE /dev/outbox               clear the outbox
//	POST   /dev/sms/inbound          {"from","to","body"}: InboundSMS
//	GET    /dev/faults               active faults
//	POST   /dev/faults               JSON list of Fault to add
//	DELETE /dev/faults               clear faults
//	GET    /dev/rate-limited         requests refused by Options.RateLimits since start, by channel
//	GET    /dev/sendgrid/public-key  the event webhook verification key
//
// The /dev/* endpoints are unauthenticated by design: serve this handler in
// dev and tests only.
func (s *Server) Handler() http.Handler { return s.handler }

// OutboxHandler serves the outbox independent of its mount path: GET returns
// it as JSON (newest last; optional ?channel= and ?to= filters), DELETE
// clears it. The API server mounts it at /dev/outbox in dev mode.
func (s *Server) OutboxHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodGet, http.MethodHead:
			channel, to := r.URL.Query().Get("channel"), r.URL.Query().Get("to")
			out := slices.DeleteFunc(s.Outbox(), func(m Message) bool {
				return (channel != "" && m.Channel != channel) || (to != "" && m.To != to)
			})
			writeJSON(w, http.StatusOK, out)
		case http.MethodDelete:
			s.ResetOutbox()
			w.WriteHeader(http.StatusNoContent)
		default:
			w.Header().Set("Allow", "GET, HEAD, DELETE")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		}
	})
}

// SendGridPublicKeyBase64 returns the base64 PKIX public key that verifies
// the event webhook signatures, in the format SendGrid's settings page shows
// and eventwebhook.ConvertPublicKeyBase64ToECDSA expects.
func (s *Server) SendGridPublicKeyBase64() string { return s.publicKeyB64 }

// Outbox returns a copy of all accepted messages, oldest first.
func (s *Server) Outbox() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Message, len(s.outbox))
	for i, m := range s.outbox {
		m.Meta = maps.Clone(m.Meta)
		out[i] = m
	}
	return out
}

// ResetOutbox forgets all accepted messages.
func (s *Server) ResetOutbox() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.outbox = nil
}

// record appends accepted messages to the outbox and logs them without PII.
func (s *Server) record(msgs ...Message) {
	s.mu.Lock()
	s.outbox = append(s.outbox, msgs...)
	s.mu.Unlock()
	for _, m := range msgs {
		s.log.Info("sandbox: message accepted", "channel", m.Channel, "provider_id", m.ProviderID)
	}
}

// Close stops delivering callbacks (pending retries are abandoned) and waits
// for in-flight callback goroutines. The API keeps answering afterwards but
// schedules no more callbacks. Close is idempotent.
func (s *Server) Close() { s.cb.close() }

// handleDevInbound is POST /dev/sms/inbound: the demo's "reply YES from this
// number" button.
func (s *Server) handleDevInbound(w http.ResponseWriter, r *http.Request) {
	var in struct {
		From string `json:"from"`
		To   string `json:"to"`
		Body string `json:"body"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16)).Decode(&in); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid JSON body"})
		return
	}
	if in.From == "" || in.To == "" {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "from and to are required"})
		return
	}
	if err := s.InboundSMS(r.Context(), in.From, in.To, in.Body); err != nil {
		status := http.StatusBadGateway
		if errors.Is(err, ErrNoInboundURL) {
			status = http.StatusConflict
		}
		writeJSON(w, status, map[string]string{"error": err.Error()})
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) handleListFaults(w http.ResponseWriter, _ *http.Request) {
	s.mu.Lock()
	out := make([]Fault, len(s.faults))
	for i, f := range s.faults {
		out[i] = *f
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) handleAddFaults(w http.ResponseWriter, r *http.Request) {
	var fs []Fault
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16)).Decode(&fs); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "body must be a JSON list of faults: " + err.Error()})
		return
	}
	for i, f := range fs {
		if err := f.validate(); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": fmt.Sprintf("fault %d: %v", i, err)})
			return
		}
	}
	for _, f := range fs {
		s.InjectFault(f)
	}
	w.WriteHeader(http.StatusNoContent)
}

// writeJSON writes v as a JSON response.
func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		http.Error(w, "encoding response", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// randomHex returns n random bytes as lowercase hex.
func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return fmt.Sprintf("%x", b)
}

// randomToken returns n random bytes as unpadded base64url, the shape of
// SendGrid message and event ids.
func randomToken(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
