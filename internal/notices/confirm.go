package notices

import (
	"fmt"

	"github.com/ballotflow/ballotflow/internal/ballot"
)

// ConfirmData is what a confirmation message mentions.
type ConfirmData struct {
	FirstName    string
	LastName     string
	Jurisdiction string
	HelpText     string
	Link         string // email only: the link that confirms the address
}

// RenderConfirmation returns the message that asks a voter to confirm a new address on
// channel (ballot.ChannelSMS: reply YES; ballot.ChannelEmail: open the link), in lang
// (English when lang has no catalog).
// Like every notice, it names its voter: households share phones and mailboxes. The text is
// the first a number gets from its county, so it always says how to get help and to stop
// (CTIA's opt-in confirmation; see SMSFooterPeriod).
func RenderConfirmation(lang, channel string, d ConfirmData) (Message, error) {
	return shipped.renderConfirmation(lang, channel, d)
}

func (s *catalogSet) renderConfirmation(lang, channel string, d ConfirmData) (Message, error) {
	c := s.catalog(lang)
	data := templateData{Name: fullName(d.FirstName, d.LastName), FirstName: firstName(d.FirstName, d.LastName),
		Jurisdiction: d.Jurisdiction, Link: d.Link}
	switch channel {
	case ballot.ChannelSMS:
		text, err := (&wording{catalogSet: s}).fit(c, "confirm.sms", data, "")
		if err != nil {
			return Message{}, err
		}
		return Message{SMS: text, Text: text}, nil
	case ballot.ChannelEmail:
		if d.Link == "" {
			return Message{}, fmt.Errorf("an email confirmation needs a link")
		}
		subject, err := s.text(c, "confirm.email.subject", data)
		if err != nil {
			return Message{}, err
		}
		body, err := s.text(c, "confirm.email.body", data)
		if err != nil {
			return Message{}, err
		}
		if d.HelpText != "" {
			body += "\n\n" + d.HelpText
		}
		return Message{Subject: subject, Text: body}, nil
	}
	return Message{}, fmt.Errorf("no confirmation message for channel %q", channel)
}
