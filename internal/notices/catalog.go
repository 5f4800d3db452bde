package notices

import (
	"errors"
	"fmt"
	"path"
	"regexp"
	"slices"
	"sort"
	"strings"
	"text/template/parse"
	"unicode/utf8"

	"github.com/BurntSushi/toml"
	"golang.org/x/text/unicode/norm"

	"github.com/ballotflow/ballotflow/internal/ballot"
)

// Catalog is one language's texts, checked against the schema: metadata from its
// [catalog] table and every message by id. Catalogs are read by ParseCatalog.
type Catalog struct {
	Language        string // BCP 47 code, the file's name: "es", "zh-Hant"
	Name            string // the language's own name: "Español", "Tiếng Việt"
	EnglishName     string // "Spanish", "Vietnamese"
	Review          string // ReviewApproved or ReviewNeeded
	SMSSegments     int    // the segments every text may take with the longest realistic names
	SpeechUnit      string // SpeechWords or SpeechCharacters
	SpeechPerMinute int    // how many speech units a call reads a minute

	texts map[string]string
}

// NeedsReview reports whether no county has reviewed the catalog's texts yet.
func (c *Catalog) NeedsReview() bool { return c.Review != ReviewApproved }

// has reports whether the catalog defines message id.
func (c *Catalog) has(id string) bool {
	_, ok := c.texts[id]
	return ok
}

// CatalogError says why a catalog cannot be used: the file, the field at fault (a message
// id such as notice.mailed.sms, or a key of the [catalog] table) and what is wrong. It
// never quotes the text at fault.
type CatalogError struct {
	File    string
	Field   string
	Message string
}

func (e *CatalogError) Error() string {
	if e.Field == "" {
		return e.File + ": " + e.Message
	}
	return e.File + ": " + e.Field + ": " + e.Message
}

// Bounds of a catalog. A county-supplied catalog is read whole, so its size is bounded first.
const (
	maxCatalogBytes   = 512 << 10
	maxMessageRunes   = 4000
	maxCatalogNameLen = 64
	maxMessages       = 2000
)

var (
	languageCode       = regexp.MustCompile(`^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$`)
	portalPlaceholder  = regexp.MustCompile(`\{(\w+)\}`)
	portalMarkup       = regexp.MustCompile(`</?strong>`)
	errNotAPlaceholder = errors.New("may hold only placeholders such as {{.FirstName}}, nothing else in {{ }}")
)

// ParseCatalog reads and checks the catalog in file (named after its language: "vi.toml").
// reference is the catalog every other follows (English), nil when parsing the reference
// itself: a catalog has exactly the reference's portal texts, with the same placeholders.
// Every error is a *CatalogError naming the field at fault.
func ParseCatalog(file string, data []byte, reference *Catalog) (*Catalog, error) {
	bad := func(field, format string, args ...any) (*Catalog, error) {
		return nil, &CatalogError{File: file, Field: field, Message: fmt.Sprintf(format, args...)}
	}
	if len(data) > maxCatalogBytes {
		return bad("", "a catalog is at most %d KiB", maxCatalogBytes>>10)
	}
	if !utf8.Valid(data) {
		return bad("", "a catalog must be UTF-8 text")
	}
	var raw map[string]any
	if _, err := toml.Decode(string(data), &raw); err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return bad("", "not valid TOML at line %d: %s", pe.Position.Line, pe.Message)
		}
		return bad("", "not valid TOML")
	}
	flat := map[string]any{}
	if err := flatten("", raw, flat); err != nil {
		var ce *CatalogError
		if errors.As(err, &ce) {
			ce.File = file
		}
		return nil, err
	}
	if len(flat) > maxMessages {
		return bad("", "a catalog holds at most %d messages", maxMessages)
	}
	c := &Catalog{texts: map[string]string{}}
	if err := c.readMetadata(file, flat); err != nil {
		return nil, err
	}
	for _, id := range sortedKeys(flat) {
		if strings.HasPrefix(id, "catalog.") {
			continue
		}
		text, ok := flat[id].(string)
		if !ok {
			return bad(id, "must be text, in quotes")
		}
		if err := checkMessage(id, text, reference); err != nil {
			return bad(id, "%s", err.Error())
		}
		c.texts[id] = text
	}
	for _, id := range sortedKeys(schema) {
		if !schema[id].optional && !c.has(id) {
			return bad(id, "is missing")
		}
	}
	if reference != nil {
		for _, id := range sortedKeys(reference.texts) {
			if strings.HasPrefix(id, portalPrefix) && !c.has(id) {
				return bad(id, "is missing (the page shows every text of the reference catalog)")
			}
		}
	}
	return c, nil
}

// flatten turns nested tables into message ids joined with dots.
func flatten(prefix string, table map[string]any, out map[string]any) error {
	for key, v := range table {
		id := key
		if prefix != "" {
			id = prefix + "." + key
		}
		if !portalKey(key) {
			return &CatalogError{Field: safeField(id), Message: "a key is letters, digits and _ only"}
		}
		switch v := v.(type) {
		case map[string]any:
			if err := flatten(id, v, out); err != nil {
				return err
			}
		default:
			out[id] = v
		}
	}
	return nil
}

// portalKey reports whether key is a key a catalog may have: letters, digits and _ (the
// page's keys are camelCase: optOutConfirm).
func portalKey(key string) bool {
	if key == "" || len(key) > 40 {
		return false
	}
	for _, r := range key {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_') {
			return false
		}
	}
	return true
}

// safeField is id when it is safe to repeat in an error, else a placeholder.
func safeField(id string) string {
	if utf8.RuneCountInString(id) > 100 || !ballot.PlainText(id) {
		return "(a key)"
	}
	return id
}

func (c *Catalog) readMetadata(file string, flat map[string]any) error {
	bad := func(field, format string, args ...any) error {
		return &CatalogError{File: file, Field: field, Message: fmt.Sprintf(format, args...)}
	}
	text := func(key string, max int) (string, error) {
		s, ok := flat[key].(string)
		s = strings.TrimSpace(s)
		if !ok || s == "" || utf8.RuneCountInString(s) > max || !ballot.PlainText(s) || strings.ContainsAny(s, "\r\n") {
			return "", bad(key, "is required: one line of text, at most %d characters", max)
		}
		return s, nil
	}
	number := func(key string, lo, hi int) (int, error) {
		n, ok := flat[key].(int64)
		if !ok || n < int64(lo) || n > int64(hi) {
			return 0, bad(key, "is required: a whole number from %d to %d, without quotes", lo, hi)
		}
		return int(n), nil
	}
	var err error
	if c.Language, err = text(metaLanguage, 35); err != nil {
		return err
	}
	if !languageCode.MatchString(c.Language) {
		return bad(metaLanguage, "must be a BCP 47 language code such as es or zh-Hant")
	}
	if want := strings.TrimSuffix(path.Base(file), ".toml"); c.Language != want {
		return bad(metaLanguage, "must be the file's name without .toml (%s)", safeField(want))
	}
	if c.Name, err = text(metaName, maxCatalogNameLen); err != nil {
		return err
	}
	if c.EnglishName, err = text(metaEnglishName, maxCatalogNameLen); err != nil {
		return err
	}
	if c.Review, err = text(metaReview, 40); err != nil {
		return err
	}
	if c.Review != ReviewApproved && c.Review != ReviewNeeded {
		return bad(metaReview, "must be %q or %q", ReviewApproved, ReviewNeeded)
	}
	if c.SMSSegments, err = number(metaSMSSegments, 1, 4); err != nil {
		return err
	}
	if c.SpeechUnit, err = text(metaSpeechUnit, 20); err != nil {
		return err
	}
	if c.SpeechUnit != SpeechWords && c.SpeechUnit != SpeechCharacters {
		return bad(metaSpeechUnit, "must be %q or %q", SpeechWords, SpeechCharacters)
	}
	if c.SpeechPerMinute, err = number(metaSpeechPerMinute, 30, 1000); err != nil {
		return err
	}
	known := []string{metaLanguage, metaName, metaEnglishName, metaReview, metaSMSSegments, metaSpeechUnit, metaSpeechPerMinute}
	for key := range flat {
		if strings.HasPrefix(key, "catalog.") && !slices.Contains(known, key) {
			return bad(safeField(key), "is not a setting of a catalog (%s)", strings.Join(known, ", "))
		}
	}
	return nil
}

// checkMessage checks one text against its id's rule: a portal text against the
// reference's, any other against the schema. A refusal of a schema text is a *TextError,
// whose code says what kind of refusal it is (a county's override answers with it).
func checkMessage(id, text string, reference *Catalog) error {
	if err := checkPlainText(text, maxMessageRunes); err != nil {
		return err
	}
	if strings.HasPrefix(id, portalPrefix) {
		return checkPortalText(id, text, reference)
	}
	r, ok := schema[id]
	if !ok {
		return textError(CodeUnknownMessage, "is not a message ballotflow has (see the English catalog for the ids)")
	}
	return checkPlaceholders(r, text)
}

// checkPlainText checks what every text must be: not empty, at most max characters, no
// control characters, composed (NFC).
func checkPlainText(text string, max int) error {
	if strings.TrimSpace(text) == "" {
		return textError(CodeInvalidText, "is empty")
	}
	if utf8.RuneCountInString(text) > max {
		return textError(CodeInvalidText, fmt.Sprintf("is longer than %d characters", max))
	}
	if !ballot.PlainText(text) {
		return textError(CodeInvalidText, "holds a control character")
	}
	if !norm.NFC.IsNormalString(text) {
		// A decomposed ế is two UCS-2 units instead of one, and compares unequal.
		return textError(CodeInvalidText, "must be in Unicode NFC form (composed characters)")
	}
	return nil
}

// checkPlaceholders checks a template against its rule: only placeholders, only the ones
// it may use, every one it must use, its voter named, its keywords present.
func checkPlaceholders(r rule, text string) error {
	used, err := placeholders(text)
	if err != nil {
		return textError(CodeNotAPlaceholder, err.Error())
	}
	for _, p := range used {
		if !slices.Contains(r.allowed, p) {
			if len(r.allowed) == 0 {
				return textError(CodeUnknownPlaceholder, fmt.Sprintf("uses {{.%s}}, but this message takes no placeholders", p))
			}
			return textError(CodeUnknownPlaceholder, fmt.Sprintf("uses {{.%s}}, which it may not: it may use %s", p, placeholderList(r.allowed)))
		}
	}
	for _, p := range r.required {
		if !slices.Contains(used, p) {
			code := CodeMissingPlaceholder
			if p == phName || p == phFirstName {
				code = CodeMissingVoterName
			}
			return textError(code, fmt.Sprintf("must use {{.%s}}", p))
		}
	}
	if len(r.oneOf) > 0 && !slices.ContainsFunc(r.oneOf, func(p string) bool { return slices.Contains(used, p) }) {
		return textError(CodeMissingVoterName, fmt.Sprintf("must name the voter with %s", placeholderList(r.oneOf)))
	}
	for _, group := range r.keywords {
		if !slices.ContainsFunc(group, func(w string) bool { return containsWord(text, w) }) {
			return textError(CodeMissingKeyword, fmt.Sprintf("must contain the keyword %s", strings.Join(group, " or ")))
		}
	}
	return nil
}

func checkPortalText(id, text string, reference *Catalog) error {
	if reference != nil {
		want, ok := reference.texts[id]
		if !ok {
			return errors.New("is not a text of the portal page (see the English catalog for the ids)")
		}
		if got, need := portalPlaceholders(text), portalPlaceholders(want); !slices.Equal(got, need) {
			if len(need) == 0 {
				return errors.New("must not use {placeholders}: the page fills none here")
			}
			return fmt.Errorf("must use exactly the placeholders %s", "{"+strings.Join(need, "}, {")+"}")
		}
	}
	if strings.ContainsAny(portalMarkup.ReplaceAllString(text, ""), "<>") {
		return errors.New("may hold no markup but <strong> and </strong>")
	}
	if strings.Contains(text, "{{") {
		return errors.New("the page's placeholders are written {name}, not {{.Name}}")
	}
	return nil
}

func portalPlaceholders(text string) []string {
	var out []string
	for _, m := range portalPlaceholder.FindAllStringSubmatch(text, -1) {
		if !slices.Contains(out, m[1]) {
			out = append(out, m[1])
		}
	}
	sort.Strings(out)
	return out
}

// placeholders returns the fields a template uses, and an error when it does anything but
// print fields: catalogs are data, and a county's override must not run code.
func placeholders(text string) ([]string, error) {
	trees, err := parse.Parse("m", text, "{{", "}}")
	if err != nil {
		return nil, fmt.Errorf("has a broken placeholder: write placeholders as {{.FirstName}}")
	}
	if len(trees) != 1 || trees["m"] == nil {
		return nil, errNotAPlaceholder
	}
	var used []string
	for _, n := range trees["m"].Root.Nodes {
		switch n := n.(type) {
		case *parse.TextNode:
		case *parse.ActionNode:
			if len(n.Pipe.Decl) > 0 || len(n.Pipe.Cmds) != 1 || len(n.Pipe.Cmds[0].Args) != 1 {
				return nil, errNotAPlaceholder
			}
			f, ok := n.Pipe.Cmds[0].Args[0].(*parse.FieldNode)
			if !ok || len(f.Ident) != 1 {
				return nil, errNotAPlaceholder
			}
			if !slices.Contains(used, f.Ident[0]) {
				used = append(used, f.Ident[0])
			}
		default:
			return nil, errNotAPlaceholder
		}
	}
	return used, nil
}

func placeholderList(names []string) string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = "{{." + n + "}}"
	}
	return strings.Join(out, ", ")
}

// containsWord reports whether text holds w as a word of its own (STOP, not STOPPED).
func containsWord(text, w string) bool {
	for i := 0; ; {
		j := strings.Index(text[i:], w)
		if j < 0 {
			return false
		}
		start, end := i+j, i+j+len(w)
		before, _ := utf8.DecodeLastRuneInString(text[:start])
		after, _ := utf8.DecodeRuneInString(text[end:])
		if !isLetter(before) && !isLetter(after) {
			return true
		}
		i = end
	}
}

func isLetter(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= 0xC0 && r <= 0x24F
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
