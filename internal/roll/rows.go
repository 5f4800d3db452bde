package roll

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/ballotflow/ballotflow/internal/ballot"
	"github.com/ballotflow/ballotflow/internal/fileimport"
	"github.com/ballotflow/ballotflow/internal/store"
)

// Columns of a voter roll file, in the order values are held.
const (
	vVoterID = iota
	vFirstName
	vMiddleName
	vLastName
	vSuffix
	vDateOfBirth
	vResidentialZIP
	vCounty
	vStatus
	vConfidential
	vUOCAVA
	vEmail
	vPhone
	vLanguage
)

var voterColumns = []fileimport.Column{
	vVoterID: {Name: "voter_id", Required: true}, vFirstName: {Name: "first_name", Required: true},
	vMiddleName: {Name: "middle_name"}, vLastName: {Name: "last_name", Required: true}, vSuffix: {Name: "suffix"},
	vDateOfBirth: {Name: "date_of_birth", Required: true}, vResidentialZIP: {Name: "residential_zip", Required: true},
	vCounty: {Name: "county", Required: true}, vStatus: {Name: "status", Required: true},
	vConfidential: {Name: "confidential"}, vUOCAVA: {Name: "uocava"}, vEmail: {Name: "email"},
	vPhone: {Name: "phone"}, vLanguage: {Name: "language"},
}

// VoterColumns are the columns of a voter roll file, required ones first in each group.
func VoterColumns() []string { return fileimport.ColumnNames(voterColumns) }

// earliestBirth is the earliest date of birth the roll accepts.
var earliestBirth = time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC)

// voterParser validates roll rows of one state.
type voterParser struct {
	state    string
	counties map[string]bool
	today    time.Time
}

func (p voterParser) parse(line int, val []string) (store.RollVoter, *fileimport.Rejection) {
	bad := func(col int, format string, args ...any) (store.RollVoter, *fileimport.Rejection) {
		return store.RollVoter{}, &fileimport.Rejection{Line: line, Field: voterColumns[col].Name, Reason: fmt.Sprintf(format, args...)}
	}
	for i := range val {
		val[i] = strings.TrimSpace(val[i])
	}
	v := store.Voter{State: p.state}
	if v.VoterID = val[vVoterID]; v.VoterID == "" {
		return bad(vVoterID, "voter_id is required")
	}
	if !ID(v.VoterID) {
		return bad(vVoterID, "voter_id must be at most %d printable characters without spaces", maxIDLength)
	}
	for _, f := range []struct {
		col      int
		dst      *string
		required bool
	}{
		{vFirstName, &v.FirstName, true}, {vMiddleName, &v.MiddleName, false},
		{vLastName, &v.LastName, true}, {vSuffix, &v.Suffix, false},
	} {
		name := voterColumns[f.col].Name
		*f.dst = val[f.col]
		if f.required && *f.dst == "" {
			return bad(f.col, "%s is required", name)
		}
		if !Name(*f.dst) {
			return bad(f.col, "%s must be at most %d characters of text, without control characters", name, maxNameLength)
		}
	}
	if val[vDateOfBirth] == "" {
		return bad(vDateOfBirth, "date_of_birth is required")
	}
	dob, err := time.Parse(time.DateOnly, val[vDateOfBirth])
	if err != nil {
		return bad(vDateOfBirth, "date_of_birth must be a date YYYY-MM-DD")
	}
	if dob.Before(earliestBirth) || dob.After(p.today) {
		return bad(vDateOfBirth, "date_of_birth must be between 1900-01-01 and today")
	}
	v.DateOfBirth = dob
	var ok bool
	if v.ResidentialZIP, ok = ZIP(val[vResidentialZIP]); !ok {
		return bad(vResidentialZIP, "residential_zip must be 5 digits (or ZIP+4: 12345-6789)")
	}
	v.County = strings.ToLower(val[vCounty])
	if v.County == "" {
		return bad(vCounty, "county is required")
	}
	if !p.counties[v.County] {
		return bad(vCounty, "county is not a configured jurisdiction of %s", p.state)
	}
	v.Status = strings.ToLower(val[vStatus])
	switch {
	case v.Status == "":
		return bad(vStatus, "status is required")
	case !slices.Contains(ballot.VoterStatuses, v.Status):
		return bad(vStatus, "status must be active, inactive, canceled or pending")
	}
	if v.Confidential, ok = Flag(val[vConfidential]); !ok {
		return bad(vConfidential, "confidential must be true or false (also 1/0, Y/N)")
	}
	if v.UOCAVA, ok = Flag(val[vUOCAVA]); !ok {
		return bad(vUOCAVA, "uocava must be true or false (also 1/0, Y/N)")
	}
	if val[vEmail] != "" {
		if v.Email, ok = Email(val[vEmail]); !ok {
			return bad(vEmail, "email is not a valid email address")
		}
	}
	if val[vPhone] != "" {
		if v.Phone, ok = Phone(val[vPhone]); !ok {
			return bad(vPhone, "phone must be E.164 (+13035550123) or a 10-digit US number")
		}
	}
	if v.Language, ok = Language(val[vLanguage]); !ok {
		return bad(vLanguage, "language must be one of %s", ballot.LanguageList())
	}
	if v.Language == "" {
		v.Language = ballot.LanguageEnglish
	}
	return store.RollVoter{Line: line, Voter: v}, nil
}

// Columns of a subscriptions file.
const (
	sVoterID = iota
	sChannel
	sAddress
	sState
	sContactStart
	sContactEnd
	sTimeZone
	sLanguage
)

var subscriptionColumns = []fileimport.Column{
	sVoterID: {Name: "voter_id", Required: true}, sChannel: {Name: "channel", Required: true},
	sAddress: {Name: "address", Required: true}, sState: {Name: "state", Required: true},
	sContactStart: {Name: "contact_start"}, sContactEnd: {Name: "contact_end"}, sTimeZone: {Name: "time_zone"},
	sLanguage: {Name: "language"},
}

// SubscriptionColumns are the columns of a subscriptions file.
func SubscriptionColumns() []string { return fileimport.ColumnNames(subscriptionColumns) }

// subscriptionParser validates rows of a subscriptions file; zones caches time zone checks.
type subscriptionParser struct {
	zones map[string]bool
}

func (p subscriptionParser) parse(line int, val []string) (store.RollSubscription, *fileimport.Rejection) {
	bad := func(col int, format string, args ...any) (store.RollSubscription, *fileimport.Rejection) {
		return store.RollSubscription{}, &fileimport.Rejection{Line: line, Field: subscriptionColumns[col].Name,
			Reason: fmt.Sprintf(format, args...)}
	}
	for i := range val {
		val[i] = strings.TrimSpace(val[i])
	}
	s := store.RollSubscription{Line: line, VoterID: val[sVoterID]}
	if s.VoterID == "" {
		return bad(sVoterID, "voter_id is required")
	}
	if !ID(s.VoterID) {
		return bad(sVoterID, "voter_id must be at most %d printable characters without spaces", maxIDLength)
	}
	s.Channel = strings.ToLower(val[sChannel])
	var ok bool
	switch s.Channel {
	case ballot.ChannelEmail:
		if s.Address, ok = Email(val[sAddress]); !ok {
			return bad(sAddress, "address of an email subscription must be a valid email address")
		}
	case ballot.ChannelSMS, ballot.ChannelVoice:
		if s.Address, ok = Phone(val[sAddress]); !ok {
			return bad(sAddress, "address of an %s subscription must be E.164 (+13035550123) or a 10-digit US number", s.Channel)
		}
	case "":
		return bad(sChannel, "channel is required")
	default:
		return bad(sChannel, "channel must be email, sms or voice")
	}
	s.State = strings.ToLower(val[sState])
	switch s.State {
	case ballot.SubscriptionActive, ballot.SubscriptionOptedOut:
	case "":
		return bad(sState, "state is required (active or opted_out)")
	default:
		return bad(sState, "state must be active or opted_out")
	}
	// An opt-out is kept whatever the number (it must never be lost); an active text or call
	// subscription must be to a number ballotflow texts and calls (ballot.ContactPhone), or
	// its first notice would only be refused at send time.
	if s.State == ballot.SubscriptionActive && s.Channel != ballot.ChannelEmail {
		if _, err := ballot.ContactPhone(s.Address); err != nil {
			why := "it is not a personal US or Canadian line"
			var problem ballot.PhoneProblem
			if errors.As(err, &problem) {
				why += " (" + strings.ReplaceAll(problem.Code(), "_", " ") + ")"
			}
			return bad(sAddress, "address of an active %s subscription must be a number ballotflow texts and calls: %s; import it as opted_out or leave it out", s.Channel, why)
		}
	}
	if (val[sContactStart] == "") != (val[sContactEnd] == "") {
		col := sContactEnd
		if val[sContactStart] == "" {
			col = sContactStart
		}
		return bad(col, "contact_start and contact_end go together: give both or neither")
	}
	if val[sContactStart] != "" {
		if s.ContactStart, ok = ClockTime(val[sContactStart]); !ok {
			return bad(sContactStart, "contact_start must be a time HH:MM (24-hour)")
		}
		if s.ContactEnd, ok = ClockTime(val[sContactEnd]); !ok {
			return bad(sContactEnd, "contact_end must be a time HH:MM (24-hour)")
		}
	}
	if s.TimeZone = val[sTimeZone]; s.TimeZone != "" {
		valid, seen := p.zones[s.TimeZone]
		if !seen {
			valid = TimeZone(s.TimeZone)
			if len(p.zones) < 1000 {
				p.zones[s.TimeZone] = valid
			}
		}
		if !valid {
			return bad(sTimeZone, "time_zone must be an IANA time zone such as America/Denver")
		}
	}
	if s.Language, ok = Language(val[sLanguage]); !ok {
		return bad(sLanguage, "language must be one of %s", ballot.LanguageList())
	}
	return s, nil
}
