package apiserver

import (
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/ballotflow/ballotflow/internal/store"
)

// requireNote reads an operator's note for the audit log: required (example shows what it
// should say) and at most maxNoteLength characters. It answers 400 naming note and reports
// false when the note is refused.
func requireNote(c *gin.Context, raw, example string) (string, bool) {
	note := strings.TrimSpace(raw)
	switch {
	case note == "":
		abort(c, http.StatusBadRequest, "missing_field", "note is required: say "+example+", without personal data", "note")
		return "", false
	case len([]rune(note)) > maxNoteLength:
		abort(c, http.StatusBadRequest, "invalid_field", fmt.Sprintf("note is longer than %d characters", maxNoteLength), "note")
		return "", false
	}
	return note, true
}

// refuseNotePersonalData answers 400 naming note, and reports true, when note seems to hold
// personal data (notePersonalData) of voter v (the zero Voter when the action names none).
func refuseNotePersonalData(c *gin.Context, note string, v store.Voter) bool {
	what := notePersonalData(note, v, time.Now())
	if what == "" {
		return false
	}
	abort(c, http.StatusBadRequest, "invalid_field", "note seems to hold "+what+
		": the audit log keeps no personal data; say who asked and how, and refer to a ticket number", "note")
	return true
}

// An opt-out's note goes into the audit log, which keeps no personal data: it should say who
// asked and how ("voter called, ticket 4411"). A filter cannot recognise every name, so it
// refuses what it can recognise: an email address, anything that reads as a phone number in
// any country, a date (a date of birth is the usual slip), and the voter's own names.
var (
	noteEmail = regexp.MustCompile(`[^\s@]+@[^\s@]+\.[^\s@]+`)
	// Digits with the separators phone numbers are written with. Nine or more digits is a
	// phone number somewhere (US numbers have ten, UK eleven with the leading 0); ticket
	// numbers are shorter, and a leading + is always a phone number.
	notePhoneRun = regexp.MustCompile(`\+?[0-9][0-9 ().\-/]*[0-9]`)
	// Dates: 03/14/1985, 14.03.85, 1985-03-14, "March 14, 1985", "14th of March". The date of
	// the call is useful in a note; a date of birth is the usual slip. Times (10:15) pass.
	noteNumericDate = regexp.MustCompile(`\b(?:([0-9]{1,2})[/.\-]([0-9]{1,2})[/.\-]([0-9]{2}|[0-9]{4})|([0-9]{4})[/.\-]([0-9]{1,2})[/.\-]([0-9]{1,2}))\b`)
	noteMonthDate   = regexp.MustCompile(`(?i)\b(?:(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?\s+([0-9]{1,2})(?:st|nd|rd|th)?|([0-9]{1,2})(?:st|nd|rd|th)?\s+(?:of\s+)?(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?)(?:,?\s+([0-9]{4}))?\b`)
	noteTime        = regexp.MustCompile(`\b[0-9]{1,2}:[0-9]{2}(?::[0-9]{2})?\b`)
)

const minPhoneDigits = 9

var monthNames = []string{"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"}

// notePersonalData says what personal data note seems to hold, or "" when it holds none
// that can be recognised. v is the voter the note is about; now is today.
func notePersonalData(note string, v store.Voter, now time.Time) string {
	if noteEmail.MatchString(note) {
		return "an email address"
	}
	rest, dated := noteWithoutRecentDates(note, v, now)
	switch {
	case dated:
		return "a date that is not the date of the call (a date of birth?)"
	case notePhoneNumber(noteTime.ReplaceAllString(rest, " ")):
		return "a phone number"
	case noteNamesVoter(note, v):
		return "the voter's name"
	}
	return ""
}

// noteWithoutRecentDates takes the dates out of note, so that their digits are not read as
// a phone number. It reports whether one of them could be a date of birth: one more than a
// year before now, or the voter's birthday.
func noteWithoutRecentDates(note string, v store.Voter, now time.Time) (string, bool) {
	birthday := func(month, day int) bool {
		return month == int(v.DateOfBirth.Month()) && day == v.DateOfBirth.Day() && !v.DateOfBirth.IsZero()
	}
	old := func(year int) bool {
		if year < 100 { // two digits: the most recent such year
			year += now.Year() / 100 * 100
			if year > now.Year() {
				year -= 100
			}
		}
		return year < now.Year()-1
	}
	suspect := false
	note = noteNumericDate.ReplaceAllStringFunc(note, func(m string) string {
		g := noteNumericDate.FindStringSubmatch(m)
		if g[4] != "" { // year first
			y, mo, d := atoi(g[4]), atoi(g[5]), atoi(g[6])
			suspect = suspect || old(y) || birthday(mo, d)
		} else { // month and day in either order
			a, b, y := atoi(g[1]), atoi(g[2]), atoi(g[3])
			suspect = suspect || old(y) || birthday(a, b) || birthday(b, a)
		}
		return " "
	})
	note = noteMonthDate.ReplaceAllStringFunc(note, func(m string) string {
		g := noteMonthDate.FindStringSubmatch(m)
		name, day := g[1], g[2]
		if name == "" {
			name, day = g[4], g[3]
		}
		month := 1
		for i, n := range monthNames {
			if strings.EqualFold(name, n) {
				month = i + 1
			}
		}
		suspect = suspect || birthday(month, atoi(day)) || (g[5] != "" && old(atoi(g[5])))
		return " "
	})
	return note, suspect
}

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}

func notePhoneNumber(note string) bool {
	for _, run := range notePhoneRun.FindAllString(note, -1) {
		digits := 0
		for _, r := range run {
			if r >= '0' && r <= '9' {
				digits++
			}
		}
		if digits >= minPhoneDigits || (strings.HasPrefix(run, "+") && digits >= 7) {
			return true
		}
	}
	return false
}

// noteNamesVoter reports whether one of the voter's names (of two letters or more) stands
// as a word in the note, compared as the portal compares names (case and accents folded).
func noteNamesVoter(note string, v store.Voter) bool {
	words := map[string]bool{}
	for _, w := range strings.FieldsFunc(store.Fold(note), notNameRune) {
		words[w] = true
	}
	for _, name := range []string{v.FirstName, v.MiddleName, v.LastName} {
		for _, part := range strings.FieldsFunc(store.Fold(name), notNameRune) {
			if len([]rune(part)) >= 2 && !nameParticles[part] && words[part] {
				return true
			}
		}
	}
	return false
}

// nameParticles are parts of names that are also everyday words in a note ("de la Cruz").
var nameParticles = map[string]bool{"de": true, "la": true, "le": true, "del": true, "della": true, "da": true,
	"di": true, "do": true, "du": true, "dos": true, "das": true, "van": true, "von": true, "der": true, "den": true,
	"el": true, "al": true, "st": true, "y": true, "e": true, "and": true}

func notNameRune(r rune) bool {
	return !(r == '\'' || r >= 'a' && r <= 'z' || r > 0x7f && r != 0xa0)
}
