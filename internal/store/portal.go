package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// This file holds what the voter portal reads: the lookup and a voter's ballots with their
// timelines. Sessions are in sessions.go, the voter's choices in preferences.go,
// confirmations in confirmations.go and lookup rate limits in ratelimits.go.

// PortalCandidate is a registration whose folded names, date of birth and ZIP match a portal
// lookup. Confidential registrations are never candidates.
type PortalCandidate struct {
	Ref     int64
	VoterID string
	Status  string
}

// VoterListByLookup returns the non-confidential registrations with exactly these folded
// names, date of birth and residential ZIP, whatever their status: the caller decides, in the
// same way for every candidate, which may sign in. The query is the same for every lookup, so
// a lookup that finds nobody costs what one that finds an inactive voter costs.
func (s *Store) VoterListByLookup(ctx context.Context, firstName, lastName string, dob time.Time, zip string) ([]PortalCandidate, error) {
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

// PortalBallot is one of a voter's ballots as the portal shows it.
type PortalBallot struct {
	ElectionID   string
	ElectionName string
	ElectionDay  time.Time
	County       string // the jurisdiction's name
	Status       string // empty until the ballot workflow recorded one
	StatusAt     *time.Time
	Timeline     []StatusChange // oldest first
	// Mail is the latest USPS scan of each envelope, outbound first (see mailscans.go).
	Mail []MailScan
	// Reminders are the reminders the voter was sent about this ballot, oldest first.
	Reminders []SentReminder
}

// SentReminder is a reminder a provider accepted for a voter: its kind (the notice key,
// reminder_return or reminder_cure) and when it first went, whatever the channel.
type SentReminder struct {
	Kind   string
	SentAt time.Time
}

// sentReminders returns the reminders sent about each ballot in refs, oldest first: one per
// reminder, however many channels carried it.
func (s *Store) sentReminders(ctx context.Context, refs []int64) (map[int64][]SentReminder, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT ballot_ref, notice_status, min(created_at) FROM deliveries
		WHERE ballot_ref = ANY($1) AND notice_status IN ('reminder_return', 'reminder_cure') AND state IN ('accepted', 'delivered')
		GROUP BY ballot_ref, notice_seq, notice_status ORDER BY 3`, refs)
	if err != nil {
		return nil, fmt.Errorf("sent reminders: %w", err)
	}
	out := map[int64][]SentReminder{}
	for rows.Next() {
		var ref int64
		var r SentReminder
		if err := rows.Scan(&ref, &r.Kind, &r.SentAt); err != nil {
			rows.Close()
			return nil, fmt.Errorf("sent reminders: %w", err)
		}
		out[ref] = append(out[ref], r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sent reminders: %w", err)
	}
	return out, nil
}

// BallotListByVoterForPortal returns a voter's ballots, newest first, each with its timeline. A ballot
// shows once its workflow has recorded a status: not while the events that name it are held
// with their import for an operator's decision, nor ever when the operator rejected them.
func (s *Store) BallotListByVoterForPortal(ctx context.Context, voterRef int64) ([]PortalBallot, error) {
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
	scans, err := s.mailScanHistories(ctx, refs)
	if err != nil {
		return nil, fmt.Errorf("portal mail scans: %w", err)
	}
	reminders, err := s.sentReminders(ctx, refs)
	if err != nil {
		return nil, err
	}
	for i, ref := range refs {
		ballots[i].Timeline = histories[ref]
		ballots[i].Mail = latestMailScans(scans[ref])
		ballots[i].Reminders = reminders[ref]
	}
	return ballots, nil
}

// PortalPrune deletes what the portal no longer needs: rate-limit windows, sessions and
// confirmation links that ended more than a day ago, and the record of confirmations asked
// for longer ago than any limit counts (two days).
func (s *Store) PortalPrune(ctx context.Context) error {
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
