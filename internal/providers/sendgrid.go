package providers

import (
	"context"
	"encoding/json"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/sendgrid/sendgrid-go"
	"github.com/sendgrid/sendgrid-go/helpers/mail"
)

// DefaultHTTPTimeout bounds a single provider request when the config does
// not say otherwise.
const DefaultHTTPTimeout = 10 * time.Second

// Email is one transactional email to one recipient.
type Email struct {
	To, ToName, From, FromName, ReplyTo string
	Subject, Text, HTML                 string
	// IdempotencyKey is sent as SendGrid custom_args {"idempotency_key": ...}
	// so event webhooks can be correlated with the notification. No PII.
	IdempotencyKey string
	// ListUnsubscribe is the https URL that unsubscribes the recipient with one click: sent
	// as List-Unsubscribe with List-Unsubscribe-Post (RFC 8058), which Gmail and Yahoo ask
	// of bulk senders. Empty sends neither header.
	ListUnsubscribe string
}

// Headers of one-click unsubscribe (RFC 2369, RFC 8058).
const (
	HeaderListUnsubscribe     = "List-Unsubscribe"
	HeaderListUnsubscribePost = "List-Unsubscribe-Post"
	ListUnsubscribeOneClick   = "List-Unsubscribe=One-Click"
)

// IdempotencyKeyArg is the SendGrid custom_args key carrying Email.IdempotencyKey.
// SendGrid merges custom args into every event webhook payload.
const IdempotencyKeyArg = "idempotency_key"

// Accepted is what a provider returns when it accepted a message.
type Accepted struct {
	ProviderID string // SendGrid X-Message-Id; Twilio SM.../CA... sid
}

// SendGridConfig configures SendGrid.
type SendGridConfig struct {
	APIKey      string
	BaseURL     string        // default https://api.sendgrid.com; the sandbox URL in dev and tests
	HTTPTimeout time.Duration // per request; default DefaultHTTPTimeout
}

// SendGrid sends email through the SendGrid v3 Mail Send API using
// sendgrid-go. It is safe for concurrent use.
type SendGrid struct {
	key     string
	host    string
	timeout time.Duration
	now     func() time.Time
}

// NewSendGrid returns a SendGrid client. It does no I/O.
func NewSendGrid(cfg SendGridConfig) *SendGrid {
	host := strings.TrimRight(cfg.BaseURL, "/")
	if host == "" {
		host = "https://api.sendgrid.com"
	}
	timeout := cfg.HTTPTimeout
	if timeout <= 0 {
		timeout = DefaultHTTPTimeout
	}
	return &SendGrid{key: cfg.APIKey, host: host, timeout: timeout, now: time.Now}
}

// SendEmail submits one email. On success it returns SendGrid's X-Message-Id,
// which prefixes the sg_message_id of every event webhook for this email.
// Every failure is an *Error. There is no retry here: Temporal owns retries.
func (s *SendGrid) SendEmail(ctx context.Context, m Email) (Accepted, error) {
	req := sendgrid.GetRequest(s.key, "/v3/mail/send", s.host)
	req.Method = http.MethodPost
	req.Body = mail.GetRequestBody(buildMail(m))

	// sendgrid.MakeRequestWithContext uses the package-level rest client,
	// whose http.Client has no timeout; the context is the only bound.
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	resp, err := sendgrid.MakeRequestWithContext(ctx, req)
	if err != nil {
		return Accepted{}, transportError(ProviderSendGrid, err)
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return Accepted{ProviderID: http.Header(resp.Headers).Get("X-Message-Id")}, nil
	}
	return Accepted{}, s.classify(resp.StatusCode, http.Header(resp.Headers), resp.Body)
}

// buildMail maps Email onto the SDK's v3 mail model.
func buildMail(m Email) *mail.SGMailV3 {
	sg := mail.NewV3Mail()
	sg.SetFrom(mail.NewEmail(m.FromName, m.From))
	sg.Subject = m.Subject
	p := mail.NewPersonalization()
	p.AddTos(mail.NewEmail(m.ToName, m.To))
	sg.AddPersonalizations(p)
	if m.ReplyTo != "" {
		sg.SetReplyTo(mail.NewEmail("", m.ReplyTo))
	}
	// SendGrid requires text/plain to come before text/html. Empty values
	// are skipped because the SDK would serialise them without a value.
	if m.Text != "" {
		sg.AddContent(mail.NewContent("text/plain", m.Text))
	}
	if m.HTML != "" {
		sg.AddContent(mail.NewContent("text/html", m.HTML))
	}
	if m.IdempotencyKey != "" {
		sg.SetCustomArg(IdempotencyKeyArg, m.IdempotencyKey)
	}
	if m.ListUnsubscribe != "" {
		sg.SetHeader(HeaderListUnsubscribe, "<"+m.ListUnsubscribe+">")
		sg.SetHeader(HeaderListUnsubscribePost, ListUnsubscribeOneClick)
	}
	// No tracking whatever the account's defaults: click tracking would rewrite every link
	// (the unsubscribe link among them) through SendGrid, open tracking adds a pixel that
	// reports when a voter reads about their ballot, and subscription tracking would add
	// SendGrid's own unsubscribe link and header beside ballotflow's.
	off := false
	sg.SetTrackingSettings(&mail.TrackingSettings{
		ClickTracking:        &mail.ClickTrackingSetting{Enable: &off, EnableText: &off},
		OpenTracking:         &mail.OpenTrackingSetting{Enable: &off},
		SubscriptionTracking: &mail.SubscriptionTrackingSetting{Enable: &off},
	})
	return sg
}

// classify turns a non-2xx SendGrid response into an *Error.
func (s *SendGrid) classify(status int, h http.Header, body string) *Error {
	e := &Error{Provider: ProviderSendGrid, HTTPStatus: status, Code: httpCode(status)}
	switch {
	case isTransientStatus(status):
		e.markTransient(status, h, s.now())
	case isAuthStatus(status):
		e.Permanent, e.Config = true, true
		e.Message = "API key rejected or lacks mail.send permission: configuration problem"
	case status == http.StatusRequestEntityTooLarge:
		e.Permanent = true
		e.Message = "message too large"
	default:
		e.Permanent = true
		e.Message = "request rejected"
		if fields := sendGridErrorFields(body); fields != "" {
			e.Message += "; fields: " + fields
			// SendGrid names what it refused. When no named field is a recipient's address, the
			// request was refused for what ballotflow put in it (the sender, the subject, the
			// content): ours to fix, and the voter's address must not be marked bad for it.
			e.Config = !slices.ContainsFunc(strings.Split(fields, ", "), sendGridRecipientField.MatchString)
		}
	}
	return e
}

// sendGridRecipientField matches the error fields that are about a recipient's address
// (personalizations.0.to.0.email, personalizations.1.cc, ...).
var sendGridRecipientField = regexp.MustCompile(`^personalizations\.[0-9]+\.(to|cc|bcc)(\.|$)`)

// sendGridErrorFields returns the distinct "field" names of a SendGrid error
// body, e.g. "from.email, subject". Only field names are used: SendGrid's
// error messages can quote the offending address.
func sendGridErrorFields(body string) string {
	var parsed struct {
		Errors []struct {
			Field *string `json:"field"`
		} `json:"errors"`
	}
	if json.Unmarshal([]byte(body), &parsed) != nil {
		return ""
	}
	seen := map[string]bool{}
	for _, e := range parsed.Errors {
		if e.Field != nil && *e.Field != "" && safeFieldName(*e.Field) {
			seen[*e.Field] = true
		}
	}
	fields := make([]string, 0, len(seen))
	for f := range seen {
		fields = append(fields, f)
	}
	sort.Strings(fields)
	return strings.Join(fields, ", ")
}

// safeFieldName accepts JSON-path-like names (personalizations.0.to.0.email)
// and nothing that could be free text.
func safeFieldName(f string) bool {
	if len(f) > 100 {
		return false
	}
	for _, r := range f {
		if !(r == '.' || r == '_' || r == '-' || r == '[' || r == ']' ||
			(r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9')) {
			return false
		}
	}
	return true
}
