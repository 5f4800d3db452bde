package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ballotflow/ballotflow/internal/ballot"
)

// What a voter chooses in the portal: channels and their addresses, contact hours, language,
// and opting out of everything.

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
	Language                           string // one of ballot.Languages
	EmailHoldForHours                  *bool
	// ResendAfter: a channel still pending that is saved again gets a new confirmation when
	// the last one was asked for longer ago than this.
	ResendAfter time.Duration
	// SessionID is the portal session that saves (0 for none); Limits cap the confirmations
	// the save may ask for (zero fields take DefaultConfirmationLimits).
	SessionID int64
	Limits    ConfirmationLimits
	// Actor names who saves in the audit log; empty is "portal".
	Actor string
}

// PreferencesSaved is what SubscriptionSavePreferences did.
type PreferencesSaved struct {
	Changed bool           // some subscription changed
	Confirm []Confirmation // confirmations to send now
	// Deferred are channels saved as pending whose confirmation a limit held back.
	Deferred []DeferredConfirmation
}

// SubscriptionSavePreferences applies a voter's choices in one transaction, with one audit entry:
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
func (s *Store) SubscriptionSavePreferences(ctx context.Context, voterRef int64, p PortalPreferences) (PreferencesSaved, error) {
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
		}{{ballot.ChannelEmail, p.Email}, {ballot.ChannelSMS, p.SMS}, {ballot.ChannelVoice, p.Voice}} {
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
		actor := p.Actor
		if actor == "" {
			actor = "portal"
		}
		return audit(ctx, tx, actor, "portal.preferences", fmt.Sprintf("voter:%d", voterRef), detail)
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
		if !exists || (cur.State != ballot.SubscriptionActive && cur.State != ballot.SubscriptionPending) {
			return "", cur.ID, false, nil
		}
		_, err := tx.Exec(ctx, `
			UPDATE subscriptions SET state = 'opted_out', opted_out_at = now(), confirm_requested_at = NULL, updated_at = now()
			WHERE id = $1`, cur.ID)
		if err != nil {
			return "", 0, false, fmt.Errorf("turn off %s: %w", channel, err)
		}
		return ballot.SubscriptionOptedOut, cur.ID, false, nil
	}

	needsConfirm := channel != ballot.ChannelVoice
	sameAddress := exists && strings.EqualFold(cur.Address, c.Address)
	if sameAddress && cur.State == ballot.SubscriptionActive {
		return "", cur.ID, false, nil
	}
	if sameAddress && cur.State == ballot.SubscriptionPending {
		// Saved again while waiting: the voter may not have received the confirmation.
		if !needsConfirm || (cur.asked && cur.askedAgo < resendAfter) {
			return "", cur.ID, false, nil
		}
		return "confirmation_resent", cur.ID, true, nil
	}

	state := ballot.SubscriptionActive
	if needsConfirm {
		state = ballot.SubscriptionPending
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
	if exists && channel == ballot.ChannelEmail {
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

// SubscriptionOptOutAll opts a voter out of every channel in one transaction, with one audit
// entry, and reports whether anything changed.
func (s *Store) SubscriptionOptOutAll(ctx context.Context, voterRef int64, actor string) (bool, error) {
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
