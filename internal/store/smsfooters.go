package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ballotflow/ballotflow/internal/ballot"
)

// The opt-out footer of texts (migration 018): carriers' rules want "Reply STOP to opt out"
// on the first text to a number and periodically after it, not on every text. These record,
// per county number and voter's number, when it was last sent; the number is stored as a
// keyed hash.

// SMSFooterClaim reports whether a notice text from sender to phone should carry the
// footer: the number has not had it from sender within period, or had it with this same
// delivery (a retry carries it again). When it should, the footer is recorded as sent at
// now with this delivery, before the text goes: a text that then fails leaves the number
// without the footer until the next period, never with it twice in a row.
func (s *Store) SMSFooterClaim(ctx context.Context, sender, phone, deliveryKey string, period time.Duration, now time.Time) (bool, error) {
	var claimed bool
	err := s.pool.QueryRow(ctx, `
		INSERT INTO sms_footers AS f (sender, destination, sent_at, delivery_key) VALUES ($1, keyed_hash($2), $3, $4)
		ON CONFLICT (sender, destination) DO UPDATE SET sent_at = excluded.sent_at, delivery_key = excluded.delivery_key
			WHERE f.delivery_key = excluded.delivery_key AND f.delivery_key <> ''
				OR f.sent_at <= excluded.sent_at - make_interval(secs => $5)
		RETURNING true`,
		sender, phoneHash(phone), now, deliveryKey, period.Seconds()).Scan(&claimed)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("claim sms footer: %w", err)
	}
	return claimed, nil
}

// SMSFooterRecord records that sender's text to phone at now said how to stop (a
// confirmation, which always does).
func (s *Store) SMSFooterRecord(ctx context.Context, sender, phone string, now time.Time) error {
	_, err := s.pool.Exec(ctx, `
		INSERT INTO sms_footers AS f (sender, destination, sent_at) VALUES ($1, keyed_hash($2), $3)
		ON CONFLICT (sender, destination) DO UPDATE SET sent_at = greatest(f.sent_at, excluded.sent_at), delivery_key = ''`,
		sender, phoneHash(phone), now)
	if err != nil {
		return fmt.Errorf("record sms footer: %w", err)
	}
	return nil
}

// SMSFooterForget deletes what is older than before: a number whose footer is that old gets
// it with its next text whether or not the row is there.
func (s *Store) SMSFooterForget(ctx context.Context, before time.Time) (int64, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM sms_footers WHERE sent_at < $1`, before)
	if err != nil {
		return 0, fmt.Errorf("forget sms footers: %w", err)
	}
	return tag.RowsAffected(), nil
}

// phoneHash is the SHA-256 a phone number is keyed_hash-ed from: a confirmation
// destination's, so that one number has one stored form.
func phoneHash(phone string) []byte { return destinationHash(ballot.ChannelSMS, phone) }
