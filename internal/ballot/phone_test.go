package ballot_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ballotflow/ballotflow/internal/ballot"
)

func TestNormalizePhoneStoresWellFormedNumbersInE164(t *testing.T) {
	for in, want := range map[string]string{
		"+13035550123":      "+13035550123",
		"(303) 555-0123":    "+13035550123",
		"303.555.0123":      "+13035550123",
		"1 303 555 0123":    "+13035550123",
		"+1 (303) 555-0123": "+13035550123",
		"+442071838750":     "+442071838750", // abroad: a registration may hold it
		"+18765550123":      "+18765550123",  // Jamaica: stored, never texted
		"+18005550123":      "+18005550123",  // toll-free
		"  +4930123456  ":   "+4930123456",
	} {
		got, err := ballot.NormalizePhone(in)
		require.NoError(t, err, in)
		require.Equal(t, want, got, in)
	}
}

func TestNormalizePhoneRefusesMalformedAndPremiumRateNumbers(t *testing.T) {
	for in, want := range map[string]ballot.PhoneProblem{
		"":                      ballot.PhoneMalformed,
		"call me":               ballot.PhoneMalformed,
		"+1303555012":           ballot.PhoneMalformed, // 9 digits after +1
		"+11035550111":          ballot.PhoneMalformed, // area code starts with 1
		"+13030550111":          ballot.PhoneMalformed, // exchange starts with 0
		"+19115550111":          ballot.PhoneMalformed, // N11 is a service code
		"+13935550111":          ballot.PhoneMalformed, // X9X is reserved
		"555-0123":              ballot.PhoneMalformed,
		"+0123456789":           ballot.PhoneMalformed,
		"+1234567":              ballot.PhoneMalformed, // 7 digits
		"+1234567890123456":     ballot.PhoneMalformed, // 16 digits
		"++13035550123":         ballot.PhoneMalformed,
		"+1900555012":           ballot.PhoneMalformed,
		"+19005550123":          ballot.PhonePremium,
		"1-900-555-0123":        ballot.PhonePremium,
		"(303) 976-1234":        ballot.PhonePremium,
		"+12129761234":          ballot.PhonePremium,
		strings.Repeat("1", 41): ballot.PhoneMalformed,
	} {
		_, err := ballot.NormalizePhone(in)
		require.ErrorIs(t, err, want, in)
	}
}

func TestContactPhoneTextsAndCallsOnlyDomesticNorthAmericanNumbers(t *testing.T) {
	for _, ok := range []string{"+13035550123", "(720) 555-0199", "+14165550123" /* Toronto */, "+17875550123", /* Puerto Rico */
		"+18005550123" /* toll-free */} {
		_, err := ballot.ContactPhone(ok)
		require.NoError(t, err, ok)
	}
	for in, want := range map[string]ballot.PhoneProblem{
		"+19005550123":  ballot.PhonePremium,
		"+13039765555":  ballot.PhonePremium,
		"+442071838750": ballot.PhoneOutsideNorthAmerica,
		"+525512345678": ballot.PhoneOutsideNorthAmerica,
		"+18765550123":  ballot.PhoneInternationalRate, // Jamaica
		"+18095550123":  ballot.PhoneInternationalRate, // Dominican Republic
		"+14415550123":  ballot.PhoneInternationalRate, // Bermuda
		"+15005550123":  ballot.PhoneServiceCode,
		"+17005550123":  ballot.PhoneServiceCode,
		"+14565550123":  ballot.PhoneServiceCode,
		"nope":          ballot.PhoneMalformed,
	} {
		_, err := ballot.ContactPhone(in)
		require.ErrorIs(t, err, want, in)
	}
}

func TestPhoneProblemMessagesNeverRepeatTheNumber(t *testing.T) {
	for _, p := range []ballot.PhoneProblem{ballot.PhoneMalformed, ballot.PhonePremium, ballot.PhoneServiceCode,
		ballot.PhoneInternationalRate, ballot.PhoneOutsideNorthAmerica} {
		require.NotEmpty(t, p.Error())
		require.NotContains(t, p.Error(), "876")
	}
}

// FuzzContactPhone: no input panics; whatever ContactPhone accepts, NormalizePhone accepts
// as the same +1 number, and normalizing it again changes nothing.
func FuzzContactPhone(f *testing.F) {
	for _, s := range []string{"+13035550123", "(303) 555-0123", "+19005550123", "1-900-555-0123", "+18765550123",
		"+442071838750", "+", "++1", "(((", "+1 (303) 976-1234", "1" + strings.Repeat("9", 40), "\x00", "٣٠٣٥٥٥٠١٢٣"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		stored, err := ballot.NormalizePhone(s)
		if err == nil {
			again, err := ballot.NormalizePhone(stored)
			require.NoError(t, err)
			require.Equal(t, stored, again)
		}
		contact, err := ballot.ContactPhone(s)
		if err != nil {
			return
		}
		require.Equal(t, stored, contact)
		require.True(t, strings.HasPrefix(contact, "+1") && len(contact) == 12, contact)
	})
}
