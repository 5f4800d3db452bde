package notices

import (
	"strings"
)

// CallTwiML is the TwiML of a call in lang that reads speech, plain text, aloud, then offers
// to hear it again by pressing 1, which Twilio posts to repeatURL (the voice webhook, which
// answers with this TwiML again). Without repeatURL the text is read twice. A notice call is
// NoticeCall, which also says dates, times and names as people do.
func CallTwiML(lang, speech, repeatURL string) string {
	return callDocument(shipped.catalog(lang).Language, escapeSpeech(speech), repeatURL)
}

// callDocument is the TwiML of a call that reads ssml (escaped text with SSML) in lang's
// voice (speech.go), then offers to read it again.
func callDocument(lang, ssml, repeatURL string) string {
	var b strings.Builder
	b.WriteString(`<Response>`)
	if repeatURL == "" {
		b.WriteString(sayElement(lang, ssml) + `<Pause length="1"/>` + sayElement(lang, ssml))
	} else {
		b.WriteString(`<Gather numDigits="1" timeout="6" method="POST" action="` + escapeSpeech(repeatURL) + `">`)
		b.WriteString(sayElement(lang, ssml) + sayElement(lang, `<break time="500ms"/>`+escapeSpeech(RepeatPrompt(lang))))
		b.WriteString(`</Gather>`)
	}
	b.WriteString(`</Response>`)
	return b.String()
}
