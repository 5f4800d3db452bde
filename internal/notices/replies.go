package notices

import (
	"fmt"
	"strings"

	"github.com/ballotflow/ballotflow/internal/ballot"
)

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

// replies holds the answers by language. %[1]s is the jurisdiction's name, %[2]s its help
// text. Each tells the voter how to get help and how to stop, as carriers require.
var replies = map[string]map[ReplyKind]string{
	ballot.LanguageEnglish: {
		ReplyHelp:      "%[1]s ballot notices: %[2]s Reply STOP to stop texts. Msg & data rates may apply.",
		ReplyConfirmed: "%[1]s: your phone is confirmed for ballot notices by text. Reply HELP for help, STOP to stop.",
		ReplyOther:     "%[1]s: this number only sends ballot notices and cannot read replies. Reply HELP for help, STOP to stop.",
		ReplyPending:   "%[1]s: this number only sends ballot notices. Reply YES to confirm ballot texts, HELP for help, STOP to stop.",
		ReplyUnknown:   "This number only sends ballot notices. Reply HELP for help, STOP to stop.",
	},
	ballot.LanguageSpanish: {
		ReplyHelp:      "Avisos de boletas de %[1]s: %[2]s Responda STOP para dejar de recibir mensajes. Pueden aplicarse tarifas de mensajes y datos.",
		ReplyConfirmed: "%[1]s: su teléfono quedó confirmado para recibir avisos de su boleta por mensaje de texto. Responda AYUDA para ayuda, STOP para cancelar.",
		ReplyOther:     "%[1]s: este número solo envía avisos sobre boletas y no lee respuestas. Responda AYUDA para ayuda, STOP para cancelar.",
		ReplyPending:   "%[1]s: este número solo envía avisos sobre boletas. Responda SI para confirmar los mensajes, AYUDA para ayuda, STOP para cancelar.",
		ReplyUnknown:   "Este número solo envía avisos sobre boletas. Responda AYUDA para ayuda, STOP para cancelar.",
	},
}

// Reply returns the answer of this kind to an inbound text, in lang (English when
// ballotflow has no texts in lang). It reads only d.Jurisdiction and d.HelpText: whoever
// texts a number gets the answer, so it never names a voter. HELP without a jurisdiction to
// name gets the generic answer.
func Reply(lang string, kind ReplyKind, d Data) string {
	texts, ok := replies[lang]
	if !ok {
		texts = replies[ballot.LanguageEnglish]
	}
	if kind == ReplyHelp && d.Jurisdiction == "" {
		kind = ReplyUnknown
	}
	text := texts[kind]
	if strings.Contains(text, "%") {
		text = fmt.Sprintf(text, d.Jurisdiction, d.HelpText)
	}
	return text
}
