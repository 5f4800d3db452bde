// Package notices renders what a voter reads or hears about their ballot, in every
// language ballotflow has a catalog for (internal/notices/catalogs: one file a language,
// loaded with go-i18n). Every notice names its voter, because a household may share one
// email address or phone, and says what happens next.
package notices

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/ballotflow/ballotflow/internal/ballot"
)

// Data is what a notice may mention.
type Data struct {
	FirstName    string
	LastName     string
	Jurisdiction string // "Denver County Elections"
	HelpText     string // how to reach the office, in the notice's language when the county gave one
	Reason       string // challenge or rejection reason, as the county gave it
	CureDeadline string // YYYY-MM-DD
	// SMSFooter asks for the opt-out footer ("Reply STOP to opt out.") at the end of the text:
	// the SMS delivery decides, by when the number last got it (see SMSFooterPeriod).
	SMSFooter bool
	// Overrides is the county's own wording, taken over the catalog's texts; nil for the
	// catalog's alone.
	Overrides *Overrides
}

// Message is a rendered notice for each channel.
type Message struct {
	Subject string // email
	Text    string // email body: the notice and how to reach the office
	SMS     string // the notice, short enough for the catalog's segments; the footer when asked for
	Speech  string // read aloud on a call: the notice and how to reach the office
	// The version of the county's wording (Data.Overrides) each channel's texts used: 0 when
	// they are the catalog's alone.
	EmailVersion, SMSVersion, SpeechVersion int64
}

// Render returns the notice about status for a voter, in lang (English when lang has no
// catalog).
func Render(lang, status string, d Data) (Message, error) {
	return (&wording{catalogSet: shipped, overrides: d.Overrides}).render(lang, status, d)
}

// wording is the catalogs with a county's overrides over them, for one rendering: it notes
// whether any override was used.
type wording struct {
	*catalogSet
	overrides *Overrides
	used      bool
}

// text renders message id of c with data: the county's text when it overrides it in c's
// language, else the catalog's.
func (w *wording) text(c *Catalog, id string, data templateData) (string, error) {
	t, ok := w.overrides.lookup(c.Language, id)
	if !ok {
		return w.catalogSet.text(c, id, data)
	}
	var b strings.Builder
	if err := t.Execute(&b, data); err != nil {
		return "", fmt.Errorf("render the county's %s in %s: %w", id, c.Language, err)
	}
	w.used = true
	return strings.TrimSpace(b.String()), nil
}

// has reports whether id has a text in c's language: the catalog's or the county's.
func (w *wording) has(c *Catalog, id string) bool {
	_, ok := w.overrides.lookup(c.Language, id)
	return ok || c.has(id)
}

// since is the version of the county's wording used since the last call; 0 for none.
func (w *wording) since() int64 {
	used := w.used
	w.used = false
	if !used {
		return 0
	}
	return w.overrides.Version
}

// noticeData is what a notice's placeholders say of d, its deadline in date.long.
func (w *wording) noticeData(c *Catalog, d Data) (templateData, error) {
	data := templateData{Name: fullName(d.FirstName, d.LastName), FirstName: firstName(d.FirstName, d.LastName),
		Jurisdiction: strings.TrimSpace(d.Jurisdiction), HelpText: strings.TrimSpace(d.HelpText), Reason: strings.TrimSpace(d.Reason)}
	var err error
	if data.Reason == "" {
		if data.Reason, err = w.text(c, "notice.no_reason", templateData{}); err != nil {
			return templateData{}, err
		}
	}
	if data.Deadline, err = w.date(c, d.CureDeadline, "date.long"); err != nil {
		return templateData{}, err
	}
	return data, nil
}

func (w *wording) render(lang, status string, d Data) (Message, error) {
	st := ballot.Status(status)
	c := w.catalog(lang)
	was, now, correction := parseCorrectionKey(status)
	if correction {
		st = KindCorrection
	} else if st == KindCorrection || strings.HasPrefix(status, KindCorrection+"/") {
		return Message{}, fmt.Errorf("a correction's notice is named by CorrectionKey, not %q", status)
	}
	if !c.has(noticeID(st, "email")) {
		return Message{}, fmt.Errorf("no notice for status %q", status)
	}
	// Which texts each channel takes from the county is noted as they are rendered: the
	// shared words (a missing reason or deadline), the subject, the body, the speech, the text.
	data, err := w.noticeData(c, d)
	if err != nil {
		return Message{}, err
	}
	// A correction's clauses say the deadline as the text around them does: long, then short.
	clauses := func() error {
		if !correction {
			return nil
		}
		if data.Was, err = w.text(c, statusWasID(was), data); err != nil {
			return err
		}
		data.Now, err = w.text(c, statusNowID(now), data)
		return err
	}
	if err := clauses(); err != nil {
		return Message{}, err
	}
	shared := w.since()
	var m Message
	if m.Subject, err = w.text(c, noticeID(st, "subject"), data); err != nil {
		return Message{}, err
	}
	subject := w.since()
	body, err := w.text(c, noticeID(st, "email"), data)
	if err != nil {
		return Message{}, err
	}
	m.Text = withHelp(body, data.HelpText)
	m.Speech = m.Text
	bodyVersion := w.since()
	m.EmailVersion = max(shared, subject, bodyVersion)
	m.SpeechVersion = max(shared, bodyVersion)
	if w.has(c, noticeID(st, "speech")) {
		speech, err := w.text(c, noticeID(st, "speech"), data)
		if err != nil {
			return Message{}, err
		}
		m.Speech = withHelp(speech, data.HelpText)
		m.SpeechVersion = max(shared, w.since())
	}
	if data.Deadline, err = w.date(c, d.CureDeadline, "date.short"); err != nil {
		return Message{}, err
	}
	if err := clauses(); err != nil {
		return Message{}, err
	}
	if m.SMS, err = w.sms(c, st, data, d.SMSFooter); err != nil {
		return Message{}, err
	}
	m.SMSVersion = max(shared, w.since())
	return m, nil
}

// sms picks the notice's text (see fit), with the footer when asked for.
func (w *wording) sms(c *Catalog, st ballot.Status, data templateData, footer bool) (string, error) {
	end := ""
	if footer {
		f, err := w.text(c, "sms.footer", templateData{})
		if err != nil {
			return "", err
		}
		end = " " + f
	}
	text, err := w.fit(c, noticeID(st, "sms"), data, end)
	if err != nil {
		return "", err
	}
	return text + end, nil
}

// fit renders text message id, or its shorter wording (id + "_short") when the catalog has
// one and the text followed by end would take more than the catalog's segments.
func (w *wording) fit(c *Catalog, id string, data templateData, end string) (string, error) {
	text, err := w.text(c, id, data)
	if err != nil {
		return "", err
	}
	if SMSCostOf(text+end).Segments > c.SMSSegments+schema[id].extra && w.has(c, id+shortSuffix) {
		return w.text(c, id+shortSuffix, data)
	}
	return text, nil
}

// date writes a YYYY-MM-DD date with the catalog's format id (date.long or date.short), or
// the catalog's words for a deadline the county did not give.
func (w *wording) date(c *Catalog, date, id string) (string, error) {
	t, err := time.Parse(time.DateOnly, date)
	if err != nil {
		return w.text(c, "notice.no_deadline", templateData{})
	}
	month, err := w.text(c, monthID(int(t.Month())), templateData{})
	if err != nil {
		return "", err
	}
	return w.text(c, id, templateData{Day: strconv.Itoa(t.Day()), Month: month, Year: strconv.Itoa(t.Year())})
}

func withHelp(body, help string) string {
	if help == "" {
		return body
	}
	return body + " " + help
}

func fullName(first, last string) string {
	return strings.TrimSpace(strings.TrimSpace(first) + " " + strings.TrimSpace(last))
}

// firstName is how a text greets its voter: by first name, or by full name when the roll
// has no first name.
func firstName(first, last string) string {
	if f := strings.TrimSpace(first); f != "" {
		return f
	}
	return fullName(first, last)
}

// SMSFooterPeriod is how often a number gets the opt-out footer ("Reply STOP to opt out.")
// on a notice text. The CTIA Messaging Principles and Best Practices (May 2023) ask for
// opt-out instructions in the opt-in confirmation (§5.1.2.1, "Confirm Opt-In for Recurring
// Messages"; §5.1.3, "Consumer Opt-Out"), and carriers and aggregators read them, for
// recurring programs, as repeating those instructions at regular intervals, commonly at
// least monthly. So: the confirmation always says how to stop and get help; a number gets
// the footer on its first notice (a subscription imported from an older system never got a
// confirmation) and on its first notice once this period has passed since it last got it;
// replies to HELP and other texts always say it. Never on every text: it would add a
// segment to most of them.
const SMSFooterPeriod = 30 * 24 * time.Hour
