package notices_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ballotflow/ballotflow/internal/ballot"
	"github.com/ballotflow/ballotflow/internal/notices"
)

var data = notices.Data{FirstName: "Ana", LastName: "Smith", Jurisdiction: "Denver Elections Division",
	HelpText: "Call 720-555-0100.", Reason: "the signature does not match", CureDeadline: "2026-11-12"}

func TestEveryNotifiedStatusRendersInEveryLanguageAndNamesTheVoter(t *testing.T) {
	for _, lang := range ballot.Languages {
		for _, status := range ballot.Statuses {
			if !status.Notifies() {
				continue // a replaced ballot ends quietly
			}
			m, err := notices.Render(lang, string(status), data)
			require.NoError(t, err, "%s %s", lang, status)
			require.NotEmpty(t, m.Subject)
			for _, text := range []string{m.Text, m.Speech} {
				require.Contains(t, text, "Ana Smith", "%s %s: two voters may share an email", lang, status)
				require.NotContains(t, text, "<no value>", "%s %s: placeholder left over", lang, status)
			}
			// A text greets its voter by first name: short, and all a household needs.
			require.Contains(t, m.SMS, "Ana", "%s %s: two voters may share a phone", lang, status)
			require.Contains(t, m.SMS, data.Jurisdiction, "%s %s: a text says who sends it", lang, status)
			require.Contains(t, m.Text, data.HelpText)
			require.LessOrEqual(t, notices.SMSCostOf(m.SMS).Segments, 2, "%s %s", lang, status)
		}
	}
}

func TestEveryLanguageHasItsOwnTexts(t *testing.T) {
	en, err := notices.Render("en", "mailed", data)
	require.NoError(t, err)
	for _, l := range notices.Languages()[1:] {
		m, err := notices.Render(l.Code, "mailed", data)
		require.NoError(t, err)
		require.NotEqual(t, en.SMS, m.SMS, "%s falls back to English: its catalog is not matched", l.Code)
		require.NotEqual(t, en.Subject, m.Subject, l.Code)
		require.NotEqual(t, notices.RepeatPrompt("en"), notices.RepeatPrompt(l.Code), l.Code)
	}
	require.Equal(t, notices.RepeatPrompt("en"), notices.RepeatPrompt("fr"), "no catalog: English")
}

func TestACureNoticeSaysWhyAndByWhen(t *testing.T) {
	en, err := notices.Render("en", "challenged", data)
	require.NoError(t, err)
	require.Contains(t, en.Text, "the signature does not match")
	require.Contains(t, en.Text, "November 12, 2026")
	require.Contains(t, en.Text, "cure form")

	es, err := notices.Render("es", "challenged", data)
	require.NoError(t, err)
	require.Contains(t, es.Text, "12 de noviembre de 2026")
	require.Contains(t, es.Subject, "Acción necesaria")

	noReason := data
	noReason.Reason, noReason.CureDeadline = "", ""
	m, err := notices.Render("en", "challenged", noReason)
	require.NoError(t, err)
	require.Contains(t, m.Text, "the county did not give a reason")
	require.Contains(t, m.Text, "the deadline your county gives")
}

func TestUnknownLanguageFallsBackToEnglishAndUnknownStatusIsAnError(t *testing.T) {
	fr, err := notices.Render("fr", "counted", data)
	require.NoError(t, err)
	en, _ := notices.Render("en", "counted", data)
	require.Equal(t, en, fr)

	_, err = notices.Render("en", "spoiled", data)
	require.Error(t, err)
	_, err = notices.Render("en", "replaced", data)
	require.Error(t, err, "a replaced ballot has no notice")
}

func TestSpanishNoticesAreSpanish(t *testing.T) {
	m, err := notices.Render("es", "accepted", data)
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(m.Subject, "Su boleta"), m.Subject)
	d := data
	d.SMSFooter = true
	m, err = notices.Render("es", "accepted", d)
	require.NoError(t, err)
	require.Contains(t, m.SMS, "Responda STOP")
}

func TestALongReasonGivesWayToTheShortText(t *testing.T) {
	d := data
	d.Reason = strings.Repeat("the envelope was damaged in the mail and ", 3) + "cannot be read"
	m, err := notices.Render("en", "challenged", d)
	require.NoError(t, err)
	require.Equal(t, 1, notices.SMSCostOf(m.SMS).Segments, m.SMS)
	require.Contains(t, m.SMS, "November 12", "the deadline stays")
	require.NotContains(t, m.SMS, "damaged")
	require.Contains(t, m.Text, "damaged", "the email says why")

	m, err = notices.Render("en", "challenged", data)
	require.NoError(t, err)
	require.Contains(t, m.SMS, data.Reason, "a short reason fits the text")
}

// TestACorrectionSaysWhatWasWrongAndWhatIsRight renders a correction in every language: it
// names the voter and the county, says the status told in error and the right one, with the
// cure deadline when the right status needs the voter's action; a key that names no status
// renders nothing.
func TestACorrectionSaysWhatWasWrongAndWhatIsRight(t *testing.T) {
	d := notices.Data{FirstName: "Maria", LastName: "Garcia", Jurisdiction: "Denver County Elections", CureDeadline: "2026-11-30"}
	for _, l := range notices.Languages() {
		m, err := notices.Render(l.Code, notices.CorrectionKey(ballot.StatusRejected, ballot.StatusChallenged), d)
		require.NoError(t, err, l.Code)
		for _, text := range []string{m.Text, m.SMS} {
			require.Contains(t, text, "Maria", l.Code)
			require.Contains(t, text, "Denver County Elections", l.Code)
			require.Contains(t, text, "30", "%s: the cure deadline: %q", l.Code, text)
		}
		require.NotEmpty(t, m.Subject, l.Code)
		other, err := notices.Render(l.Code, notices.CorrectionKey(ballot.StatusCounted, ballot.StatusChallenged), d)
		require.NoError(t, err, l.Code)
		require.NotEqual(t, m.Text, other.Text, "%s: the status told in error is said", l.Code)
	}
	m, err := notices.Render("en", notices.CorrectionKey(ballot.StatusRejected, ballot.StatusAccepted), d)
	require.NoError(t, err)
	require.Equal(t, "Earlier Denver County Elections told Maria Garcia that your ballot was rejected. "+
		"That was a mistake, and we are sorry: your ballot was accepted.", m.Text)
	m, err = notices.Render("en", notices.CorrectionKey(ballot.StatusMailed, ""), d)
	require.NoError(t, err)
	require.Contains(t, m.SMS, "we have not mailed your ballot yet")
	for _, bad := range []string{"correction", "correction/", "correction/rejected", "correction/replaced/accepted",
		"correction/rejected/bogus", "correction/none/accepted"} {
		_, err := notices.Render("en", bad, d)
		require.Error(t, err, bad)
	}
}
