package ballot

import "unicode/utf8"

// PlainText reports whether s is text a person could have typed and PostgreSQL will store:
// valid UTF-8 without control characters, except tab, line feed and carriage return. NUL in
// particular is refused by PostgreSQL's text type, and would otherwise fail a whole batch.
func PlainText(s string) bool {
	for _, r := range s {
		switch {
		case r == '\t' || r == '\n' || r == '\r':
		case r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0):
			return false
		}
	}
	return utf8.ValidString(s)
}
