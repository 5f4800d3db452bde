package notices

import (
	"math"
	"strings"
	"unicode"

	"github.com/ballotflow/ballotflow/internal/ballot"
)

// Previews: every message of a catalog rendered for a sample voter with the longest
// realistic names, with what each text costs (encoding, characters, segments) and how long
// each call takes to read. `ballotflow notices preview` and GET /v1/notices/preview show them;
// the cost test holds every text to its segments with the same voter.

// LongestNames is the sample voter of previews and of the cost test: a 40-character county
// office, 30-character first and last names, a realistic help text, reason and deadline.
var LongestNames = Data{
	FirstName:    "Maximiliano Alejandro Santiago",
	LastName:     "Castellanos-Villanueva Montoya",
	Jurisdiction: "Pottawattamie County Auditor & Elections",
	HelpText:     "Call 712-555-0100 or visit pottcounty-ia.gov/vote.",
	Reason:       "the signature does not match",
	CureDeadline: "2026-11-12",
}

// Preview is a catalog's messages, rendered.
type Preview struct {
	Language Language         `json:"language"` // says whether the catalog still needs a county's review
	Sample   PreviewSample    `json:"sample"`   // the voter the messages name
	Messages []PreviewMessage `json:"messages"`
}

// PreviewSample is the voter and county a preview's messages name.
type PreviewSample struct {
	FirstName    string `json:"first_name"`
	LastName     string `json:"last_name"`
	Jurisdiction string `json:"jurisdiction"`
	HelpText     string `json:"help_text"`
	Reason       string `json:"reason"`
	CureDeadline string `json:"cure_deadline"`
}

// PreviewMessage is one rendered message.
type PreviewMessage struct {
	ID      string      `json:"id"`      // the catalog's message id: notice.mailed.sms
	Channel string      `json:"channel"` // email, sms or voice
	Note    string      `json:"note,omitempty"`
	Subject string      `json:"subject,omitempty"`
	Text    string      `json:"text"`
	SMS     *TextCost   `json:"sms,omitempty"`    // texts
	Speech  *SpeechCost `json:"speech,omitempty"` // calls
	// Version is the version of the county's wording shown (Data.Overrides); absent when
	// the message is the catalog's.
	Version int64 `json:"version,omitempty"`
}

// TextCost is what a text costs: SMSCostOf, with its characters.
type TextCost struct {
	Encoding   string `json:"encoding"`   // GSM-7 or UCS-2
	Characters int    `json:"characters"` // as a reader counts them
	Units      int    `json:"units"`      // septets or UCS-2 code units
	Segments   int    `json:"segments"`   // billed
	Limit      int    `json:"limit"`      // the catalog's segments for a text
}

// SpeechCost is how long a call reads a text.
type SpeechCost struct {
	Units   int    `json:"units"`   // words, or characters for a catalog that counts them
	Unit    string `json:"unit"`    // SpeechWords or SpeechCharacters
	Seconds int    `json:"seconds"` // approximate, at the catalog's speaking rate
}

// PreviewFilter picks messages: by id prefix (notice.mailed, reply, confirm) and channel.
type PreviewFilter struct {
	Message string
	Channel string
}

// Previews renders every message of lang's catalog (English when there is none) for d,
// as filter picks them.
func Previews(lang string, d Data, filter PreviewFilter) Preview {
	c := shipped.catalog(lang)
	p := Preview{Language: describe(c), Sample: PreviewSample{FirstName: d.FirstName, LastName: d.LastName,
		Jurisdiction: d.Jurisdiction, HelpText: d.HelpText, Reason: d.Reason, CureDeadline: d.CureDeadline}}
	add := func(m PreviewMessage) {
		if filter.Message != "" && !strings.HasPrefix(m.ID, filter.Message) {
			return
		}
		if filter.Channel != "" && m.Channel != filter.Channel {
			return
		}
		p.Messages = append(p.Messages, m)
	}
	sms := func(id, note, text string) PreviewMessage {
		return PreviewMessage{ID: id, Channel: ballot.ChannelSMS, Note: note, Text: text, SMS: textCost(c, text)}
	}
	keys := make([]string, 0, len(noticeStatuses)+len(NoticeKinds))
	for _, st := range noticeStatuses {
		keys = append(keys, string(st))
	}
	keys = append(keys, NoticeKinds...)
	for _, key := range keys {
		st := ballot.Status(key)
		plain, err := Render(c.Language, key, d)
		if err != nil {
			continue // every status and kind is in every catalog: the loader checks
		}
		footed := d
		footed.SMSFooter = true
		withFooter, _ := Render(c.Language, key, footed)
		version := func(parts ...string) int64 { return d.Overrides.versionOf(c.Language, st, parts...) }
		add(PreviewMessage{ID: noticeID(st, "email"), Channel: ballot.ChannelEmail, Subject: plain.Subject,
			Text: plain.Text, Note: "with the county's help text", Version: version("subject", "email")})
		for _, m := range []PreviewMessage{sms(noticeID(st, "sms"), "", plain.SMS),
			sms(noticeID(st, "sms"), "with the opt-out footer (first text to a number, then monthly)", withFooter.SMS)} {
			m.Version = version("sms", "sms"+shortSuffix)
			add(m)
		}
		add(PreviewMessage{ID: noticeID(st, "speech"), Channel: ballot.ChannelVoice, Text: plain.Speech,
			Speech: SpokenLength(c.Language, plain.Speech), Note: "before the prompt to hear it again",
			Version: version("speech", "email")})
	}
	cd := ConfirmData{FirstName: d.FirstName, LastName: d.LastName, Jurisdiction: d.Jurisdiction, HelpText: d.HelpText,
		Link: "https://ballots.example.org/v1/portal/confirm-email?token=" + strings.Repeat("x", 43)}
	if m, err := shipped.renderConfirmation(c.Language, ballot.ChannelSMS, cd); err == nil {
		add(sms("confirm.sms", "the first text to a new number", m.SMS))
	}
	if m, err := shipped.renderConfirmation(c.Language, ballot.ChannelEmail, cd); err == nil {
		add(PreviewMessage{ID: "confirm.email.body", Channel: ballot.ChannelEmail, Subject: m.Subject, Text: m.Text})
	}
	for _, kind := range replyKinds {
		text := shipped.reply(c.Language, kind, d)
		add(sms("reply."+string(kind), "answer to a text the voter sends", text))
	}
	if prompt, err := shipped.text(c, "call.repeat", templateData{}); err == nil {
		add(PreviewMessage{ID: "call.repeat", Channel: ballot.ChannelVoice, Text: prompt, Speech: SpokenLength(c.Language, prompt)})
	}
	return p
}

func textCost(c *Catalog, text string) *TextCost {
	cost := SMSCostOf(text)
	return &TextCost{Encoding: cost.Encoding, Characters: len([]rune(text)), Units: cost.Units, Segments: cost.Segments,
		Limit: c.SMSSegments}
}

// SpokenLength is about how long a call takes to read text in lang, at its catalog's
// speaking rate: words between spaces, or, for a catalog that counts characters (Chinese,
// Korean), each letter of its script and each Latin word (a name) as two.
func SpokenLength(lang, text string) *SpeechCost {
	c := shipped.catalog(lang)
	units := 0
	if c.SpeechUnit == SpeechCharacters {
		inWord := false
		for _, r := range text {
			switch {
			case r < 0x80 && (unicode.IsLetter(r) || unicode.IsDigit(r)):
				if !inWord {
					units += 2
				}
				inWord = true
			case unicode.IsLetter(r) || unicode.IsDigit(r):
				units++
				inWord = false
			default:
				inWord = false
			}
		}
	} else {
		units = len(strings.Fields(text))
	}
	seconds := int(math.Ceil(float64(units) * 60 / float64(c.SpeechPerMinute)))
	return &SpeechCost{Units: units, Unit: c.SpeechUnit, Seconds: seconds}
}
