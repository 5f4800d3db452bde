package roll

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/ballotflow/ballotflow/internal/ballot"
	"github.com/ballotflow/ballotflow/internal/notices"
	"github.com/ballotflow/ballotflow/internal/store"
)

var (
	stateCode    = regexp.MustCompile(`^[A-Z]{2}$`)
	countyCode   = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)
	electionCode = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)
)

// maxHelpText bounds a jurisdiction's HELP answer: it is sent as a text message.
const maxHelpText = 480

// CheckJurisdiction normalizes and validates a jurisdiction as an election office would
// configure it; the error names the field at fault.
func CheckJurisdiction(j store.Jurisdiction) (store.Jurisdiction, error) {
	bad := func(field, format string, args ...any) (store.Jurisdiction, error) {
		return store.Jurisdiction{}, &FieldError{Field: field, Message: fmt.Sprintf(format, args...)}
	}
	j.State = strings.ToUpper(strings.TrimSpace(j.State))
	j.County = strings.ToLower(strings.TrimSpace(j.County))
	j.Name = strings.TrimSpace(j.Name)
	j.TimeZone = strings.TrimSpace(j.TimeZone)
	j.EmailFromName = strings.TrimSpace(j.EmailFromName)
	j.HelpText = strings.TrimSpace(j.HelpText)
	if !stateCode.MatchString(j.State) {
		return bad("state", "state must be a two-letter code such as CO")
	}
	if !countyCode.MatchString(j.County) {
		return bad("county", "county must be a code of lowercase letters, digits, - and _ (e.g. denver, el-paso)")
	}
	if j.Name == "" || !Name(j.Name) {
		return bad("name", "name is required: the office's name as voters know it, at most %d characters", maxNameLength)
	}
	if !TimeZone(j.TimeZone) {
		return bad("time_zone", "time_zone must be an IANA time zone such as America/Denver")
	}
	var ok bool
	if j.EmailFrom, ok = Email(j.EmailFrom); !ok {
		return bad("email_from", "email_from must be the email address notices are sent from")
	}
	if j.EmailFromName == "" || !Name(j.EmailFromName) {
		return bad("email_from_name", "email_from_name is required: the sender name voters see, at most %d characters", maxNameLength)
	}
	if j.ReplyTo = strings.TrimSpace(j.ReplyTo); j.ReplyTo != "" {
		if j.ReplyTo, ok = Email(j.ReplyTo); !ok {
			return bad("reply_to", "reply_to must be the email address voters' answers to notices go to (the office's contact address), or left out")
		}
	}
	if j.SMSFrom, ok = Phone(j.SMSFrom); !ok {
		return bad("sms_from", "sms_from must be the E.164 number texts are sent from, e.g. +17205550100")
	}
	if j.VoiceFrom, ok = Phone(j.VoiceFrom); !ok {
		return bad("voice_from", "voice_from must be the E.164 number calls are placed from, e.g. +17205550100")
	}
	if j.HelpText == "" || utf8.RuneCountInString(j.HelpText) > maxHelpText || !utf8.ValidString(j.HelpText) {
		return bad("help_text", "help_text is required: how voters reach the office (sent in answer to HELP), at most %d characters", maxHelpText)
	}
	if len(j.Languages) == 0 {
		// Only catalogs a county has reviewed: one that needs review is offered by a county
		// that lists it, having read it.
		j.Languages = notices.ReviewedLanguages()
	}
	j.Languages = slices.Clone(j.Languages)
	for i, l := range j.Languages {
		code, ok := ballot.LanguageCode(strings.TrimSpace(l))
		if !ok || slices.Contains(j.Languages[:i], code) {
			return bad("languages", "languages must list, once each, languages ballotflow writes notices in: %s (the first is the default)",
				ballot.LanguageList())
		}
		j.Languages[i] = code
	}
	return checkHelpTexts(j)
}

// checkHelpTexts normalizes a jurisdiction's help texts by language: each in a language the
// county offers other than its default (HelpText is that one), within the bounds of
// HelpText. The field named is help_texts.<code>, or help_texts for a key that is no code.
func checkHelpTexts(j store.Jurisdiction) (store.Jurisdiction, error) {
	if len(j.HelpTexts) == 0 {
		j.HelpTexts = nil
		return j, nil
	}
	if len(j.HelpTexts) > len(ballot.Languages) {
		return store.Jurisdiction{}, &FieldError{Field: "help_texts", Message: "help_texts has one text for each language the county offers, at most"}
	}
	out := make(map[string]string, len(j.HelpTexts))
	for key, text := range j.HelpTexts {
		code, ok := ballot.LanguageCode(strings.TrimSpace(key))
		if !ok || !slices.Contains(j.Languages, code) {
			return store.Jurisdiction{}, &FieldError{Field: "help_texts", Message: "help_texts is keyed by the languages the county offers (" +
				strings.Join(j.Languages, ", ") + ")"}
		}
		field := "help_texts." + code
		text = strings.TrimSpace(text)
		if _, dup := out[code]; dup {
			return store.Jurisdiction{}, &FieldError{Field: field, Message: field + " is given twice"}
		}
		if text == "" || utf8.RuneCountInString(text) > maxHelpText || !ballot.PlainText(text) {
			return store.Jurisdiction{}, &FieldError{Field: field, Message: fmt.Sprintf(
				"%s must be how voters reach the office, in that language, at most %d characters (leave it out to answer with help_text)",
				field, maxHelpText)}
		}
		if code == j.Languages[0] {
			return store.Jurisdiction{}, &FieldError{Field: field, Message: field + " is the county's default language: that text is help_text"}
		}
		out[code] = text
	}
	j.HelpTexts = out
	return j, nil
}

// Bounds of an election's dates. A ballot workflow lives from its first event until the
// canvass ends, so dates far from today are typing mistakes (9999-12-31, 1026 for 2026) that
// would keep workflows open for centuries or close them before they start.
const (
	// maxElectionDayDistance is how far election day may be from today, either way: a state
	// enters elections up to years ahead, and records past ones.
	maxElectionDayDistance = 10 // years
	// maxCanvassYears is how long after election day the canvass may end (recounts and
	// contests included, a canvass ends within weeks or months).
	maxCanvassYears = 1
	// maxRecordsYears is how long after election day an election's records may be kept
	// whole (records_until): state laws ask for 22 months to a few years, and a date further
	// off is a typing mistake that would keep voters' data for ever.
	maxRecordsYears = 10
)

// CheckElection validates an election as CheckElectionAt does, today.
func CheckElection(e store.Election) (store.Election, error) {
	return CheckElectionAt(e, time.Now())
}

// CheckElectionAt validates an election: an id, a name, an election day within
// maxElectionDayDistance years of now, the end of the canvass after election day and at
// most maxCanvassYears after it (ballot workflows still open then are closed), and, when
// given, the last day of its records (records_until) no earlier than the day the canvass
// ends (UTC) and at most maxRecordsYears after election day. A zero records_until is left
// to the store (store.DefaultRecordsUntil). The API and the command line share it.
func CheckElectionAt(e store.Election, now time.Time) (store.Election, error) {
	bad := func(field, format string, args ...any) (store.Election, error) {
		return store.Election{}, &FieldError{Field: field, Message: fmt.Sprintf(format, args...)}
	}
	e.ID = strings.TrimSpace(e.ID)
	e.State = strings.ToUpper(strings.TrimSpace(e.State))
	e.Name = strings.TrimSpace(e.Name)
	if !electionCode.MatchString(e.ID) {
		return bad("id", "id must be 1 to 64 letters, digits, '.', '-' or '_', e.g. 2026-11-03-general")
	}
	if !stateCode.MatchString(e.State) {
		return bad("state", "state must be a two-letter code such as CO")
	}
	if e.Name == "" || !Name(e.Name) {
		return bad("name", "name is required, at most %d characters", maxNameLength)
	}
	if e.ElectionDay.IsZero() {
		return bad("election_day", "election_day is required (YYYY-MM-DD)")
	}
	y, m, d := e.ElectionDay.Date()
	e.ElectionDay = time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
	if !electionDayInRange(e.ElectionDay, now) {
		return bad("election_day", "election_day must be within %d years of today", maxElectionDayDistance)
	}
	if e.CanvassEndsAt.IsZero() {
		return bad("canvass_ends_at", "canvass_ends_at is required (RFC 3339, e.g. 2026-12-01T17:00:00-07:00)")
	}
	if e.CanvassEndsAt.Before(e.ElectionDay.AddDate(0, 0, 1)) {
		return bad("canvass_ends_at", "canvass_ends_at must be after election day")
	}
	if e.CanvassEndsAt.After(e.ElectionDay.AddDate(maxCanvassYears, 0, 1)) {
		return bad("canvass_ends_at", "canvass_ends_at must be at most %d year after election day", maxCanvassYears)
	}
	if e.RecordsUntil.IsZero() {
		return e, nil
	}
	y, m, d = e.RecordsUntil.Date()
	e.RecordsUntil = time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
	y, m, d = e.CanvassEndsAt.UTC().Date()
	if canvassDay := time.Date(y, m, d, 0, 0, 0, 0, time.UTC); e.RecordsUntil.Before(canvassDay) {
		return bad("records_until", "records_until must not be before the day the canvass ends (%s, UTC): "+
			"an election's records are kept at least that long", canvassDay.Format(time.DateOnly))
	}
	if e.RecordsUntil.After(e.ElectionDay.AddDate(maxRecordsYears, 0, 0)) {
		return bad("records_until", "records_until must be at most %d years after election day", maxRecordsYears)
	}
	return e, nil
}

// electionDayInRange reports whether day is within maxElectionDayDistance years of now.
func electionDayInRange(day, now time.Time) bool {
	return !day.Before(now.AddDate(-maxElectionDayDistance, 0, 0)) && !day.After(now.AddDate(maxElectionDayDistance, 0, 0))
}
