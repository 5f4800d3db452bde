package notices

import (
	"fmt"
	"regexp"
	"strings"
	"text/template"

	"github.com/ballotflow/ballotflow/internal/ballot"
)

// A county's own wording (issue 14): a state or county replaces a notice's text in one
// language with its own, by the catalog's message id. An override is checked as the
// catalog's text is (CheckOverride: the same schema, the same placeholders, the voter
// named), and more: no markup, and a text message fits the catalog's segments with the
// longest realistic names. Rendering takes the override over the catalog's text
// (Data.Overrides) and says which version of the county's wording it used.

// Codes of a refused text (TextError.Code): what the API answers a refused override with.
const (
	CodeUnknownLanguage    = "unknown_language"    // no catalog in that language
	CodeUnknownMessage     = "unknown_message"     // no such message id, or not one a county may override
	CodeInvalidText        = "invalid_text"        // empty, too long, a control character, not NFC
	CodeInvalidMarkup      = "invalid_markup"      // HTML or SSML tags: ballotflow lays notices out itself
	CodeNotAPlaceholder    = "not_a_placeholder"   // {{ }} holding anything but a placeholder
	CodeUnknownPlaceholder = "unknown_placeholder" // a placeholder the message may not use
	CodeMissingPlaceholder = "missing_placeholder" // a placeholder the message must use
	CodeMissingVoterName   = "missing_voter_name"  // the voter is not named: households share addresses
	CodeMissingKeyword     = "missing_keyword"     // STOP, HELP or YES where carriers need it
	CodeOverBudget         = "over_budget"         // a text message longer than the catalog's segments
)

// TextError is a text refused: a code above and a message a person can act on. It never
// quotes the text.
type TextError struct {
	Code    string
	Message string
}

func (e *TextError) Error() string { return e.Message }

func textError(code, message string) *TextError { return &TextError{Code: code, Message: message} }

// MaxOverrideRunes bounds an override's text: a notice email's body is a few sentences,
// and a text message four segments at most.
const MaxOverrideRunes = 2000

// overridePrefix names the messages a county may override: the notices (every status and
// kind, and the words for a missing reason or deadline). Confirmations, replies, dates and
// the portal's texts stay the catalog's.
const overridePrefix = "notice."

// markup is an HTML or SSML tag, a comment or a declaration.
var markup = regexp.MustCompile(`<[A-Za-z/!?]`)

// Override is one message of a county's wording: its text in one language.
type Override struct {
	MessageID string
	Language  string
	Text      string
}

// Overrides is a county's wording at one version: the texts that replace the catalog's, by
// language and message id, parsed once. A nil *Overrides is the catalog's wording.
type Overrides struct {
	Version int64
	texts   map[string]map[string]*template.Template // language -> message id -> template
}

// NewOverrides is the wording of a county at version. An override that no longer passes
// CheckOverride (a later release changed the message's rules) is left out: the catalog's
// text is sent instead, never a text the schema refuses.
func NewOverrides(version int64, list []Override) *Overrides {
	o := &Overrides{Version: version, texts: map[string]map[string]*template.Template{}}
	for _, ov := range list {
		if CheckOverride(ov.Language, ov.MessageID, ov.Text) != nil {
			continue
		}
		t, err := parseOverride(ov.Text)
		if err != nil {
			continue
		}
		if o.texts[ov.Language] == nil {
			o.texts[ov.Language] = map[string]*template.Template{}
		}
		o.texts[ov.Language][ov.MessageID] = t
	}
	return o
}

// Len is how many texts o overrides.
func (o *Overrides) Len() int {
	if o == nil {
		return 0
	}
	n := 0
	for _, m := range o.texts {
		n += len(m)
	}
	return n
}

func (o *Overrides) lookup(lang, id string) (*template.Template, bool) {
	if o == nil {
		return nil, false
	}
	t, ok := o.texts[lang][id]
	return t, ok
}

// versionOf is o's version when it overrides any of the parts of st's notice in lang
// (subject, email, sms, ...), else 0: what a preview marks.
func (o *Overrides) versionOf(lang string, st ballot.Status, parts ...string) int64 {
	for _, p := range parts {
		if _, ok := o.lookup(lang, noticeID(st, p)); ok {
			return o.Version
		}
	}
	return 0
}

func parseOverride(text string) (*template.Template, error) {
	return template.New("override").Option("missingkey=error").Parse(text)
}

// Overridable reports whether a county may override message id.
func Overridable(id string) bool {
	_, ok := schema[id]
	return ok && strings.HasPrefix(id, overridePrefix)
}

// OverridableIDs lists the messages a county may override, in order.
func OverridableIDs() []string {
	var out []string
	for _, id := range sortedKeys(schema) {
		if Overridable(id) {
			out = append(out, id)
		}
	}
	return out
}

// CatalogText is the catalog's text of message id in lang, as the file holds it: what a
// county's override replaces. False when the catalog has none (an optional message).
func CatalogText(lang, id string) (string, bool) {
	c, ok := shipped.byLang[lang]
	if !ok {
		return "", false
	}
	t, ok := c.texts[id]
	return t, ok
}

// CheckOverride checks a county's text for message id in lang. A refusal is a *TextError
// with a code above; its message names the rule, never the text.
func CheckOverride(lang, id, text string) error {
	c, ok := shipped.byLang[lang]
	if !ok {
		return textError(CodeUnknownLanguage, "ballotflow has no catalog in this language; use one of "+ballot.LanguageList())
	}
	if !Overridable(id) {
		return textError(CodeUnknownMessage, "is not a notice text a county can override (see GET /v1/notices/preview for the ids)")
	}
	if err := checkPlainText(text, MaxOverrideRunes); err != nil {
		return err
	}
	if markup.MatchString(text) {
		return textError(CodeInvalidMarkup, "may hold no markup (HTML or SSML tags): ballotflow lays out emails and calls itself")
	}
	if err := checkPlaceholders(schema[id], text); err != nil {
		return err
	}
	if schema[id].sms {
		return checkBudget(c, id, text)
	}
	return nil
}

// checkBudget holds a text message to its catalog's segments with the longest realistic
// names, the longest month in its deadline, and the opt-out footer that rides on the first
// text to a number, as the cost test holds the catalog's texts. A text with a shorter
// wording (the catalog's or the county's id + "_short") leaves the footer to that one.
func checkBudget(c *Catalog, id, text string) error {
	t, err := parseOverride(text)
	if err != nil {
		return textError(CodeNotAPlaceholder, errNotAPlaceholder.Error())
	}
	d := LongestNames
	d.CureDeadline = "2026-11-30"
	w := &wording{catalogSet: shipped}
	data, err := w.noticeData(c, d)
	if err != nil {
		return err
	}
	if data.Deadline, err = w.date(c, d.CureDeadline, "date.short"); err != nil {
		return err
	}
	var b strings.Builder
	if err := t.Execute(&b, data); err != nil {
		return textError(CodeNotAPlaceholder, errNotAPlaceholder.Error())
	}
	rendered, note := strings.TrimSpace(b.String()), ""
	if strings.HasSuffix(id, shortSuffix) || !c.has(id+shortSuffix) {
		footer, err := w.text(c, "sms.footer", templateData{})
		if err != nil {
			return err
		}
		rendered += " " + footer
		note = ", counting the opt-out footer"
	}
	if cost := SMSCostOf(rendered); cost.Segments > c.SMSSegments {
		return textError(CodeOverBudget, fmt.Sprintf(
			"takes %d text segments (%s, %d units) with a 40-character county name and 30-character names%s; "+
				"%s texts may take %d: shorten it", cost.Segments, cost.Encoding, cost.Units, note, c.EnglishName, c.SMSSegments))
	}
	return nil
}
