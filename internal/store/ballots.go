package store

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// Errors of BallotEventRecord that are the county's to fix.
var (
	ErrEventConflict      = errors.New("event_id was already used for a different event")
	ErrBallotOfOtherVoter = errors.New("ballot_id is already recorded for a different voter")
	// ErrCorrectsUnknown: a correction names an event_id that is no event of its ballot.
	ErrCorrectsUnknown = errors.New("corrects names no event of this ballot")
)

// Ballot is one mail ballot of one voter in one election.
type Ballot struct {
	Ref            int64
	Key            string // opaque; names the ballot's workflow
	JurisdictionID string
	State          string
	County         string
	ElectionID     string
	BallotID       string
	VoterRef       int64
	Status         string
	StatusAt       *time.Time
}

// BallotEvent is one status event as a county posted it.
type BallotEvent struct {
	JurisdictionID string
	ElectionID     string
	BallotID       string
	VoterRef       int64
	EventID        string
	Status         string
	OccurredAt     time.Time
	Reason         string
	CureDeadline   *time.Time
	ReceivedBy     int64 // api key id, 0 when none
	// OutboundIMb and ReturnIMb are the 20-digit tracking codes of the envelopes a "mailed"
	// event gives (usps.IMb.TrackingCode), or empty; see mailscans.go.
	OutboundIMb string
	ReturnIMb   string
	// Corrects makes the event a correction: the event_id (of the same ballot) posted in
	// error. Status is then the right status.
	Corrects string
}

// RecordedEvent is what BallotEventRecord did with an event.
type RecordedEvent struct {
	EventRef  int64
	Ballot    Ballot
	Duplicate bool // the same event_id was recorded before, with the same content
	// Signaled: the caller must not signal the event. Temporal has it already, or an import
	// that is delivering or holding it will (or, rejected, never will).
	Signaled bool
}

// newBallotKey returns an opaque ballot key: "b" and 20 base32 characters (100 random bits).
func newBallotKey() (string, error) {
	var b [13]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return "b" + strings.ToLower(lowerBase32.EncodeToString(b[:]))[:20], nil
}

// BallotEventRecord stores a county event and the ballot it belongs to, in one transaction.
// Re-posting the same event_id with the same content is a duplicate, not an error; with
// different content it is ErrEventConflict and nothing is stored.
func (s *Store) BallotEventRecord(ctx context.Context, e BallotEvent) (RecordedEvent, error) {
	var out RecordedEvent
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		b, err := ensureBallot(ctx, tx, e)
		if err != nil {
			return err
		}
		out.Ballot = b
		if e.Corrects != "" {
			var ok bool
			err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM ballot_events WHERE jurisdiction_id = $1 AND event_id = $2 AND ballot_ref = $3)`,
				e.JurisdictionID, e.Corrects, b.Ref).Scan(&ok)
			if err != nil {
				return fmt.Errorf("find the corrected event: %w", err)
			}
			if !ok {
				return ErrCorrectsUnknown
			}
		}
		var receivedBy *int64
		if e.ReceivedBy != 0 {
			receivedBy = &e.ReceivedBy
		}
		err = tx.QueryRow(ctx, `
			INSERT INTO ballot_events (jurisdiction_id, event_id, ballot_ref, status, occurred_at, reason, cure_deadline, received_by,
				outbound_imb, return_imb, corrects)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, NULLIF($9, ''), NULLIF($10, ''), NULLIF($11, ''))
			ON CONFLICT (jurisdiction_id, event_id) DO NOTHING RETURNING id`,
			e.JurisdictionID, e.EventID, b.Ref, e.Status, e.OccurredAt, e.Reason, e.CureDeadline, receivedBy,
			e.OutboundIMb, e.ReturnIMb, e.Corrects).Scan(&out.EventRef)
		if err == nil {
			return registerBarcodes(ctx, tx, out.EventRef, b, e)
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("insert ballot event: %w", err)
		}
		var ballotRef int64
		var status, reason, outboundIMb, returnIMb, corrects string
		var occurred time.Time
		var deadline *time.Time
		var signaledAt, discardedAt *time.Time
		var importActive *bool
		err = tx.QueryRow(ctx, `
			SELECT e.id, e.ballot_ref, e.status, e.occurred_at, e.reason, e.cure_deadline, e.signaled_at, e.discarded_at,
				coalesce(e.outbound_imb, ''), coalesce(e.return_imb, ''), coalesce(e.corrects, ''),
				i.status IN ('checking', 'held', 'signaling')
					OR (i.status = 'loading' AND i.updated_at >= now() - make_interval(secs => $3))
			FROM ballot_events e LEFT JOIN imports i ON i.id = e.import_id
			WHERE e.jurisdiction_id = $1 AND e.event_id = $2
			FOR UPDATE OF e`, e.JurisdictionID, e.EventID, staleLoad.Seconds()).
			Scan(&out.EventRef, &ballotRef, &status, &occurred, &reason, &deadline, &signaledAt, &discardedAt,
				&outboundIMb, &returnIMb, &corrects, &importActive)
		if err != nil {
			return fmt.Errorf("read earlier event: %w", err)
		}
		if ballotRef != b.Ref || status != e.Status || !occurred.Equal(e.OccurredAt) || reason != e.Reason ||
			!sameDate(deadline, e.CureDeadline) || outboundIMb != e.OutboundIMb || returnIMb != e.ReturnIMb ||
			corrects != e.Corrects {
			return ErrEventConflict
		}
		out.Duplicate = true
		switch {
		case signaledAt != nil, discardedAt != nil:
			// Delivered already, or an event of an import an operator rejected: never signaled,
			// however often it is posted.
			out.Signaled = true
		case importActive != nil && *importActive:
			// Its import delivers it in its turn, or holds it for an operator's decision: a post
			// of the same event must not slip it past the check.
			out.Signaled = true
		case importActive != nil:
			// Its import broke off (failed, or abandoned while loading): this post takes the
			// event over, as a new import of the same file would, and signals it.
			if _, err := tx.Exec(ctx, `UPDATE ballot_events SET import_id = NULL WHERE id = $1`, out.EventRef); err != nil {
				return fmt.Errorf("take over event of an abandoned import: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return RecordedEvent{}, err
	}
	return out, nil
}

func ensureBallot(ctx context.Context, tx pgx.Tx, e BallotEvent) (Ballot, error) {
	key, err := newBallotKey()
	if err != nil {
		return Ballot{}, err
	}
	_, err = tx.Exec(ctx, `
		INSERT INTO ballots (key, jurisdiction_id, election_id, ballot_id, voter_ref) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (jurisdiction_id, election_id, ballot_id) DO NOTHING`,
		key, e.JurisdictionID, e.ElectionID, e.BallotID, e.VoterRef)
	if err != nil {
		return Ballot{}, fmt.Errorf("insert ballot: %w", err)
	}
	b, err := scanBallot(tx.QueryRow(ctx, ballotColumns+`
		WHERE b.jurisdiction_id = $1 AND b.election_id = $2 AND b.ballot_id = $3`,
		e.JurisdictionID, e.ElectionID, e.BallotID))
	if err != nil {
		return Ballot{}, fmt.Errorf("read ballot: %w", err)
	}
	if b.VoterRef != e.VoterRef {
		return Ballot{}, ErrBallotOfOtherVoter
	}
	return b, nil
}

func sameDate(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return a.Format(time.DateOnly) == b.Format(time.DateOnly)
}

// A ballot of a purged election has no ballot_id and no voter (0).
const ballotColumns = `SELECT b.id, b.key, b.jurisdiction_id, j.state, j.county, b.election_id, coalesce(b.ballot_id, ''),
	coalesce(b.voter_ref, 0), coalesce(b.status, ''), b.status_at FROM ballots b JOIN jurisdictions j ON j.id = b.jurisdiction_id`

func scanBallot(row pgx.Row) (Ballot, error) {
	var b Ballot
	err := row.Scan(&b.Ref, &b.Key, &b.JurisdictionID, &b.State, &b.County, &b.ElectionID, &b.BallotID, &b.VoterRef,
		&b.Status, &b.StatusAt)
	return b, err
}

// BallotGetByKey returns the ballot with an opaque key.
func (s *Store) BallotGetByKey(ctx context.Context, key string) (Ballot, error) {
	b, err := scanBallot(s.pool.QueryRow(ctx, ballotColumns+` WHERE b.key = $1`, key))
	if err != nil {
		return Ballot{}, notFound(err, "ballot "+key)
	}
	return b, nil
}

// BallotListByVoter returns a voter's ballots, newest first.
func (s *Store) BallotListByVoter(ctx context.Context, voterRef int64) ([]Ballot, error) {
	rows, err := s.pool.Query(ctx, ballotColumns+` WHERE b.voter_ref = $1 ORDER BY b.id DESC`, voterRef)
	if err != nil {
		return nil, fmt.Errorf("ballots of voter: %w", err)
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (Ballot, error) { return scanBallot(row) })
}

const ballotSetStatusSQL = `
	WITH b AS (SELECT id FROM ballots WHERE key = $1),
	upd AS (
		UPDATE ballots SET status = $2, status_at = $3, updated_at = now()
		WHERE key = $1 AND (status_at IS NULL OR status_at <= $3)),
	hist AS (
		INSERT INTO ballot_status_history (ballot_ref, status, occurred_at) SELECT id, $2, $3 FROM b
		ON CONFLICT (ballot_ref, status, occurred_at) DO NOTHING)
	SELECT EXISTS (SELECT 1 FROM b)`

// BallotSetStatus records the status the ballot workflow decided on, so that reads (the
// portal, reports) never need to ask Temporal. An older status never overwrites a newer one.
// Every call also adds the move to the ballot's status history (the portal's timeline), in
// the same statement; a retried call adds nothing twice.
func (s *Store) BallotSetStatus(ctx context.Context, key, status string, at time.Time) error {
	var found bool
	err := s.pool.QueryRow(ctx, ballotSetStatusSQL, key, status, at).Scan(&found)
	if err != nil {
		return fmt.Errorf("set ballot status: %w", err)
	}
	if !found {
		return fmt.Errorf("ballot %s: %w", key, ErrNotFound)
	}
	return nil
}

// BallotEventMarkSignaled notes that Temporal has the signal for an event.
func (s *Store) BallotEventMarkSignaled(ctx context.Context, eventRef int64) error {
	_, err := s.pool.Exec(ctx, `UPDATE ballot_events SET signaled_at = now() WHERE id = $1 AND signaled_at IS NULL`, eventRef)
	if err != nil {
		return fmt.Errorf("mark event signaled: %w", err)
	}
	return nil
}

// UnsignaledEvent is a stored event whose signal may not have reached Temporal.
type UnsignaledEvent struct {
	EventRef     int64
	Ballot       Ballot
	EventID      string
	Status       string
	OccurredAt   time.Time
	Reason       string
	CureDeadline *time.Time
	Corrects     string // a correction: the event it corrects
}

// BallotEventListUnsignaled returns up to limit events stored before cutoff that were never marked
// signaled (the API crashed between storing and signaling), oldest first. Events of bulk
// imports are left to their import's workflow; events set aside, and events whose last
// signal failed and whose backoff (BallotEventDeferSignal) has not passed, are left out.
func (s *Store) BallotEventListUnsignaled(ctx context.Context, cutoff time.Time, limit int) ([]UnsignaledEvent, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT e.id, e.event_id, e.status, e.occurred_at, e.reason, e.cure_deadline, coalesce(e.corrects, ''),
			b.id, b.key, b.jurisdiction_id, j.state, j.county, b.election_id, coalesce(b.ballot_id, ''), coalesce(b.voter_ref, 0),
			coalesce(b.status, ''), b.status_at
		FROM ballot_events e JOIN ballots b ON b.id = e.ballot_ref JOIN jurisdictions j ON j.id = b.jurisdiction_id
		WHERE e.signaled_at IS NULL AND e.import_id IS NULL AND e.set_aside_at IS NULL AND e.received_at < $1
			AND (e.next_signal_at IS NULL OR e.next_signal_at <= now())
		ORDER BY e.received_at LIMIT $2`, cutoff, limit)
	if err != nil {
		return nil, fmt.Errorf("unsignaled events: %w", err)
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (UnsignaledEvent, error) {
		var u UnsignaledEvent
		b := &u.Ballot
		err := row.Scan(&u.EventRef, &u.EventID, &u.Status, &u.OccurredAt, &u.Reason, &u.CureDeadline, &u.Corrects,
			&b.Ref, &b.Key, &b.JurisdictionID, &b.State, &b.County, &b.ElectionID, &b.BallotID, &b.VoterRef,
			&b.Status, &b.StatusAt)
		return u, err
	})
}

// StatusChange is one status a ballot moved to.
type StatusChange struct {
	Status       string
	At           time.Time
	Reason       string     // for challenged and rejected, as the county gave it
	CureDeadline string     // YYYY-MM-DD, for challenged
	CorrectedAt  *time.Time // the status was posted in error: when it was corrected
	Correction   bool       // the move is a correction's
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
		SELECT h.ballot_ref, h.status, h.occurred_at, coalesce(ev.reason, ''), coalesce(to_char(ev.cure_deadline, 'YYYY-MM-DD'), ''),
			h.corrected_at, h.correction
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
		if err := rows.Scan(&ref, &c.Status, &c.At, &c.Reason, &c.CureDeadline, &c.CorrectedAt, &c.Correction); err != nil {
			return nil, fmt.Errorf("status histories: %w", err)
		}
		out[ref] = append(out[ref], c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("status histories: %w", err)
	}
	return out, nil
}

// StatusCorrection is a correction the ballot workflow applied: the status posted in error
// (Wrong, said to happen at WrongAt) and the ballot's status now (Status at At; "" for none).
// Moved is false when a later status stood: then only the mark is recorded.
type StatusCorrection struct {
	Status  string
	At      time.Time
	Wrong   string
	WrongAt time.Time
	Moved   bool
}

const ballotCorrectStatusSQL = `
	WITH b AS (SELECT id FROM ballots WHERE key = $1),
	upd AS (
		UPDATE ballots SET status = NULLIF($2, ''), status_at = $3, updated_at = now()
		WHERE key = $1 AND $6 AND (status_at IS NULL OR status_at <= $3)),
	wrong AS (
		UPDATE ballot_status_history SET corrected_at = now()
		WHERE ballot_ref = (SELECT id FROM b) AND status = $4 AND occurred_at = $5 AND corrected_at IS NULL),
	hist AS (
		INSERT INTO ballot_status_history (ballot_ref, status, occurred_at, correction)
		SELECT id, $2, $3, true FROM b WHERE $6 AND $2 <> ''
		ON CONFLICT (ballot_ref, status, occurred_at) DO NOTHING)
	SELECT EXISTS (SELECT 1 FROM b)`

// BallotCorrectStatus records a correction the ballot workflow applied: the status posted in
// error is marked in the history, the ballot moves to its right status (when it moved), and,
// with syncWaits, the notices it now holds are recorded, all in one transaction. A retried
// call changes nothing more.
func (s *Store) BallotCorrectStatus(ctx context.Context, key string, c StatusCorrection, syncWaits bool, waits []NoticeWait) error {
	seqs, channels, dues, err := noticeWaitArgs(waits)
	if err != nil {
		return err
	}
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		batch := &pgx.Batch{}
		found := [2]bool{false, true}
		batch.Queue(ballotCorrectStatusSQL, key, c.Status, c.At, c.Wrong, c.WrongAt, c.Moved).
			QueryRow(func(row pgx.Row) error { return row.Scan(&found[0]) })
		if syncWaits {
			batch.Queue(noticeWaitsSetSQL, key, seqs, channels, dues).QueryRow(func(row pgx.Row) error { return row.Scan(&found[1]) })
		}
		if err := tx.SendBatch(ctx, batch).Close(); err != nil {
			return fmt.Errorf("correct ballot status: %w", err)
		}
		if !found[0] || !found[1] {
			return fmt.Errorf("ballot %s: %w", key, ErrNotFound)
		}
		return nil
	})
}
