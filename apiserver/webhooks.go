package apiserver

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/gin-gonic/gin"
	"github.com/sendgrid/sendgrid-go/helpers/eventwebhook"
	twilioclient "github.com/twilio/twilio-go/client"

	"github.com/ballotflow/ballotflow/internal/ballot"
	"github.com/ballotflow/ballotflow/internal/metrics"
	"github.com/ballotflow/ballotflow/internal/notices"
	"github.com/ballotflow/ballotflow/internal/prefs"
	"github.com/ballotflow/ballotflow/internal/providers"
	"github.com/ballotflow/ballotflow/internal/recipient"
	"github.com/ballotflow/ballotflow/internal/store"
)

// Webhook paths. Twilio and SendGrid are configured with PublicURL followed by these; the
// signatures are checked against exactly that URL, never one built from the Host header.
const (
	PathTwilioSMS      = "/v1/webhooks/twilio/sms"
	PathTwilioStatus   = "/v1/webhooks/twilio/status"
	PathTwilioVoice    = "/v1/webhooks/twilio/voice"
	PathSendGridEvents = "/v1/webhooks/sendgrid/events"
)

// Webhook limits: a Twilio form is small; SendGrid posts events in batches.
const (
	maxTwilioBody   = 64 << 10
	maxSendGridBody = 8 << 20
	// SendGrid posts up to about a thousand events at once; more is not SendGrid, and each
	// event held costs memory before anything is stored.
	maxSendGridEvents = 10000
	// SendGrid's signed timestamp may be this old, or this far ahead of our clock.
	sendGridMaxAge  = 10 * time.Minute
	sendGridMaxSkew = 5 * time.Minute
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

// background is the context for work that must finish even if the provider hangs up.
func background(c *gin.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(c.Request.Context()), 30*time.Second)
}

func refuseSignature(c *gin.Context, header string) {
	abort(c, http.StatusForbidden, "invalid_signature",
		"the "+header+" signature is missing or does not match this request; webhooks must come from the provider, signed with the account's key", header)
}

// twilioForm verifies X-Twilio-Signature and returns the request's parameters (query and
// form). The signed URL is PUBLIC_URL, the route's path and the query as received. On a bad
// signature it answers 403 and returns false.
func (w *webhooks) twilioForm(c *gin.Context) (url.Values, bool) {
	r := c.Request
	r.Body = http.MaxBytesReader(c.Writer, r.Body, maxTwilioBody)
	if err := r.ParseForm(); err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			abort(c, http.StatusRequestEntityTooLarge, "too_large", "the body is larger than a Twilio webhook can be", "")
			return nil, false
		}
		refuseSignature(c, "X-Twilio-Signature")
		return nil, false
	}
	sig := r.Header.Get("X-Twilio-Signature")
	signedURL := w.publicURL + c.FullPath()
	if r.URL.RawQuery != "" {
		signedURL += "?" + r.URL.RawQuery
	}
	// Twilio signs the body's parameters of a POST; a GET's are in the URL already.
	params := make(map[string]string, len(r.PostForm))
	for k, vs := range r.PostForm {
		params[k] = vs[0]
	}
	if w.twilio == nil || sig == "" || !w.twilio.Validate(signedURL, params, sig) {
		refuseSignature(c, "X-Twilio-Signature")
		return nil, false
	}
	return r.Form, true
}

// Field bounds of the Twilio parameters ballotflow reads: Twilio's sids are 34 characters,
// E.164 numbers at most 16 (other senders, such as "whatsapp:+1...", a little more), a text
// at most 1600 characters of up to 4 bytes.
const (
	maxSidLen      = 64
	maxPhoneLen    = 64
	maxStatusLen   = 32
	maxKeyLen      = 256
	maxSMSBodyLen  = 1600 * 4
	maxErrorCode   = 10
	maxSendGridID  = 256
	maxSendGridStr = 320 // an email address is at most 254; event names are short
)

// twilioParam returns the parameter name when it is empty or passes valid within max bytes;
// otherwise it answers 400 naming the parameter and returns false. PostgreSQL refuses NUL
// bytes and invalid UTF-8, so nothing that is not clean text reaches it.
func twilioParam(c *gin.Context, form url.Values, name string, max int, valid func(string) bool) (string, bool) {
	v := form.Get(name)
	if v == "" || (len(v) <= max && valid(v)) {
		return v, true
	}
	abort(c, http.StatusBadRequest, "invalid_field",
		fmt.Sprintf("%s must be at most %d bytes of text without control characters", name, max), name)
	return "", false
}

// isCleanText reports whether s is valid UTF-8 without control characters (NUL included).
func isCleanText(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	return !strings.ContainsFunc(s, func(r rune) bool { return unicode.IsControl(r) && r != '\n' && r != '\r' && r != '\t' })
}

// isSid reports whether s looks like a provider id: ASCII letters and digits (Twilio's SM...,
// CA...).
func isSid(s string) bool {
	for _, r := range s {
		if !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9') {
			return false
		}
	}
	return true
}

// isStatusWord reports whether s looks like a provider's status name: lower-case ASCII
// letters, '-' and '_' ("in-progress", "no-answer").
func isStatusWord(s string) bool {
	for _, r := range s {
		if !('a' <= r && r <= 'z' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

// Keyword kinds of an inbound text.
const (
	kwOther   = ""
	kwConfirm = "confirm"
	kwStop    = "stop"
	kwStart   = "start"
	kwHelp    = "help"
)

var keywords = map[string]string{
	"YES": kwConfirm, "SI": kwConfirm, "SÍ": kwConfirm,
	"STOP": kwStop, "STOPALL": kwStop, "UNSUBSCRIBE": kwStop, "CANCEL": kwStop, "END": kwStop, "QUIT": kwStop,
	"REVOKE": kwStop, "OPTOUT": kwStop,
	"START": kwStart, "UNSTOP": kwStart,
	"HELP": kwHelp, "AYUDA": kwHelp,
}

// spanishKeywords answer in Spanish whatever the voter's recorded language.
var spanishKeywords = map[string]bool{"SI": true, "SÍ": true, "AYUDA": true}

// parseKeyword returns the keyword kind of a text and the normalized word: the whole message,
// any case, with surrounding spaces and punctuation ignored ("  Stop. " is STOP, "stop it"
// is not a keyword).
func parseKeyword(body string) (kind, word string) {
	word = strings.ToUpper(strings.TrimFunc(body, func(r rune) bool {
		return unicode.IsSpace(r) || unicode.IsPunct(r) || unicode.IsSymbol(r)
	}))
	return keywords[word], word
}

// Replies to inbound texts, by language. %[1]s is the jurisdiction's name, %[2]s its help text.
var smsReplies = map[string]map[string]string{
	"en": {
		"help":      "%[1]s ballot notices: %[2]s Reply STOP to stop texts. Msg & data rates may apply.",
		"confirmed": "%[1]s: your phone is confirmed for ballot notices by text. Reply HELP for help, STOP to stop.",
		"other":     "%[1]s: this number only sends ballot notices and cannot read replies. Reply HELP for help, STOP to stop.",
		"pending":   "%[1]s: this number only sends ballot notices. Reply YES to confirm ballot texts, HELP for help, STOP to stop.",
		"unknown":   "This number only sends ballot notices. Reply HELP for help, STOP to stop.",
	},
	"es": {
		"help":      "Avisos de boletas de %[1]s: %[2]s Responda STOP para dejar de recibir mensajes. Pueden aplicarse tarifas de mensajes y datos.",
		"confirmed": "%[1]s: su teléfono quedó confirmado para recibir avisos de su boleta por mensaje de texto. Responda AYUDA para ayuda, STOP para cancelar.",
		"other":     "%[1]s: este número solo envía avisos sobre boletas y no lee respuestas. Responda AYUDA para ayuda, STOP para cancelar.",
		"pending":   "%[1]s: este número solo envía avisos sobre boletas. Responda SI para confirmar los mensajes, AYUDA para ayuda, STOP para cancelar.",
		"unknown":   "Este número solo envía avisos sobre boletas. Responda AYUDA para ayuda, STOP para cancelar.",
	},
}

// twilioSMS handles an inbound text: the keywords YES, STOP (and Twilio's other opt-out
// words), START and HELP, or anything else. It answers TwiML; after STOP and START it sends
// no reply because Twilio sends its own confirmation. Every text is recorded by its
// MessageSid: Twilio's signature has no timestamp, so the same signed request posted again
// is answered with an empty TwiML document and changes nothing.
func (w *webhooks) twilioSMS(c *gin.Context) {
	form, ok := w.twilioForm(c)
	if !ok {
		return
	}
	sid, ok := twilioParam(c, form, "MessageSid", maxSidLen, isSid)
	if !ok {
		return
	}
	from, ok := twilioParam(c, form, "From", maxPhoneLen, isCleanText)
	if !ok {
		return
	}
	to, ok := twilioParam(c, form, "To", maxPhoneLen, isCleanText)
	if !ok {
		return
	}
	for _, required := range []struct{ name, value string }{{"MessageSid", sid}, {"From", from}} {
		if required.value == "" {
			abort(c, http.StatusBadRequest, "invalid_field", required.name+" is required", required.name)
			return
		}
	}
	kind, word := kwOther, ""
	if body := form.Get("Body"); len(body) <= maxSMSBodyLen && isCleanText(body) {
		// A body that is not clean text is nobody's keyword; it is never stored either way.
		kind, word = parseKeyword(body)
	}
	ctx, cancel := background(c)
	defer cancel()

	subs, err := w.cfg.Store.SMSSubscribersOfPhone(ctx, from)
	if err != nil {
		w.internalError(c, "inbound sms", err)
		return
	}
	// The sid is recorded even when nobody on the phone is subscribed: a STOP captured today
	// must not opt out a voter who subscribes the number tomorrow.
	in := store.InboundSMS{MessageSID: sid, Phone: from, Actor: "provider:twilio", Reason: "sms keyword " + word}
	if len(subs) > 0 {
		in.From, in.To = keywordChange(kind)
	}
	changed, duplicate, err := w.cfg.Store.ApplyInboundSMS(ctx, in)
	if err != nil {
		w.internalError(c, "inbound sms keyword", err)
		return
	}
	if duplicate {
		w.log.Info("inbound sms already processed; replay ignored", "message_sid", sid)
		twiml(c, "")
		return
	}
	w.notify(ctx, changed, prefs.ReasonSMSKeyword)
	if len(changed) > 0 {
		w.log.Info("sms keyword applied", "keyword", kind, "voters", changed)
	}
	w.replySMS(c, replyFor(kind, subs, changed), w.smsReplyText(ctx, subs, to, word))
}

// keywordChange is the SMS subscription change a keyword asks for: the states it moves from
// and the state it moves to; none for HELP and texts that are not keywords.
func keywordChange(kind string) (from []string, to string) {
	switch kind {
	case kwConfirm:
		return []string{"pending"}, "active"
	case kwStop:
		return []string{"pending", "active", "bounced"}, "opted_out"
	case kwStart:
		return []string{"opted_out"}, "active"
	}
	return nil, ""
}

// replyFor picks the reply to a text: "" for none (after STOP and START Twilio sends its own
// confirmation), else a key of smsReplies.
func replyFor(kind string, subs []store.PhoneSubscriber, changed []int64) string {
	switch {
	case kind == kwStop || kind == kwStart:
		return ""
	case kind == kwHelp:
		return "help"
	case len(subs) == 0:
		return "unknown"
	case kind == kwConfirm && len(changed) > 0:
		return "confirmed"
	case kind == kwOther && slices.ContainsFunc(subs, func(s store.PhoneSubscriber) bool { return s.State == "pending" }):
		return "pending"
	}
	return "other"
}

// smsReplyText returns the text of a reply by its key, in the voter's language (Spanish when
// the keyword was Spanish), with the jurisdiction's name and help text.
func (w *webhooks) smsReplyText(ctx context.Context, subs []store.PhoneSubscriber, to, word string) func(key string) string {
	lang, name, help := w.replyContext(ctx, subs, to)
	if spanishKeywords[word] {
		lang = "es"
	}
	return func(key string) string {
		if key == "help" && name == "" {
			key = "unknown" // no jurisdiction to name: the generic answer
		}
		text := smsReplies[lang][key]
		if strings.Contains(text, "%") {
			text = fmt.Sprintf(text, name, help)
		}
		return text
	}
}

func (w *webhooks) replySMS(c *gin.Context, key string, text func(string) string) {
	if key == "" {
		twiml(c, "")
		return
	}
	twiml(c, "<Message>"+html.EscapeString(text(key))+"</Message>")
}

// replyContext picks the language, jurisdiction name and help text of a reply: those of the
// voter written to from the number texted (to), else of the first voter on the phone, else of
// the jurisdiction that owns the number texted.
func (w *webhooks) replyContext(ctx context.Context, subs []store.PhoneSubscriber, to string) (lang, name, help string) {
	if len(subs) > 0 {
		s := subs[0]
		for _, cand := range subs {
			if cand.SMSFrom == to {
				s = cand
				break
			}
		}
		lang = s.Language
		if _, ok := smsReplies[lang]; !ok {
			lang = "en"
		}
		return lang, s.JurisdictionName, s.HelpText
	}
	if to != "" {
		if j, err := w.cfg.Store.JurisdictionBySMSNumber(ctx, to); err == nil {
			return "en", j.Name, j.HelpText
		}
	}
	return "en", "", ""
}

// twilioStatusStates is the explicit order of Twilio's message and call statuses. Statuses on
// the way (queued < sending < sent, queued < initiated < ringing < in-progress) only show that
// Twilio accepted the message; delivered/read and completed are delivered; undelivered,
// failed, and a call's busy, no-answer and canceled are terminal failures. The store moves a
// delivery only forward (sending < accepted < delivered < failed), so callbacks in any order
// and duplicates leave the same row.
var twilioStatusStates = map[string]string{
	"accepted": "", "scheduled": "", "queued": "", "sending": "", "sent": "",
	"initiated": "", "ringing": "", "in-progress": "",
	"delivered": store.DeliveryDelivered, "read": store.DeliveryDelivered, "completed": store.DeliveryDelivered,
	"undelivered": store.DeliveryFailed, "failed": store.DeliveryFailed, "canceled": store.DeliveryFailed,
	"busy": store.DeliveryFailed, "no-answer": store.DeliveryFailed,
}

// twilioUnreachableCodes are the delivery errors that mean the number cannot take texts,
// with how many in a row bounce the SMS subscription: an unknown destination or a landline
// (30005, 30006) at once; an unreachable handset (30003: switched off, out of coverage, full)
// only when it has been so for three notices in a row.
var twilioUnreachableCodes = map[string]int{"30003": 3, "30005": 1, "30006": 1}

// twilioStatus handles message and call status callbacks.
func (w *webhooks) twilioStatus(c *gin.Context) {
	form, ok := w.twilioForm(c)
	if !ok {
		return
	}
	sidField, statusField, channel := "MessageSid", "MessageStatus", "sms"
	if form.Get(sidField) == "" {
		sidField, statusField, channel = "CallSid", "CallStatus", "voice"
	}
	sid, ok := twilioParam(c, form, sidField, maxSidLen, isSid)
	if !ok {
		return
	}
	status, ok := twilioParam(c, form, statusField, maxStatusLen, isStatusWord)
	if !ok {
		return
	}
	key, ok := twilioParam(c, form, providers.IdempotencyKeyParam, maxKeyLen, isCleanText)
	if !ok {
		return
	}
	to, ok := twilioParam(c, form, "To", maxPhoneLen, isCleanText)
	if !ok {
		return
	}
	switch {
	case sid == "":
		abort(c, http.StatusBadRequest, "invalid_field", "MessageSid or CallSid is required", "MessageSid")
		return
	case status == "":
		abort(c, http.StatusBadRequest, "invalid_field", "MessageStatus or CallStatus is required", "MessageStatus")
		return
	}
	ev := store.ProviderEvent{
		Provider: "twilio", IdempotencyKey: key, ProviderID: sid,
		Channels: []string{channel}, EventID: sid + ":" + status, Status: status,
		State: twilioStatusStates[status], OccurredAt: w.now(),
	}
	if t, err := time.Parse(time.RFC1123Z, form.Get("Timestamp")); err == nil {
		ev.OccurredAt = t
	}
	code := form.Get("ErrorCode")
	if len(code) > maxErrorCode || !isDigits(code) {
		code = "" // not one of Twilio's numeric codes: nothing to act on or store
	}
	if code != "" {
		ev.Detail = "Twilio error " + code
	} else if ev.State == store.DeliveryFailed {
		ev.Detail = status
	}
	if channel == "sms" && ev.State == store.DeliveryFailed {
		switch {
		case twilioUnreachableCodes[code] > 0:
			ev.Subscription, ev.Address = "bounced", to
			ev.SubscriptionAfter = twilioUnreachableCodes[code]
		case code == "21610": // the recipient replied STOP to this sender
			ev.Subscription, ev.Address = "opted_out", to
		}
	}
	ctx, cancel := background(c)
	defer cancel()
	res, err := w.cfg.Store.RecordProviderEvent(ctx, ev)
	if err != nil {
		w.internalError(c, "twilio status callback", err)
		return
	}
	if !res.Matched {
		w.log.Info("twilio status callback for no known delivery; ignored", "sid", sid, "status", status)
	}
	w.notify(ctx, res.Changed, prefs.ReasonSMSBounce)
	c.Status(http.StatusOK)
}

// twilioVoice answers the "press 1 to repeat" of a notice call: the same notice again when
// the voter pressed 1, else it hangs up.
func (w *webhooks) twilioVoice(c *gin.Context) {
	form, ok := w.twilioForm(c)
	if !ok {
		return
	}
	key := form.Get(providers.IdempotencyKeyParam)
	if form.Get("Digits") != "1" || key == "" || len(key) > maxKeyLen || !isCleanText(key) {
		twiml(c, "<Hangup/>")
		return
	}
	ctx, cancel := background(c)
	defer cancel()
	doc, err := w.repeatCall(ctx, key)
	if errors.Is(err, store.ErrNotFound) {
		twiml(c, "<Hangup/>")
		return
	}
	if err != nil {
		w.internalError(c, "twilio voice", err)
		return
	}
	c.Data(http.StatusOK, "text/xml; charset=utf-8", []byte(xmlProlog+doc))
}

// repeatCall renders a call's notice again from its delivery, as PlaceCall did.
func (w *webhooks) repeatCall(ctx context.Context, key string) (string, error) {
	d, err := w.cfg.Store.DeliveryByKey(ctx, key)
	if err != nil {
		return "", err
	}
	if d.Channel != ballot.ChannelVoice {
		return "", fmt.Errorf("delivery is not a call: %w", store.ErrNotFound)
	}
	// The one reader delivery uses, so the repeat is in the language of the call itself.
	r, err := recipient.OfBallotRef(ctx, w.cfg.Store, d.BallotRef, d.VoterRef)
	if err != nil {
		return "", err
	}
	lang := r.Language(ballot.ChannelVoice)
	reason, deadline, err := w.cfg.Store.StatusDetails(ctx, r.Ballot.Ref, d.NoticeStatus)
	if err != nil {
		return "", err
	}
	msg, err := notices.Render(lang, d.NoticeStatus, notices.Data{FirstName: r.Voter.FirstName, LastName: r.Voter.LastName,
		Jurisdiction: r.Jurisdiction.Name, HelpText: r.Jurisdiction.HelpText, Reason: reason, CureDeadline: deadline})
	if err != nil {
		return "", err
	}
	repeat := providers.WithIdempotencyKey(w.publicURL+PathTwilioVoice, key)
	return notices.CallTwiML(lang, msg.Speech, repeat), nil
}

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
		res, err := w.cfg.Store.RecordProviderEvent(ctx, ev)
		if err != nil {
			// SendGrid retries the batch; events already stored are recognised by sg_event_id.
			w.internalError(c, "sendgrid event", err)
			return
		}
		if !res.Matched {
			w.log.Info("sendgrid event for no known delivery; ignored", "message_id", ev.ProviderID, "event", ev.Status)
		}
		reason := prefs.ReasonEmailBounce
		if ev.Subscription == "opted_out" {
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
		if len(f.value) > f.max || !isCleanText(f.value) {
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
		Provider: "sendgrid", IdempotencyKey: e.IdempotencyKey, Channels: []string{"email"},
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
			ev.State, ev.Subscription, ev.Address = store.DeliveryFailed, "bounced", e.Email
		}
	case "dropped":
		ev.Detail = safeDetail(e.Reason)
		ev.State, ev.Subscription, ev.Address = store.DeliveryFailed, "bounced", e.Email
	case "spamreport", "unsubscribe", "group_unsubscribe":
		// The email arrived; its reader wants no more.
		ev.Subscription, ev.Address = "opted_out", e.Email
	default:
		return ev, false
	}
	return ev, true
}

// safeDetail keeps provider text that is a code or a fixed phrase, and drops anything that
// could quote an address.
func safeDetail(s string) string {
	if len(s) > 80 || strings.ContainsAny(s, "@<>") || !isCleanText(s) {
		return ""
	}
	return s
}

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

const xmlProlog = `<?xml version="1.0" encoding="UTF-8"?>`

// twiml answers with a TwiML document holding verbs (already escaped).
func twiml(c *gin.Context, verbs string) {
	c.Data(http.StatusOK, "text/xml; charset=utf-8",
		[]byte(xmlProlog+`<Response>`+verbs+`</Response>`))
}

func isDigits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return s != ""
}
