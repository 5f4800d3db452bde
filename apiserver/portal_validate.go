package apiserver

import (
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/ballotflow/ballotflow/internal/ballot"
	"github.com/ballotflow/ballotflow/internal/store"
	"github.com/ballotflow/ballotflow/internal/tzdb"
)

// Checks of what a voter types into the portal: the lookup form and the preferences. Each
// refusal names the field and says, in words a person can act on, what to type instead.

var (
	datePattern = regexp.MustCompile(`^[0-9]{2}-[0-9]{2}-[0-9]{4}$`)
	zipPattern  = regexp.MustCompile(`^[0-9]{5}$`)
	hhmmPattern = regexp.MustCompile(`^([01][0-9]|2[0-3]):[0-5][0-9]$`)
)

// validateLookup trims the lookup form and checks every field, or answers 400 naming the
// first bad one.
func validateLookup(c *gin.Context, req *sessionRequest) (time.Time, bool) {
	req.FirstName, req.LastName = strings.TrimSpace(req.FirstName), strings.TrimSpace(req.LastName)
	req.ZIP, req.VoterID = strings.TrimSpace(req.ZIP), strings.TrimSpace(req.VoterID)
	switch {
	case req.FirstName == "" || store.Fold(req.FirstName) == "":
		abort(c, http.StatusBadRequest, "missing_field", "Enter your first name as it appears on your voter registration.", "first_name")
		return time.Time{}, false
	case req.LastName == "" || store.Fold(req.LastName) == "":
		abort(c, http.StatusBadRequest, "missing_field", "Enter your last name as it appears on your voter registration.", "last_name")
		return time.Time{}, false
	case len(req.FirstName) > 100:
		abort(c, http.StatusBadRequest, "invalid_field", "The first name is too long (100 characters at most).", "first_name")
		return time.Time{}, false
	case len(req.LastName) > 100:
		abort(c, http.StatusBadRequest, "invalid_field", "The last name is too long (100 characters at most).", "last_name")
		return time.Time{}, false
	}
	dob, ok := parseDateOfBirth(c, strings.TrimSpace(req.DateOfBirth), time.Now())
	if !ok {
		return time.Time{}, false
	}
	if !zipPattern.MatchString(req.ZIP) {
		abort(c, http.StatusBadRequest, "invalid_zip",
			"Enter the 5-digit ZIP code of your residential address, for example 80202.", "zip")
		return time.Time{}, false
	}
	if len(req.VoterID) > 32 {
		abort(c, http.StatusBadRequest, "invalid_field", "The voter ID is too long (32 characters at most).", "voter_id")
		return time.Time{}, false
	}
	return dob, true
}

// parseDateOfBirth reads MM-DD-YYYY, or answers 400 saying what is wrong with it.
func parseDateOfBirth(c *gin.Context, s string, now time.Time) (time.Time, bool) {
	var dob time.Time
	var err error
	if datePattern.MatchString(s) {
		dob, err = time.Parse("01-02-2006", s)
	}
	if !datePattern.MatchString(s) || err != nil {
		abort(c, http.StatusBadRequest, "invalid_date", "Enter your date of birth as MM-DD-YYYY, for example 01-23-1980.", "date_of_birth")
		return time.Time{}, false
	}
	if dob.Before(time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC)) {
		abort(c, http.StatusBadRequest, "date_before_1900", "Date of Birth (DOB) cannot be before 01-01-1900.", "date_of_birth")
		return time.Time{}, false
	}
	// "Today" where the day starts first (UTC+14), so nobody's real birthday is refused.
	earliest := now.UTC().Add(14 * time.Hour)
	today := time.Date(earliest.Year(), earliest.Month(), earliest.Day(), 0, 0, 0, 0, time.UTC)
	if dob.After(today) {
		abort(c, http.StatusBadRequest, "date_in_future", "Date of Birth (DOB) cannot be in the future.", "date_of_birth")
		return time.Time{}, false
	}
	return dob, true
}

// validatePreferences checks every field of a save and normalizes addresses. It returns the
// first bad field, in the page's order, with a message a person can act on. onFile holds the
// numbers stored for sms and voice: one sent back unchanged that may no longer be texted or
// called is left as it is rather than refused, so that an old number (from an import or an
// older rule) never blocks saving the rest; the answer's "problem" says what to do about it.
func validatePreferences(req *preferencesJSON, onFile map[string]string) (store.PortalPreferences, string, string) {
	var p store.PortalPreferences
	if e := req.Email; e != nil {
		if e.Enabled == nil {
			return p, "email.enabled", "Say whether to send email: enabled must be true or false."
		}
		addr := strings.TrimSpace(e.Address)
		if *e.Enabled || addr != "" {
			if _, ok := ballot.NormalizeEmail(addr); !ok {
				return p, "email.address", "Enter an email address like name@example.org."
			}
		}
		p.Email = &store.ChannelChoice{Enabled: *e.Enabled, Address: addr}
	}
	// The body's fields are named after the channels, so one name serves both.
	for _, ph := range []struct {
		name string
		pref *phonePrefJSON
		dest **store.ChannelChoice
	}{{ballot.ChannelSMS, req.SMS, &p.SMS}, {ballot.ChannelVoice, req.Voice, &p.Voice}} {
		if ph.pref == nil {
			continue
		}
		if ph.pref.Enabled == nil {
			return p, ph.name + ".enabled", "Say whether to use this channel: enabled must be true or false."
		}
		choice, msg := validatePhoneChoice(*ph.pref.Enabled, ph.pref.Phone, onFile[ph.name])
		if msg != "" {
			return p, ph.name + ".phone", msg
		}
		*ph.dest = choice
	}
	if hrs := req.ContactHours; hrs != nil {
		if !hhmmPattern.MatchString(hrs.Start) {
			return p, "contact_hours.start", "Enter the start of your contact hours as HH:MM (24-hour clock), for example 08:00."
		}
		if !hhmmPattern.MatchString(hrs.End) {
			return p, "contact_hours.end", "Enter the end of your contact hours as HH:MM (24-hour clock), for example 20:00."
		}
		if !validTimeZone(hrs.TimeZone) {
			return p, "contact_hours.time_zone", "Enter a time zone such as America/Denver."
		}
		p.ContactStart, p.ContactEnd, p.TimeZone = hrs.Start, hrs.End, hrs.TimeZone
	}
	if req.Language != "" {
		code, ok := ballot.LanguageCode(req.Language)
		if !ok {
			return p, "language", "Choose a language: one of " + ballot.LanguageList() + "."
		}
		p.Language = code
	}
	p.EmailHoldForHours = req.EmailWaitsForContactHours
	return p, "", ""
}

// validatePhoneChoice reads one phone channel of a save: the choice to store (nil to leave
// the channel as it is), or a message saying what is wrong with the number. A number is
// needed to turn a channel on; a channel turned off keeps its number.
func validatePhoneChoice(enabled bool, phone, onFile string) (*store.ChannelChoice, string) {
	typed := strings.TrimSpace(phone)
	if !enabled && typed == "" {
		return &store.ChannelChoice{Enabled: false}, ""
	}
	e164, err := ballot.ContactPhone(typed)
	if err == nil {
		return &store.ChannelChoice{Enabled: enabled, Address: e164}, ""
	}
	if onFile != "" && typed != "" && (typed == onFile || normalizedEqual(typed, onFile)) {
		if !enabled {
			return &store.ChannelChoice{Enabled: false, Address: onFile}, ""
		}
		return nil, "" // unchanged: kept as it is, and the answer's "problem" explains
	}
	return nil, err.Error()
}

func normalizedEqual(typed, onFile string) bool {
	n, err := ballot.NormalizePhone(typed)
	return err == nil && n == onFile
}

func validTimeZone(tz string) bool {
	return tzdb.Valid(tz) // the zones workflow code can resolve, and no others
}
