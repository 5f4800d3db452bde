package apiserver

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/sendgrid/sendgrid-go/helpers/eventwebhook"

	"github.com/ballotflow/ballotflow/internal/ballot"
	"github.com/ballotflow/ballotflow/internal/prefs"
	"github.com/ballotflow/ballotflow/internal/store"
)

// SendGrid's signed event webhook: deliveries of email notices move forward, and bounces,
// drops, spam reports and unsubscribes turn the email subscription off.

// SendGrid limits: SendGrid posts events in batches.
const (
	maxSendGridBody = 8 << 20
	// SendGrid posts up to about a thousand events at once; more is not SendGrid, and each
	// event held costs memory before anything is stored.
	maxSendGridEvents = 10000
	// SendGrid's signed timestamp may be this old, or this far ahead of our clock.
	sendGridMaxAge  = 10 * time.Minute
	sendGridMaxSkew = 5 * time.Minute
)

// sendGridKey parses the event webhook's verification key as SendGrid shows it (base64 of a
// PKIX ECDSA public key).
func sendGridKey(b64 string) (*ecdsa.PublicKey, error) {
	if b64 == "" {
		return nil, errors.New("not configured (SENDGRID_WEBHOOK_PUBLIC_KEY)")
	}
	// eventwebhook.ConvertPublicKeyBase64ToECDSA panics on a key that is not ECDSA: check first.
	der, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return nil, errors.New("not base64")
	}
	pub, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, errors.New("not a PKIX public key")
	}
	if _, ok := pub.(*ecdsa.PublicKey); !ok {
		return nil, errors.New("not an ECDSA public key")
	}
	return eventwebhook.ConvertPublicKeyBase64ToECDSA(b64)
}

// Field bounds of the SendGrid event fields ballotflow reads.
const (
	maxSendGridID  = 256
	maxSendGridStr = 320 // an email address is at most 254; event names are short
)

// sendGridEvent is the part of a SendGrid event ballotflow reads. Custom args arrive at the
// top level, so idempotency_key is ours.
type sendGridEvent struct {
	Event          string `json:"event"`
	Email          string `json:"email"`
	Timestamp      int64  `json:"timestamp"`
	SGEventID      string `json:"sg_event_id"`
	SGMessageID    string `json:"sg_message_id"`
	Type           string `json:"type"`                  // bounce: "bounce" (hard) or "blocked" (soft)
	Classification string `json:"bounce_classification"` // "Invalid Address", ...
	SMTPStatus     string `json:"status"`                // "5.1.1"
	Reason         string `json:"reason"`                // dropped: "Bounced Address", ...; bounces may quote addresses
	IdempotencyKey string `json:"idempotency_key"`
}

// sendGridEvents handles SendGrid's signed event webhook: deliveries move forward on
// processed and delivered; a hard bounce or a drop bounces the email subscription; a spam
// report or an unsubscribe opts it out; deferrals and soft bounces are recorded only. Opens
// and clicks are not tracked.
func (w *webhooks) sendGridEvents(c *gin.Context) {
	const sigHeader = eventwebhook.VerificationHTTPHeader
	body, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, maxSendGridBody))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			abort(c, http.StatusRequestEntityTooLarge, "too_large", "the body is larger than a SendGrid event batch can be", "")
			return
		}
		abort(c, http.StatusBadRequest, "invalid_body", "the body could not be read", "")
		return
	}
	sig, ts := c.GetHeader(sigHeader), c.GetHeader(eventwebhook.TimestampHTTPHeader)
	if w.sendgrid == nil || sig == "" || ts == "" {
		refuseSignature(c, sigHeader)
		return
	}
	secs, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		refuseSignature(c, eventwebhook.TimestampHTTPHeader)
		return
	}
	if at, now := time.Unix(secs, 0), w.now(); now.Sub(at) > sendGridMaxAge || at.Sub(now) > sendGridMaxSkew {
		abort(c, http.StatusForbidden, "stale_signature",
			"the signed timestamp is more than 10 minutes old or more than 5 minutes ahead; SendGrid signs each post when it sends it",
			eventwebhook.TimestampHTTPHeader)
		return
	}
	if valid, err := eventwebhook.VerifySignature(w.sendgrid, body, sig, ts); err != nil || !valid {
		refuseSignature(c, sigHeader)
		return
	}

	evs, field, err := w.sendGridBatch(body)
	if err != nil {
		status := http.StatusBadRequest
		if errors.Is(err, errTooManyEvents) {
			status = http.StatusRequestEntityTooLarge
		}
		abort(c, status, "invalid_body", err.Error(), field)
		return
	}
	ctx, cancel := background(c)
	defer cancel()
	for _, ev := range evs {
		res, err := w.cfg.Store.DeliveryEventRecord(ctx, ev)
		if err != nil {
			// SendGrid retries the batch; events already stored are recognised by sg_event_id.
			w.internalError(c, "sendgrid event", err)
			return
		}
		if !res.Matched {
			w.log.Info("sendgrid event for no known delivery; ignored", "message_id", ev.ProviderID, "event", ev.Status)
		}
		reason := prefs.ReasonEmailBounce
		if ev.Subscription == ballot.SubscriptionOptedOut {
			reason = prefs.ReasonEmailOptOut
		}
		w.notify(ctx, res.Changed, reason)
	}
	c.Status(http.StatusOK)
}

var errTooManyEvents = fmt.Errorf("a SendGrid event batch holds at most %d events", maxSendGridEvents)

// sendGridBatch reads a signed batch, a JSON list of events, one event at a time, and returns
// the delivery events to record. Every event is checked before anything is stored, so a
// batch is taken whole or refused whole; on refusal it names the offending field
// (events[3].email). Events without an sg_event_id are skipped: they could not be told
// apart from a replay of themselves.
func (w *webhooks) sendGridBatch(body []byte) ([]store.ProviderEvent, string, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	notAList := errors.New("the body is not a JSON list of SendGrid events")
	if tok, err := dec.Token(); err != nil || tok != json.Delim('[') {
		return nil, "", notAList
	}
	var evs []store.ProviderEvent
	for i := 0; dec.More(); i++ {
		if i == maxSendGridEvents {
			return nil, "", errTooManyEvents
		}
		var e sendGridEvent
		if err := dec.Decode(&e); err != nil {
			return nil, fmt.Sprintf("events[%d]", i), fmt.Errorf("event %d is not a SendGrid event object", i)
		}
		ev, ok := w.sendGridProviderEvent(e)
		if !ok {
			continue
		}
		if field, err := w.checkSendGridEvent(e); err != nil {
			return nil, fmt.Sprintf("events[%d].%s", i, field), fmt.Errorf("event %d: %w", i, err)
		}
		if e.SGEventID == "" {
			w.log.Warn("sendgrid event without sg_event_id; ignored", "event", e.Event)
			continue
		}
		evs = append(evs, ev)
	}
	if _, err := dec.Token(); err != nil {
		return nil, "", notAList
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, "", notAList // something after the list
	}
	return evs, "", nil
}

// checkSendGridEvent refuses an event ballotflow would store whose fields are not clean
// text within bounds (PostgreSQL refuses NUL bytes) or whose timestamp is not a time SendGrid
// could have seen; it returns the JSON name of the field.
func (w *webhooks) checkSendGridEvent(e sendGridEvent) (string, error) {
	for _, f := range []struct {
		name, value string
		max         int
	}{
		{"event", e.Event, maxSendGridStr}, {"email", e.Email, maxSendGridStr},
		{"sg_event_id", e.SGEventID, maxSendGridID}, {"sg_message_id", e.SGMessageID, maxSendGridID},
		{"idempotency_key", e.IdempotencyKey, maxKeyLen},
	} {
		if len(f.value) > f.max || !ballot.PlainText(f.value) {
			return f.name, fmt.Errorf("%s must be at most %d bytes of text without control characters", f.name, f.max)
		}
	}
	earliest, latest := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC), w.now().Add(24*time.Hour)
	if e.Timestamp != 0 && (e.Timestamp < earliest.Unix() || e.Timestamp > latest.Unix()) {
		return "timestamp", errors.New("timestamp must be the Unix time of the event, not before 2000 nor in the future")
	}
	return "", nil
}

// sendGridProviderEvent maps a SendGrid event onto a delivery event; false for events
// ballotflow does not record (opens, clicks, ...).
func (w *webhooks) sendGridProviderEvent(e sendGridEvent) (store.ProviderEvent, bool) {
	ev := store.ProviderEvent{
		Provider: "sendgrid", IdempotencyKey: e.IdempotencyKey, Channels: []string{ballot.ChannelEmail},
		EventID: e.SGEventID, Status: e.Event, OccurredAt: time.Unix(e.Timestamp, 0),
	}
	if e.Timestamp == 0 {
		ev.OccurredAt = w.now()
	}
	ev.ProviderID, _, _ = strings.Cut(e.SGMessageID, ".")
	switch e.Event {
	case "processed", "deferred":
	case "delivered":
		ev.State = store.DeliveryDelivered
	case "bounce":
		ev.Detail = strings.TrimSpace(strings.Join([]string{e.Type, safeDetail(e.SMTPStatus), safeDetail(e.Classification)}, " "))
		if e.Type != "blocked" { // a block is a soft bounce: SendGrid retries elsewhere, nothing to turn off
			ev.State, ev.Subscription, ev.Address = store.DeliveryFailed, ballot.SubscriptionBounced, e.Email
		}
	case "dropped":
		ev.Detail = safeDetail(e.Reason)
		ev.State, ev.Subscription, ev.Address = store.DeliveryFailed, ballot.SubscriptionBounced, e.Email
	case "spamreport", "unsubscribe", "group_unsubscribe":
		// The email arrived; its reader wants no more.
		ev.Subscription, ev.Address = ballot.SubscriptionOptedOut, e.Email
	default:
		return ev, false
	}
	return ev, true
}

// safeDetail keeps provider text that is a code or a fixed phrase, and drops anything that
// could quote an address.
func safeDetail(s string) string {
	if len(s) > 80 || strings.ContainsAny(s, "@<>") || !ballot.PlainText(s) {
		return ""
	}
	return s
}
