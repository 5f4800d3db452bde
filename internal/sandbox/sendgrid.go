package sandbox

import (
	"bytes"
	"cmp"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/mail"
	"strconv"
	"strings"

	"github.com/ballotflow/ballotflow/internal/ballot"
)

// SendGrid's limit for a v3 mail/send request body.
const sendGridMaxBody = 30 << 20

// sendGridError is one entry of SendGrid's {"errors":[...]} error body.
type sendGridError struct {
	Message string  `json:"message"`
	Field   *string `json:"field"`
	Help    *string `json:"help"`
}

func writeSendGridErrors(w http.ResponseWriter, status int, errs ...sendGridError) {
	writeJSON(w, status, map[string]any{"errors": errs})
}

func field(name string) *string { return &name }

type sgAddress struct {
	Email string `json:"email"`
	Name  string `json:"name,omitempty"`
}

type sgPersonalization struct {
	To         []sgAddress       `json:"to"`
	Subject    string            `json:"subject"`
	CustomArgs map[string]string `json:"custom_args"`
	Headers    map[string]string `json:"headers"`
}

type sgContent struct {
	Type  string `json:"type"`
	Value string `json:"value"`
}

// sgMail is the part of the v3 mail/send body the sandbox understands.
type sgMail struct {
	Personalizations []sgPersonalization `json:"personalizations"`
	From             *sgAddress          `json:"from"`
	ReplyTo          *sgAddress          `json:"reply_to"`
	Subject          string              `json:"subject"`
	Content          []sgContent         `json:"content"`
	CustomArgs       map[string]string   `json:"custom_args"`
	Headers          map[string]string   `json:"headers"`
	TrackingSettings json.RawMessage     `json:"tracking_settings"`
}

func validEmail(addr string) bool {
	a, err := mail.ParseAddress(addr)
	return err == nil && a.Address == addr
}

// validate mirrors SendGrid's 400 answers for the mistakes that matter.
func (m *sgMail) validate() []sendGridError {
	var errs []sendGridError
	if m.From == nil || !validEmail(m.From.Email) {
		errs = append(errs, sendGridError{Field: field("from.email"),
			Message: "The from object must be provided for every email send. It is an object that requires the email parameter, but may also contain a name parameter."})
	}
	if len(m.Personalizations) == 0 {
		errs = append(errs, sendGridError{Field: field("personalizations"),
			Message: "The personalizations field is required and must have at least one personalization."})
	}
	subjectMissing := false
	for i, p := range m.Personalizations {
		if len(p.To) == 0 {
			errs = append(errs, sendGridError{Field: field(fmt.Sprintf("personalizations.%d.to", i)),
				Message: "The to array is required for all personalization objects, and must have at least one email object with a valid email address."})
		}
		for j, to := range p.To {
			if !validEmail(to.Email) {
				errs = append(errs, sendGridError{Field: field(fmt.Sprintf("personalizations.%d.to.%d.email", i, j)),
					Message: "Does not contain a valid address."})
			}
		}
		if m.Subject == "" && p.Subject == "" {
			subjectMissing = true
		}
	}
	if subjectMissing {
		errs = append(errs, sendGridError{Field: field("subject"),
			Message: "The subject is required. You can get around this requirement if you use a template with a subject defined or if every personalization has a subject defined."})
	}
	if len(m.Content) == 0 {
		errs = append(errs, sendGridError{Field: field("content"),
			Message: "Unless a valid template_id is provided, the content parameter is required. There must be at least one defined content block."})
	}
	errs = append(errs, validateHeaders("headers", m.Headers)...)
	for i, p := range m.Personalizations {
		errs = append(errs, validateHeaders(fmt.Sprintf("personalizations.%d.headers", i), p.Headers)...)
	}
	for i, c := range m.Content {
		if c.Value == "" {
			errs = append(errs, sendGridError{Field: field(fmt.Sprintf("content.%d.value", i)),
				Message: "The content value must be a string at least one character in length."})
		}
		if i > 0 && c.Type == "text/plain" {
			errs = append(errs, sendGridError{Field: field("content.0.type"),
				Message: "If present, text/plain content must be first, followed by text/html, followed by any other content."})
		}
	}
	return errs
}

// handleMailSend is POST /v3/mail/send.
func (s *Server) handleMailSend(w http.ResponseWriter, r *http.Request) {
	const prefix = "Bearer "
	auth := r.Header.Get("Authorization")
	if !strings.HasPrefix(auth, prefix) ||
		subtle.ConstantTimeCompare([]byte(auth[len(prefix):]), []byte(s.opts.SendGridAPIKey)) != 1 {
		writeSendGridErrors(w, http.StatusUnauthorized, sendGridError{
			Message: "The provided authorization grant is invalid, expired, or revoked"})
		return
	}

	var m sgMail
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, sendGridMaxBody)).Decode(&m); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeSendGridErrors(w, http.StatusRequestEntityTooLarge, sendGridError{Message: "Payload Too Large"})
			return
		}
		writeSendGridErrors(w, http.StatusBadRequest, sendGridError{Message: "Bad Request"})
		return
	}
	if errs := m.validate(); len(errs) > 0 {
		writeSendGridErrors(w, http.StatusBadRequest, errs...)
		return
	}

	var recipients []string
	for _, p := range m.Personalizations {
		for _, to := range p.To {
			recipients = append(recipients, to.Email)
		}
	}
	w, delay, fault := s.admit(w, ballot.ChannelEmail, recipients)
	if !sleepCtx(r.Context(), delay) {
		return
	}
	if fault != nil && s.sendGridFault(w, fault) {
		return
	}

	messageID := randomToken(16) // 22 characters, like SendGrid's X-Message-Id
	msgs, events := s.acceptMail(&m, messageID)
	s.record(msgs...)
	s.enqueueSendGridEvents(events)

	if fault != nil && fault.Kind == DropAfterAccept {
		dropConnection(w)
		return
	}
	w.Header().Set("X-Message-Id", messageID)
	w.WriteHeader(http.StatusAccepted)
}

// sendGridFault answers a request according to f and reports whether it did;
// DropAfterAccept is handled by the caller after the message is recorded.
func (s *Server) sendGridFault(w http.ResponseWriter, f *Fault) bool {
	switch f.Kind {
	case RateLimited:
		s.setRateLimitHeaders(w.Header(), f.Delay)
		writeSendGridErrors(w, http.StatusTooManyRequests, sendGridError{Message: "too many requests"})
	case ServerError:
		status := cmp.Or(f.Code, http.StatusInternalServerError)
		if f.Delay > 0 {
			w.Header().Set("Retry-After", strconv.FormatInt(retryAfterSeconds(f.Delay), 10))
		}
		writeSendGridErrors(w, status, sendGridError{Message: http.StatusText(status)})
	case Permanent:
		status := http.StatusBadRequest
		if f.Code >= 400 && f.Code < 500 && f.Code != http.StatusTooManyRequests {
			status = f.Code
		}
		switch status {
		case http.StatusUnauthorized, http.StatusForbidden:
			writeSendGridErrors(w, status, sendGridError{Message: "access forbidden"})
		case http.StatusRequestEntityTooLarge:
			writeSendGridErrors(w, status, sendGridError{Message: "Payload Too Large"})
		default:
			writeSendGridErrors(w, status, sendGridError{Field: field("personalizations.0.to.0.email"),
				Message: "Does not contain a valid address."})
		}
	default:
		return false
	}
	return true
}

// acceptMail turns an accepted request into one outbox message per
// recipient and the matching webhook events.
func (s *Server) acceptMail(m *sgMail, messageID string) ([]Message, []map[string]any) {
	now := s.clock()
	var text, html string
	for _, c := range m.Content {
		switch c.Type {
		case "text/plain":
			text = c.Value
		case "text/html":
			html = c.Value
		}
	}
	var (
		msgs   []Message
		events []map[string]any
	)
	n := 0
	for _, p := range m.Personalizations {
		subject := cmp.Or(p.Subject, m.Subject)
		// Personalization custom args override message-level ones, as in SendGrid.
		args := map[string]string{}
		for k, v := range m.CustomArgs {
			args[k] = v
		}
		for k, v := range p.CustomArgs {
			args[k] = v
		}
		for _, to := range p.To {
			// SendGrid's per-recipient sg_message_id starts with X-Message-Id
			// followed by a dot; webhook consumers must correlate on the prefix.
			sgMessageID := fmt.Sprintf("%s.sandbox-%d.0", messageID, n)
			n++
			meta := map[string]string{"sg_message_id": sgMessageID}
			for k, v := range args {
				meta[k] = v
			}
			if html != "" {
				meta["html"] = html
			}
			if to.Name != "" {
				meta["to_name"] = to.Name
			}
			if m.From.Name != "" {
				meta["from_name"] = m.From.Name
			}
			if m.ReplyTo != nil && m.ReplyTo.Email != "" {
				meta["reply_to"] = m.ReplyTo.Email
			}
			if len(m.TrackingSettings) > 0 {
				meta["tracking_settings"] = string(m.TrackingSettings)
			}
			headers := mergeHeaders(m.Headers, p.Headers)
			msgs = append(msgs, Message{
				Channel: ballot.ChannelEmail, ProviderID: messageID,
				From: m.From.Email, To: to.Email, Subject: subject, Text: text,
				Meta: meta, Headers: headers, ReceivedAt: now,
				MIME: deliveredMail(m, to, subject, text, html, headers, sgMessageID, now),
			})
			for _, ev := range []string{"processed", "delivered"} {
				e := map[string]any{
					"email":         to.Email,
					"timestamp":     now.Unix(),
					"event":         ev,
					"sg_event_id":   randomToken(16),
					"sg_message_id": sgMessageID,
					"smtp-id":       "<" + messageID + "@sandbox.sendgrid.local>",
				}
				if ev == "delivered" {
					e["response"] = "250 OK"
					e["ip"] = "127.0.0.1"
				}
				// SendGrid merges custom args into the event at top level;
				// they cannot override its own fields.
				for k, v := range args {
					if _, reserved := e[k]; !reserved {
						e[k] = v
					}
				}
				events = append(events, e)
			}
		}
	}
	return msgs, events
}

// enqueueSendGridEvents posts events to the event webhook, signed like
// SendGrid's signed event webhook: base64 ASN.1 ECDSA P-256 signature over
// SHA-256(timestamp || body). The body ends in CRLF as SendGrid's does, so
// verifiers that re-encode instead of using the raw body fail here too.
func (s *Server) enqueueSendGridEvents(events []map[string]any) {
	if s.opts.SendGridEventWebhookURL == "" || len(events) == 0 {
		return
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(events); err != nil {
		s.log.Error("sandbox: encoding SendGrid events", "error", err)
		return
	}
	body := append(bytes.TrimSuffix(buf.Bytes(), []byte("\n")), '\r', '\n')
	timestamp := strconv.FormatInt(s.clock().Unix(), 10)
	sig, err := signSendGrid(s.signingKey, timestamp, body)
	if err != nil {
		s.log.Error("sandbox: signing SendGrid events", "error", err)
		return
	}
	s.cb.enqueue(delivery{
		kind:        "sendgrid_events",
		url:         s.opts.SendGridEventWebhookURL,
		contentType: "application/json",
		header: http.Header{
			"X-Twilio-Email-Event-Webhook-Signature": {sig},
			"X-Twilio-Email-Event-Webhook-Timestamp": {timestamp},
		},
		body: body,
	})
}

// signSendGrid returns the X-Twilio-Email-Event-Webhook-Signature value for
// body sent at timestamp.
func signSendGrid(key *ecdsa.PrivateKey, timestamp string, body []byte) (string, error) {
	h := sha256.New()
	h.Write([]byte(timestamp))
	h.Write(body)
	sig, err := ecdsa.SignASN1(rand.Reader, key, h.Sum(nil))
	if err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(sig), nil
}
