package notices

// ReplyKind names an answer to a text a voter sends to a county's number.
type ReplyKind string

// The answers to inbound texts. After STOP and START ballotflow answers nothing: Twilio
// sends its own confirmation.
const (
	ReplyHelp      ReplyKind = "help"      // HELP (AYUDA): who sends these texts and how to reach them
	ReplyConfirmed ReplyKind = "confirmed" // YES confirmed the number for ballot texts
	ReplyPending   ReplyKind = "pending"   // the number waits for a YES to confirm it
	ReplyOther     ReplyKind = "other"     // anything else, from a number that gets notices
	ReplyUnknown   ReplyKind = "unknown"   // from a number nobody subscribed, or no county to name
)

// replyKinds are every reply, in the order previews list them.
var replyKinds = []ReplyKind{ReplyHelp, ReplyConfirmed, ReplyPending, ReplyOther, ReplyUnknown}

// Reply returns the answer of this kind to an inbound text, in lang (English when
// ballotflow has no catalog in lang). It reads only d.Jurisdiction and d.HelpText (the
// county's help text in lang when it gave one): whoever texts a number gets the answer, so
// it never names a voter. Each answer says how to stop, as carriers require. HELP without a
// jurisdiction to name gets the generic answer.
func Reply(lang string, kind ReplyKind, d Data) string {
	return shipped.reply(lang, kind, d)
}

func (s *catalogSet) reply(lang string, kind ReplyKind, d Data) string {
	c := s.catalog(lang)
	if kind == ReplyHelp && d.Jurisdiction == "" {
		kind = ReplyUnknown
	}
	id := "reply." + string(kind)
	if !c.has(id) {
		id = "reply." + string(ReplyOther)
	}
	text, err := (&wording{catalogSet: s}).fit(c, id, templateData{Jurisdiction: d.Jurisdiction, HelpText: d.HelpText}, "")
	if err != nil {
		// Every reply is in every catalog (checked at load); answer rather than stay silent.
		return "Reply HELP for help, STOP to end."
	}
	return text
}

// RepeatPrompt is what a notice call says after the notice, in lang: how to hear it again
// (press 1).
func RepeatPrompt(lang string) string {
	text, err := shipped.text(shipped.catalog(lang), "call.repeat", templateData{})
	if err != nil {
		return "To hear this message again, press 1."
	}
	return text
}
