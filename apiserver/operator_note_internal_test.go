package apiserver

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ballotflow/ballotflow/internal/store"
)

func TestOperatorNotesKeepCallDatesAndTicketsButRefusePersonalData(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	v := store.Voter{FirstName: "José", MiddleName: "A", LastName: "de la Cruz",
		DateOfBirth: time.Date(1985, 3, 14, 0, 0, 0, 0, time.UTC)}
	for _, note := range []string{
		"Voter called 2026-11-03 10:15, ticket 4411",
		"voter called on Nov 3 at 9:30, ticket INC0012345",
		"spoke with the voter's daughter 11/24/26; ticket 77",
		"walk-in at the Denver office, 25 November 2026",
		"request by letter, case 2026-118",
	} {
		require.Empty(t, notePersonalData(note, v, now), note)
	}
	for note, want := range map[string]string{
		"reach her at jose@example.org":           "an email address",
		"call +44 20 7946 0958":                   "a phone number",
		"call 020 7946 0958":                      "a phone number",
		"call (303) 555-0101 after 5":             "a phone number",
		"call 303.555.0101":                       "a phone number",
		"DOB 1985-03-14":                          "a date that is not the date of the call (a date of birth?)",
		"confirmed 14.03.85":                      "a date that is not the date of the call (a date of birth?)",
		"birthday is March 14":                    "a date that is not the date of the call (a date of birth?)",
		"Jose DE LA CRUZ asked by phone":          "the voter's name",
		"cruz household, ticket 3":                "the voter's name",
		"born Jan 2, 1961 (not this voter's DOB)": "a date that is not the date of the call (a date of birth?)",
	} {
		require.Equal(t, want, notePersonalData(note, v, now), note)
	}
}
