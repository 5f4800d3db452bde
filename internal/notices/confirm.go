package notices

import (
	"fmt"
	"strings"

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

var confirmTemplates = map[string]map[string]template{
	ballot.LanguageEnglish: {
		ballot.ChannelSMS: {"",
			"%[2]s: reply YES to get text messages about the mail ballot of %[1]s. If you did not ask for them, ignore this message. Reply HELP for help, STOP to stop."},
		ballot.ChannelEmail: {"Confirm your email address for ballot notices",
			"%[2]s was asked to send notices about the mail ballot of %[1]s to this email address. To confirm, open this link: %[3]s\n\nIf this was not you, ignore this email: nothing will be sent to this address unless the link is opened."},
	},
	ballot.LanguageSpanish: {
		ballot.ChannelSMS: {"",
			"%[2]s: responda YES para recibir mensajes de texto sobre la boleta por correo de %[1]s. Si no los pidió, ignore este mensaje. Responda HELP para ayuda, STOP para cancelar."},
		ballot.ChannelEmail: {"Confirme su correo electrónico para los avisos de su boleta",
			"Se pidió a %[2]s que envíe a este correo electrónico avisos sobre la boleta por correo de %[1]s. Para confirmarlo, abra este enlace: %[3]s\n\nSi no fue usted, ignore este mensaje: no se enviará nada a esta dirección a menos que se abra el enlace."},
	},
}

// RenderConfirmation returns the message that asks a voter to confirm a new address on
// channel (ballot.ChannelSMS: reply YES; ballot.ChannelEmail: open the link), in lang
// (English when lang has none).
// Like every notice, it names its voter: households share phones and mailboxes.
func RenderConfirmation(lang, channel string, d ConfirmData) (Message, error) {
	set, ok := confirmTemplates[lang]
	if !ok {
		set = confirmTemplates[ballot.LanguageEnglish]
	}
	t, ok := set[channel]
	if !ok {
		return Message{}, fmt.Errorf("no confirmation message for channel %q", channel)
	}
	if channel == ballot.ChannelEmail && d.Link == "" {
		return Message{}, fmt.Errorf("an email confirmation needs a link")
	}
	name := strings.TrimSpace(d.FirstName + " " + d.LastName)
	body := fmt.Sprintf(t.body, name, d.Jurisdiction, d.Link)
	m := Message{Subject: t.subject, Text: body, SMS: body}
	if channel == ballot.ChannelEmail && d.HelpText != "" {
		m.Text += "\n\n" + d.HelpText
	}
	return m, nil
}
