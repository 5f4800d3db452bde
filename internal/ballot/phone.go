package ballot

import (
	"strings"
)

// The phone-number rules, and why they are what they are.
//
// A number can be stored (NormalizePhone) or contacted (ContactPhone); the two differ on
// purpose:
//
//   - Stored: a voter registration may carry any well-formed E.164 number, including one
//     abroad (overseas and military voters, UOCAVA, have them): the roll is the state's
//     record, and refusing a voter's whole row for a foreign number would lose the voter.
//     Only numbers that can never be a voter's own line are refused even here: the North
//     American premium-rate numbers (area code 900, and the 976 exchange in any area code),
//     whose mere dialing bills the caller.
//
//   - Texted or called: only numbers billed at North American domestic rates, that is US
//     and Canadian numbers (+1) outside the Caribbean and Bermuda, and not a service code.
//     The +1 numbers of the Caribbean countries (Jamaica 876, Dominican Republic 809, ...)
//     look domestic but are billed at international rates and are the classic targets of
//     "one-ring" and toll fraud; so are numbers outside North America, where a text costs
//     many times a domestic one and a call far more, and where SMS-pumping fraudsters
//     collect a share of what every message costs the sender. A confirmation text also
//     needs a reply YES to the county's US number, which costs a voter abroad an
//     international text. Voters abroad are served by email, which reaches them anywhere
//     at no cost to anyone.
//
// ballotflow uses one rule for SMS and voice: a voter who may be texted may be called.

// PhoneProblem says why a phone number is refused. Its message never repeats the number.
type PhoneProblem int

// Why a phone number is refused.
const (
	// PhoneMalformed: not a phone number: E.164 (+ and 8 to 15 digits) or a 10-digit North
	// American number, with an area code and exchange that start with 2-9.
	PhoneMalformed PhoneProblem = iota + 1
	// PhonePremium: a North American premium-rate number (900, or a 976 exchange).
	PhonePremium
	// PhoneServiceCode: a North American number that is not a personal line: a service or
	// non-geographic code (personal-communications 5XX, 456, 600, 622, 700, 710, ...).
	PhoneServiceCode
	// PhoneInternationalRate: a +1 number of a Caribbean country or Bermuda.
	PhoneInternationalRate
	// PhoneOutsideNorthAmerica: a number outside the +1 North American plan.
	PhoneOutsideNorthAmerica
)

// Error is the message a person can act on; it never contains the number.
func (p PhoneProblem) Error() string {
	switch p {
	case PhonePremium:
		return "This is a premium-rate number (area code 900 or exchange 976), which costs money to text or call; enter your own phone number."
	case PhoneServiceCode:
		return "This is a service number, not a personal phone line; enter your own phone number."
	case PhoneInternationalRate:
		return "We text and call only US and Canadian numbers: this +1 number is in the Caribbean or Bermuda, where texts and calls are billed as international. Use email to get notices anywhere."
	case PhoneOutsideNorthAmerica:
		return "We text and call only US and Canadian numbers (+1). Use email to get notices anywhere in the world."
	default:
		return "Enter a phone number like +13035550123 or (303) 555-0123: 10 digits, area code and exchange not starting with 0 or 1."
	}
}

// Code names the problem in a word, for logs and delivery records.
func (p PhoneProblem) Code() string {
	switch p {
	case PhonePremium:
		return "premium_rate"
	case PhoneServiceCode:
		return "service_code"
	case PhoneInternationalRate:
		return "international_rate"
	case PhoneOutsideNorthAmerica:
		return "outside_north_america"
	}
	return "malformed"
}

// NormalizePhone returns a phone number in E.164, or why it cannot be stored at all. It
// takes E.164 ("+" and 8 to 15 digits) and North American numbers written with 10 digits
// (or 11 with the leading 1), ignoring the spaces, dashes, dots and parentheses people
// type. North American numbers must be well formed and not premium-rate.
func NormalizePhone(s string) (string, error) {
	digits, plus, ok := phoneDigits(s)
	if !ok {
		return "", PhoneMalformed
	}
	switch {
	case !plus && len(digits) == 10:
		digits = "1" + digits
	case !plus && len(digits) == 11 && digits[0] == '1':
	case plus && len(digits) >= 8 && len(digits) <= 15 && digits[0] != '0':
	default:
		return "", PhoneMalformed
	}
	if digits[0] == '1' {
		if err := checkNANP(digits[1:]); err != nil {
			return "", err
		}
	}
	return "+" + digits, nil
}

// ContactPhone returns the E.164 form of a number ballotflow will text or call (the same
// rule for ChannelSMS and ChannelVoice), or why it will not: NormalizePhone's rules, and then only numbers billed
// at North American domestic rates (see the top of this file).
func ContactPhone(s string) (string, error) {
	e164, err := NormalizePhone(s)
	if err != nil {
		return "", err
	}
	if !strings.HasPrefix(e164, "+1") {
		return "", PhoneOutsideNorthAmerica
	}
	area := e164[2:5]
	if caribbeanAreaCodes[area] {
		return "", PhoneInternationalRate
	}
	if serviceAreaCodes[area] {
		return "", PhoneServiceCode
	}
	return e164, nil
}

// phoneDigits drops the punctuation people type: a leading "+" (reported), spaces, dashes,
// dots and parentheses. Anything else is not a phone number.
func phoneDigits(s string) (digits string, plus, ok bool) {
	s = strings.TrimSpace(s)
	if len(s) > 40 {
		return "", false, false
	}
	s, plus = strings.CutPrefix(s, "+")
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
			b.WriteByte(c)
		case c == ' ' || c == '-' || c == '.' || c == '(' || c == ')':
		default:
			return "", false, false
		}
	}
	return b.String(), plus, b.Len() > 0
}

// checkNANP checks the 10 digits of a North American number: NPA-NXX-XXXX, where the area
// code (NPA) and the exchange (NXX) start with 2-9, the area code is not an N11 service
// code (211 ... 911) nor has 9 in the middle (X9X codes are reserved for expanding the
// plan), and the number is not premium-rate.
func checkNANP(n string) error {
	if len(n) != 10 {
		return PhoneMalformed
	}
	area, exchange := n[0:3], n[3:6]
	switch {
	case area[0] < '2' || exchange[0] < '2':
		return PhoneMalformed
	case area[1] == '1' && area[2] == '1', area[1] == '9':
		return PhoneMalformed
	case area == "900", exchange == "976":
		// 900 numbers bill the caller by the minute; 976 was the local "dial-it" premium
		// exchange, still billed as such in many areas.
		return PhonePremium
	}
	return nil
}

// caribbeanAreaCodes are the +1 area codes of the North American plan's countries other
// than the United States (and its territories) and Canada: billed as international.
var caribbeanAreaCodes = setOf(
	"242",        // Bahamas
	"246",        // Barbados
	"264",        // Anguilla
	"268",        // Antigua and Barbuda
	"284",        // British Virgin Islands
	"345",        // Cayman Islands
	"441",        // Bermuda
	"473",        // Grenada
	"649",        // Turks and Caicos Islands
	"658", "876", // Jamaica
	"664",               // Montserrat
	"721",               // Sint Maarten
	"758",               // Saint Lucia
	"767",               // Dominica
	"784",               // Saint Vincent and the Grenadines
	"809", "829", "849", // Dominican Republic
	"868", // Trinidad and Tobago
	"869", // Saint Kitts and Nevis
)

// serviceAreaCodes are non-geographic North American codes that are not a person's line:
// personal-communications services (5XX, which may bill the caller), inbound international
// (456), Canadian non-geographic services (600, 622), interexchange carrier services (700),
// the US government's (710), and the "paid toll-free" codes (880-882, 887, 889), which
// bill the caller. Toll-free codes (800, 833, ...) cost the caller nothing and stay allowed.
var serviceAreaCodes = setOf(
	"500", "521", "522", "523", "524", "525", "526", "527", "528", "529", "533", "544", "566", "577", "588",
	"456", "600", "622", "700", "710", "880", "881", "882", "887", "889",
)

func setOf(codes ...string) map[string]bool {
	m := make(map[string]bool, len(codes))
	for _, c := range codes {
		m[c] = true
	}
	return m
}
