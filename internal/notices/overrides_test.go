package notices_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ballotflow/ballotflow/internal/notices"
)

// Each refusal of a county's text says what kind it is, and never quotes the text.
func TestOverrideRefusalsNameWhatIsWrong(t *testing.T) {
	for _, c := range []struct{ lang, id, text, code string }{
		{"xx", "notice.mailed.sms", "{{.Jurisdiction}}: {{.FirstName}}, ballot mailed.", notices.CodeUnknownLanguage},
		{"en", "notice.nope.sms", "{{.Jurisdiction}}: {{.FirstName}}", notices.CodeUnknownMessage},
		{"en", "reply.help", "{{.Jurisdiction}} {{.HelpText}} STOP", notices.CodeUnknownMessage},
		{"en", "portal.title", "Track it", notices.CodeUnknownMessage},
		{"en", "notice.mailed.sms", "   ", notices.CodeInvalidText},
		{"en", "notice.mailed.email", strings.Repeat("a", notices.MaxOverrideRunes+1), notices.CodeInvalidText},
		{"en", "notice.mailed.email", "<b>{{.Jurisdiction}}</b> mailed {{.Name}}'s ballot.", notices.CodeInvalidMarkup},
		{"en", "notice.mailed.email", "{{.Jurisdiction}} mailed {{.Name}}'s ballot {{printf \"%s\" .Name}}.", notices.CodeNotAPlaceholder},
		{"en", "notice.mailed.email", "{{.Jurisdiction}} mailed {{.Name}}'s ballot {{.Link}}.", notices.CodeUnknownPlaceholder},
		{"en", "notice.mailed.sms", "{{.Jurisdiction}} mailed your ballot.", notices.CodeMissingVoterName},
		{"en", "notice.mailed.email", "{{.Jurisdiction}} mailed your ballot.", notices.CodeMissingVoterName},
		{"en", "notice.challenged.sms", "{{.Jurisdiction}}: {{.FirstName}}, your ballot needs a fix: {{.Reason}}.", notices.CodeMissingPlaceholder},
		{"en", "notice.accepted.sms", "{{.Jurisdiction}} accepted your ballot, {{.FirstName}}. It will be counted along with every " +
			"other ballot that passed signature verification this week. Thank you for voting!", notices.CodeOverBudget},
	} {
		err := notices.CheckOverride(c.lang, c.id, c.text)
		var te *notices.TextError
		require.True(t, errors.As(err, &te), "%s %s: %v", c.lang, c.id, err)
		require.Equal(t, c.code, te.Code, "%s %s: %s", c.lang, c.id, te.Message)
		require.NotContains(t, te.Message, "mailed", "the text is never quoted")
	}
	require.NoError(t, notices.CheckOverride("en", "notice.mailed.sms",
		"{{.Jurisdiction}}: your ballot is in the mail, {{.FirstName}}. Return it by 7 p.m. on Election Day."))
}

// A text message with a shorter wording may use the whole budget: the footer then rides on
// the shorter one. A shorter wording, or a text without one, must fit with the footer.
func TestAnOverriddenTextFitsWithTheFooterWhenItMust(t *testing.T) {
	// 1 segment (160 GSM-7 septets) with the longest names, but not with the footer.
	long := "{{.Jurisdiction}} mailed your ballot, {{.FirstName}}. Vote, sign and return it by 7 p.m. on Election Day ok."
	require.NoError(t, notices.CheckOverride("en", "notice.mailed.sms", long), "notice.mailed has a short wording")
	err := notices.CheckOverride("en", "notice.mailed.sms_short", long)
	var te *notices.TextError
	require.ErrorAs(t, err, &te)
	require.Equal(t, notices.CodeOverBudget, te.Code)
	require.Contains(t, te.Message, "footer")
}

// Rendering takes the county's text over the catalog's in the voter's language only, and
// says which version of the county's wording it used.
func TestRenderTakesTheCountysWording(t *testing.T) {
	o := notices.NewOverrides(7, []notices.Override{
		{MessageID: "notice.mailed.sms", Language: "es", Text: "{{.Jurisdiction}}: {{.FirstName}}, su boleta va en camino."},
		{MessageID: "notice.mailed.subject", Language: "en", Text: "Your Denver ballot is on its way"},
		{MessageID: "notice.mailed.email", Language: "en", Text: "{{.Name}}: no jurisdiction, refused, left out."},
	})
	require.Equal(t, 2, o.Len(), "an override the schema refuses is left out")
	d := notices.Data{FirstName: "Maria", LastName: "Garcia", Jurisdiction: "Denver Elections", Overrides: o}

	es, err := notices.Render("es", "mailed", d)
	require.NoError(t, err)
	require.Equal(t, "Denver Elections: Maria, su boleta va en camino.", es.SMS)
	require.EqualValues(t, 7, es.SMSVersion)
	require.Zero(t, es.EmailVersion)

	en, err := notices.Render("en", "mailed", d)
	require.NoError(t, err)
	require.Equal(t, "Your Denver ballot is on its way", en.Subject)
	require.Contains(t, en.Text, "has mailed the ballot of Maria Garcia", "the catalog's body: the override was refused")
	require.EqualValues(t, 7, en.EmailVersion)
	require.Zero(t, en.SMSVersion)

	received, err := notices.Render("en", "received", d)
	require.NoError(t, err)
	require.Zero(t, received.EmailVersion+received.SMSVersion+received.SpeechVersion, "no text of this notice is overridden")

	email, err := notices.RenderEmail("en", "mailed", d, notices.EmailLinks{})
	require.NoError(t, err)
	require.EqualValues(t, 7, email.Version)
	require.Contains(t, email.HTML, "Your Denver ballot is on its way")

	call, err := notices.RenderCall("en", "mailed", d, "")
	require.NoError(t, err)
	require.Zero(t, call.Version, "the call reads the catalog's email text, not overridden here")

	d.Overrides = notices.NewOverrides(8, []notices.Override{{MessageID: "notice.mailed.speech", Language: "en",
		Text: "This is Denver Elections calling {{.Name}}: {{.Jurisdiction}} has mailed your ballot."}})
	call, err = notices.RenderCall("en", "mailed", d, "")
	require.NoError(t, err)
	require.EqualValues(t, 8, call.Version)
	require.Contains(t, call.TwiML, "This is Denver Elections calling Maria Garcia")

	d.Overrides = o
	p := notices.Previews("es", d, notices.PreviewFilter{Message: "notice.mailed.sms"})
	require.NotEmpty(t, p.Messages)
	for _, m := range p.Messages {
		require.EqualValues(t, 7, m.Version)
		require.Contains(t, m.Text, "su boleta va en camino")
	}
}
