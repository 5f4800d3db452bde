package store

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/ballotflow/ballotflow/internal/ballot"
)

// Delivery states.
const (
	DeliverySending   = "sending"   // row written, provider called or about to be
	DeliveryAccepted  = "accepted"  // the provider took the message
	DeliveryDelivered = "delivered" // the provider reported delivery
	DeliveryFailed    = "failed"    // permanently refused
	DeliverySkipped   = "skipped"   // channel no longer active at send time
)

// Delivery is one notice on one channel.
type Delivery struct {
	IdempotencyKey string
	BallotRef      int64
	VoterRef       int64
	NoticeSeq      int // the ballot's notice number, from 1
	NoticeStatus   string
	Channel        string
	State          string
	ProviderID     string
	Attempts       int
	// MessagesVersion is the version of the county's wording the message used (see
	// MessageVersionSave); 0 when its texts were the catalog's alone.
	MessagesVersion int64
}

// DeliveryBegin writes the delivery row before the provider is called, or finds the one an
// earlier attempt wrote. The caller sends only when the returned state is "sending": an
// accepted, delivered, failed or skipped row means an earlier attempt settled it.
func (s *Store) DeliveryBegin(ctx context.Context, d Delivery) (Delivery, error) {
	if d.NoticeSeq < 1 {
		return Delivery{}, fmt.Errorf("begin delivery: notice number %d: notices are numbered from 1", d.NoticeSeq)
	}
	var providerID *string
	// The notice no longer waits for its time: its row in notice_waits goes with the start.
	err := s.pool.QueryRow(ctx, `
		WITH waited AS (DELETE FROM notice_waits WHERE ballot_ref = $2 AND notice_seq = $6 AND channel = $5)
		INSERT INTO deliveries (idempotency_key, ballot_ref, voter_ref, notice_status, channel, state, attempts, notice_seq)
		VALUES ($1, $2, $3, $4, $5, 'sending', 1, $6)
		ON CONFLICT (idempotency_key) DO UPDATE SET
			attempts = deliveries.attempts + CASE WHEN deliveries.state = 'sending' THEN 1 ELSE 0 END,
			updated_at = now()
		RETURNING state, provider_id, attempts`,
		d.IdempotencyKey, d.BallotRef, d.VoterRef, d.NoticeStatus, d.Channel, d.NoticeSeq).Scan(&d.State, &providerID, &d.Attempts)
	if err != nil {
		return Delivery{}, fmt.Errorf("begin delivery: %w", err)
	}
	if providerID != nil {
		d.ProviderID = *providerID
	}
	return d, nil
}

// DeliveryFinish settles a delivery: accepted with the provider's id, failed with the
// provider's (address-free) error text, or skipped.
func (s *Store) DeliveryFinish(ctx context.Context, key, state, providerID, lastError string) error {
	_, err := s.pool.Exec(ctx, `
		UPDATE deliveries SET state = $2, provider_id = NULLIF($3, ''), last_error = $4, updated_at = now()
		WHERE idempotency_key = $1 AND state = 'sending'`, key, state, providerID, lastError)
	if err != nil {
		return fmt.Errorf("finish delivery as %s: %w", state, err)
	}
	return nil
}

// DeliveryAccept settles a delivery the provider accepted, with the provider's id and the
// version of the county's wording its message used (0: the catalog's texts alone). The
// provider's callback may have come first and moved the delivery on (delivered, failed):
// its state stays, and the version is recorded all the same.
func (s *Store) DeliveryAccept(ctx context.Context, key, providerID string, messagesVersion int64) error {
	_, err := s.pool.Exec(ctx, `
		UPDATE deliveries SET
			state = CASE WHEN state = 'sending' THEN 'accepted' ELSE state END,
			provider_id = coalesce(provider_id, NULLIF($2, '')),
			last_error = CASE WHEN state = 'sending' THEN '' ELSE last_error END,
			messages_version = coalesce(messages_version, NULLIF($3, 0)), updated_at = now()
		WHERE idempotency_key = $1 AND state <> 'skipped'`, key, providerID, messagesVersion)
	if err != nil {
		return fmt.Errorf("finish delivery as accepted: %w", err)
	}
	return nil
}

// DeliveryRefusal is a provider's refusal, when asked to send, of a delivery's address for
// good: an invalid or landline number, a number that texted STOP, a rejected email address.
type DeliveryRefusal struct {
	IdempotencyKey string
	Channel        string
	Provider       string // "twilio" or "sendgrid"; the audit actor is "provider:<Provider>"
	Detail         string // the provider's address-free error text
	// Subscription is what the channel's subscriptions on Address become:
	// ballot.SubscriptionBounced, or ballot.SubscriptionOptedOut when the provider says the
	// number unsubscribed.
	Subscription string
	Address      string // compared, never stored
}

// DeliveryRefuse settles a delivery the provider refused for good and turns off the active
// and pending subscriptions of its channel on the refused address, for every voter on it
// (a household shares numbers and addresses, and it is the address the provider refuses),
// with an audit entry each, in one transaction: a crash cannot leave the delivery failed and
// the subscription still active. It returns the voters whose subscription changed.
func (s *Store) DeliveryRefuse(ctx context.Context, r DeliveryRefusal) ([]int64, error) {
	if r.Subscription != ballot.SubscriptionBounced && r.Subscription != ballot.SubscriptionOptedOut {
		return nil, fmt.Errorf("refuse delivery: subscription state %q is not bounced or opted_out", r.Subscription)
	}
	var changed []int64
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		e := ProviderEvent{Provider: r.Provider, IdempotencyKey: r.IdempotencyKey, Channels: []string{r.Channel},
			Status: "refused", Detail: r.Detail, Subscription: r.Subscription, Address: r.Address}
		d, err := lockDelivery(ctx, tx, e)
		if err != nil {
			return notFound(err, "delivery refused by the provider")
		}
		if _, err := tx.Exec(ctx, `
			UPDATE deliveries SET state = 'failed', last_error = $2, updated_at = now()
			WHERE id = $1 AND state = 'sending'`, d.id, r.Detail); err != nil {
			return fmt.Errorf("settle refused delivery: %w", err)
		}
		changed, err = turnOffSubscriptions(ctx, tx, d, e)
		return err
	})
	if err != nil {
		return nil, err
	}
	return changed, nil
}

// DeliverySetLastError records a transient failure on a delivery that is still being sent.
func (s *Store) DeliverySetLastError(ctx context.Context, key, lastError string) error {
	_, err := s.pool.Exec(ctx, `UPDATE deliveries SET last_error = $2, updated_at = now()
		WHERE idempotency_key = $1 AND state = 'sending'`, key, lastError)
	if err != nil {
		return fmt.Errorf("note delivery error: %w", err)
	}
	return nil
}

// DeliveryListByBallot lists a ballot's deliveries in the order they were planned.
func (s *Store) DeliveryListByBallot(ctx context.Context, ballotRef int64) ([]Delivery, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT idempotency_key, ballot_ref, coalesce(voter_ref, 0), notice_status, channel, state, coalesce(provider_id, ''), attempts
		FROM deliveries WHERE ballot_ref = $1 ORDER BY id`, ballotRef)
	if err != nil {
		return nil, fmt.Errorf("deliveries of ballot: %w", err)
	}
	out := []Delivery{}
	for rows.Next() {
		var d Delivery
		if err := rows.Scan(&d.IdempotencyKey, &d.BallotRef, &d.VoterRef, &d.NoticeStatus, &d.Channel, &d.State,
			&d.ProviderID, &d.Attempts); err != nil {
			return nil, fmt.Errorf("deliveries of ballot: %w", err)
		}
		out = append(out, d)
	}
	return out, rows.Err()
}
