package roll

import (
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/ballotflow/ballotflow/internal/ballot"
	"github.com/ballotflow/ballotflow/internal/tzdb"
)

// Field rules shared by the roll, subscriptions, jurisdictions and elections. Each returns
// the normalized value and whether it is valid; callers say why in their own words, and
// never repeat the value.

// maxIDLength bounds voter ids (the same limit the ballot event API uses).
const maxIDLength = 128

// ID reports whether s is a usable identifier: 1 to 128 printable ASCII characters without
// spaces.
func ID(s string) bool {
	if s == "" || len(s) > maxIDLength {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' {
			return false
		}
	}
	return true
}

// maxNameLength bounds names and other free text of the roll.
const maxNameLength = 100

// Name reports whether s (already trimmed) is acceptable as a name: valid UTF-8, at most
// 100 characters, no control characters.
func Name(s string) bool {
	if !utf8.ValidString(s) || utf8.RuneCountInString(s) > maxNameLength {
		return false
	}
	return strings.IndexFunc(s, unicode.IsControl) < 0
}

// Phone normalizes a phone number to E.164 by ballot.NormalizePhone, the rule every part
// of ballotflow shares: "+" and 8 to 15 digits as given, or a 10-digit North American number
// (punctuation and a leading 1 allowed) as +1XXXXXXXXXX; premium-rate numbers (900, 976)
// are refused. Whether a number may be texted or called is ballot.ContactPhone's question.
func Phone(s string) (string, bool) {
	e164, err := ballot.NormalizePhone(s)
	return e164, err == nil
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// Email normalizes an email address by ballot.NormalizeEmail, the rule the portal uses too.
func Email(s string) (string, bool) { return ballot.NormalizeEmail(s) }

// TimeZone reports whether name is an IANA time zone such as America/Denver. "Local" and
// the empty name, which mean different things on different machines, are not.
func TimeZone(name string) bool {
	return tzdb.Valid(name) // the zones workflow code can resolve, and no others
}

// Flag reads a yes/no column: true/false, 1/0, Y/N, yes/no in any case; empty is false.
func Flag(s string) (value, ok bool) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "true", "1", "y", "yes", "t":
		return true, true
	case "false", "0", "n", "no", "f", "":
		return false, true
	}
	return false, false
}

// ZIP reads a 5-digit ZIP code; a ZIP+4 (12345-6789 or 123456789) is cut to its first 5.
func ZIP(s string) (string, bool) {
	s = strings.TrimSpace(s)
	switch {
	case len(s) == 5 && allDigits(s):
		return s, true
	case len(s) == 10 && s[5] == '-' && allDigits(s[:5]) && allDigits(s[6:]):
		return s[:5], true
	case len(s) == 9 && allDigits(s):
		return s[:5], true
	}
	return "", false
}

// ClockTime reads a time of day HH:MM (24-hour).
func ClockTime(s string) (string, bool) {
	t, err := time.Parse("15:04", strings.TrimSpace(s))
	if err != nil {
		return "", false
	}
	return t.Format("15:04"), true
}

// Language reads a notice language, a code of ballot.Languages in any case ("ZH-HANT" is
// zh-Hant); empty is "".
func Language(s string) (string, bool) {
	l := strings.TrimSpace(s)
	if l == "" {
		return "", true
	}
	return ballot.LanguageCode(l)
}
