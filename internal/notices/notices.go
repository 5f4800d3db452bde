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
}

// Message is a rendered notice for each channel.
type Message struct {
	Subject string // email
	Text    string // email body: the notice and how to reach the office
	SMS     string // the notice, short enough for the catalog's segments; the footer when asked for
	Speech  string // read aloud on a call: the notice and how to reach the office
}

// Render returns the notice about status for a voter, in lang (English when lang has no
// catalog).
func Render(lang, status string, d Data) (Message, error) {
	return shipped.render(lang, status, d)
}

func (s *catalogSet) render(lang, status string, d Data) (Message, error) {
	st := ballot.Status(status)
	c := s.catalog(lang)
	if !c.has(noticeID(st, "email")) {
		return Message{}, fmt.Errorf("no notice for status %q", status)
	}
	data := templateData{Name: fullName(d.FirstName, d.LastName), FirstName: firstName(d.FirstName, d.LastName),
		Jurisdiction: strings.TrimSpace(d.Jurisdiction), HelpText: strings.TrimSpace(d.HelpText), Reason: strings.TrimSpace(d.Reason)}
	var err error
	if data.Reason == "" {
		if data.Reason, err = s.text(c, "notice.no_reason", templateData{}); err != nil {
			return Message{}, err
		}
	}
	if data.Deadline, err = s.date(c, d.CureDeadline, "date.long"); err != nil {
		return Message{}, err
	}
	var m Message
	if m.Subject, err = s.text(c, noticeID(st, "subject"), data); err != nil {
		return Message{}, err
	}
	body, err := s.text(c, noticeID(st, "email"), data)
	if err != nil {
		return Message{}, err
	}
	m.Text = withHelp(body, data.HelpText)
	m.Speech = m.Text
	if c.has(noticeID(st, "speech")) {
		speech, err := s.text(c, noticeID(st, "speech"), data)
		if err != nil {
			return Message{}, err
		}
		m.Speech = withHelp(speech, data.HelpText)
	}
	if data.Deadline, err = s.date(c, d.CureDeadline, "date.short"); err != nil {
		return Message{}, err
	}
	if m.SMS, err = s.sms(c, st, data, d.SMSFooter); err != nil {
		return Message{}, err
	}
	return m, nil
}

// sms picks the notice's text (see fit), with the footer when asked for.
func (s *catalogSet) sms(c *Catalog, st ballot.Status, data templateData, footer bool) (string, error) {
	end := ""
	if footer {
		f, err := s.text(c, "sms.footer", templateData{})
		if err != nil {
			return "", err
		}
		end = " " + f
	}
	text, err := s.fit(c, noticeID(st, "sms"), data, end)
	if err != nil {
		return "", err
	}
	return text + end, nil
}

// fit renders text message id, or its shorter wording (id + "_short") when the catalog has
// one and the text followed by end would take more than the catalog's segments.
func (s *catalogSet) fit(c *Catalog, id string, data templateData, end string) (string, error) {
	text, err := s.text(c, id, data)
	if err != nil {
		return "", err
	}
	if SMSCostOf(text+end).Segments > c.SMSSegments && c.has(id+shortSuffix) {
		return s.text(c, id+shortSuffix, data)
	}
	return text, nil
}

// date writes a YYYY-MM-DD date with the catalog's format id (date.long or date.short), or
// the catalog's words for a deadline the county did not give.
func (s *catalogSet) date(c *Catalog, date, id string) (string, error) {
	t, err := time.Parse(time.DateOnly, date)
	if err != nil {
		return s.text(c, "notice.no_deadline", templateData{})
	}
	month, err := s.text(c, monthID(int(t.Month())), templateData{})
	if err != nil {
		return "", err
	}
	return s.text(c, id, templateData{Day: strconv.Itoa(t.Day()), Month: month, Year: strconv.Itoa(t.Year())})
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
