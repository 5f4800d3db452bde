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
			for _, text := range []string{m.Text, m.SMS, m.Speech} {
				require.Contains(t, text, "Ana Smith", "%s %s: two voters may share an email", lang, status)
				require.NotContains(t, text, "%!", "%s %s: formatting verb left over", lang, status)
			}
			require.Contains(t, m.Text, data.HelpText)
			require.Contains(t, m.SMS, "STOP")
			require.LessOrEqual(t, len([]rune(m.SMS)), 480, "%s %s: an SMS of at most three segments", lang, status)
		}
	}
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
	require.Contains(t, m.SMS, "Responda")
}
