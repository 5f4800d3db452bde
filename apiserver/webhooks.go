package apiserver

import (
	"context"
	"crypto/ecdsa"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	twilioclient "github.com/twilio/twilio-go/client"

	"github.com/ballotflow/ballotflow/internal/metrics"
	"github.com/ballotflow/ballotflow/internal/prefs"
)

// The providers' webhooks: this file holds their routes and what they share; Twilio's are in
// twilio.go (signature and parameters), twilio_sms.go (inbound texts), twilio_status.go
// (delivery callbacks) and twilio_voice.go (the repeat of a call), SendGrid's in sendgrid.go.

// Webhook paths. Twilio and SendGrid are configured with PublicURL followed by these; the
// signatures are checked against exactly that URL, never one built from the Host header.
const (
	PathTwilioSMS      = "/v1/webhooks/twilio/sms"
	PathTwilioStatus   = "/v1/webhooks/twilio/status"
	PathTwilioVoice    = "/v1/webhooks/twilio/voice"
	PathSendGridEvents = "/v1/webhooks/sendgrid/events"
)

// webhooks answers the providers. Every handler verifies the provider's signature before it
// looks at anything in the request, and stores nothing when it does not match.
type webhooks struct {
	cfg       Config
	publicURL string
	twilio    *twilioclient.RequestValidator // nil: no auth token configured, every request refused
	sendgrid  *ecdsa.PublicKey               // nil: no key configured, every request refused
	now       func() time.Time
	log       *slog.Logger
}

func (h *handlers) registerWebhooks(v1 *gin.RouterGroup) {
	w := &webhooks{cfg: h.cfg, publicURL: strings.TrimRight(h.cfg.PublicURL, "/"), now: time.Now, log: h.cfg.Logger}
	if w.log == nil {
		w.log = slog.New(slog.DiscardHandler)
	}
	if h.cfg.TwilioAuthToken != "" {
		v := twilioclient.NewRequestValidator(h.cfg.TwilioAuthToken)
		w.twilio = &v
	} else {
		w.log.Warn("no Twilio auth token: Twilio webhooks will be refused (403)")
	}
	if key, err := sendGridKey(h.cfg.SendGridWebhookPublicKey); err != nil {
		w.log.Error("SendGrid webhook public key: SendGrid events will be refused (403)", "error", err)
	} else {
		w.sendgrid = key
	}
	g := v1.Group("", countWebhook)
	g.POST(strings.TrimPrefix(PathTwilioSMS, "/v1"), w.twilioSMS)
	g.POST(strings.TrimPrefix(PathTwilioStatus, "/v1"), w.twilioStatus)
	g.GET(strings.TrimPrefix(PathTwilioVoice, "/v1"), w.twilioVoice)
	g.POST(strings.TrimPrefix(PathTwilioVoice, "/v1"), w.twilioVoice)
	g.POST(strings.TrimPrefix(PathSendGridEvents, "/v1"), w.sendGridEvents)
}

// countWebhook counts each webhook by route and result, so an operator sees signatures
// failing (a rotated token, a wrong PUBLIC_URL) before voters notice.
func countWebhook(c *gin.Context) {
	c.Next()
	result := "ok"
	switch status := c.Writer.Status(); {
	case status == http.StatusForbidden:
		result = "forbidden"
	case status >= 400:
		result = "error"
	}
	metrics.Webhooks.WithLabelValues(strings.TrimPrefix(c.FullPath(), "/v1/webhooks/"), result).Inc()
}

// background is the context for work that must finish even if the provider hangs up.
func background(c *gin.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(c.Request.Context()), 30*time.Second)
}

func refuseSignature(c *gin.Context, header string) {
	abort(c, http.StatusForbidden, "invalid_signature",
		"the "+header+" signature is missing or does not match this request; webhooks must come from the provider, signed with the account's key", header)
}

// maxKeyLen bounds the idempotency key a provider's callback brings back (ours, from the
// status callback URL or SendGrid's custom args).
const maxKeyLen = 256

// notify tells the running ballots of each voter that their channels changed. The change is
// already stored and activities read it at send time, so a failure is logged, not returned.
func (w *webhooks) notify(ctx context.Context, voters []int64, reason string) {
	for _, ref := range voters {
		if err := prefs.Notify(ctx, w.cfg.Temporal, w.cfg.Store, ref, reason); err != nil {
			w.log.Warn("could not signal preferences-changed; the change applies at the next send", "voter", ref, "error", err)
		}
	}
}

func (w *webhooks) internalError(c *gin.Context, what string, err error) {
	w.log.Error(what+" failed", "error", err)
	abort(c, http.StatusInternalServerError, "internal", "something went wrong on our side; please retry", "")
}
