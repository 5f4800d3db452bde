package notices

import "strings"

// Language describes one catalog: what the portal's language switch, previews and the
// jurisdictions API say about it.
type Language struct {
	Code        string `json:"code"`         // BCP 47: "en", "zh-Hant"
	Name        string `json:"name"`         // its own name: "Tiếng Việt"
	EnglishName string `json:"english_name"` // "Vietnamese"
	Review      string `json:"review"`       // ReviewApproved or ReviewNeeded
	NeedsReview bool   `json:"needs_review"` // no county has reviewed its texts yet
	SMSSegments int    `json:"sms_segments"` // segments a text may take with the longest realistic names
}

// Languages describes every catalog, English first.
func Languages() []Language {
	out := make([]Language, 0, len(shipped.order))
	for _, code := range shipped.order {
		out = append(out, describe(shipped.byLang[code]))
	}
	return out
}

// LanguageOf describes the catalog of code; false when there is none.
func LanguageOf(code string) (Language, bool) {
	c, ok := shipped.byLang[code]
	if !ok {
		return Language{}, false
	}
	return describe(c), true
}

// ReviewedLanguages are the languages whose catalogs a county has reviewed, English first:
// what a county offers when it names no languages. A catalog that needs review is offered
// only by a county that lists it.
func ReviewedLanguages() []string {
	var out []string
	for _, code := range shipped.order {
		if !shipped.byLang[code].NeedsReview() {
			out = append(out, code)
		}
	}
	return out
}

func describe(c *Catalog) Language {
	return Language{Code: c.Language, Name: c.Name, EnglishName: c.EnglishName, Review: c.Review,
		NeedsReview: c.NeedsReview(), SMSSegments: c.SMSSegments}
}

// PortalTexts are the portal page's texts in lang, nested as the page reads them
// ({"err": {"zip": "..."}}), and the language they are in: lang's when ballotflow has a
// catalog in lang, else English's.
func PortalTexts(lang string) (map[string]any, Language) {
	c := shipped.catalog(lang)
	out := map[string]any{}
	for id, text := range c.texts {
		key, ok := strings.CutPrefix(id, portalPrefix)
		if !ok {
			continue
		}
		parts := strings.Split(key, ".")
		node := out
		for _, p := range parts[:len(parts)-1] {
			child, ok := node[p].(map[string]any)
			if !ok {
				child = map[string]any{}
				node[p] = child
			}
			node = child
		}
		node[parts[len(parts)-1]] = text
	}
	return out, describe(c)
}
