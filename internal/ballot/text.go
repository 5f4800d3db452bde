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

// SafeName reports whether a field or column name someone sent is safe to repeat in an
// answer: short and in the style of ballotflow's own names (a-z, 0-9 and _, at most 32), not
// text that could be a voter's data, as a file sent without its header row would give.
func SafeName(name string) bool {
	if name == "" || len(name) > 32 {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}
