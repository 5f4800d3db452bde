package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// An election's records are kept whole until its records period ends (elections.records_until);
// then the retention purge removes the personal data tied to the election, a page of ballots
// at a time, and keeps what the counts and the audit trail need:
//
//   - ballots keep their election, county, status and status history, and lose their voter
//     (voter_ref) and the county's envelope number (ballot_id);
//   - ballot events keep their status, times, event_id and what became of them, and lose the
//     county's free-text reason and the tracking codes of the envelopes a "mailed" event gave;
//   - the ballot's envelopes (mail_barcodes) and the USPS scans of them (mail_scans) go: an
//     outbound envelope was addressed to the voter, and its scans trace where the ballot went;
//   - deliveries keep their channel, notice, state, attempts and times, and lose their voter,
//     the provider's message id (the key to the message and its address in the provider's
//     logs) and the provider's error text;
//   - provider callbacks keep their status and times, and lose their detail and the
//     provider's event id;
//   - the audit log is kept whole: it never held personal data.
//
// The roll (voters, their subscriptions and addresses) is the state's, not an election's,
// and the purge never touches it.

// PurgeActor is the audit actor of the retention purge.
const PurgeActor = "schedule:retention-purge"

// Errors of the retention purge.
var (
	// ErrRecordsKept: the election's records period has not ended (its records_until was
	// moved later, a litigation hold, after the purge found it due).
	ErrRecordsKept = errors.New("the records period of this election has not ended")
	// ErrPurgeNotBegun: ElectionPurgeBatch was called for an election whose purge did not begin.
	ErrPurgeNotBegun = errors.New("the purge of this election has not begun")
)

// dateOnly is midnight UTC of t's calendar date (in t's own location).
func dateOnly(t time.Time) time.Time {
	y, m, d := t.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// ElectionListDueForPurge returns the ids of the elections not purged yet whose records
// period ended before asOf's day (UTC), the longest overdue first.
func (s *Store) ElectionListDueForPurge(ctx context.Context, asOf time.Time) ([]string, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT id FROM elections WHERE purged_at IS NULL AND records_until < $1::date ORDER BY records_until, id`,
		dateOnly(asOf.UTC()))
	if err != nil {
		return nil, fmt.Errorf("elections due for purge: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("elections due for purge: %w", err)
	}
	return ids, nil
}

// ElectionBeginPurge marks the start of an election's purge (records exports are refused from
// then on) and returns the election. It checks again that the records period ended before
// asOf's day (ErrRecordsKept otherwise); a purge that began already goes on whatever the
// date. A purged election is returned as it is.
func (s *Store) ElectionBeginPurge(ctx context.Context, electionID string, asOf time.Time) (Election, error) {
	e, err := scanElection(s.pool.QueryRow(ctx, `
		UPDATE elections e SET purge_started_at = coalesce(e.purge_started_at, now())
		WHERE e.id = $1 AND (e.purge_started_at IS NOT NULL OR e.records_until < $2::date)
		RETURNING `+electionColumns, electionID, dateOnly(asOf.UTC())))
	if errors.Is(err, pgx.ErrNoRows) {
		if _, err := s.ElectionGetByID(ctx, electionID); err != nil {
			return Election{}, err
		}
		return Election{}, fmt.Errorf("purge election %s: %w", electionID, ErrRecordsKept)
	}
	if err != nil {
		return Election{}, fmt.Errorf("begin purge of election %s: %w", electionID, err)
	}
	return e, nil
}

// PurgedRows counts the rows a purge changed.
type PurgedRows struct {
	Ballots        int64 `json:"ballots"`
	Events         int64 `json:"events"`
	Deliveries     int64 `json:"deliveries"`
	DeliveryEvents int64 `json:"delivery_events"`
	// Rows deleted: the ballots' envelopes and the USPS scans of them.
	MailBarcodes int64 `json:"mail_barcodes"`
	MailScans    int64 `json:"mail_scans"`
}

// Add adds o to r.
func (r *PurgedRows) Add(o PurgedRows) {
	r.Ballots += o.Ballots
	r.Events += o.Events
	r.Deliveries += o.Deliveries
	r.DeliveryEvents += o.DeliveryEvents
	r.MailBarcodes += o.MailBarcodes
	r.MailScans += o.MailScans
}

// PurgePage is what one ElectionPurgeBatch did.
type PurgePage struct {
	Ballots int   // ballots in the page; fewer than the limit means the election is done
	LastRef int64 // the page's last ballot; the next page starts after it
	Changed PurgedRows
}

// ElectionPurgeBatch removes the personal data of up to limit ballots of an election whose
// purge began, those with ids above afterRef, in one transaction (see the top of this file
// for what goes and what stays). A page purged before changes nothing: the purge may be run
// again from any point.
func (s *Store) ElectionPurgeBatch(ctx context.Context, electionID string, afterRef int64, limit int) (PurgePage, error) {
	var page PurgePage
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		page = PurgePage{LastRef: afterRef}
		var begun bool
		err := tx.QueryRow(ctx, `SELECT purge_started_at IS NOT NULL FROM elections WHERE id = $1`, electionID).Scan(&begun)
		if err != nil {
			return notFound(err, "election "+electionID)
		}
		if !begun {
			return fmt.Errorf("purge election %s: %w", electionID, ErrPurgeNotBegun)
		}
		rows, err := tx.Query(ctx, `SELECT id FROM ballots WHERE election_id = $1 AND id > $2 ORDER BY id LIMIT $3`,
			electionID, afterRef, limit)
		if err != nil {
			return fmt.Errorf("purge page of election %s: %w", electionID, err)
		}
		refs, err := pgx.CollectRows(rows, pgx.RowTo[int64])
		if err != nil {
			return fmt.Errorf("purge page of election %s: %w", electionID, err)
		}
		if len(refs) == 0 {
			return nil
		}
		page.Ballots, page.LastRef = len(refs), refs[len(refs)-1]
		for _, step := range []struct {
			n   *int64
			sql string
		}{
			{&page.Changed.Events, `
				UPDATE ballot_events SET reason = '', outbound_imb = NULL, return_imb = NULL
				WHERE ballot_ref = ANY($1) AND (reason <> '' OR outbound_imb IS NOT NULL OR return_imb IS NOT NULL)`},
			// Scans before the envelopes they reference.
			{&page.Changed.MailScans, `DELETE FROM mail_scans WHERE ballot_ref = ANY($1)`},
			{&page.Changed.MailBarcodes, `DELETE FROM mail_barcodes WHERE ballot_ref = ANY($1)`},
			{&page.Changed.DeliveryEvents, `
				UPDATE delivery_events de SET detail = '', provider_event_id = NULL FROM deliveries d
				WHERE de.delivery_ref = d.id AND d.ballot_ref = ANY($1)
					AND (de.detail <> '' OR de.provider_event_id IS NOT NULL)`},
			{&page.Changed.Deliveries, `
				UPDATE deliveries SET voter_ref = NULL, provider_id = NULL, last_error = ''
				WHERE ballot_ref = ANY($1) AND (voter_ref IS NOT NULL OR provider_id IS NOT NULL OR last_error <> '')`},
			{&page.Changed.Ballots, `
				UPDATE ballots SET voter_ref = NULL, ballot_id = NULL
				WHERE id = ANY($1) AND (voter_ref IS NOT NULL OR ballot_id IS NOT NULL)`},
		} {
			tag, err := tx.Exec(ctx, step.sql, refs)
			if err != nil {
				return fmt.Errorf("purge page of election %s: %w", electionID, err)
			}
			*step.n = tag.RowsAffected()
		}
		return nil
	})
	if err != nil {
		return PurgePage{}, err
	}
	return page, nil
}

// ElectionFinishPurge marks an election purged once no ballot of it is tied to a voter, and
// writes the audit row with what the election still counts. It reports whether this call
// finished the purge (false: it was finished before, and nothing was written).
func (s *Store) ElectionFinishPurge(ctx context.Context, electionID string) (bool, error) {
	finished := false
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		finished = false
		var begun, purged bool
		var recordsUntil time.Time
		err := tx.QueryRow(ctx, `
			SELECT purge_started_at IS NOT NULL, purged_at IS NOT NULL, records_until FROM elections WHERE id = $1 FOR UPDATE`,
			electionID).Scan(&begun, &purged, &recordsUntil)
		if err != nil {
			return notFound(err, "election "+electionID)
		}
		if purged {
			return nil
		}
		if !begun {
			return fmt.Errorf("finish purge of election %s: %w", electionID, ErrPurgeNotBegun)
		}
		// A page purged by a release that kept the envelopes (a worker upgraded mid-purge
		// resumes after it) leaves them: the election is not done, and the next run, which
		// starts from its first ballot, takes them.
		var left bool
		if err := tx.QueryRow(ctx, `
			SELECT EXISTS (SELECT 1 FROM ballots b WHERE b.election_id = $1 AND (b.voter_ref IS NOT NULL OR b.ballot_id IS NOT NULL
				OR EXISTS (SELECT 1 FROM mail_barcodes mb WHERE mb.ballot_ref = b.id)
				OR EXISTS (SELECT 1 FROM ballot_events e WHERE e.ballot_ref = b.id
					AND (e.outbound_imb IS NOT NULL OR e.return_imb IS NOT NULL))))`,
			electionID).Scan(&left); err != nil {
			return fmt.Errorf("finish purge of election %s: %w", electionID, err)
		}
		if left {
			return fmt.Errorf("finish purge of election %s: ballots are still tied to voters or envelopes; run the purge again", electionID)
		}
		var ballots, events, deliveries int64
		if err := tx.QueryRow(ctx, `
			SELECT count(*), coalesce(sum((SELECT count(*) FROM ballot_events e WHERE e.ballot_ref = b.id)), 0)::bigint,
				coalesce(sum((SELECT count(*) FROM deliveries d WHERE d.ballot_ref = b.id)), 0)::bigint
			FROM ballots b WHERE b.election_id = $1`, electionID).Scan(&ballots, &events, &deliveries); err != nil {
			return fmt.Errorf("finish purge of election %s: %w", electionID, err)
		}
		if _, err := tx.Exec(ctx, `UPDATE elections SET purged_at = now() WHERE id = $1`, electionID); err != nil {
			return fmt.Errorf("finish purge of election %s: %w", electionID, err)
		}
		finished = true
		return audit(ctx, tx, PurgeActor, "election.purge", "election:"+electionID, map[string]any{
			"records_until": recordsUntil.Format(time.DateOnly), "ballots": ballots, "events": events, "deliveries": deliveries,
		})
	})
	return finished, err
}

// Kinds of ElectionRecord.
const (
	RecordEvent    = "event"
	RecordDelivery = "delivery"
)

// ElectionRecord is one row of an election's records: a county's status event for a ballot,
// as received, or one delivery of a notice about it. It holds ids, statuses and times; no
// name, date of birth, address or message text (ballotflow stores none per ballot).
type ElectionRecord struct {
	Kind     string // RecordEvent or RecordDelivery
	County   string
	BallotID string // the county's envelope number
	VoterID  string // the state's registration number
	// Status is the status the county reported (an event) or the notice told (a delivery).
	Status string
	// OccurredAt is when the event happened at the county, or when the delivery was first tried.
	OccurredAt time.Time
	ReceivedAt *time.Time // events: when ballotflow received it
	// Events.
	EventID      string
	Reason       string
	CureDeadline string // YYYY-MM-DD
	// Deliveries.
	Notice     int // the ballot's notice number, from 1
	Channel    string
	Attempts   int
	ProviderID string
	// Outcome is what became of the record: an event was "signaled" to its ballot's workflow,
	// "set_aside", "discarded" (its import was rejected) or "not_signaled"; a delivery is
	// "sending", "accepted", "delivered", "failed" or "skipped".
	Outcome string
	Detail  string // why an event was set aside, or the provider's error for a delivery
	// SettledAt is when an event was signaled, set aside or discarded, or when a delivery
	// last changed state (nil while it is still being sent).
	SettledAt *time.Time
}

// ElectionEachRecord calls fn for every record of an election (of one county when county is
// not empty), ballot by ballot in the order ballotflow stored them, each ballot's records in
// the order they happened, as the rows arrive: an export of millions of rows streams. It
// reads one snapshot, in which the election's purge has not begun (ErrElectionPurged
// otherwise, before any row), so an export never holds half-purged rows.
func (s *Store) ElectionEachRecord(ctx context.Context, electionID, county string, fn func(ElectionRecord) error) error {
	tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return fmt.Errorf("records of election %s: %w", electionID, err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	var purging bool
	err = tx.QueryRow(ctx, `SELECT purge_started_at IS NOT NULL FROM elections WHERE id = $1`, electionID).Scan(&purging)
	if err != nil {
		return notFound(err, "election "+electionID)
	}
	if purging {
		return fmt.Errorf("records of election %s: %w", electionID, ErrElectionPurged)
	}
	rows, err := tx.Query(ctx, `
		SELECT r.kind, j.county, coalesce(b.ballot_id, ''), coalesce(v.voter_id, ''), r.status, r.occurred_at,
			r.received_at, r.event_id, r.reason, r.cure_deadline, r.notice, r.channel, r.attempts, r.provider_id,
			r.outcome, r.detail, r.settled_at
		FROM ballots b JOIN jurisdictions j ON j.id = b.jurisdiction_id
			LEFT JOIN voters v ON v.id = b.voter_ref
			CROSS JOIN LATERAL (
				SELECT 'event' AS kind, 0 AS kind_order, e.id AS ref, e.received_at AS stored_at, e.status, e.occurred_at,
					e.received_at, e.event_id, e.reason, coalesce(to_char(e.cure_deadline, 'YYYY-MM-DD'), '') AS cure_deadline,
					0 AS notice, '' AS channel, 0 AS attempts, '' AS provider_id,
					CASE WHEN e.signaled_at IS NOT NULL THEN 'signaled' WHEN e.discarded_at IS NOT NULL THEN 'discarded'
						WHEN e.set_aside_at IS NOT NULL THEN 'set_aside' ELSE 'not_signaled' END AS outcome,
					coalesce(e.set_aside_reason, '') AS detail,
					coalesce(e.signaled_at, e.discarded_at, e.set_aside_at) AS settled_at
				FROM ballot_events e WHERE e.ballot_ref = b.id
				UNION ALL
				SELECT 'delivery', 1, d.id, d.created_at, d.notice_status, d.created_at, NULL, '', '', '', d.notice_seq,
					d.channel, d.attempts, coalesce(d.provider_id, ''), d.state, d.last_error,
					CASE WHEN d.state <> 'sending' THEN d.updated_at END
				FROM deliveries d WHERE d.ballot_ref = b.id) r
		WHERE b.election_id = $1 AND ($2 = '' OR j.county = $2)
		ORDER BY b.id, r.stored_at, r.kind_order, r.ref`, electionID, county)
	if err != nil {
		return fmt.Errorf("records of election %s: %w", electionID, err)
	}
	defer rows.Close()
	for rows.Next() {
		var r ElectionRecord
		var notice, attempts int32
		if err := rows.Scan(&r.Kind, &r.County, &r.BallotID, &r.VoterID, &r.Status, &r.OccurredAt, &r.ReceivedAt,
			&r.EventID, &r.Reason, &r.CureDeadline, &notice, &r.Channel, &attempts, &r.ProviderID, &r.Outcome, &r.Detail,
			&r.SettledAt); err != nil {
			return fmt.Errorf("records of election %s: %w", electionID, err)
		}
		r.Notice, r.Attempts = int(notice), int(attempts)
		if err := fn(r); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("records of election %s: %w", electionID, err)
	}
	return nil
}
