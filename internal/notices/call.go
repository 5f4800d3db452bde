package notices

import (
	"html"
	"strings"

	"github.com/ballotflow/ballotflow/internal/ballot"
)

var repeatPrompts = map[string]string{
	ballot.LanguageEnglish: "To hear this message again, press 1.",
	ballot.LanguageSpanish: "Para escuchar este mensaje de nuevo, oprima 1.",
}

// sayLanguages are Twilio's names of ballot.Languages, for <Say>.
var sayLanguages = map[string]string{ballot.LanguageEnglish: "en-US", ballot.LanguageSpanish: "es-US"}

// CallTwiML is the TwiML of a notice call in lang: the notice's Speech read aloud, then an
// offer to hear it again by pressing 1, which Twilio posts to repeatURL (the voice webhook,
// which answers with this TwiML again). Without repeatURL the notice is read twice.
func CallTwiML(lang, speech, repeatURL string) string {
	if _, ok := sayLanguages[lang]; !ok {
		lang = ballot.LanguageEnglish
	}
	say := func(text string) string {
		return `<Say language="` + sayLanguages[lang] + `">` + html.EscapeString(text) + `</Say>`
	}
	var b strings.Builder
	b.WriteString(`<Response>`)
	if repeatURL == "" {
		b.WriteString(say(speech) + `<Pause length="1"/>` + say(speech))
	} else {
		b.WriteString(`<Gather numDigits="1" timeout="6" method="POST" action="` + html.EscapeString(repeatURL) + `">`)
		b.WriteString(say(speech) + say(repeatPrompts[lang]))
		b.WriteString(`</Gather>`)
	}
	b.WriteString(`</Response>`)
	return b.String()
}
