package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// This file holds what operators read and change through the operator API: a voter's
// ballots with their status histories, the delivery log, county-assisted opt-outs, and the
// election reports (counts by status and county, status over time, unreachable voters).
// Reports read PostgreSQL only; they never ask Temporal.

// OperatorBallot is one of a voter's ballots with the statuses it moved through.
type OperatorBallot struct {
	Ballot
	History   []StatusChange // oldest first
	MailScans []MailScan     // USPS scans of its envelopes, in the order they were scanned
	Reminders []SentReminder // reminders a provider accepted, oldest first
}

// BallotListByVoterWithHistory returns a voter's ballots, newest first, each with its status history.
func (s *Store) BallotListByVoterWithHistory(ctx context.Context, voterRef int64) ([]OperatorBallot, error) {
	ballots, err := s.BallotListByVoter(ctx, voterRef)
	if err != nil {
		return nil, err
	}
	refs := make([]int64, len(ballots))
	for i, b := range ballots {
		refs[i] = b.Ref
	}
	histories, err := s.statusHistories(ctx, refs)
	if err != nil {
		return nil, err
	}
	scans, err := s.mailScanHistories(ctx, refs)
	if err != nil {
		return nil, err
	}
	reminders, err := s.sentReminders(ctx, refs)
	if err != nil {
		return nil, err
	}
	out := make([]OperatorBallot, len(ballots))
	for i, b := range ballots {
		out[i] = OperatorBallot{Ballot: b, History: histories[b.Ref], MailScans: scans[b.Ref], Reminders: reminders[b.Ref]}
	}
	return out, nil
}

// DeliveryRecord is one delivery of a notice on one channel, with the provider's callbacks.
type DeliveryRecord struct {
	ElectionID   string
	BallotKey    string
	BallotID     string
	NoticeStatus string
	Channel      string
	State        string // sending, accepted, delivered, failed, skipped
	Attempts     int
	ProviderID   string
	LastError    string // address-free, as the provider gave it
	CreatedAt    time.Time
	UpdatedAt    time.Time
	Events       []DeliveryEvent // in the order they happened
}

// DeliveryEvent is one provider callback about a delivery.
type DeliveryEvent struct {
	Status     string // as the provider named it
	Detail     string // address-free
	OccurredAt time.Time
	ReceivedAt time.Time
}

// DeliveryListByVoter returns every delivery to a voter, newest first, each with its provider
// events.
func (s *Store) DeliveryListByVoter(ctx context.Context, voterRef int64) ([]DeliveryRecord, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT d.id, b.election_id, b.key, b.ballot_id, d.notice_status, d.channel, d.state, d.attempts,
			coalesce(d.provider_id, ''), d.last_error, d.created_at, d.updated_at
		FROM deliveries d JOIN ballots b ON b.id = d.ballot_ref
		WHERE d.voter_ref = $1
		ORDER BY d.created_at DESC, d.id DESC`, voterRef)
	if err != nil {
		return nil, fmt.Errorf("deliveries of voter: %w", err)
	}
	var ids []int64
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (DeliveryRecord, error) {
		var d DeliveryRecord
		var id int64
		err := row.Scan(&id, &d.ElectionID, &d.BallotKey, &d.BallotID, &d.NoticeStatus, &d.Channel, &d.State, &d.Attempts,
			&d.ProviderID, &d.LastError, &d.CreatedAt, &d.UpdatedAt)
		d.Events = []DeliveryEvent{}
		ids = append(ids, id)
		return d, err
	})
	if err != nil {
		return nil, fmt.Errorf("deliveries of voter: %w", err)
	}
	if len(out) == 0 {
		return out, nil
	}
	index := make(map[int64]int, len(ids))
	for i, id := range ids {
		index[id] = i
	}
	rows, err = s.pool.Query(ctx, `
		SELECT delivery_ref, status, detail, occurred_at, received_at FROM delivery_events
		WHERE delivery_ref = ANY($1) ORDER BY occurred_at, id`, ids)
	if err != nil {
		return nil, fmt.Errorf("delivery events of voter: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var ref int64
		var e DeliveryEvent
		if err := rows.Scan(&ref, &e.Status, &e.Detail, &e.OccurredAt, &e.ReceivedAt); err != nil {
			return nil, fmt.Errorf("delivery events of voter: %w", err)
		}
		i := index[ref]
		out[i].Events = append(out[i].Events, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("delivery events of voter: %w", err)
	}
	return out, nil
}

// SubscriptionOptOutCountyAssisted opts a voter out of channels at their request to the county ("please
// put me on a no contact list"), in one transaction with one audit entry that names the
// operator (actor) and carries their note. Active, pending and bounced subscriptions become
// opted_out with source county_assisted; a channel the voter has no subscription on gets an
// opted_out row (with the roll's address, if any), so that a later roll sync does not enroll
// it. Channels already opted out keep their source. It returns the channels that changed,
// in the order given; the audit entry is written even when none did.
func (s *Store) SubscriptionOptOutCountyAssisted(ctx context.Context, voterRef int64, channels []string, actor, note string) ([]string, error) {
	changed := []string{}
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		changed = changed[:0]
		var found bool
		if err := tx.QueryRow(ctx, `SELECT true FROM voters WHERE id = $1 FOR UPDATE`, voterRef).Scan(&found); err != nil {
			return notFound(err, fmt.Sprintf("voter #%d", voterRef))
		}
		rows, err := tx.Query(ctx, `
			UPDATE subscriptions SET state = 'opted_out', source = 'county_assisted', opted_out_at = now(),
				confirm_requested_at = NULL, updated_at = now()
			WHERE voter_ref = $1 AND channel = ANY($2) AND state <> 'opted_out'
			RETURNING channel`, voterRef, channels)
		if err != nil {
			return fmt.Errorf("county-assisted opt-out: %w", err)
		}
		updated, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return fmt.Errorf("county-assisted opt-out: %w", err)
		}
		rows, err = tx.Query(ctx, `
			INSERT INTO subscriptions (voter_ref, channel, address, state, source, opted_out_at)
			SELECT v.id, c.channel, coalesce(CASE c.channel WHEN 'email' THEN v.email ELSE v.phone END, ''),
				'opted_out', 'county_assisted', now()
			FROM voters v, unnest($2::text[]) AS c(channel)
			WHERE v.id = $1
			ON CONFLICT (voter_ref, channel) DO NOTHING
			RETURNING channel`, voterRef, channels)
		if err != nil {
			return fmt.Errorf("county-assisted opt-out of channels never subscribed: %w", err)
		}
		inserted, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return fmt.Errorf("county-assisted opt-out of channels never subscribed: %w", err)
		}
		did := map[string]bool{}
		for _, ch := range append(updated, inserted...) {
			did[ch] = true
		}
		for _, ch := range channels {
			if did[ch] {
				changed = append(changed, ch)
				did[ch] = false
			}
		}
		return audit(ctx, tx, actor, "subscription.county_assisted_opt_out", fmt.Sprintf("voter:%d", voterRef),
			map[string]any{"requested": channels, "changed": changed, "note": note})
	})
	if err != nil {
		return nil, err
	}
	return changed, nil
}

// BallotCount is how many ballots of an election are at one status in one county. Status
// is empty for ballots whose workflow has not recorded a status yet.
type BallotCount struct {
	County  string
	Status  string
	Ballots int64
}

// liveBallot is the condition, on ballots b, of a ballot that exists for the county: it has
// a status, or an event that may still be signaled. A ballot that only an import an operator
// rejected ever named (all its events discarded) is left out of reports.
const liveBallot = `(b.status IS NOT NULL OR EXISTS (
	SELECT 1 FROM ballot_events le WHERE le.ballot_ref = b.id AND le.discarded_at IS NULL))`

// BallotCountByStatus returns the ballots of an election counted by county and status, of one
// county when county is not empty, ordered by county and status. Ballots still without a
// status count under the empty status; ballots only a rejected import named do not count.
func (s *Store) BallotCountByStatus(ctx context.Context, electionID, county string) ([]BallotCount, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT j.county, coalesce(b.status, ''), count(*)
		FROM ballots b JOIN jurisdictions j ON j.id = b.jurisdiction_id
		WHERE b.election_id = $1 AND ($2 = '' OR j.county = $2) AND `+liveBallot+`
		GROUP BY 1, 2 ORDER BY 1, 2`, electionID, county)
	if err != nil {
		return nil, fmt.Errorf("ballot counts: %w", err)
	}
	counts, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (BallotCount, error) {
		var c BallotCount
		err := row.Scan(&c.County, &c.Status, &c.Ballots)
		return c, err
	})
	if err != nil {
		return nil, fmt.Errorf("ballot counts: %w", err)
	}
	return counts, nil
}

// StatusDelta is how the number of ballots at a status changed on one day: ballots that
// ended the day at Status and did not end the previous day there count +1, ballots that
// left it count -1. Summed day by day, deltas give the ballots at each status at the end
// of each day.
type StatusDelta struct {
	Day    time.Time // midnight UTC of the local date
	Status string
	Delta  int64
}

// BallotListStatusDeltas returns the day-by-day changes of the ballots of an election (of one county
// when county is not empty) at each status, from ballot_status_history, with days as
// dates in the IANA time zone tz; ordered by day and status. A ballot's status at the end of
// a day is its latest status that occurred that day or before.
func (s *Store) BallotListStatusDeltas(ctx context.Context, electionID, county, tz string) ([]StatusDelta, error) {
	rows, err := s.pool.Query(ctx, `
		WITH scope AS (
			SELECT b.id FROM ballots b JOIN jurisdictions j ON j.id = b.jurisdiction_id
			WHERE b.election_id = $1 AND ($2 = '' OR j.county = $2)),
		end_of_day AS (
			SELECT DISTINCT ON (h.ballot_ref, day) h.ballot_ref, (h.occurred_at AT TIME ZONE $3)::date AS day, h.status
			FROM ballot_status_history h JOIN scope ON scope.id = h.ballot_ref
			WHERE h.corrected_at IS NULL -- a status posted in error was never the ballot's
			ORDER BY h.ballot_ref, day, h.occurred_at DESC, h.id DESC),
		moves AS (
			SELECT day, status, lag(status) OVER (PARTITION BY ballot_ref ORDER BY day) AS previous FROM end_of_day),
		deltas AS (
			SELECT day, status, 1 AS delta FROM moves WHERE previous IS DISTINCT FROM status
			UNION ALL
			SELECT day, previous, -1 FROM moves WHERE previous IS NOT NULL AND previous <> status)
		SELECT day, status, sum(delta)::bigint FROM deltas GROUP BY day, status ORDER BY day, status`,
		electionID, county, tz)
	if err != nil {
		return nil, fmt.Errorf("status over time: %w", err)
	}
	deltas, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (StatusDelta, error) {
		var d StatusDelta
		err := row.Scan(&d.Day, &d.Status, &d.Delta)
		return d, err
	})
	if err != nil {
		return nil, fmt.Errorf("status over time: %w", err)
	}
	return deltas, nil
}

// JurisdictionGetReportTimeZone returns the time zone an election's reports count days in: the county's when
// county is given, else the one most of the state's counties use.
func (s *Store) JurisdictionGetReportTimeZone(ctx context.Context, state, county string) (string, error) {
	var tz string
	err := s.pool.QueryRow(ctx, `
		SELECT time_zone FROM jurisdictions WHERE state = $1 AND ($2 = '' OR county = $2)
		GROUP BY time_zone ORDER BY count(*) DESC, time_zone LIMIT 1`, state, county).Scan(&tz)
	if err != nil {
		return "", notFound(err, "time zone of "+state+" "+county)
	}
	return tz, nil
}

// Reasons a voter cannot be reached, most serious first.
const (
	UnreachableNoActiveChannel  = "no_active_channel"    // no channel is active (none given, opted out, bounced, unconfirmed)
	UnreachableLatestNoticeFail = "latest_notice_failed" // every delivery of the ballot's latest notice failed or was skipped
	UnreachableChannelBounced   = "channel_bounced"      // a channel bounced, though another may still work
)

// Unreachable is a voter with a ballot in an election who cannot be reached. It carries
// internal and registration ids only: no name, no address.
type Unreachable struct {
	VoterID    string
	County     string // the county of the ballot
	Reason     string // one of the Unreachable... constants: the most serious that applies
	ElectionID string
	BallotKey  string // the voter's newest ballot in the election
	// Channels are the voter's subscriptions as "channel:state" (e.g. "email:bounced").
	Channels []string
	// LatestNotice is the status of the ballot's latest notice, and Tried how each delivery
	// of it ended, as "channel:state"; both empty when no notice was delivered yet.
	LatestNotice string
	Tried        []string
}

// UnreachableFilter selects the voters VoterEachUnreachable reports.
type UnreachableFilter struct {
	ElectionID string
	County     string // empty for every county
	Limit      int    // 0 for no limit
}

// VoterEachUnreachable calls fn for every voter with a ballot in the election who cannot be
// reached, ordered by county and voter id, as the rows arrive (a CSV export streams them).
// Voters the engine never notifies (confidential, inactive, canceled) are not listed. The
// latest notice is the ballot's highest notice number among its deliveries, so a fallback
// to another channel that is still waiting for contact hours does not count yet.
func (s *Store) VoterEachUnreachable(ctx context.Context, f UnreachableFilter, fn func(Unreachable) error) error {
	limit := any(nil)
	if f.Limit > 0 {
		limit = f.Limit
	}
	rows, err := s.pool.Query(ctx, `
		WITH scope AS (
			SELECT DISTINCT ON (b.voter_ref) b.id, b.key, b.election_id, b.voter_ref, j.county
			FROM ballots b JOIN jurisdictions j ON j.id = b.jurisdiction_id
			WHERE b.election_id = $1 AND ($2 = '' OR j.county = $2) AND `+liveBallot+`
			ORDER BY b.voter_ref, b.id DESC),
		subs AS (
			SELECT s.voter_ref, bool_or(s.state = 'active') AS any_active, bool_or(s.state = 'bounced') AS any_bounced,
				array_agg(s.channel || ':' || s.state ORDER BY array_position(ARRAY['email', 'sms', 'voice'], s.channel)) AS channels
			FROM subscriptions s JOIN scope ON scope.voter_ref = s.voter_ref
			GROUP BY s.voter_ref),
		dl AS (
			SELECT d.ballot_ref, d.channel, d.state, d.notice_status, d.notice_seq AS seq
			FROM deliveries d JOIN scope ON scope.id = d.ballot_ref),
		latest AS (
			SELECT ballot_ref, bool_and(state IN ('failed', 'skipped')) AS all_failed, min(notice_status) AS notice_status,
				array_agg(channel || ':' || state ORDER BY array_position(ARRAY['email', 'sms', 'voice'], channel)) AS tried
			FROM dl WHERE (ballot_ref, seq) IN (SELECT ballot_ref, max(seq) FROM dl GROUP BY ballot_ref)
			GROUP BY ballot_ref),
		judged AS (
			SELECT v.voter_id, sc.county, sc.election_id, sc.key,
				CASE WHEN NOT coalesce(su.any_active, false) THEN 'no_active_channel'
					WHEN coalesce(l.all_failed, false) THEN 'latest_notice_failed'
					WHEN coalesce(su.any_bounced, false) THEN 'channel_bounced' END AS reason,
				coalesce(su.channels, '{}'), coalesce(l.notice_status, ''), coalesce(l.tried, '{}')
			FROM scope sc JOIN voters v ON v.id = sc.voter_ref
				LEFT JOIN subs su ON su.voter_ref = sc.voter_ref
				LEFT JOIN latest l ON l.ballot_ref = sc.id
			WHERE NOT v.confidential AND v.status IN ('active', 'pending'))
		SELECT * FROM judged WHERE reason IS NOT NULL
		ORDER BY county, voter_id
		LIMIT $3`, f.ElectionID, f.County, limit)
	if err != nil {
		return fmt.Errorf("unreachable voters: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var u Unreachable
		if err := rows.Scan(&u.VoterID, &u.County, &u.ElectionID, &u.BallotKey, &u.Reason, &u.Channels,
			&u.LatestNotice, &u.Tried); err != nil {
			return fmt.Errorf("unreachable voters: %w", err)
		}
		if err := fn(u); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("unreachable voters: %w", err)
	}
	return nil
}
