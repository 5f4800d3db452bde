// Package catalogs holds ballotflow's message catalogs, one TOML file per language
// (en.toml, es.toml, zh-Hant.toml, ...), embedded in the binary. Every text a voter reads
// or hears is in them: notices by email, text and call, confirmations, replies to HELP and
// other texts, the call's prompt and the weekdays it says, the words around a notice in an
// email, the unsubscribe page and the portal page. internal/notices loads and checks
// them; this package only lists them, so that internal/ballot can know which languages
// exist without loading a catalog.
//
// Adding a language is adding a file here, named by its BCP 47 code: the file's
// [catalog] table says its name and whether a county has reviewed it. The English catalog
// is the reference: every other catalog has the same message ids and placeholders.
package catalogs

import (
	"embed"
	"io/fs"
	"slices"
	"strings"
)

// FS is the embedded catalogs.
//
//go:embed *.toml
var FS embed.FS

// Default is the language of the reference catalog, and the one a voter hears from when
// nothing else fits.
const Default = "en"

// Languages returns the code of every embedded catalog: the default first, then the rest in
// code order.
func Languages() []string {
	entries, err := fs.Glob(FS, "*.toml")
	if err != nil {
		panic(err) // the pattern is well formed
	}
	langs := []string{Default}
	for _, e := range entries {
		code := strings.TrimSuffix(e, ".toml")
		if code != Default {
			langs = append(langs, code)
		}
	}
	slices.Sort(langs[1:])
	return langs
}

// File returns the catalog of lang, as the file holds it.
func File(lang string) ([]byte, error) {
	return FS.ReadFile(lang + ".toml")
}
