package store

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// This file holds what the voter portal reads and writes: the lookup, sessions, lookup rate
// limits, a voter's ballots with their timelines, and the voter's own channel choices.

// PortalCandidate is a registration whose folded names, date of birth and ZIP match a portal
// lookup. Confidential registrations are never candidates.
type PortalCandidate struct {
	Ref     int64
	VoterID string
	Status  string
}

// PortalCandidates returns the non-confidential registrations with exactly these folded
// names, date of birth and residential ZIP, whatever their status: the caller decides, in the
// same way for every candidate, which may sign in. The query is the same for every lookup, so
// a lookup that finds nobody costs what one that finds an inactive voter costs.
func (s *Store) PortalCandidates(ctx context.Context, firstName, lastName string, dob time.Time, zip string) ([]PortalCandidate, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT id, voter_id, status FROM voters
		WHERE lookup_last = $1 AND date_of_birth = $2 AND residential_zip = $3 AND lookup_first = $4 AND NOT confidential
		ORDER BY id`, Fold(lastName), dob, zip, Fold(firstName))
	if err != nil {
		return nil, fmt.Errorf("portal lookup: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (PortalCandidate, error) {
		var c PortalCandidate
		err := row.Scan(&c.Ref, &c.VoterID, &c.Status)
		return c, err
	})
	if err != nil {
		return nil, fmt.Errorf("portal lookup: %w", err)
	}
	return out, nil
}

// CreatePortalSession stores a session of a voter for a token, by the token's SHA-256, and
// returns when it expires. It stores nothing (ErrNotFound) when the voter may no longer sign
// in: the voter's row is share-locked while the session is stored, so a roll import that
// makes the voter confidential either waits for the session (and its trigger revokes it) or
// is seen by it.
func (s *Store) CreatePortalSession(ctx context.Context, voterRef int64, token string, ttl time.Duration) (time.Time, error) {
	hash := sha256.Sum256([]byte(token))
	var expires time.Time
	err := s.pool.QueryRow(ctx, `
		INSERT INTO portal_sessions (token_hash, voter_ref, expires_at)
		SELECT $1, v.id, now() + make_interval(secs => $3)
		FROM (SELECT id FROM voters WHERE id = $2 AND status = 'active' AND NOT confidential FOR SHARE) v
		RETURNING expires_at`, hash[:], voterRef, ttl.Seconds()).Scan(&expires)
	if err != nil {
		return time.Time{}, notFound(err, "create portal session")
	}
	return expires, nil
}

// PortalSession is a live portal session.
type PortalSession struct {
	ID       int64
	VoterRef int64
}

// PortalSessionByToken returns a live session: one that exists, has not expired, was not
// revoked, and whose voter may still use the portal (active, not confidential). Anything
// else is ErrNotFound. A session is revoked for good when its voter stops being allowed to
// sign in (migration 009's trigger), so undoing that change does not bring it back.
func (s *Store) PortalSessionByToken(ctx context.Context, token string) (PortalSession, error) {
	hash := sha256.Sum256([]byte(token))
	var ps PortalSession
	err := s.pool.QueryRow(ctx, `
		SELECT p.id, p.voter_ref FROM portal_sessions p JOIN voters v ON v.id = p.voter_ref
		WHERE p.token_hash = $1 AND p.revoked_at IS NULL AND p.expires_at > now()
			AND v.status = 'active' AND NOT v.confidential`, hash[:]).Scan(&ps.ID, &ps.VoterRef)
	if err != nil {
		return PortalSession{}, notFound(err, "portal session")
	}
	return ps, nil
}

// PortalSessionVoter returns the voter of a live session (see PortalSessionByToken).
func (s *Store) PortalSessionVoter(ctx context.Context, token string) (int64, error) {
	ps, err := s.PortalSessionByToken(ctx, token)
	return ps.VoterRef, err
}

// RevokePortalSession ends a session (logout). Revoking an unknown or revoked one is no error.
func (s *Store) RevokePortalSession(ctx context.Context, token string) error {
	hash := sha256.Sum256([]byte(token))
	_, err := s.pool.Exec(ctx, `UPDATE portal_sessions SET revoked_at = now() WHERE token_hash = $1 AND revoked_at IS NULL`, hash[:])
	if err != nil {
		return fmt.Errorf("revoke portal session: %w", err)
	}
	return nil
}

// PrunePortal deletes what the portal no longer needs: rate-limit windows, sessions and
// confirmation links that ended more than a day ago, and the record of confirmations asked
// for longer ago than any limit counts (two days).
func (s *Store) PrunePortal(ctx context.Context) error {
	for _, q := range []string{
		`DELETE FROM portal_rate_limits WHERE window_start < now() - interval '1 day'`,
		`DELETE FROM portal_sessions WHERE expires_at < now() - interval '1 day'`,
		`DELETE FROM email_confirmations WHERE expires_at < now() - interval '1 day'`,
		`DELETE FROM confirmation_sends WHERE requested_at < now() - interval '2 days'`,
		`DELETE FROM confirmation_destinations WHERE last_requested_at < now() - interval '2 days'`,
	} {
		if _, err := s.pool.Exec(ctx, q); err != nil {
			return fmt.Errorf("prune portal: %w", err)
		}
	}
	return nil
}

// PortalBallot is one of a voter's ballots as the portal shows it.
type PortalBallot struct {
	ElectionID   string
	ElectionName string
	ElectionDay  time.Time
	County       string // the jurisdiction's name
	Status       string // empty until the ballot workflow recorded one
	StatusAt     *time.Time
	Timeline     []StatusChange // oldest first
}

// StatusChange is one status a ballot moved to.
type StatusChange struct {
	Status       string
	At           time.Time
	Reason       string // for challenged and rejected, as the county gave it
	CureDeadline string // YYYY-MM-DD, for challenged
}

// statusHistories returns the statuses each ballot in refs moved through, oldest first (an
// empty slice for a ballot with none), each with the reason and cure deadline of the county
// event that reported it. The portal's timelines and the operators' histories both use it.
func (s *Store) statusHistories(ctx context.Context, refs []int64) (map[int64][]StatusChange, error) {
	out := make(map[int64][]StatusChange, len(refs))
	for _, ref := range refs {
		out[ref] = []StatusChange{}
	}
	if len(refs) == 0 {
		return out, nil
	}
	rows, err := s.pool.Query(ctx, `
		SELECT h.ballot_ref, h.status, h.occurred_at, coalesce(ev.reason, ''), coalesce(to_char(ev.cure_deadline, 'YYYY-MM-DD'), '')
		FROM ballot_status_history h
		LEFT JOIN LATERAL (
			SELECT reason, cure_deadline FROM ballot_events e
			WHERE e.ballot_ref = h.ballot_ref AND e.status = h.status AND e.occurred_at = h.occurred_at
			ORDER BY e.id LIMIT 1) ev ON true
		WHERE h.ballot_ref = ANY($1)
		ORDER BY h.occurred_at, h.id`, refs)
	if err != nil {
		return nil, fmt.Errorf("status histories: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var ref int64
		var c StatusChange
		if err := rows.Scan(&ref, &c.Status, &c.At, &c.Reason, &c.CureDeadline); err != nil {
			return nil, fmt.Errorf("status histories: %w", err)
		}
		out[ref] = append(out[ref], c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("status histories: %w", err)
	}
	return out, nil
}

// PortalBallots returns a voter's ballots, newest first, each with its timeline. A ballot
// shows once its workflow has recorded a status: not while the events that name it are held
// with their import for an operator's decision, nor ever when the operator rejected them.
func (s *Store) PortalBallots(ctx context.Context, voterRef int64) ([]PortalBallot, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT b.id, e.id, e.name, e.election_day, j.name, coalesce(b.status, ''), b.status_at
		FROM ballots b JOIN elections e ON e.id = b.election_id JOIN jurisdictions j ON j.id = b.jurisdiction_id
		WHERE b.voter_ref = $1 AND b.status IS NOT NULL
		ORDER BY e.election_day DESC, b.id DESC`, voterRef)
	if err != nil {
		return nil, fmt.Errorf("portal ballots: %w", err)
	}
	var refs []int64
	ballots, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (PortalBallot, error) {
		var b PortalBallot
		var ref int64
		err := row.Scan(&ref, &b.ElectionID, &b.ElectionName, &b.ElectionDay, &b.County, &b.Status, &b.StatusAt)
		refs = append(refs, ref)
		return b, err
	})
	if err != nil {
		return nil, fmt.Errorf("portal ballots: %w", err)
	}
	if len(ballots) == 0 {
		return ballots, nil
	}
	histories, err := s.statusHistories(ctx, refs)
	if err != nil {
		return nil, fmt.Errorf("portal timelines: %w", err)
	}
	for i, ref := range refs {
		ballots[i].Timeline = histories[ref]
	}
	return ballots, nil
}

// ChannelChoice is what a voter chose for one channel in the portal. Address is already
// validated and normalized (E.164 for phones).
type ChannelChoice struct {
	Enabled bool
	Address string
}

// PortalPreferences is one save of the portal's preferences. A nil channel or an empty
// setting leaves what is stored as it is.
type PortalPreferences struct {
	Email, SMS, Voice *ChannelChoice
	// Contact hours ("HH:MM") and IANA time zone; all three or none.
	ContactStart, ContactEnd, TimeZone string
	Language                           string // en, es
	EmailHoldForHours                  *bool
	// ResendAfter: a channel still pending that is saved again gets a new confirmation when
	// the last one was asked for longer ago than this.
	ResendAfter time.Duration
	// SessionID is the portal session that saves (0 for none); Limits cap the confirmations
	// the save may ask for (zero fields take DefaultConfirmationLimits).
	SessionID int64
	Limits    ConfirmationLimits
}

// Confirmation is a subscription whose new address must be confirmed by the voter (a reply
// YES to a text, a link in an email). SendID is the confirmation's record, the one a
// ConfirmContact workflow delivers.
type Confirmation struct {
	SubscriptionID int64
	Channel        string
	SendID         int64
}

// PreferencesSaved is what SavePortalPreferences did.
type PreferencesSaved struct {
	Changed bool           // some subscription changed
	Confirm []Confirmation // confirmations to send now
	// Deferred are channels saved as pending whose confirmation a limit held back.
	Deferred []DeferredConfirmation
}

// SavePortalPreferences applies a voter's choices in one transaction, with one audit entry:
//   - a channel turned off is opted out (its address kept);
//   - a channel turned on with a new address, or turned on again after an opt-out or a
//     bounce, starts over: email and SMS are pending until the voter confirms, voice is
//     active at once;
//   - a channel left as it was keeps its state;
//   - contact hours, time zone and language apply to all of the voter's channels.
//
// A confirmation is asked for only within p.Limits (see askConfirmation); beyond them the
// channel is still saved, pending, and the save reports it Deferred. Addresses are not
// unique: a household may share one.
func (s *Store) SavePortalPreferences(ctx context.Context, voterRef int64, p PortalPreferences) (PreferencesSaved, error) {
	var out PreferencesSaved
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		out = PreferencesSaved{}
		// Lock the voter's row so two saves of the same voter apply one after the other.
		if _, err := tx.Exec(ctx, `SELECT 1 FROM voters WHERE id = $1 FOR UPDATE`, voterRef); err != nil {
			return fmt.Errorf("lock voter: %w", err)
		}
		current, err := lockedSubscriptions(ctx, tx, voterRef)
		if err != nil {
			return err
		}
		detail := map[string]any{}
		for _, ch := range []struct {
			name   string
			choice *ChannelChoice
		}{{"email", p.Email}, {"sms", p.SMS}, {"voice", p.Voice}} {
			if ch.choice == nil {
				continue
			}
			cur, exists := current[ch.name]
			what, subID, ask, err := applyChannel(ctx, tx, voterRef, ch.name, *ch.choice, cur, exists, p.ResendAfter)
			if err != nil {
				return err
			}
			if ask {
				asked, err := askConfirmation(ctx, tx, confirmRequest{voterRef: voterRef, sessionID: p.SessionID,
					subscriptionID: subID, channel: ch.name, address: ch.choice.Address, limits: p.Limits.withDefaults()})
				if err != nil {
					return err
				}
				if asked.deferred != nil {
					out.Deferred = append(out.Deferred, *asked.deferred)
					if what == "confirmation_resent" {
						what = "" // nothing was resent, nothing changed
					}
				} else {
					out.Confirm = append(out.Confirm, Confirmation{SubscriptionID: subID, Channel: ch.name, SendID: asked.sendID})
				}
			}
			if what != "" {
				detail[ch.name] = what
				out.Changed = true
			}
		}
		settings, err := applySettings(ctx, tx, voterRef, p)
		if err != nil {
			return err
		}
		if settings {
			detail["settings"] = "changed"
			out.Changed = true
		}
		if len(detail) == 0 {
			return nil
		}
		return audit(ctx, tx, "portal", "portal.preferences", fmt.Sprintf("voter:%d", voterRef), detail)
	})
	if err != nil {
		return PreferencesSaved{}, err
	}
	return out, nil
}

func lockedSubscriptions(ctx context.Context, tx pgx.Tx, voterRef int64) (map[string]lockedSub, error) {
	rows, err := tx.Query(ctx, `
		SELECT id, channel, address, state, confirm_requested_at IS NOT NULL, coalesce(now() - confirm_requested_at, interval '0')
		FROM subscriptions WHERE voter_ref = $1 FOR UPDATE`, voterRef)
	if err != nil {
		return nil, fmt.Errorf("lock subscriptions: %w", err)
	}
	subs, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (lockedSub, error) {
		var l lockedSub
		err := row.Scan(&l.ID, &l.Channel, &l.Address, &l.State, &l.asked, &l.askedAgo)
		return l, err
	})
	if err != nil {
		return nil, fmt.Errorf("lock subscriptions: %w", err)
	}
	out := make(map[string]lockedSub, len(subs))
	for _, l := range subs {
		out[l.Channel] = l
	}
	return out, nil
}

type lockedSub struct {
	ID       int64
	Channel  string
	Address  string
	State    string
	asked    bool
	askedAgo time.Duration
}

// applyChannel writes one channel's choice and says what it did ("" for nothing), the
// subscription's id, and whether a confirmation should be asked for.
func applyChannel(ctx context.Context, tx pgx.Tx, voterRef int64, channel string, c ChannelChoice, cur lockedSub,
	exists bool, resendAfter time.Duration) (string, int64, bool, error) {
	if !c.Enabled {
		if !exists || (cur.State != "active" && cur.State != "pending") {
			return "", cur.ID, false, nil
		}
		_, err := tx.Exec(ctx, `
			UPDATE subscriptions SET state = 'opted_out', opted_out_at = now(), confirm_requested_at = NULL, updated_at = now()
			WHERE id = $1`, cur.ID)
		if err != nil {
			return "", 0, false, fmt.Errorf("turn off %s: %w", channel, err)
		}
		return "opted_out", cur.ID, false, nil
	}

	needsConfirm := channel != "voice"
	sameAddress := exists && strings.EqualFold(cur.Address, c.Address)
	if sameAddress && cur.State == "active" {
		return "", cur.ID, false, nil
	}
	if sameAddress && cur.State == "pending" {
		// Saved again while waiting: the voter may not have received the confirmation.
		if !needsConfirm || (cur.asked && cur.askedAgo < resendAfter) {
			return "", cur.ID, false, nil
		}
		return "confirmation_resent", cur.ID, true, nil
	}

	state := "active"
	if needsConfirm {
		state = "pending"
	}
	var id int64
	err := tx.QueryRow(ctx, `
		INSERT INTO subscriptions (voter_ref, channel, address, state, source, consented_at, confirmed_at, confirm_requested_at)
		VALUES ($1, $2, $3, $4, 'portal', now(), CASE WHEN $4 = 'active' THEN now() END, NULL)
		ON CONFLICT (voter_ref, channel) DO UPDATE SET address = $3, state = $4, source = 'portal', consented_at = now(),
			confirmed_at = CASE WHEN $4 = 'active' THEN now() END, opted_out_at = NULL,
			confirm_requested_at = NULL, updated_at = now()
		RETURNING id`,
		voterRef, channel, c.Address, state).Scan(&id)
	if err != nil {
		return "", 0, false, fmt.Errorf("turn on %s: %w", channel, err)
	}
	if exists && channel == "email" {
		// Links sent to an earlier address must not confirm this one.
		if _, err := tx.Exec(ctx, `DELETE FROM email_confirmations WHERE subscription_ref = $1`, cur.ID); err != nil {
			return "", 0, false, fmt.Errorf("forget old email confirmations: %w", err)
		}
	}
	return state, id, needsConfirm, nil
}

// applySettings writes contact hours, time zone, language and the email hold to all of the
// voter's subscriptions. Settings the save leaves out keep their stored values; a channel
// created by this save takes the values its siblings have.
func applySettings(ctx context.Context, tx pgx.Tx, voterRef int64, p PortalPreferences) (bool, error) {
	tag, err := tx.Exec(ctx, `
		WITH cur AS (
			SELECT contact_start, contact_end, time_zone, language FROM subscriptions
			WHERE voter_ref = $1 AND (contact_start IS NOT NULL OR time_zone IS NOT NULL OR language IS NOT NULL)
			ORDER BY updated_at DESC, id LIMIT 1),
		want AS (
			SELECT coalesce(NULLIF($2, '')::time, (SELECT contact_start FROM cur)) AS contact_start,
				coalesce(NULLIF($3, '')::time, (SELECT contact_end FROM cur)) AS contact_end,
				coalesce(NULLIF($4, ''), (SELECT time_zone FROM cur)) AS time_zone,
				coalesce(NULLIF($5, ''), (SELECT language FROM cur)) AS language)
		UPDATE subscriptions s SET contact_start = w.contact_start, contact_end = w.contact_end, time_zone = w.time_zone,
			language = w.language,
			hold_for_hours = CASE WHEN s.channel = 'email' AND $6::boolean IS NOT NULL THEN $6::boolean ELSE s.hold_for_hours END,
			updated_at = now()
		FROM want w
		WHERE s.voter_ref = $1 AND (s.contact_start IS DISTINCT FROM w.contact_start OR s.contact_end IS DISTINCT FROM w.contact_end
			OR s.time_zone IS DISTINCT FROM w.time_zone OR s.language IS DISTINCT FROM w.language
			OR (s.channel = 'email' AND $6::boolean IS NOT NULL AND s.hold_for_hours <> $6::boolean))`,
		voterRef, p.ContactStart, p.ContactEnd, p.TimeZone, p.Language, p.EmailHoldForHours)
	if err != nil {
		return false, fmt.Errorf("save contact hours and language: %w", err)
	}
	return tag.RowsAffected() > 0, nil
}

// OptOutEverything opts a voter out of every channel in one transaction, with one audit
// entry, and reports whether anything changed.
func (s *Store) OptOutEverything(ctx context.Context, voterRef int64, actor string) (bool, error) {
	changed := false
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `
			UPDATE subscriptions SET state = 'opted_out', opted_out_at = now(), confirm_requested_at = NULL, updated_at = now()
			WHERE voter_ref = $1 AND state <> 'opted_out' RETURNING channel`, voterRef)
		if err != nil {
			return fmt.Errorf("opt out of everything: %w", err)
		}
		channels, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return fmt.Errorf("opt out of everything: %w", err)
		}
		if len(channels) == 0 {
			return nil
		}
		changed = true
		return audit(ctx, tx, actor, "portal.opt_out_all", fmt.Sprintf("voter:%d", voterRef),
			map[string]any{"channels": channels})
	})
	return changed, err
}

// SubscriptionByID returns one subscription.
func (s *Store) SubscriptionByID(ctx context.Context, id int64) (Subscription, error) {
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

// CreateEmailConfirmation stores the SHA-256 of a link token that confirms an email
// subscription until expires. It replaces the subscription's unused links: one link is live
// per address, so a flood of saves cannot leave a flood of working links behind.
func (s *Store) CreateEmailConfirmation(ctx context.Context, subscriptionID int64, token string, expires time.Time) error {
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

// ConfirmEmail uses a confirmation link: the pending email subscription it was sent for
// becomes active, with an audit entry. It returns the voter.
func (s *Store) ConfirmEmail(ctx context.Context, token string) (int64, error) {
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
