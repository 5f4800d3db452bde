package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ballotflow/ballotflow/internal/ballot"
)

// Voter is one registration on the voter roll.
type Voter struct {
	Ref            int64 // internal id
	State          string
	VoterID        string
	County         string
	FirstName      string
	MiddleName     string
	LastName       string
	Suffix         string
	DateOfBirth    time.Time
	ResidentialZIP string
	Status         string // active, inactive, canceled, pending
	Confidential   bool
	UOCAVA         bool
	Language       string // en, es
	Email          string
	Phone          string
}

// VoterUpsert creates or updates a registration by (state, voter_id). A voter with an email
// and no email subscription yet is auto-enrolled for email; an existing choice (opted out,
// another address) is never overwritten. Confidential voters are never enrolled.
func (s *Store) VoterUpsert(ctx context.Context, v Voter) (int64, error) {
	if v.Language == "" {
		v.Language = ballot.LanguageEnglish
	}
	var ref int64
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `
			INSERT INTO voters (state, voter_id, county, first_name, middle_name, last_name, suffix, date_of_birth,
				residential_zip, status, confidential, uocava, language, email, phone, lookup_first, lookup_last)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, NULLIF($14, ''), NULLIF($15, ''), $16, $17)
			ON CONFLICT (state, voter_id) DO UPDATE SET county = $3, first_name = $4, middle_name = $5, last_name = $6,
				suffix = $7, date_of_birth = $8, residential_zip = $9, status = $10, confidential = $11, uocava = $12,
				language = $13, email = NULLIF($14, ''), phone = NULLIF($15, ''), lookup_first = $16, lookup_last = $17,
				updated_at = now()
			RETURNING id`,
			v.State, v.VoterID, v.County, v.FirstName, v.MiddleName, v.LastName, v.Suffix, v.DateOfBirth,
			v.ResidentialZIP, v.Status, v.Confidential, v.UOCAVA, v.Language, v.Email, v.Phone,
			Fold(v.FirstName), Fold(v.LastName)).Scan(&ref)
		if err != nil {
			return fmt.Errorf("upsert voter: %w", err)
		}
		if v.Email == "" || v.Confidential {
			return nil
		}
		_, err = tx.Exec(ctx, `
			INSERT INTO subscriptions (voter_ref, channel, address, state, source, consented_at)
			VALUES ($1, 'email', $2, 'active', 'auto_enrolled', now())
			ON CONFLICT (voter_ref, channel) DO NOTHING`, ref, v.Email)
		if err != nil {
			return fmt.Errorf("auto-enroll email: %w", err)
		}
		return nil
	})
	return ref, err
}

// VoterGetByID returns the registration with a state's voter id.
func (s *Store) VoterGetByID(ctx context.Context, state, voterID string) (Voter, error) {
	v, err := scanVoter(s.pool.QueryRow(ctx, voterColumns+` WHERE state = $1 AND voter_id = $2`, state, voterID))
	if err != nil {
		return Voter{}, notFound(err, "voter")
	}
	return v, nil
}

// VoterGetByRef returns the registration with an internal id.
func (s *Store) VoterGetByRef(ctx context.Context, ref int64) (Voter, error) {
	v, err := scanVoter(s.pool.QueryRow(ctx, voterColumns+` WHERE id = $1`, ref))
	if err != nil {
		return Voter{}, notFound(err, fmt.Sprintf("voter #%d", ref))
	}
	return v, nil
}

const voterColumns = `SELECT id, state, voter_id, county, first_name, middle_name, last_name, suffix, date_of_birth,
	residential_zip, status, confidential, uocava, language, coalesce(email, ''), coalesce(phone, '') FROM voters`

func scanVoter(row pgx.Row) (Voter, error) {
	var v Voter
	err := row.Scan(&v.Ref, &v.State, &v.VoterID, &v.County, &v.FirstName, &v.MiddleName, &v.LastName, &v.Suffix,
		&v.DateOfBirth, &v.ResidentialZIP, &v.Status, &v.Confidential, &v.UOCAVA, &v.Language, &v.Email, &v.Phone)
	return v, err
}

// Subscription is a voter's choice to hear about their ballot on one channel.
type Subscription struct {
	ID           int64
	VoterRef     int64
	Channel      string // email, sms, voice
	Address      string
	State        string // pending, active, opted_out, bounced
	Source       string // auto_enrolled, portal, county_assisted, migrated
	ContactStart string // "HH:MM", empty for the default
	ContactEnd   string
	TimeZone     string // empty for the jurisdiction's
	HoldForHours bool
	Language     string // empty for the voter's
}

// SubscriptionUpsert creates or replaces a voter's subscription on one channel.
func (s *Store) SubscriptionUpsert(ctx context.Context, sub Subscription) error {
	_, err := s.pool.Exec(ctx, `
		INSERT INTO subscriptions (voter_ref, channel, address, state, source, contact_start, contact_end, time_zone,
			hold_for_hours, language, consented_at, confirmed_at)
		VALUES ($1, $2, $3, $4, $5, NULLIF($6, '')::time, NULLIF($7, '')::time, NULLIF($8, ''), $9, NULLIF($10, ''), now(),
			CASE WHEN $4 = 'active' THEN now() END)
		ON CONFLICT (voter_ref, channel) DO UPDATE SET address = $3, state = $4, source = $5,
			contact_start = NULLIF($6, '')::time, contact_end = NULLIF($7, '')::time, time_zone = NULLIF($8, ''),
			hold_for_hours = $9, language = NULLIF($10, ''), updated_at = now(),
			confirmed_at = CASE WHEN $4 = 'active' THEN coalesce(subscriptions.confirmed_at, now()) END,
			opted_out_at = CASE WHEN $4 = 'opted_out' THEN now() END`,
		sub.VoterRef, sub.Channel, sub.Address, sub.State, sub.Source, sub.ContactStart, sub.ContactEnd,
		sub.TimeZone, sub.HoldForHours, sub.Language)
	if err != nil {
		return fmt.Errorf("upsert %s subscription: %w", sub.Channel, err)
	}
	return nil
}

// SubscriptionListByVoter returns a voter's subscriptions, in channel order email, sms, voice.
func (s *Store) SubscriptionListByVoter(ctx context.Context, voterRef int64) ([]Subscription, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT id, voter_ref, channel, address, state, source, coalesce(to_char(contact_start, 'HH24:MI'), ''),
			coalesce(to_char(contact_end, 'HH24:MI'), ''), coalesce(time_zone, ''), hold_for_hours, coalesce(language, '')
		FROM subscriptions WHERE voter_ref = $1
		ORDER BY array_position(ARRAY['email', 'sms', 'voice'], channel)`, voterRef)
	if err != nil {
		return nil, fmt.Errorf("subscriptions: %w", err)
	}
	subs, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Subscription, error) {
		var s Subscription
		err := row.Scan(&s.ID, &s.VoterRef, &s.Channel, &s.Address, &s.State, &s.Source, &s.ContactStart,
			&s.ContactEnd, &s.TimeZone, &s.HoldForHours, &s.Language)
		return s, err
	})
	if err != nil {
		return nil, fmt.Errorf("subscriptions: %w", err)
	}
	return subs, nil
}

// SubscriptionSetState moves a voter's channel to a new state (bounced after a permanent
// failure, opted_out after STOP) and records why in the audit log.
func (s *Store) SubscriptionSetState(ctx context.Context, voterRef int64, channel, state, actor, reason string) error {
	return s.inTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `
			UPDATE subscriptions SET state = $3, updated_at = now(),
				opted_out_at = CASE WHEN $3 = 'opted_out' THEN now() ELSE opted_out_at END
			WHERE voter_ref = $1 AND channel = $2 AND state <> $3`, voterRef, channel, state)
		if err != nil {
			return fmt.Errorf("mark %s subscription %s: %w", channel, state, err)
		}
		if tag.RowsAffected() == 0 {
			return nil
		}
		return audit(ctx, tx, actor, "subscription."+state, fmt.Sprintf("voter:%d/%s", voterRef, channel),
			map[string]any{"reason": reason})
	})
}

func audit(ctx context.Context, q querier, actor, action, subject string, detail map[string]any) error {
	if detail == nil {
		detail = map[string]any{}
	}
	_, err := q.Exec(ctx, `INSERT INTO audit_log (actor, action, subject, detail) VALUES ($1, $2, $3, $4)`,
		actor, action, subject, detail)
	if err != nil {
		return fmt.Errorf("audit %s: %w", action, err)
	}
	return nil
}

// SubscriptionGetByID returns one subscription.
func (s *Store) SubscriptionGetByID(ctx context.Context, id int64) (Subscription, error) {
	var sub Subscription
	err := s.pool.QueryRow(ctx, `
		SELECT id, voter_ref, channel, address, state, source, coalesce(to_char(contact_start, 'HH24:MI'), ''),
			coalesce(to_char(contact_end, 'HH24:MI'), ''), coalesce(time_zone, ''), hold_for_hours, coalesce(language, '')
		FROM subscriptions WHERE id = $1`, id).
		Scan(&sub.ID, &sub.VoterRef, &sub.Channel, &sub.Address, &sub.State, &sub.Source, &sub.ContactStart,
			&sub.ContactEnd, &sub.TimeZone, &sub.HoldForHours, &sub.Language)
	if err != nil {
		return Subscription{}, notFound(err, fmt.Sprintf("subscription #%d", id))
	}
	return sub, nil
}
