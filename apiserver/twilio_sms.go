package apiserver

import (
	"context"
	"html"
	"net/http"
	"slices"
	"strings"
	"unicode"

	"github.com/gin-gonic/gin"

	"github.com/ballotflow/ballotflow/internal/ballot"
	"github.com/ballotflow/ballotflow/internal/notices"
	"github.com/ballotflow/ballotflow/internal/prefs"
	"github.com/ballotflow/ballotflow/internal/store"
)

// Inbound texts: the keywords a voter may text to a county's number (YES, STOP, START,
// HELP, in English and Spanish) and what each changes. The replies' words are
// internal/notices' (notices.Reply).

// Keyword kinds of an inbound text.
const (
	kwOther   = ""
	kwConfirm = "confirm"
	kwStop    = "stop"
	kwStart   = "start"
	kwHelp    = "help"
)

// keywords maps each keyword, in upper case, to its kind.
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
	from, ok := twilioParam(c, form, "From", maxPhoneLen, ballot.PlainText)
	if !ok {
		return
	}
	to, ok := twilioParam(c, form, "To", maxPhoneLen, ballot.PlainText)
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
	if body := form.Get("Body"); len(body) <= maxSMSBodyLen && ballot.PlainText(body) {
		// A body that is not clean text is nobody's keyword; it is never stored either way.
		kind, word = parseKeyword(body)
	}
	ctx, cancel := background(c)
	defer cancel()

	subs, err := w.cfg.Store.SubscriptionListSMSByPhone(ctx, from)
	if err != nil {
		w.internalError(c, "inbound sms", err)
		return
	}
	// The sid is recorded even when nobody on the phone is subscribed: a STOP captured today
	// must not opt out a voter who subscribes the number tomorrow. And the change is always
	// asked for, whatever subs (read for the reply) said a moment ago: it matches nobody when
	// nobody is subscribed, and a number subscribed meanwhile must not lose its STOP.
	in := store.InboundSMS{MessageSID: sid, Phone: from, Actor: "provider:twilio", Reason: "sms keyword " + word}
	in.From, in.To = keywordChange(kind)
	changed, duplicate, err := w.cfg.Store.InboundMessageApply(ctx, in)
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
	w.replySMS(ctx, c, replyFor(kind, subs, changed), subs, to, word)
}

// keywordChange is the SMS subscription change a keyword asks for: the states it moves from
// and the state it moves to; none for HELP and texts that are not keywords.
func keywordChange(kind string) (from []string, to string) {
	switch kind {
	case kwConfirm:
		return []string{ballot.SubscriptionPending}, ballot.SubscriptionActive
	case kwStop:
		return []string{ballot.SubscriptionPending, ballot.SubscriptionActive, ballot.SubscriptionBounced}, ballot.SubscriptionOptedOut
	case kwStart:
		return []string{ballot.SubscriptionOptedOut}, ballot.SubscriptionActive
	}
	return nil, ""
}

// replyFor picks the reply to a text, or "" for none (after STOP and START Twilio sends its
// own confirmation).
func replyFor(kind string, subs []store.PhoneSubscriber, changed []int64) notices.ReplyKind {
	switch {
	case kind == kwStop || kind == kwStart:
		return ""
	case kind == kwHelp:
		return notices.ReplyHelp
	case len(subs) == 0:
		return notices.ReplyUnknown
	case kind == kwConfirm && len(changed) > 0:
		return notices.ReplyConfirmed
	case kind == kwOther && slices.ContainsFunc(subs, func(s store.PhoneSubscriber) bool { return s.State == ballot.SubscriptionPending }):
		return notices.ReplyPending
	}
	return notices.ReplyOther
}

// replySMS answers a text with TwiML: an empty document when there is no reply, else the
// reply in the voter's language (Spanish when the keyword was Spanish), naming the
// jurisdiction. The texts are internal/notices' words; this only picks one.
func (w *webhooks) replySMS(ctx context.Context, c *gin.Context, reply notices.ReplyKind, subs []store.PhoneSubscriber, to, word string) {
	if reply == "" {
		twiml(c, "")
		return
	}
	lang, d, helpTexts := w.replyContext(ctx, subs, to)
	if spanishKeywords[word] {
		lang = ballot.LanguageSpanish
	}
	if t := helpTexts[lang]; t != "" {
		d.HelpText = t // the county's help text in the reply's language
	}
	twiml(c, "<Message>"+html.EscapeString(notices.Reply(lang, reply, d))+"</Message>")
}

// replyContext picks the language and jurisdiction of a reply, and the jurisdiction's help
// texts by language: those of the voter written to from the number texted (to), else of the
// first voter on the phone, else of the jurisdiction that owns the number texted, in its
// default language.
func (w *webhooks) replyContext(ctx context.Context, subs []store.PhoneSubscriber, to string) (string, notices.Data, map[string]string) {
	if len(subs) > 0 {
		s := subs[0]
		for _, cand := range subs {
			if cand.SMSFrom == to {
				s = cand
				break
			}
		}
		return s.Language, notices.Data{Jurisdiction: s.JurisdictionName, HelpText: s.HelpText}, s.HelpTexts
	}
	if to != "" {
		if j, err := w.cfg.Store.JurisdictionGetBySMSNumber(ctx, to); err == nil {
			lang := ballot.LanguageEnglish
			if len(j.Languages) > 0 {
				lang = j.Languages[0] // the county's default
			}
			return lang, notices.Data{Jurisdiction: j.Name, HelpText: j.HelpText}, j.HelpTexts
		}
	}
	return ballot.LanguageEnglish, notices.Data{}, nil
}
