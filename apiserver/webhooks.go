package apiserver

import (
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

	"github.com/gin-gonic/gin"
	"github.com/sendgrid/sendgrid-go/helpers/eventwebhook"
	twilioclient "github.com/twilio/twilio-go/client"

	"github.com/ballotflow/ballotflow/internal/metrics"
	"github.com/ballotflow/ballotflow/internal/notices"
	"github.com/ballotflow/ballotflow/internal/prefs"
	"github.com/ballotflow/ballotflow/internal/providers"
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
// no reply because Twilio sends its own confirmation.
func (w *webhooks) twilioSMS(c *gin.Context) {
	form, ok := w.twilioForm(c)
	if !ok {
		return
	}
	from, to := form.Get("From"), form.Get("To")
	if from == "" {
		abort(c, http.StatusBadRequest, "invalid_field", "From is required", "From")
		return
	}
	kind, word := parseKeyword(form.Get("Body"))
	ctx, cancel := background(c)
	defer cancel()

	subs, err := w.cfg.Store.SMSSubscribersOfPhone(ctx, from)
	if err != nil {
		w.internalError(c, "inbound sms", err)
		return
	}
	lang, name, help := w.replyContext(ctx, subs, to)
	if spanishKeywords[word] {
		lang = "es"
	}
	reply := func(key string) {
		text := smsReplies[lang][key]
		if strings.Contains(text, "%") {
			text = fmt.Sprintf(text, name, help)
		}
		twiml(c, "<Message>"+html.EscapeString(text)+"</Message>")
	}
	if len(subs) == 0 {
		// Nobody we write to: answer, store nothing.
		switch {
		case kind == kwHelp && name != "":
			reply("help")
		case kind == kwStop || kind == kwStart:
			twiml(c, "")
		default:
			reply("unknown")
		}
		return
	}

	var changed []int64
	const actor = "provider:twilio"
	switch kind {
	case kwConfirm:
		changed, err = w.cfg.Store.SetPhoneSMSState(ctx, from, []string{"pending"}, "active", actor, "sms keyword "+word)
	case kwStop:
		changed, err = w.cfg.Store.SetPhoneSMSState(ctx, from, []string{"pending", "active", "bounced"}, "opted_out", actor, "sms keyword "+word)
	case kwStart:
		changed, err = w.cfg.Store.SetPhoneSMSState(ctx, from, []string{"opted_out"}, "active", actor, "sms keyword "+word)
	}
	if err != nil {
		w.internalError(c, "inbound sms keyword", err)
		return
	}
	w.notify(ctx, changed, prefs.ReasonSMSKeyword)
	if len(changed) > 0 {
		w.log.Info("sms keyword applied", "keyword", kind, "voters", changed)
	}

	switch kind {
	case kwStop, kwStart:
		twiml(c, "")
	case kwHelp:
		reply("help")
	case kwConfirm:
		if len(changed) > 0 {
			reply("confirmed")
			return
		}
		reply("other")
	default:
		pending := slices.ContainsFunc(subs, func(s store.PhoneSubscriber) bool { return s.State == "pending" })
		if pending {
			reply("pending")
			return
		}
		reply("other")
	}
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
	sid, status, channel := form.Get("MessageSid"), form.Get("MessageStatus"), "sms"
	if sid == "" {
		sid, status, channel = form.Get("CallSid"), form.Get("CallStatus"), "voice"
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
		Provider: "twilio", IdempotencyKey: form.Get(providers.IdempotencyKeyParam), ProviderID: sid,
		Channels: []string{channel}, EventID: sid + ":" + status, Status: status,
		State: twilioStatusStates[status], OccurredAt: w.now(),
	}
	if t, err := time.Parse(time.RFC1123Z, form.Get("Timestamp")); err == nil {
		ev.OccurredAt = t
	}
	code := form.Get("ErrorCode")
	if code != "" && isDigits(code) {
		ev.Detail = "Twilio error " + code
	} else if ev.State == store.DeliveryFailed {
		ev.Detail = status
	}
	if channel == "sms" && ev.State == store.DeliveryFailed {
		switch {
		case twilioUnreachableCodes[code] > 0:
			ev.Subscription, ev.Address = "bounced", form.Get("To")
			ev.SubscriptionAfter = twilioUnreachableCodes[code]
		case code == "21610": // the recipient replied STOP to this sender
			ev.Subscription, ev.Address = "opted_out", form.Get("To")
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
	if form.Get("Digits") != "1" || key == "" {
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
	if d.Channel != "voice" {
		return "", fmt.Errorf("delivery is not a call: %w", store.ErrNotFound)
	}
	b, err := w.cfg.Store.BallotByRef(ctx, d.BallotRef)
	if err != nil {
		return "", err
	}
	v, err := w.cfg.Store.VoterByRef(ctx, d.VoterRef)
	if err != nil {
		return "", err
	}
	j, err := w.cfg.Store.Jurisdiction(ctx, b.State, b.County)
	if err != nil {
		return "", err
	}
	subs, err := w.cfg.Store.Subscriptions(ctx, v.Ref)
	if err != nil {
		return "", err
	}
	lang := v.Language
	for _, s := range subs {
		if s.Channel == "voice" && s.Language != "" {
			lang = s.Language
		}
	}
	reason, deadline, err := w.cfg.Store.StatusDetails(ctx, b.Ref, d.NoticeStatus)
	if err != nil {
		return "", err
	}
	msg, err := notices.Render(lang, d.NoticeStatus, notices.Data{FirstName: v.FirstName, LastName: v.LastName,
		Jurisdiction: j.Name, HelpText: j.HelpText, Reason: reason, CureDeadline: deadline})
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

	var events []sendGridEvent
	if err := json.Unmarshal(body, &events); err != nil {
		abort(c, http.StatusBadRequest, "invalid_body", "the body is not a JSON list of SendGrid events", "")
		return
	}
	ctx, cancel := background(c)
	defer cancel()
	for _, e := range events {
		ev, ok := w.sendGridProviderEvent(e)
		if !ok {
			continue
		}
		res, err := w.cfg.Store.RecordProviderEvent(ctx, ev)
		if err != nil {
			// SendGrid retries the batch; events already stored are recognised by sg_event_id.
			w.internalError(c, "sendgrid event", err)
			return
		}
		if !res.Matched {
			w.log.Info("sendgrid event for no known delivery; ignored", "message_id", ev.ProviderID, "event", e.Event)
		}
		reason := prefs.ReasonEmailBounce
		if ev.Subscription == "opted_out" {
			reason = prefs.ReasonEmailOptOut
		}
		w.notify(ctx, res.Changed, reason)
	}
	c.Status(http.StatusOK)
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
	if len(s) > 80 || strings.ContainsAny(s, "@<>") {
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
