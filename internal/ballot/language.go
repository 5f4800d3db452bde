package ballot

import "slices"

// Languages ballotflow writes notices in.
const (
	LanguageEnglish = "en"
	LanguageSpanish = "es"
)

// Languages lists every language ballotflow has texts for; English is the default.
var Languages = []string{LanguageEnglish, LanguageSpanish}

// IsLanguage reports whether ballotflow has texts in lang.
func IsLanguage(lang string) bool { return slices.Contains(Languages, lang) }

// NoticeLanguage is the language a voter hears from a county in: the language chosen for
// the channel, else the voter's, else English; and when the county does not offer it, the
// county's default (the first it offers). offered nil means every language ballotflow has.
func NoticeLanguage(channelLanguage, voterLanguage string, offered []string) string {
	lang := channelLanguage
	if lang == "" {
		lang = voterLanguage
	}
	if lang == "" {
		lang = LanguageEnglish
	}
	if len(offered) > 0 && !slices.Contains(offered, lang) {
		return offered[0]
	}
	return lang
}
