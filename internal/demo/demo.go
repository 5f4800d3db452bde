// Package demo seeds the demo jurisdiction, election and voters that `ballotflow dev` starts
// with, so a newcomer can post an event and watch it become notices. The people are made up;
// their addresses are reserved for examples (example.org, 555-01xx numbers).
package demo

import (
	"context"
	"fmt"
	"time"

	"github.com/ballotflow/ballotflow/internal/ballot"
	"github.com/ballotflow/ballotflow/internal/store"
)

// ElectionID is the demo election.
const ElectionID = "demo-general"

// Voter is a demo voter as a newcomer would type them into the portal.
type Voter struct {
	store.Voter
	SMS string // phone with SMS active, when set
}

// Voters are the demo voters. The first is the one the README's tour uses.
var Voters = []Voter{
	{Voter: store.Voter{State: "CO", VoterID: "600100001", County: "denver", FirstName: "Maria", LastName: "Garcia",
		DateOfBirth: date("1985-03-14"), ResidentialZIP: "80202", Status: ballot.VoterActive, Language: ballot.LanguageEnglish,
		Email: "maria.garcia@example.org", Phone: "+13035550101"}, SMS: "+13035550101"},
	{Voter: store.Voter{State: "CO", VoterID: "600100002", County: "denver", FirstName: "James", LastName: "Smith",
		DateOfBirth: date("1962-07-04"), ResidentialZIP: "80205", Status: ballot.VoterActive, Language: ballot.LanguageEnglish,
		Email: "smith.family@example.org"}},
	{Voter: store.Voter{State: "CO", VoterID: "600100003", County: "denver", FirstName: "Ana", LastName: "Smith",
		DateOfBirth: date("1964-11-20"), ResidentialZIP: "80205", Status: ballot.VoterActive, Language: ballot.LanguageEnglish,
		Email: "smith.family@example.org"}}, // shares an email with James
	{Voter: store.Voter{State: "CO", VoterID: "600100004", County: "denver", FirstName: "José", LastName: "Núñez",
		DateOfBirth: date("1990-12-01"), ResidentialZIP: "80219", Status: ballot.VoterActive, Language: ballot.LanguageSpanish,
		Email: "jose.nunez@example.org", Phone: "+17205550104"}, SMS: "+17205550104"},
	{Voter: store.Voter{State: "CO", VoterID: "600100005", County: "denver", FirstName: "Riley", LastName: "Park",
		DateOfBirth: date("1979-05-30"), ResidentialZIP: "80203", Status: ballot.VoterActive, Confidential: true,
		Email: "riley.park@example.org"}},
	{Voter: store.Voter{State: "CO", VoterID: "600200001", County: "arapahoe", FirstName: "Sam", LastName: "Lee",
		DateOfBirth: date("1975-01-09"), ResidentialZIP: "80012", Status: ballot.VoterActive, Language: ballot.LanguageEnglish,
		Email: "sam.lee@example.org"}},
}

// Jurisdictions are the demo counties.
var Jurisdictions = []store.Jurisdiction{
	{State: "CO", County: "denver", Name: "Denver Elections Division", TimeZone: "America/Denver",
		EmailFrom: "ballots@denver.example.org", EmailFromName: "Denver Elections", SMSFrom: "+17205550100",
		VoiceFrom: "+17205550100", HelpText: "Questions? Call 720-555-0100 or visit denver.example.org/elections.",
		ReplyTo: "elections@denver.example.org"},
	{State: "CO", County: "arapahoe", Name: "Arapahoe County Elections", TimeZone: "America/Denver",
		EmailFrom: "ballots@arapahoe.example.org", EmailFromName: "Arapahoe County Elections", SMSFrom: "+13035550200",
		VoiceFrom: "+13035550200", HelpText: "Questions? Call 303-555-0200.", ReplyTo: "elections@arapahoe.example.org"},
}

// Seed upserts the demo data. The demo election is always two weeks ahead, so the demo
// keeps working whatever the date.
func Seed(ctx context.Context, s *store.Store, now time.Time) error {
	for _, j := range Jurisdictions {
		if _, err := s.JurisdictionUpsert(ctx, j); err != nil {
			return fmt.Errorf("seed jurisdiction: %w", err)
		}
	}
	day := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC).AddDate(0, 0, 14)
	if err := s.ElectionUpsert(ctx, store.Election{ID: ElectionID, State: "CO", Name: "Demo General Election",
		ElectionDay: day, CanvassEndsAt: day.AddDate(0, 0, 30)}); err != nil {
		return fmt.Errorf("seed election: %w", err)
	}
	for _, v := range Voters {
		ref, err := s.VoterUpsert(ctx, v.Voter)
		if err != nil {
			return fmt.Errorf("seed voter: %w", err)
		}
		if v.SMS == "" {
			continue
		}
		subs, err := s.SubscriptionListByVoter(ctx, ref)
		if err != nil {
			return err
		}
		if hasChannel(subs, ballot.ChannelSMS) {
			continue // keep what the demo user changed
		}
		if err := s.SubscriptionUpsert(ctx, store.Subscription{VoterRef: ref, Channel: ballot.ChannelSMS, Address: v.SMS,
			State: ballot.SubscriptionActive, Source: ballot.SourcePortal}); err != nil {
			return fmt.Errorf("seed sms subscription: %w", err)
		}
	}
	return nil
}

func hasChannel(subs []store.Subscription, channel string) bool {
	for _, s := range subs {
		if s.Channel == channel {
			return true
		}
	}
	return false
}

func date(s string) time.Time {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return t
}
