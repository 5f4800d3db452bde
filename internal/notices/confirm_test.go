package notices_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ballotflow/ballotflow/internal/notices"
)

func TestConfirmationsNameTheVoterAndSayWhatToDo(t *testing.T) {
	d := notices.ConfirmData{FirstName: "Ana", LastName: "Smith", Jurisdiction: "Denver Elections Division",
		HelpText: "Call 720-555-0100.", Link: "https://ballots.example.org/v1/portal/confirm-email?token=abc"}
	for _, lang := range []string{"en", "es"} {
		sms, err := notices.RenderConfirmation(lang, "sms", d)
		require.NoError(t, err)
		require.Contains(t, sms.SMS, "Ana", "households share phones")
		require.NotContains(t, sms.SMS, "Smith", "a text to a number nobody confirmed yet names no more than it must")
		require.Regexp(t, `\b(YES|SI)\b`, sms.SMS)
		require.Contains(t, sms.SMS, "STOP", "the first text to a number says how to stop (CTIA)")
		require.Regexp(t, `\b(HELP|AYUDA)\b`, sms.SMS)
		require.LessOrEqual(t, notices.SMSCostOf(sms.SMS).Segments, 2)

		email, err := notices.RenderConfirmation(lang, "email", d)
		require.NoError(t, err)
		require.NotEmpty(t, email.Subject)
		require.Contains(t, email.Text, "Ana Smith")
		require.Contains(t, email.Text, d.Link)
		require.Contains(t, email.Text, d.HelpText)
	}
	es, _ := notices.RenderConfirmation("es", "sms", d)
	en, _ := notices.RenderConfirmation("en", "sms", d)
	require.NotEqual(t, en.SMS, es.SMS)
	other, err := notices.RenderConfirmation("fr", "sms", d)
	require.NoError(t, err)
	require.Equal(t, en.SMS, other.SMS, "other languages fall back to English")

	_, err = notices.RenderConfirmation("en", "email", notices.ConfirmData{FirstName: "A"})
	require.Error(t, err, "an email confirmation without its link is useless")
	_, err = notices.RenderConfirmation("en", "voice", d)
	require.Error(t, err, "voice needs no confirmation")
}
