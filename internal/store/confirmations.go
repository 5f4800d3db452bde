package store

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ballotflow/ballotflow/internal/ballot"
)

// Confirmations are the one thing a stranger with a voter's session can make ballotflow send
// to an address of their choosing. They are counted here, in PostgreSQL so that every API
// replica shares the counts: per portal session, per voter and per destination address
// (across voters), each in a rolling window. A save that asks for one locks its voter's row
// and then the destination's row, so concurrent saves count one after the other and never
// send a duplicate.

// ConfirmationLimits caps the confirmations the portal asks for.
type ConfirmationLimits struct {
	// PerSession is how many one portal session may ask for.
	PerSession int
	// PerVoter is how many one voter's saves may ask for per PerVoterWindow, from any session.
	PerVoter       int
	PerVoterWindow time.Duration
	// PerDestination is how many one email address or phone number may be sent per
	// PerDestinationWindow, whichever voters asked.
	PerDestination       int
	PerDestinationWindow time.Duration
}

// DefaultConfirmationLimits: one session may ask for 4 (a new email and a new number, and a
// retry of each after a typo); a voter at most 6 a day; an address at most 3 a day, which
// leaves room for a household of three who share it.
var DefaultConfirmationLimits = ConfirmationLimits{
	PerSession: 4,
	PerVoter:   6, PerVoterWindow: 24 * time.Hour,
	PerDestination: 3, PerDestinationWindow: 24 * time.Hour,
}

func (l ConfirmationLimits) withDefaults() ConfirmationLimits {
	d := DefaultConfirmationLimits
	if l.PerSession <= 0 {
		l.PerSession = d.PerSession
	}
	if l.PerVoter <= 0 || l.PerVoterWindow <= 0 {
		l.PerVoter, l.PerVoterWindow = d.PerVoter, d.PerVoterWindow
	}
	if l.PerDestination <= 0 || l.PerDestinationWindow <= 0 {
		l.PerDestination, l.PerDestinationWindow = d.PerDestination, d.PerDestinationWindow
	}
	return l
}

// The limits that can hold a confirmation back.
const (
	LimitSession     = "session"
	LimitVoter       = "voter"
	LimitDestination = "destination"
)

// DeferredConfirmation is a channel saved as pending whose confirmation a limit held back.
// RetryAt is when saving again will send one; it is zero for LimitSession, which a new
// session lifts.
type DeferredConfirmation struct {
	Channel string
	Limit   string
	RetryAt time.Time
}

type confirmRequest struct {
	voterRef, sessionID, subscriptionID int64
	channel, address                    string
	limits                              ConfirmationLimits
}

type askResult struct {
	sendID   int64
	deferred *DeferredConfirmation
}

// destinationHash is the SHA-256 of an address as it is counted: emails in lower case
// (providers deliver them alike), phone numbers in E.164 for SMS and voice alike.
func destinationHash(channel, address string) []byte {
	kind := "phone:"
	if channel == ballot.ChannelEmail {
		kind, address = "email:", strings.ToLower(address)
	}
	h := sha256.Sum256([]byte(kind + address))
	return h[:]
}

// askConfirmation records a confirmation of a subscription within the limits, or defers
// it. The caller holds the voter's row lock; this takes the destination's.
func askConfirmation(ctx context.Context, tx pgx.Tx, r confirmRequest) (askResult, error) {
	dest := destinationHash(r.channel, r.address)
	_, err := tx.Exec(ctx, `
		INSERT INTO confirmation_destinations (destination, last_requested_at) VALUES (keyed_hash($1), now())
		ON CONFLICT (destination) DO UPDATE SET last_requested_at = now()`, dest)
	if err != nil {
		return askResult{}, fmt.Errorf("lock confirmation destination: %w", err)
	}
	deferred, err := confirmationLimitReached(ctx, tx, r, dest)
	if err != nil {
		return askResult{}, err
	}
	if deferred != nil {
		// Not asked: the next save after RetryAt asks again.
		if _, err := tx.Exec(ctx, `UPDATE subscriptions SET confirm_requested_at = NULL WHERE id = $1`, r.subscriptionID); err != nil {
			return askResult{}, fmt.Errorf("defer %s confirmation: %w", r.channel, err)
		}
		return askResult{deferred: deferred}, nil
	}
	var sendID int64
	err = tx.QueryRow(ctx, `
		WITH asked AS (UPDATE subscriptions SET confirm_requested_at = now() WHERE id = $1)
		INSERT INTO confirmation_sends (subscription_ref, voter_ref, session_ref, channel, destination)
		VALUES ($1, $2, NULLIF($3, 0), $4, keyed_hash($5)) RETURNING id`,
		r.subscriptionID, r.voterRef, r.sessionID, r.channel, dest).Scan(&sendID)
	if err != nil {
		return askResult{}, fmt.Errorf("record %s confirmation: %w", r.channel, err)
	}
	return askResult{sendID: sendID}, nil
}

// limitReachedSQL answers, for confirmations selected by the condition, when the oldest of
// the last $n within the window leaves it: no row while fewer than $n were asked for.
const limitReachedSQL = `
	SELECT requested_at + make_interval(secs => $2) FROM confirmation_sends
	WHERE %s AND requested_at > now() - make_interval(secs => $2)
	ORDER BY requested_at DESC OFFSET $3 - 1 LIMIT 1`

// confirmationLimitReached returns the limit that holds a confirmation back, if any: of the
// voter's and the destination's, the one that lifts last; else the session's.
func confirmationLimitReached(ctx context.Context, tx pgx.Tx, r confirmRequest, dest []byte) (*DeferredConfirmation, error) {
	var found *DeferredConfirmation
	for _, l := range []struct {
		name, cond string
		arg        any
		max        int
		window     time.Duration
	}{
		{LimitVoter, "voter_ref = $1", r.voterRef, r.limits.PerVoter, r.limits.PerVoterWindow},
		{LimitDestination, "destination = keyed_hash($1)", dest, r.limits.PerDestination, r.limits.PerDestinationWindow},
	} {
		var until time.Time
		err := tx.QueryRow(ctx, fmt.Sprintf(limitReachedSQL, l.cond), l.arg, l.window.Seconds(), l.max).Scan(&until)
		if errors.Is(err, pgx.ErrNoRows) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("count %s confirmations: %w", l.name, err)
		}
		if found == nil || until.After(found.RetryAt) {
			found = &DeferredConfirmation{Channel: r.channel, Limit: l.name, RetryAt: until}
		}
	}
	if found != nil || r.sessionID == 0 {
		return found, nil
	}
	var n int
	err := tx.QueryRow(ctx, `SELECT count(*) FROM confirmation_sends WHERE session_ref = $1`, r.sessionID).Scan(&n)
	if err != nil {
		return nil, fmt.Errorf("count session confirmations: %w", err)
	}
	if n >= r.limits.PerSession {
		return &DeferredConfirmation{Channel: r.channel, Limit: LimitSession}, nil
	}
	return nil, nil
}

// ConfirmationForget undoes confirmations whose sending could not be started: the next save
// asks again, and no workflow will ever deliver them. They still count against the limits
// (the start may have reached Temporal; counting is the safe side).
func (s *Store) ConfirmationForget(ctx context.Context, confirms []Confirmation) error {
	subs := make([]int64, 0, len(confirms))
	sends := make([]int64, 0, len(confirms))
	for _, c := range confirms {
		subs, sends = append(subs, c.SubscriptionID), append(sends, c.SendID)
	}
	return s.inTx(ctx, func(tx pgx.Tx) error {
		// Kept, and claimed for good by no workflow: a start that failed may still have reached
		// Temporal, and its workflow must find its send taken (not "no record, so owed"), while
		// the send still counts against the limits.
		if _, err := tx.Exec(ctx, `UPDATE confirmation_sends SET claimed_by = 'forgotten', claimed_at = 'infinity'
			WHERE id = ANY($1) AND delivered_at IS NULL`, sends); err != nil {
			return fmt.Errorf("forget confirmations: %w", err)
		}
		if _, err := tx.Exec(ctx, `UPDATE subscriptions SET confirm_requested_at = NULL WHERE id = ANY($1)`, subs); err != nil {
			return fmt.Errorf("forget confirmations: %w", err)
		}
		return nil
	})
}

// claimStale is how long a claim on a confirmation holds against other workflows: longer
// than a confirmation activity may run, so only a crashed attempt's claim goes stale.
const claimStale = 5 * time.Minute

// ConfirmationClaim claims, for the workflow named claimer, the confirmation that a
// subscription is owed at address (its address now): the newest one asked for, if it was
// asked for this address, is not delivered yet, and no other workflow is delivering it.
// owed is false when there is nothing to deliver: a newer save asked again (its own
// workflow delivers), the address changed since, or it was delivered. This is what keeps
// a workflow of an earlier save from sending to an address that was counted for another
// one. sendID is 0 for a subscription asked before confirmations were recorded.
func (s *Store) ConfirmationClaim(ctx context.Context, subscriptionID int64, channel, address, claimer string) (sendID int64, owed bool, err error) {
	err = s.pool.QueryRow(ctx, `
		WITH newest AS (SELECT id FROM confirmation_sends WHERE subscription_ref = $1 ORDER BY id DESC LIMIT 1)
		UPDATE confirmation_sends c SET claimed_by = $3, claimed_at = now()
		FROM newest WHERE c.id = newest.id AND c.delivered_at IS NULL AND c.destination = keyed_hash($2)
			AND (c.claimed_by IS NULL OR c.claimed_by = $3 OR c.claimed_at < now() - make_interval(secs => $4))
		RETURNING c.id`, subscriptionID, destinationHash(channel, address), claimer, claimStale.Seconds()).Scan(&sendID)
	if err == nil {
		return sendID, true, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return 0, false, fmt.Errorf("claim confirmation: %w", err)
	}
	// A subscription asked before confirmations were recorded (a workflow in flight across
	// the upgrade) has none: it is owed its one confirmation.
	var recorded bool
	if err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM confirmation_sends WHERE subscription_ref = $1)`,
		subscriptionID).Scan(&recorded); err != nil {
		return 0, false, fmt.Errorf("claim confirmation: %w", err)
	}
	return 0, !recorded, nil
}

// ConfirmationMarkDelivered records that the provider accepted a claimed confirmation.
func (s *Store) ConfirmationMarkDelivered(ctx context.Context, sendID int64) error {
	if sendID == 0 {
		return nil
	}
	if _, err := s.pool.Exec(ctx, `UPDATE confirmation_sends SET delivered_at = now() WHERE id = $1`, sendID); err != nil {
		return fmt.Errorf("confirmation delivered: %w", err)
	}
	return nil
}

// Confirmation is a subscription whose new address must be confirmed by the voter (a reply
// YES to a text, a link in an email). SendID is the confirmation's record, the one a
// ConfirmContact workflow delivers.
type Confirmation struct {
	SubscriptionID int64
	Channel        string
	SendID         int64
}

// EmailConfirmationCreate stores the SHA-256 of a link token that confirms an email
// subscription until expires. It replaces the subscription's unused links: one link is live
// per address, so a flood of saves cannot leave a flood of working links behind.
func (s *Store) EmailConfirmationCreate(ctx context.Context, subscriptionID int64, token string, expires time.Time) error {
	hash := sha256.Sum256([]byte(token))
	return s.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM email_confirmations WHERE subscription_ref = $1 AND used_at IS NULL`, subscriptionID); err != nil {
			return fmt.Errorf("replace email confirmation: %w", err)
		}
		_, err := tx.Exec(ctx, `INSERT INTO email_confirmations (token_hash, subscription_ref, expires_at) VALUES ($1, $2, $3)`,
			hash[:], subscriptionID, expires)
		if err != nil {
			return fmt.Errorf("store email confirmation: %w", err)
		}
		return nil
	})
}

// ErrConfirmationInvalid is returned for a confirmation link that is unknown, used, expired,
// or whose subscription is no longer waiting for it.
var ErrConfirmationInvalid = errors.New("confirmation link is not valid")

// EmailConfirmationUse uses a confirmation link: the pending email subscription it was sent for
// becomes active, with an audit entry. It returns the voter.
func (s *Store) EmailConfirmationUse(ctx context.Context, token string) (int64, error) {
	hash := sha256.Sum256([]byte(token))
	var voterRef int64
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var subID int64
		err := tx.QueryRow(ctx, `
			SELECT s.id, s.voter_ref FROM email_confirmations c JOIN subscriptions s ON s.id = c.subscription_ref
			WHERE c.token_hash = $1 AND c.used_at IS NULL AND c.expires_at > now() AND s.channel = 'email' AND s.state = 'pending'
			FOR UPDATE`, hash[:]).Scan(&subID, &voterRef)
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrConfirmationInvalid
		}
		if err != nil {
			return fmt.Errorf("confirm email: %w", err)
		}
		if _, err := tx.Exec(ctx, `UPDATE email_confirmations SET used_at = now() WHERE token_hash = $1`, hash[:]); err != nil {
			return fmt.Errorf("confirm email: %w", err)
		}
		_, err = tx.Exec(ctx, `
			UPDATE subscriptions SET state = 'active', confirmed_at = now(), confirm_requested_at = NULL, updated_at = now()
			WHERE id = $1`, subID)
		if err != nil {
			return fmt.Errorf("confirm email: %w", err)
		}
		return audit(ctx, tx, "portal", "subscription.active", fmt.Sprintf("voter:%d/email", voterRef),
			map[string]any{"reason": "confirmation link"})
	})
	if err != nil {
		return 0, err
	}
	return voterRef, nil
}
