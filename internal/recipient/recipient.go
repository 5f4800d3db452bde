// Package recipient is the one reader of a voter as a message sees them: the ballot, the
// voter, the county and the voter's subscriptions, read from PostgreSQL at send time, and
// the rules that pick a channel's address, language and contact hours from them. Delivery,
// the ballot workflow's plan, the voice call's "press 1 to hear it again" and the portal all
// use it, so that a voter hears every message the same way.
package recipient

import (
	"context"

	"github.com/ballotflow/ballotflow/internal/ballot"
	"github.com/ballotflow/ballotflow/internal/store"
)

// Recipient is everything a message about one ballot reads.
type Recipient struct {
	Ballot        store.Ballot
	Voter         store.Voter
	Jurisdiction  store.Jurisdiction
	Subscriptions []store.Subscription
}

// OfBallotKey reads the recipient of the ballot with this key. A ballot, voter or county
// that does not exist is store.ErrNotFound.
func OfBallotKey(ctx context.Context, st *store.Store, ballotKey string) (Recipient, error) {
	b, err := st.BallotGetByKey(ctx, ballotKey)
	if err != nil {
		return Recipient{}, err
	}
	return of(ctx, st, b, b.VoterRef)
}

// OfBallotRef reads the recipient of the ballot with this internal number, as voter
// voterRef (a delivery's voter).
func OfBallotRef(ctx context.Context, st *store.Store, ballotRef, voterRef int64) (Recipient, error) {
	b, err := st.BallotGetByRef(ctx, ballotRef)
	if err != nil {
		return Recipient{}, err
	}
	return of(ctx, st, b, voterRef)
}

func of(ctx context.Context, st *store.Store, b store.Ballot, voterRef int64) (Recipient, error) {
	r := Recipient{Ballot: b}
	var err error
	if r.Voter, err = st.VoterGetByRef(ctx, voterRef); err != nil {
		return r, err
	}
	if r.Jurisdiction, err = st.JurisdictionGetByCounty(ctx, b.State, b.County); err != nil {
		return r, err
	}
	if r.Subscriptions, err = st.SubscriptionListByVoter(ctx, r.Voter.Ref); err != nil {
		return r, err
	}
	return r, nil
}

// Notifiable reports whether the voter may be sent notices at all (not canceled, inactive
// or confidential).
func (r Recipient) Notifiable() bool {
	return ballot.Notifiable(r.Voter.Status, r.Voter.Confidential)
}

// Subscription returns the voter's subscription on channel, whatever its state.
func (r Recipient) Subscription(channel string) (store.Subscription, bool) {
	for _, s := range r.Subscriptions {
		if s.Channel == channel {
			return s, true
		}
	}
	return store.Subscription{}, false
}

// Language is the language of messages on channel: the channel's own choice, else the
// voter's, within the languages the county offers.
func (r Recipient) Language(channel string) string {
	sub, _ := r.Subscription(channel)
	return ballot.NoticeLanguage(sub.Language, r.Voter.Language, r.Jurisdiction.Languages)
}

// ContactHours are when a subscription's channel may be used: its own hours, else the
// defaults, in its own time zone, else the county's.
func ContactHours(sub store.Subscription, j store.Jurisdiction) (start, end, timeZone string) {
	start, end, timeZone = sub.ContactStart, sub.ContactEnd, sub.TimeZone
	if start == "" || end == "" {
		start, end = ballot.DefaultContactStart, ballot.DefaultContactEnd
	}
	if timeZone == "" {
		timeZone = j.TimeZone
	}
	return start, end, timeZone
}
