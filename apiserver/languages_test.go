package apiserver_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ballotflow/ballotflow/internal/demo"
)

func (a *adminAPI) getRaw(t testing.TB, path, key string) (int, []byte) {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, path, nil)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	rec := httptest.NewRecorder()
	a.h.ServeHTTP(rec, req)
	return rec.Code, rec.Body.Bytes()
}

// A county gives its help text in each language it offers; a bad one is refused naming
// help_texts.<code>, and a county that names no languages offers the reviewed catalogs.
func TestHelpTextsAreGivenByLanguageAndCheckedOneByOne(t *testing.T) {
	t.Parallel()
	a := newAdminAPI(t)
	status, body := a.post(t, "/v1/jurisdictions", a.coState, goodJurisdiction)
	require.Equal(t, http.StatusOK, status, body)
	require.Equal(t, []any{"en", "es"}, body["jurisdiction"].(map[string]any)["languages"], "the reviewed catalogs by default")

	withHelp := strings.Replace(goodJurisdiction, `"help_text"`,
		`"languages":["en","ES","zh-hant"],"help_texts":{"es":"Llame al 720-555-0100.","zh-Hant":"請致電 720-555-0100。"},"help_text"`, 1)
	status, body = a.post(t, "/v1/jurisdictions", a.coState, withHelp)
	require.Equal(t, http.StatusOK, status, body)
	j := body["jurisdiction"].(map[string]any)
	require.Equal(t, []any{"en", "es", "zh-Hant"}, j["languages"], "codes as the catalogs spell them")
	require.Equal(t, map[string]any{"es": "Llame al 720-555-0100.", "zh-Hant": "請致電 720-555-0100。"}, j["help_texts"])
	stored, err := a.st.JurisdictionGetByCounty(rollCtx, "CO", "denver")
	require.NoError(t, err)
	require.Equal(t, "Llame al 720-555-0100.", stored.HelpTextIn("es"))
	require.Equal(t, "Call 720-555-0100.", stored.HelpTextIn("vi"), "no text in a language: the default's")
	status, _ = a.post(t, "/v1/jurisdictions", a.coState, withHelp)
	require.Equal(t, http.StatusOK, status)

	for _, c := range []struct{ helpTexts, field string }{
		{`{"fr":"Appelez."}`, "help_texts"},
		{`{"vi":"Xin gọi."}`, "help_texts"}, // not a language the county offers
		{`{"es":""}`, "help_texts.es"},
		{`{"es":"` + strings.Repeat("x", 481) + `"}`, "help_texts.es"},
		{`{"en":"Call us."}`, "help_texts.en"}, // the default's is help_text
		{`{"es":"Llame.","ES":"Llame."}`, "help_texts.es"},
	} {
		before := a.stored(t)
		status, body := a.post(t, "/v1/jurisdictions", a.coState, strings.Replace(goodJurisdiction, `"help_text"`,
			`"languages":["en","es"],"help_texts":`+c.helpTexts+`,"help_text"`, 1))
		require.Equal(t, http.StatusBadRequest, status, "%s: %v", c.helpTexts, body)
		require.Equal(t, c.field, errorField(body, "field"), c.helpTexts)
		require.Equal(t, before, a.stored(t))
	}
}

// Previews render every catalog for the longest names, say which catalogs need a county's
// review, and hold every text to its segments.
func TestNoticePreviewsShowEveryLanguageWithItsCost(t *testing.T) {
	t.Parallel()
	a := newAdminAPI(t)
	status, raw := a.getRaw(t, "/v1/notices/preview?channel=sms", a.coState)
	require.Equal(t, http.StatusOK, status, string(raw))
	var out struct {
		Previews []struct {
			Language struct {
				Code        string `json:"code"`
				NeedsReview bool   `json:"needs_review"`
			} `json:"language"`
			Messages []struct {
				ID   string `json:"id"`
				Text string `json:"text"`
				SMS  struct {
					Encoding string `json:"encoding"`
					Segments int    `json:"segments"`
					Limit    int    `json:"limit"`
				} `json:"sms"`
			} `json:"messages"`
		} `json:"previews"`
	}
	require.NoError(t, json.Unmarshal(raw, &out))
	var codes []string
	for _, p := range out.Previews {
		codes = append(codes, p.Language.Code)
		require.Equal(t, p.Language.Code != "en" && p.Language.Code != "es", p.Language.NeedsReview, p.Language.Code)
		require.NotEmpty(t, p.Messages)
		for _, m := range p.Messages {
			require.LessOrEqual(t, m.SMS.Segments, m.SMS.Limit, "%s %s: %s", p.Language.Code, m.ID, m.Text)
			if m.ID != "reply.unknown" {
				require.Contains(t, m.Text, "Pottawattamie", "%s %s: a text says who sends it", p.Language.Code, m.ID)
			}
		}
	}
	require.Equal(t, []string{"en", "es", "ko", "tl", "vi", "zh-Hant"}, codes)

	status, raw = a.getRaw(t, "/v1/notices/preview?language=vi&message=notice.counted&channel=voice&jurisdiction=Denver+Elections", a.operator)
	require.Equal(t, http.StatusOK, status, string(raw))
	require.Contains(t, string(raw), `"seconds":`)
	require.Contains(t, string(raw), "Denver Elections đã kiểm đếm")

	status, raw = a.getRaw(t, "/v1/notices/preview?language=fr", a.operator)
	require.Equal(t, http.StatusBadRequest, status)
	require.Contains(t, string(raw), `"field":"language"`)
	status, _ = a.getRaw(t, "/v1/notices/preview?channel=fax", a.operator)
	require.Equal(t, http.StatusBadRequest, status)
	status, _ = a.getRaw(t, "/v1/notices/preview", "")
	require.Equal(t, http.StatusUnauthorized, status)
}

// The portal page's words come from the catalogs: the English ones and the languages with
// the page's script, any other language on demand.
func TestThePortalPagesTextsComeFromTheCatalogs(t *testing.T) {
	t.Parallel()
	a := newAdminAPI(t)
	status, raw := a.getRaw(t, "/v1/portal/texts/VI", "")
	require.Equal(t, http.StatusOK, status)
	var vi struct {
		Language struct {
			Code        string `json:"code"`
			NeedsReview bool   `json:"needs_review"`
		} `json:"language"`
		Texts map[string]any `json:"texts"`
	}
	require.NoError(t, json.Unmarshal(raw, &vi))
	require.Equal(t, "vi", vi.Language.Code)
	require.True(t, vi.Language.NeedsReview)
	require.Equal(t, "Phiếu bầu của quý vị", vi.Texts["ballotHeading"])
	require.Equal(t, "Đã gửi", vi.Texts["status"].(map[string]any)["mailed"])

	status, _ = a.getRaw(t, "/v1/portal/texts/fr", "")
	require.Equal(t, http.StatusNotFound, status)

	status, raw = a.getRaw(t, "/i18n.js", "")
	require.Equal(t, http.StatusOK, status)
	require.True(t, strings.HasPrefix(string(raw), "window.ballotflowI18n = {"), string(raw[:40]))
	require.Contains(t, string(raw), `"zh-Hant"`)
	require.Contains(t, string(raw), `"Find your ballot"`)
}

// Every text the portal page names is in every catalog, in that catalog's language: the
// keys app.js writes out, and those it builds from what the API answers (a mail scan's
// direction). A key the page names and a catalog lacks would show as the bare key.
func TestEveryTextThePortalPageNamesIsInEveryCatalog(t *testing.T) {
	t.Parallel()
	a := newAdminAPI(t)
	script, err := os.ReadFile("web/app.js")
	require.NoError(t, err)
	keys := []string{"mail.outbound", "mail.return"}
	for _, m := range regexp.MustCompile(`[^\w.]t\("([A-Za-z0-9_.]+)"\)`).FindAllStringSubmatch(string(script), -1) {
		keys = append(keys, m[1])
	}
	require.Contains(t, keys, "mail.scannedIn")

	status, raw := a.getRaw(t, "/v1/portal/languages", "")
	require.Equal(t, http.StatusOK, status)
	var langs struct {
		Languages []struct {
			Code string `json:"code"`
		} `json:"languages"`
	}
	require.NoError(t, json.Unmarshal(raw, &langs))
	require.Len(t, langs.Languages, 6)
	english := map[string]string{}
	for _, l := range langs.Languages {
		status, raw := a.getRaw(t, "/v1/portal/texts/"+l.Code, "")
		require.Equal(t, http.StatusOK, status, l.Code)
		var got struct {
			Language struct {
				Code string `json:"code"`
			} `json:"language"`
			Texts map[string]any `json:"texts"`
		}
		require.NoError(t, json.Unmarshal(raw, &got))
		require.Equal(t, l.Code, got.Language.Code, "the catalog's own texts, not English's")
		for _, key := range keys {
			var node any = got.Texts
			for _, part := range strings.Split(key, ".") {
				m, ok := node.(map[string]any)
				require.True(t, ok, "%s: %s", l.Code, key)
				node = m[part]
			}
			text, ok := node.(string)
			require.True(t, ok, "%s: the page's text %q is missing", l.Code, key)
			require.NotEmpty(t, text, "%s: %s", l.Code, key)
			if l.Code == "en" {
				english[key] = text
			} else if key == "mail.outbound" || key == "mail.return" {
				require.NotEqual(t, english[key], text, "%s: %s is translated", l.Code, key)
			}
		}
		require.Contains(t, got.Texts["mail"].(map[string]any)["scannedIn"], "{place}", l.Code)
	}
}

// HELP answers with the county's help text in the reply's language when the county gave
// one, else with its default help text.
func TestHelpAnswersWithTheCountysHelpTextInTheRepliesLanguage(t *testing.T) {
	f := whSetup(t)
	const phone = "+13035550179"
	james := f.voter(t, 1)
	f.setSub(t, james, "sms", phone, "active")
	_, err := f.st.Pool().Exec(whCtx, `UPDATE jurisdictions SET help_texts = '{"es": "Llame al 720-555-0199."}'`)
	require.NoError(t, err)

	a := f.sms(t, phone, "AYUDA")
	require.Contains(t, a.body, "Llame al 720-555-0199.")
	require.Contains(t, a.body, "Responda STOP")
	a = f.sms(t, phone, "HELP")
	require.NotContains(t, a.body, "Llame", "James reads English")
	require.Contains(t, a.body, whEscapeXML(demo.Jurisdictions[0].HelpText))
}
