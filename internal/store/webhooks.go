package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// This file holds what the provider webhooks change: delivery states from status callbacks
// and event webhooks, and subscriptions from inbound SMS keywords and bounces.

// PhoneSubscriber is a voter with an SMS subscription on a phone number, and the
// jurisdiction that writes to them.
type PhoneSubscriber struct {
	VoterRef         int64
	State            string // the SMS subscription's state
	Language         string // the subscription's language, else the voter's
	JurisdictionName string
	HelpText         string            // in the county's default language
	HelpTexts        map[string]string // in its other languages (Jurisdiction.HelpTexts)
	SMSFrom          string
}

// SubscriptionListSMSByPhone returns every voter with an SMS subscription on phone, in any state,
// oldest registration first. Households share phones, so there may be several.
func (s *Store) SubscriptionListSMSByPhone(ctx context.Context, phone string) ([]PhoneSubscriber, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT s.voter_ref, s.state, coalesce(s.language, v.language), j.name, j.help_text, j.help_texts, j.sms_from
		FROM subscriptions s JOIN voters v ON v.id = s.voter_ref
			JOIN jurisdictions j ON j.state = v.state AND j.county = v.county
		WHERE s.channel = 'sms' AND lower(s.address) = lower($1)
		ORDER BY s.voter_ref`, phone)
	if err != nil {
		return nil, fmt.Errorf("sms subscribers of phone: %w", err)
	}
	subs, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (PhoneSubscriber, error) {
		var p PhoneSubscriber
		err := row.Scan(&p.VoterRef, &p.State, &p.Language, &p.JurisdictionName, &p.HelpText, &p.HelpTexts, &p.SMSFrom)
		return p, err
	})
	if err != nil {
		return nil, fmt.Errorf("sms subscribers of phone: %w", err)
	}
	return subs, nil
}

// JurisdictionGetBySMSNumber returns the jurisdiction that texts from number (E.164). When
// several share a number, the first by id is returned.
func (s *Store) JurisdictionGetBySMSNumber(ctx context.Context, number string) (Jurisdiction, error) {
	var j Jurisdiction
	err := s.pool.QueryRow(ctx, `
		SELECT id, state, county, name, time_zone, email_from, email_from_name, sms_from, voice_from, help_text, help_texts,
			languages
		FROM jurisdictions WHERE sms_from = $1 ORDER BY id LIMIT 1`, number).
		Scan(&j.ID, &j.State, &j.County, &j.Name, &j.TimeZone, &j.EmailFrom, &j.EmailFromName, &j.SMSFrom, &j.VoiceFrom, &j.HelpText,
			&j.HelpTexts, &j.Languages)
	if err != nil {
		return Jurisdiction{}, notFound(err, "jurisdiction of an SMS number")
	}
	return j, nil
}

// InboundSMS is one text a voter sent, as Twilio posted it, and the change its keyword asks
// for: every SMS subscription on Phone whose state is one of From moves to To. An empty To
// changes nothing (HELP, or not a keyword) and only records the text.
type InboundSMS struct {
	MessageSID string // Twilio's SM... id of the text, unique per inbound message
	Phone      string
	From       []string
	To         string
	Actor      string // the audit actor, e.g. "provider:twilio"
	Reason     string // the audit reason, e.g. "sms keyword STOP"; never the message text
}

// InboundMessageRetention is how long an inbound text's MessageSid is kept to recognise a
// replay. Twilio's signatures never expire, so a replay older than this would act again:
// it outlasts an election cycle, and a row is a few dozen bytes.
const InboundMessageRetention = 400 * 24 * time.Hour

// InboundMessageApply records an inbound text by its MessageSid and applies its change, in one
// transaction, returning the voters whose subscription changed. A sid recorded before is a
// replay, or Twilio retrying a text already applied: nothing changes and duplicate is true,
// so a STOP posted again after the voter's START cannot opt them out again.
//
// Moving to active confirms (confirmed_at) and clears opted_out_at; moving to opted_out
// stamps opted_out_at. An opt-out the voter asked the county for (county_assisted) is never
// turned back on here: a keyword from a phone that a household shares must not undo a
// no-contact request; the county or the voter's portal can.
func (s *Store) InboundMessageApply(ctx context.Context, m InboundSMS) (changed []int64, duplicate bool, err error) {
	if m.MessageSID == "" {
		return nil, false, errors.New("inbound sms: no MessageSid")
	}
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		changed, duplicate = nil, false
		tag, err := tx.Exec(ctx, `
			INSERT INTO inbound_messages (provider, message_sid) VALUES ('twilio', $1)
			ON CONFLICT DO NOTHING`, m.MessageSID)
		if err != nil {
			return fmt.Errorf("record inbound sms: %w", err)
		}
		if tag.RowsAffected() == 0 {
			duplicate = true
			return nil
		}
		if m.To == "" {
			return nil
		}
		changed, err = setPhoneSMSState(ctx, tx, m)
		return err
	})
	if err != nil {
		return nil, false, err
	}
	return changed, duplicate, nil
}

func setPhoneSMSState(ctx context.Context, tx pgx.Tx, m InboundSMS) ([]int64, error) {
	rows, err := tx.Query(ctx, `
		UPDATE subscriptions SET state = $3, updated_at = now(),
			confirmed_at = CASE WHEN $3 = 'active' AND (state = 'pending' OR confirmed_at IS NULL) THEN now()
				ELSE confirmed_at END,
			opted_out_at = CASE WHEN $3 = 'opted_out' THEN now() WHEN $3 = 'active' THEN NULL ELSE opted_out_at END
		WHERE channel = 'sms' AND lower(address) = lower($1) AND state = ANY($2) AND state <> $3
			AND NOT ($3 = 'active' AND state = 'opted_out' AND source = 'county_assisted')
			-- YES confirms only a pending number that was asked to confirm: one saved while a
			-- limit held its confirmation back was never told what YES would start.
			AND NOT ($3 = 'active' AND state = 'pending' AND confirm_requested_at IS NULL)
		RETURNING voter_ref`, m.Phone, m.From, m.To)
	if err != nil {
		return nil, fmt.Errorf("set sms subscriptions %s: %w", m.To, err)
	}
	changed, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, fmt.Errorf("set sms subscriptions %s: %w", m.To, err)
	}
	for _, ref := range changed {
		if err := audit(ctx, tx, m.Actor, "subscription."+m.To, fmt.Sprintf("voter:%d/sms", ref),
			map[string]any{"reason": m.Reason}); err != nil {
			return nil, err
		}
	}
	return changed, nil
}

// InboundMessagePrune forgets the inbound texts received before before and returns how
// many; see InboundMessageRetention.
func (s *Store) InboundMessagePrune(ctx context.Context, before time.Time) (int64, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM inbound_messages WHERE received_at < $1`, before)
	if err != nil {
		return 0, fmt.Errorf("prune inbound messages: %w", err)
	}
	return tag.RowsAffected(), nil
}

// ProviderEvent is one provider callback about a delivery: a Twilio status callback or one
// SendGrid event. It carries no address except Address, which is only compared, never stored.
type ProviderEvent struct {
	Provider string // "twilio" or "sendgrid"; the audit actor is "provider:<Provider>"
	// IdempotencyKey names the delivery when the callback carries it (the key in our status
	// callback URL, SendGrid's idempotency_key custom arg). It matches even before the
	// activity has stored the provider's id, which callbacks can outrun.
	IdempotencyKey string
	// ProviderID is the Twilio SM.../CA... sid or the SendGrid X-Message-Id; it matches a
	// delivery of one of Channels when IdempotencyKey does not.
	ProviderID string
	Channels   []string
	// EventID is the provider's id of this event (SendGrid sg_event_id, "<sid>:<status>" for
	// Twilio): the same event posted twice is stored once and changes nothing the second time.
	EventID    string
	Status     string // as the provider named it ("delivered", "undelivered", "bounce", ...)
	Detail     string // address-free: an error code, a bounce classification
	OccurredAt time.Time
	// State is the delivery state the event implies: DeliveryDelivered, DeliveryFailed, or
	// empty when it only shows that the provider accepted the message.
	State string
	// Subscription, when set (ballot.SubscriptionBounced or SubscriptionOptedOut), turns off
	// the channel's active or pending subscriptions on Address, for every voter on it;
	// without Address, the delivery's voter's.
	Subscription string
	Address      string
	// SubscriptionAfter, above 1, turns the subscriptions off only when the voter's last
	// SubscriptionAfter settled deliveries on the channel, this one included, all failed with
	// this event's Detail: a handset switched off for a day is not a dead number.
	SubscriptionAfter int
}

// ProviderEventResult is what DeliveryEventRecord did.
type ProviderEventResult struct {
	Matched        bool // a delivery was found; otherwise nothing was stored
	Duplicate      bool // the event was recorded before; nothing changed
	IdempotencyKey string
	State          string  // the delivery's state afterwards
	Changed        []int64 // voters whose subscription was turned off
}

// deliveryRank orders delivery states: a state only ever moves to a higher rank, so callbacks
// in any order, and duplicates, leave the same row. Skipped deliveries were never sent and
// are not ranked.
var deliveryRank = map[string]int{DeliverySending: 0, DeliveryAccepted: 1, DeliveryDelivered: 2, DeliveryFailed: 3}

// DeliveryEventRecord stores a provider callback for its delivery and moves the delivery's
// state forward (never back), in one transaction; see ProviderEvent. An event for no known
// delivery is not stored. Any callback proves the provider accepted the message, so a
// delivery still "sending" becomes at least "accepted" and learns the provider's id.
func (s *Store) DeliveryEventRecord(ctx context.Context, e ProviderEvent) (ProviderEventResult, error) {
	var res ProviderEventResult
	if e.State != "" && e.State != DeliveryDelivered && e.State != DeliveryFailed {
		return res, fmt.Errorf("provider event: state %q is not delivered or failed", e.State)
	}
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		d, err := lockDelivery(ctx, tx, e)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		res.Matched, res.IdempotencyKey, res.State = true, d.key, d.state

		var eventRef int64
		err = tx.QueryRow(ctx, `
			INSERT INTO delivery_events (delivery_ref, status, detail, occurred_at, provider_event_id)
			VALUES ($1, $2, $3, $4, NULLIF($5, ''))
			ON CONFLICT (delivery_ref, provider_event_id) DO NOTHING RETURNING id`,
			d.id, e.Status, e.Detail, e.OccurredAt, e.EventID).Scan(&eventRef)
		if errors.Is(err, pgx.ErrNoRows) {
			res.Duplicate = true
			return nil
		}
		if err != nil {
			return fmt.Errorf("insert delivery event: %w", err)
		}

		if _, ranked := deliveryRank[d.state]; ranked {
			next := d.state
			for _, st := range []string{DeliveryAccepted, e.State} {
				if r, ok := deliveryRank[st]; ok && r > deliveryRank[next] {
					next = st
				}
			}
			lastError := d.lastError
			if e.State == DeliveryFailed {
				// Two failures may arrive in either order: keep the same one whatever the order.
				if d.state != DeliveryFailed || e.Detail > lastError {
					lastError = e.Detail
				}
			}
			_, err = tx.Exec(ctx, `
				UPDATE deliveries SET state = $2, last_error = $3, provider_id = coalesce(provider_id, NULLIF($4, '')),
					updated_at = now()
				WHERE id = $1`, d.id, next, lastError, e.ProviderID)
			if err != nil {
				return fmt.Errorf("update delivery from provider event: %w", err)
			}
			res.State = next
		}

		if e.Subscription == "" {
			return nil
		}
		if e.SubscriptionAfter > 1 {
			repeated, err := failedInARow(ctx, tx, d, e.Detail, e.SubscriptionAfter)
			if err != nil || !repeated {
				return err
			}
		}
		res.Changed, err = turnOffSubscriptions(ctx, tx, d, e)
		return err
	})
	if err != nil {
		return ProviderEventResult{}, err
	}
	return res, nil
}

type lockedDelivery struct {
	id        int64
	key       string
	voterRef  int64
	channel   string
	state     string
	lastError string
}

// lockDelivery finds the event's delivery, by idempotency key first, and locks it so that
// concurrent callbacks for one delivery apply one after the other.
func lockDelivery(ctx context.Context, tx pgx.Tx, e ProviderEvent) (lockedDelivery, error) {
	const cols = `SELECT id, idempotency_key, coalesce(voter_ref, 0), channel, state, last_error FROM deliveries `
	scan := func(row pgx.Row) (lockedDelivery, error) {
		var d lockedDelivery
		err := row.Scan(&d.id, &d.key, &d.voterRef, &d.channel, &d.state, &d.lastError)
		return d, err
	}
	if e.IdempotencyKey != "" {
		d, err := scan(tx.QueryRow(ctx, cols+`WHERE idempotency_key = $1 AND channel = ANY($2) FOR UPDATE`,
			e.IdempotencyKey, e.Channels))
		if !errors.Is(err, pgx.ErrNoRows) {
			return d, wrapLookup(err)
		}
	}
	if e.ProviderID == "" {
		return lockedDelivery{}, pgx.ErrNoRows
	}
	d, err := scan(tx.QueryRow(ctx, cols+`WHERE provider_id = $1 AND channel = ANY($2) FOR UPDATE`,
		e.ProviderID, e.Channels))
	if errors.Is(err, pgx.ErrNoRows) {
		return d, err
	}
	return d, wrapLookup(err)
}

func wrapLookup(err error) error {
	if err != nil {
		return fmt.Errorf("find delivery of provider event: %w", err)
	}
	return nil
}

// failedInARow reports whether the last n settled (delivered or failed) deliveries to the
// delivery's voter on its channel all failed with detail.
func failedInARow(ctx context.Context, tx pgx.Tx, d lockedDelivery, detail string, n int) (bool, error) {
	var failed int
	err := tx.QueryRow(ctx, `
		SELECT count(*) FILTER (WHERE state = 'failed' AND last_error = $3)
		FROM (SELECT state, last_error FROM deliveries
			WHERE voter_ref = $1 AND channel = $2 AND state IN ('delivered', 'failed')
			ORDER BY created_at DESC, id DESC LIMIT $4) AS recent`, d.voterRef, d.channel, detail, n).Scan(&failed)
	if err != nil {
		return false, fmt.Errorf("recent %s deliveries: %w", d.channel, err)
	}
	return failed == n, nil
}

// turnOffSubscriptions marks the subscriptions a bounce or complaint is about, with an audit
// entry each, and returns their voters.
func turnOffSubscriptions(ctx context.Context, tx pgx.Tx, d lockedDelivery, e ProviderEvent) ([]int64, error) {
	rows, err := tx.Query(ctx, `
		UPDATE subscriptions SET state = $1, updated_at = now(),
			opted_out_at = CASE WHEN $1 = 'opted_out' THEN now() ELSE opted_out_at END
		WHERE channel = $2 AND state IN ('active', 'pending')
			AND CASE WHEN $3 <> '' THEN lower(address) = lower($3) ELSE voter_ref = $4 END
		RETURNING voter_ref`, e.Subscription, d.channel, e.Address, d.voterRef)
	if err != nil {
		return nil, fmt.Errorf("mark %s subscriptions %s: %w", d.channel, e.Subscription, err)
	}
	changed, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, fmt.Errorf("mark %s subscriptions %s: %w", d.channel, e.Subscription, err)
	}
	for _, ref := range changed {
		err := audit(ctx, tx, "provider:"+e.Provider, "subscription."+e.Subscription, fmt.Sprintf("voter:%d/%s", ref, d.channel),
			map[string]any{"reason": e.Provider + " " + e.Status, "detail": e.Detail, "delivery": d.key})
		if err != nil {
			return nil, err
		}
	}
	return changed, nil
}

// DeliveryGetByKey returns the delivery with an idempotency key.
func (s *Store) DeliveryGetByKey(ctx context.Context, key string) (Delivery, error) {
	var d Delivery
	err := s.pool.QueryRow(ctx, `
		SELECT idempotency_key, ballot_ref, coalesce(voter_ref, 0), notice_status, channel, state, coalesce(provider_id, ''), attempts,
			coalesce(messages_version, 0)
		FROM deliveries WHERE idempotency_key = $1`, key).
		Scan(&d.IdempotencyKey, &d.BallotRef, &d.VoterRef, &d.NoticeStatus, &d.Channel, &d.State, &d.ProviderID, &d.Attempts,
			&d.MessagesVersion)
	if err != nil {
		return Delivery{}, notFound(err, "delivery")
	}
	return d, nil
}

// BallotGetByRef returns the ballot with an internal id.
func (s *Store) BallotGetByRef(ctx context.Context, ref int64) (Ballot, error) {
	b, err := scanBallot(s.pool.QueryRow(ctx, ballotColumns+` WHERE b.id = $1`, ref))
	if err != nil {
		return Ballot{}, notFound(err, fmt.Sprintf("ballot #%d", ref))
	}
	return b, nil
}

// BallotGetStatusDetails returns the reason and cure deadline (YYYY-MM-DD, or empty) of the latest
// county event that reported status for a ballot; empty when none did.
func (s *Store) BallotGetStatusDetails(ctx context.Context, ballotRef int64, status string) (reason, cureDeadline string, err error) {
	var deadline *time.Time
	err = s.pool.QueryRow(ctx, `
		SELECT reason, cure_deadline FROM ballot_events WHERE ballot_ref = $1 AND status = $2
		ORDER BY occurred_at DESC, id DESC LIMIT 1`, ballotRef, status).Scan(&reason, &deadline)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", "", nil
	}
	if err != nil {
		return "", "", fmt.Errorf("status details: %w", err)
	}
	if deadline != nil {
		cureDeadline = deadline.Format(time.DateOnly)
	}
	return reason, cureDeadline, nil
}

// DeliveryEventListStatuses returns the statuses recorded for a delivery, in the order received.
func (s *Store) DeliveryEventListStatuses(ctx context.Context, key string) ([]string, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT e.status FROM delivery_events e JOIN deliveries d ON d.id = e.delivery_ref
		WHERE d.idempotency_key = $1 ORDER BY e.id`, key)
	if err != nil {
		return nil, fmt.Errorf("delivery events: %w", err)
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}
