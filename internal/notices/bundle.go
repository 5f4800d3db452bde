package notices

import (
	"fmt"
	"strings"

	"github.com/nicksnyder/go-i18n/v2/i18n"
	"golang.org/x/text/language"

	"github.com/ballotflow/ballotflow/internal/notices/catalogs"
)

// The embedded catalogs, loaded once into a go-i18n bundle. A catalog that fails its checks
// stops the process at start (and fails every test): a binary never ships a broken text.

// templateData is what a catalog's placeholders name. Its fields are the schema's
// placeholders (schema.go); a test holds the two together.
type templateData struct {
	Name, FirstName, Jurisdiction, Reason, Deadline, HelpText, Link string
	Day, Month, Year                                                string
	Was, Now                                                        string // a correction's clauses
}

// catalogSet is every loaded catalog, by language, and the go-i18n bundle that renders them.
type catalogSet struct {
	order      []string // languages, the default first
	byLang     map[string]*Catalog
	localizers map[string]*i18n.Localizer
}

var shipped = mustLoadShipped()

func mustLoadShipped() *catalogSet {
	files := map[string][]byte{}
	for _, lang := range catalogs.Languages() {
		data, err := catalogs.File(lang)
		if err != nil {
			panic(err)
		}
		files[lang] = data
	}
	set, err := loadCatalogs(catalogs.Languages(), files)
	if err != nil {
		panic(fmt.Sprintf("notices: embedded catalog: %v", err))
	}
	return set
}

// loadCatalogs parses and checks the catalogs of langs (the reference, catalogs.Default,
// first) and loads them into one go-i18n bundle.
func loadCatalogs(langs []string, files map[string][]byte) (*catalogSet, error) {
	if len(langs) == 0 || langs[0] != catalogs.Default {
		return nil, fmt.Errorf("the %s catalog must come first", catalogs.Default)
	}
	bundle := i18n.NewBundle(language.English)
	set := &catalogSet{byLang: map[string]*Catalog{}, localizers: map[string]*i18n.Localizer{}}
	var reference *Catalog
	for _, lang := range langs {
		c, err := ParseCatalog(lang+".toml", files[lang], reference)
		if err != nil {
			return nil, err
		}
		if reference == nil {
			reference = c
		}
		tag, err := language.Parse(lang)
		if err != nil {
			return nil, &CatalogError{File: lang + ".toml", Field: metaLanguage, Message: "is not a language go-i18n knows"}
		}
		msgs := make([]*i18n.Message, 0, len(c.texts))
		for _, id := range sortedKeys(c.texts) {
			msgs = append(msgs, &i18n.Message{ID: id, Other: c.texts[id]})
		}
		if err := bundle.AddMessages(tag, msgs...); err != nil {
			return nil, fmt.Errorf("%s.toml: %w", lang, err)
		}
		set.order = append(set.order, lang)
		set.byLang[lang] = c
		set.localizers[lang] = i18n.NewLocalizer(bundle, tag.String())
	}
	return set, nil
}

// catalog returns lang's catalog, or the default's when there is none in lang.
func (s *catalogSet) catalog(lang string) *Catalog {
	if c, ok := s.byLang[lang]; ok {
		return c
	}
	return s.byLang[catalogs.Default]
}

// text renders message id of c with data. Every id a caller names is in every catalog (the
// loader checks) or is optional and asked for only after has, so a failure here is a bug.
func (s *catalogSet) text(c *Catalog, id string, data templateData) (string, error) {
	out, err := s.localizers[c.Language].Localize(&i18n.LocalizeConfig{MessageID: id, TemplateData: data})
	if err != nil {
		return "", fmt.Errorf("render %s in %s: %w", id, c.Language, err)
	}
	return strings.TrimSpace(out), nil
}
