// Package notices renders what a voter reads or hears about their ballot, in English and
// Spanish. Every notice names its voter, because a household may share one email address,
// and says what happens next.
package notices

import (
	"fmt"
	"strings"
	"time"

	"github.com/ballotflow/ballotflow/internal/ballot"
)

// Data is what a notice may mention.
type Data struct {
	FirstName    string
	LastName     string
	Jurisdiction string // "Denver County Elections"
	HelpText     string // how to reach the office, e.g. "Call 720-913-8683 or visit denvervotes.org."
	Reason       string // challenge or rejection reason, as the county gave it
	CureDeadline string // YYYY-MM-DD
}

// Message is a rendered notice for each channel.
type Message struct {
	Subject string // email
	Text    string // email body: the notice and how to reach the office
	SMS     string // the notice and the HELP/STOP keywords, short enough for a phone
	Speech  string // read aloud on a call: the notice and how to reach the office
}

type template struct {
	subject string
	body    string // %[1]s voter name, %[2]s jurisdiction, %[3]s reason, %[4]s cure deadline
}

// templates has a notice for every status voters are told about (ballot.Status.Notifies), in
// every one of ballot.Languages; a language it lacks falls back to English.
var templates = map[string]map[ballot.Status]template{
	ballot.LanguageEnglish: {
		ballot.StatusMailed: {"Your ballot is in the mail",
			"%[2]s has mailed the ballot of %[1]s. Vote it, sign the envelope and return it by mail or at a drop box by 7 p.m. on Election Day."},
		ballot.StatusUndeliverable: {"Your ballot could not be delivered",
			"The ballot %[2]s mailed to %[1]s was returned as undeliverable. Please contact your county election office to update your address and get a ballot."},
		ballot.StatusReceived: {"Your ballot was received",
			"%[2]s has received the ballot of %[1]s. Next, the signature on the envelope will be verified."},
		ballot.StatusAccepted: {"Your ballot was accepted",
			"The ballot of %[1]s passed signature verification at %[2]s and will be counted."},
		ballot.StatusChallenged: {"Action needed: your ballot cannot be counted yet",
			"The ballot of %[1]s could not be accepted yet by %[2]s: %[3]s. To have it counted, complete the cure form your county sends you (or download it from the county website) and return it by %[4]s."},
		ballot.StatusCured: {"Your ballot issue is resolved",
			"Thank you. The issue with the ballot of %[1]s is resolved and %[2]s will now process it."},
		ballot.StatusRejected: {"Your ballot could not be counted",
			"The ballot of %[1]s could not be counted by %[2]s: %[3]s. Please contact your county election office if you have questions."},
		ballot.StatusCounted: {"Your ballot was counted",
			"The ballot of %[1]s has been counted by %[2]s. Thank you for voting."},
	},
	ballot.LanguageSpanish: {
		ballot.StatusMailed: {"Su boleta está en camino",
			"%[2]s envió por correo la boleta de %[1]s. Vote, firme el sobre y devuélvalo por correo o en un buzón oficial antes de las 7 p.m. del Día de las Elecciones."},
		ballot.StatusUndeliverable: {"No se pudo entregar su boleta",
			"La boleta que %[2]s envió a %[1]s fue devuelta como no entregable. Comuníquese con la oficina electoral de su condado para actualizar su dirección y obtener una boleta."},
		ballot.StatusReceived: {"Recibimos su boleta",
			"%[2]s recibió la boleta de %[1]s. A continuación se verificará la firma del sobre."},
		ballot.StatusAccepted: {"Su boleta fue aceptada",
			"La boleta de %[1]s pasó la verificación de firma en %[2]s y será contada."},
		ballot.StatusChallenged: {"Acción necesaria: su boleta aún no puede ser contada",
			"%[2]s aún no pudo aceptar la boleta de %[1]s: %[3]s. Para que sea contada, complete el formulario de corrección que le enviará su condado (o descárguelo del sitio web del condado) y devuélvalo antes del %[4]s."},
		ballot.StatusCured: {"Se resolvió el problema con su boleta",
			"Gracias. Se resolvió el problema con la boleta de %[1]s y %[2]s la procesará ahora."},
		ballot.StatusRejected: {"Su boleta no pudo ser contada",
			"%[2]s no pudo contar la boleta de %[1]s: %[3]s. Comuníquese con la oficina electoral de su condado si tiene preguntas."},
		ballot.StatusCounted: {"Su boleta fue contada",
			"%[2]s contó la boleta de %[1]s. Gracias por votar."},
	},
}

var smsFooters = map[string]string{
	ballot.LanguageEnglish: "Reply HELP for help, STOP to stop.",
	ballot.LanguageSpanish: "Responda AYUDA o HELP para ayuda, STOP para cancelar.",
}

var noReason = map[string]string{
	ballot.LanguageEnglish: "the county did not give a reason",
	ballot.LanguageSpanish: "el condado no indicó el motivo",
}

// Render returns the notice about status for a voter, in lang (English when lang has none).
func Render(lang, status string, d Data) (Message, error) {
	set, ok := templates[lang]
	if !ok {
		lang, set = ballot.LanguageEnglish, templates[ballot.LanguageEnglish]
	}
	t, ok := set[ballot.Status(status)]
	if !ok {
		return Message{}, fmt.Errorf("no notice for status %q", status)
	}
	name := strings.TrimSpace(d.FirstName + " " + d.LastName)
	reason := strings.TrimSpace(d.Reason)
	if reason == "" {
		reason = noReason[lang]
	}
	deadline := formatDate(lang, d.CureDeadline)
	body := fmt.Sprintf(t.body, name, d.Jurisdiction, reason, deadline)
	withHelp := body
	if d.HelpText != "" {
		withHelp += " " + d.HelpText
	}
	return Message{
		Subject: t.subject,
		Text:    withHelp,
		SMS:     body + " " + smsFooters[lang],
		Speech:  withHelp,
	}, nil
}

var monthsES = []string{"enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto",
	"septiembre", "octubre", "noviembre", "diciembre"}

// formatDate writes a YYYY-MM-DD date the way a reader of lang expects it.
func formatDate(lang, date string) string {
	t, err := time.Parse(time.DateOnly, date)
	if err != nil {
		if lang == ballot.LanguageSpanish {
			return "la fecha límite que indique su condado"
		}
		return "the deadline your county gives"
	}
	if lang == ballot.LanguageSpanish {
		return fmt.Sprintf("%d de %s de %d", t.Day(), monthsES[t.Month()-1], t.Year())
	}
	return t.Format("January 2, 2006")
}
