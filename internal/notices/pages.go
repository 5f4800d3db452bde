package notices

// UnsubscribeIDs are the texts of the page a notice email's unsubscribe link opens
// (apiserver/unsubscribe.go), in the order of UnsubscribePage's fields.
var UnsubscribeIDs = []string{"unsubscribe.title", "unsubscribe.confirm", "unsubscribe.button", "unsubscribe.done",
	"unsubscribe.portal", "unsubscribe.invalid"}

// UnsubscribePage is the unsubscribe page's words in one language.
type UnsubscribePage struct {
	Language string // the language they are in
	Title    string
	Confirm  string // what the button does: stops email for the voter the email named, no one else
	Button   string
	Done     string
	Portal   string // the portal link's text
	Invalid  string // a link that does not open
}

// UnsubscribeTexts are the unsubscribe page's words in lang, or in English when ballotflow
// has no catalog in lang.
func UnsubscribeTexts(lang string) UnsubscribePage {
	c := shipped.catalog(lang)
	p := UnsubscribePage{Language: c.Language}
	for i, into := range []*string{&p.Title, &p.Confirm, &p.Button, &p.Done, &p.Portal, &p.Invalid} {
		// Every catalog has every one (the loader checks), and they take no placeholders.
		*into, _ = shipped.text(c, UnsubscribeIDs[i], templateData{})
	}
	return p
}
