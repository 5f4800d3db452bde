package notices

import (
	"encoding/xml"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// How a notice call sounds: a neural voice of the notice's language, the voter's name as a
// name (a roll's "MARIA GARCIA" read as "Maria Garcia", not spelled out), the cure deadline
// as people say dates ("Tuesday, November 3"; "martes 3 de noviembre"; "11월 3일 화요일"),
// clock times and phone numbers as people say them, and a pause before the county's help
// text. The words are Render's; this file turns them into the SSML Twilio's <Say> reads
// (https://www.twilio.com/docs/voice/twiml/say/text-speech). Every text is XML-escaped; the
// only markup is the SSML written here.

// sayVoice is the Twilio voice a language is read with, and the <Say> language that goes
// with it (a voice and a language that do not match fail the call).
type sayVoice struct {
	Voice    string // Polly.* (Amazon Polly) or Google.* (Google Cloud Text-to-Speech)
	Language string
	// Polly voices read <say-as interpret-as="date" format="..."> and, in English and
	// Spanish, "telephone"; the Google voices are given plain words instead.
	polly bool
}

// sayVoices are Twilio's neural voices, one a catalog language. Polly has no Chinese
// (Taiwan), Vietnamese or Filipino voice: those are Google's, whose language codes are
// cmn-TW, vi-VN and fil-PH.
var sayVoices = map[string]sayVoice{
	"en":      {Voice: "Polly.Joanna-Neural", Language: "en-US", polly: true},
	"es":      {Voice: "Polly.Lupe-Neural", Language: "es-US", polly: true},
	"ko":      {Voice: "Polly.Seoyeon-Neural", Language: "ko-KR", polly: true},
	"zh-Hant": {Voice: "Google.cmn-TW-Wavenet-A", Language: "cmn-TW"},
	"vi":      {Voice: "Google.vi-VN-Wavenet-A", Language: "vi-VN"},
	"tl":      {Voice: "Google.fil-PH-Wavenet-A", Language: "fil-PH"},
}

// VoiceOf returns the Twilio voice and <Say> language of a call in lang: English's for a
// language without a catalog or a voice.
func VoiceOf(lang string) (voice, language string) {
	v := voiceOf(lang)
	return v.Voice, v.Language
}

func voiceOf(lang string) sayVoice {
	if v, ok := sayVoices[shipped.catalog(lang).Language]; ok {
		return v
	}
	return sayVoices["en"]
}

// sayElement is a <Say> of ssml (already escaped markup) in lang's voice.
func sayElement(lang, ssml string) string {
	v := voiceOf(lang)
	return `<Say voice="` + v.Voice + `" language="` + v.Language + `">` + ssml + `</Say>`
}

// NoticeCall renders the notice about status as the TwiML of a call in lang (English when
// ballotflow has no catalog in lang): the notice spoken, a pause, the county's help text, then
// "press 1 to hear it again", posted to repeatURL (without repeatURL the notice is read
// twice). It fails only where Render fails.
func NoticeCall(lang, status string, d Data, repeatURL string) (string, error) {
	call, err := RenderCall(lang, status, d, repeatURL)
	return call.TwiML, err
}

// Call is a notice rendered as a call.
type Call struct {
	TwiML   string
	Version int64 // the version of the county's wording used; 0 for the catalog's alone (Message.Version)
}

// RenderCall is NoticeCall, saying which version of the county's wording it used.
func RenderCall(lang, status string, d Data, repeatURL string) (Call, error) {
	spoken := d
	spoken.FirstName, spoken.LastName = SpokenName(d.FirstName), SpokenName(d.LastName)
	spoken.HelpText = ""
	m, err := Render(lang, status, spoken)
	if err != nil {
		return Call{}, err
	}
	lang = shipped.catalog(lang).Language
	ssml := speechSSML(lang, m.Speech, d.CureDeadline)
	if help := strings.TrimSpace(d.HelpText); help != "" {
		ssml += `<break time="700ms"/>` + speechSSML(lang, help, "")
	}
	return Call{TwiML: callDocument(lang, ssml, repeatURL), Version: m.SpeechVersion}, nil
}

// SpokenName is a name as a voice should read it: a name written in capitals only, as voter
// rolls often are, in capitals at the start of each word; any other name as it is.
func SpokenName(name string) string {
	name = strings.TrimSpace(name)
	if strings.IndexFunc(name, unicode.IsLower) >= 0 || strings.IndexFunc(name, unicode.IsUpper) < 0 {
		return name
	}
	var b strings.Builder
	start := true
	for _, r := range name {
		switch {
		case !unicode.IsLetter(r):
			b.WriteRune(r)
			start = true
		case start:
			b.WriteRune(unicode.ToTitle(r))
			start = false
		default:
			b.WriteRune(unicode.ToLower(r))
		}
	}
	return b.String()
}

// speechSSML escapes text for <Say>, with the written deadline (as Render wrote it) spoken
// as a date, and clock times and phone numbers as lang says them.
func speechSSML(lang, text, deadline string) string {
	day, err := time.Parse(time.DateOnly, deadline)
	if err != nil {
		return markSpeech(lang, text)
	}
	c := shipped.catalog(lang)
	written, err := (&wording{catalogSet: shipped}).date(c, deadline, "date.long")
	if err != nil || written == "" {
		return markSpeech(lang, text)
	}
	spoken := spokenDate(lang, day)
	parts := strings.Split(text, written)
	var b strings.Builder
	for i, p := range parts {
		if i > 0 {
			b.WriteString(spoken)
		}
		b.WriteString(markSpeech(lang, p))
	}
	return b.String()
}

// spokenDate is SSML for a date in the coming weeks, as lang says it: its weekday (the
// catalog's speech.weekday), day and month, without the year (a cure deadline is weeks away).
func spokenDate(lang string, t time.Time) string {
	c := shipped.catalog(lang)
	wd, m, d := int(t.Weekday()), int(t.Month()), t.Day()
	day, month := strconv.Itoa(d), strconv.Itoa(m)
	weekday, err := shipped.text(c, weekdayID(wd), templateData{})
	if err != nil {
		return escapeSpeech(t.Format("Monday, January 2")) // every catalog has every weekday: the loader checks
	}
	sayAs := func(format, value string) string {
		return `<say-as interpret-as="date" format="` + format + `">` + value + `</say-as>`
	}
	switch c.Language {
	case "en":
		return escapeSpeech(weekday+", ") + sayAs("md", month+"/"+day)
	case "es":
		return escapeSpeech(weekday+" ") + sayAs("dm", day+"/"+month)
	case "ko":
		return escapeSpeech(month + "월 " + day + "일 " + weekday)
	case "zh-Hant":
		return escapeSpeech(month + "月" + day + "日" + weekday)
	case "vi":
		return escapeSpeech(weekday + ", ngày " + day + " tháng " + month)
	case "tl":
		monthName, err := shipped.text(c, monthID(m), templateData{})
		if err != nil {
			monthName = month
		}
		return escapeSpeech(weekday + ", ika-" + day + " ng " + monthName)
	}
	// A catalog added since: its weekday, then the date as its catalog writes it.
	written, err := (&wording{catalogSet: shipped}).date(c, t.Format(time.DateOnly), "date.short")
	if err != nil {
		return escapeSpeech(weekday)
	}
	return escapeSpeech(weekday + ", " + written)
}

var (
	// clockTime is a time written "7 p.m." or "7:30 a.m.".
	clockTime = regexp.MustCompile(`\b(1[0-2]|0?[1-9])(:[0-5][0-9])? ?([aApP])\.? ?[mM](?:\.|\b)`)
	// usPhone is a North American number as counties write them: 720-555-0100,
	// (720) 555-0100, 720.555.0100, +1 720 555 0100.
	usPhone = regexp.MustCompile(`(\+1[-. ]?)?(\(\d{3}\) ?|\b\d{3}[-. ])\d{3}[-. ]\d{4}\b`)
)

// markSpeech escapes text, saying clock times the way lang does and marking phone numbers
// for the voices that read them digit by digit when told.
func markSpeech(lang, text string) string {
	type mark struct {
		start, end int
		ssml       string
	}
	var marks []mark
	if say := clockTimes[lang]; say != nil {
		for _, m := range clockTime.FindAllStringSubmatchIndex(text, -1) {
			hour, _ := strconv.Atoi(text[m[2]:m[3]])
			minutes := ""
			if m[4] >= 0 {
				minutes = text[m[4]:m[5]]
			}
			pm := strings.EqualFold(text[m[6]:m[7]], "p")
			marks = append(marks, mark{m[0], m[1], escapeSpeech(say(hour, minutes, pm))})
		}
	}
	if v := voiceOf(lang); v.polly && (lang == "en" || lang == "es") {
		for _, m := range usPhone.FindAllStringIndex(text, -1) {
			marks = append(marks, mark{m[0], m[1], `<say-as interpret-as="telephone">` + escapeSpeech(text[m[0]:m[1]]) + `</say-as>`})
		}
	}
	if len(marks) == 0 {
		return escapeSpeech(text)
	}
	slices.SortStableFunc(marks, func(a, b mark) int { return a.start - b.start })
	var b strings.Builder
	at := 0
	for _, m := range marks {
		if m.start < at {
			continue // overlapping marks: the first wins
		}
		b.WriteString(escapeSpeech(text[at:m.start]))
		b.WriteString(m.ssml)
		at = m.end
	}
	b.WriteString(escapeSpeech(text[at:]))
	return b.String()
}

// clockTimes say a time of day in the languages whose catalogs write "7 p.m.", which their
// voices would read letter by letter: Spanish "7 de la noche", Tagalog "7 ng gabi". English
// voices read "7 p.m." as people say it.
var clockTimes = map[string]func(hour int, minutes string, pm bool) string{
	"es": func(hour int, minutes string, pm bool) string {
		part := "de la mañana"
		switch {
		case pm && hour == 12:
			part = "del mediodía"
		case pm && hour < 7:
			part = "de la tarde"
		case pm:
			part = "de la noche"
		case hour == 12:
			part = "de la noche"
		case hour < 6:
			part = "de la madrugada"
		}
		return strconv.Itoa(hour) + minutes + " " + part
	},
	"tl": func(hour int, minutes string, pm bool) string {
		part := "ng umaga"
		switch {
		case pm && hour == 12:
			part = "ng tanghali"
		case pm && hour < 6:
			part = "ng hapon"
		case pm:
			part = "ng gabi"
		case hour == 12:
			part = "ng hatinggabi"
		}
		return strconv.Itoa(hour) + minutes + " " + part
	},
}

// escapeSpeech escapes text for XML; characters XML cannot hold become U+FFFD.
func escapeSpeech(text string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(text))
	return b.String()
}
