package ballot

import (
	"slices"
	"strings"

	"github.com/ballotflow/ballotflow/internal/notices/catalogs"
)

// Languages ballotflow writes notices in that code names.
const (
	LanguageEnglish = "en"
	LanguageSpanish = "es"
)

// Languages lists every language ballotflow has texts for, English (the default) first:
// one a message catalog (internal/notices/catalogs), so adding a language is adding a file.
var Languages = catalogs.Languages()

// IsLanguage reports whether ballotflow has texts in lang, a code as Languages spells it.
func IsLanguage(lang string) bool { return slices.Contains(Languages, lang) }

// LanguageCode returns the code of the language s names in any case ("ZH-hant" is
// "zh-Hant"), as Languages spells it; false when ballotflow has no texts in it.
func LanguageCode(s string) (string, bool) {
	for _, l := range Languages {
		if strings.EqualFold(l, s) {
			return l, true
		}
	}
	return "", false
}

// LanguageList is Languages for a message: "en, es, ko, tl, vi, zh-Hant".
func LanguageList() string { return strings.Join(Languages, ", ") }

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
