package notices_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ballotflow/ballotflow/internal/ballot"
	"github.com/ballotflow/ballotflow/internal/notices"
	"github.com/ballotflow/ballotflow/internal/notices/catalogs"
)

func reference(t testing.TB) *notices.Catalog {
	data, err := catalogs.File("en")
	require.NoError(t, err)
	c, err := notices.ParseCatalog("en.toml", data, nil)
	require.NoError(t, err)
	return c
}

func shippedFile(t testing.TB, lang string) string {
	data, err := catalogs.File(lang)
	require.NoError(t, err)
	return string(data)
}

func TestEveryShippedCatalogLoadsAndTheLanguagesFollowTheFiles(t *testing.T) {
	ref := reference(t)
	require.Equal(t, catalogs.Languages(), ballot.Languages, "adding a language is adding a file")
	require.Subset(t, ballot.Languages, []string{"en", "es", "zh-Hant", "vi", "ko", "tl"})
	for _, lang := range catalogs.Languages() {
		c, err := notices.ParseCatalog(lang+".toml", []byte(shippedFile(t, lang)), ref)
		require.NoError(t, err, lang)
		require.Equal(t, lang, c.Language)
		l, ok := notices.LanguageOf(lang)
		require.True(t, ok)
		require.Equal(t, c.NeedsReview(), l.NeedsReview)
	}
	require.Equal(t, []string{"en", "es"}, notices.ReviewedLanguages(),
		"machine-written catalogs wait for a county's review")
	for _, lang := range []string{"zh-Hant", "vi", "ko", "tl"} {
		l, _ := notices.LanguageOf(lang)
		require.True(t, l.NeedsReview, lang)
		require.Equal(t, notices.ReviewNeeded, l.Review, lang)
	}
}

// TestABadCatalogIsRefusedNamingTheField: a catalog is data a county may one day supply;
// every mistake is refused with the field at fault, never the text.
func TestABadCatalogIsRefusedNamingTheField(t *testing.T) {
	ref := reference(t)
	es := shippedFile(t, "es")
	replace := func(old, new string) string {
		require.Contains(t, es, old)
		return strings.Replace(es, old, new, 1)
	}
	for _, c := range []struct {
		name, file, text, field, says string
	}{
		{"not TOML", "es.toml", "[catalog\nlanguage = ", "", "not valid TOML at line"},
		{"wrong file", "fr.toml", es, "catalog.language", "file's name"},
		{"unknown review", "es.toml", replace(`review = "approved"`, `review = "looks fine"`), "catalog.review", "must be"},
		{"segments as text", "es.toml", replace(`sms_segments = 2`, `sms_segments = "2"`), "catalog.sms_segments", "whole number"},
		{"unknown setting", "es.toml", replace(`sms_segments = 2`, "sms_segments = 2\ncolour = \"red\""), "catalog.colour", "not a setting"},
		{"unknown message", "es.toml", replace(`[sms]`, "[sms]\nfooterz = \"STOP\""), "sms.footerz", "not a message"},
		{"missing message", "es.toml", replace(`footer = "Responda STOP para cancelar."`, ``), "sms.footer", "is missing"},
		{"footer without STOP", "es.toml", replace(`footer = "Responda STOP para cancelar."`, `footer = "Responda PARE."`), "sms.footer", "keyword STOP"},
		{"placeholder it may not use", "es.toml", replace(`¡Gracias por votar!"`, `{{.Link}}"`), "notice.counted.sms", "{{.Link}}, which it may not"},
		{"unknown placeholder", "es.toml", replace(`¡Gracias por votar!"`, `{{.Address}}"`), "notice.counted.sms", "{{.Address}}"},
		{"voter not named", "es.toml", replace(`ha contado su boleta, {{.FirstName}}.`, `ha contado su boleta.`), "notice.counted.sms", "must name the voter"},
		{"reason left out", "es.toml", replace(`contar su boleta, {{.FirstName}}: {{.Reason}}. Responda`, `contar su boleta, {{.FirstName}}. Responda`), "notice.rejected.sms", "{{.Reason}}"},
		{"code in a template", "es.toml", replace(`¡Gracias por votar!"`, `{{range .Name}}x{{end}}"`), "notice.counted.sms", "only placeholders"},
		{"function call", "es.toml", replace(`¡Gracias por votar!"`, `{{printf .Name}}"`), "notice.counted.sms", "placeholder"},
		{"broken placeholder", "es.toml", replace(`¡Gracias por votar!"`, `{{.Name"`), "notice.counted.sms", "broken placeholder"},
		{"not text", "es.toml", replace(`footer = "Responda STOP para cancelar."`, `footer = 7`), "sms.footer", "must be text"},
		{"control character", "es.toml", replace(`¡Gracias por votar!"`, `\u0007"`), "notice.counted.sms", "control character"},
		{"decomposed accent", "es.toml", replace(`subject = "Su boleta está en camino"`, "subject = \"Su boleta esta\u0301 en camino\""), "notice.mailed.subject", "NFC"},
		{"portal markup", "es.toml", replace(`off = "<strong>Desactivado.</strong>"`, `off = "<img src=x onerror=alert(1)>"`), "portal.state.off", "markup"},
		{"portal placeholder", "es.toml", replace(`currentStatus = "Estado actual: {status}"`, `currentStatus = "Estado actual: {estado}"`), "portal.currentStatus", "{status}"},
		{"portal text the page lacks", "es.toml", replace(`[portal.tz]`, "[portal.tz]\nmars = \"Marte\""), "portal.tz.mars", "not a text of the portal"},
		{"portal text missing", "es.toml", replace(`guam = "Guam"`, ``), "portal.tz.guam", "is missing"},
		{"a key with a dot", "es.toml", replace(`[sms]`, "[sms]\n\"a.b\" = \"x\""), "sms.a.b", "letters, digits and _"},
		{"email frame without the voter", "es.toml", replace(`de la boleta de {{.Name}}."`, `de la boleta."`), "email.sent_by", "{{.Name}}"},
		{"weekday missing", "es.toml", replace(`6 = "sábado"`, ``), "speech.weekday.6", "is missing"},
		{"unsubscribe page missing", "es.toml", replace(`button = "Dejar de recibir estos correos"`, ``), "unsubscribe.button", "is missing"},
		{"not UTF-8", "es.toml", "\xff\xfe", "", "UTF-8"},
		{"too big", "es.toml", strings.Repeat("#", 600<<10), "", "at most 512 KiB"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := notices.ParseCatalog(c.file, []byte(c.text), ref)
			var ce *notices.CatalogError
			require.True(t, errors.As(err, &ce), "%v", err)
			require.Equal(t, c.file, ce.File)
			require.Equal(t, c.field, ce.Field)
			require.Contains(t, ce.Error(), c.says)
		})
	}
}

// FuzzParseCatalog: whatever a file holds, ParseCatalog either refuses it with a
// CatalogError naming the file, or returns a catalog that renders every notice.
func FuzzParseCatalog(f *testing.F) {
	ref := reference(f)
	for _, lang := range catalogs.Languages() {
		f.Add(shippedFile(f, lang))
	}
	es := shippedFile(f, "es")
	for _, seed := range []string{"", "[catalog]", "x = 1", "[[a]]\nb = 1", "a = [1, \"x\"]", "a = {b = 1}",
		"[catalog]\nlanguage = \"es\"\nsms_segments = 99999999999999999999",
		strings.Replace(es, "{{.FirstName}}", "{{.FirstName", 1),
		strings.Replace(es, "{{.FirstName}}", "{{template \"x\"}}", 1),
		strings.Replace(es, "[sms]", "[sms]\n[sms.footer]\nx = \"STOP\"", 1),
		strings.Replace(es, "{status}", "{{status}}", 1),
		"\x00", "a = \"\\u0000\"", "a = 1979-05-27T07:32:00Z"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, text string) {
		c, err := notices.ParseCatalog("es.toml", []byte(text), ref)
		if err != nil {
			var ce *notices.CatalogError
			require.True(t, errors.As(err, &ce), "%T %v", err, err)
			require.Equal(t, "es.toml", ce.File)
			require.NotEmpty(t, ce.Message)
			return
		}
		require.Equal(t, "es", c.Language)
		require.Positive(t, c.SMSSegments)
	})
}
