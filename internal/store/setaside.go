package store

import (
	"context"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
)

// Why an event was set aside (BallotEventSetAside): its signal can never succeed as it is, so it
// must not block the events behind it.
const (
	// SetAsideCanvassClosed: the election's canvass is over; its ballot workflows are closed.
	SetAsideCanvassClosed = "canvass_closed"
	// SetAsideInvalid: Temporal refused the signal as invalid (a non-transient error).
	SetAsideInvalid = "invalid_argument"
	// SetAsideUnknownElection: the event's election is no longer configured.
	SetAsideUnknownElection = "unknown_election"
	// SetAsideBallotClosed: a correction for a ballot whose workflow has ended (it reached
	// a final status on a release before corrections): nothing can tell its voter.
	SetAsideBallotClosed = "ballot_closed"
)

// maxSetAsideDetail bounds the detail kept with a set-aside event.
const maxSetAsideDetail = 300

// BallotEventSetAside records that an event's signal can never succeed as it is: code is one of
// the SetAside* reasons, detail says more (never a voter's data). The sweepers skip it from
// then on; operators read it with BallotEventListSetAside. It does nothing to a signaled event.
func (s *Store) BallotEventSetAside(ctx context.Context, eventRef int64, code, detail string) error {
	if len(detail) > maxSetAsideDetail {
		cut := maxSetAsideDetail
		for cut > 0 && !utf8.RuneStart(detail[cut]) { // never split a character: PostgreSQL would refuse it
			cut--
		}
		detail = detail[:cut]
	}
	_, err := s.pool.Exec(ctx, `
		UPDATE ballot_events SET set_aside_at = coalesce(set_aside_at, now()), set_aside_reason = $2,
			signal_attempts = signal_attempts + 1
		WHERE id = $1 AND signaled_at IS NULL`, eventRef, code+": "+detail)
	if err != nil {
		return fmt.Errorf("set event %d aside: %w", eventRef, err)
	}
	return nil
}

// BallotEventDeferSignal records a failed signal of an event that may succeed later: the re-signal
// sweeper tries it again after a backoff that doubles with each failure, from base up to
// ceiling, so one unreachable ballot never makes the sweeper hot-loop.
func (s *Store) BallotEventDeferSignal(ctx context.Context, eventRef int64, base, ceiling time.Duration) error {
	_, err := s.pool.Exec(ctx, `
		UPDATE ballot_events SET signal_attempts = signal_attempts + 1,
			next_signal_at = now() + least(make_interval(secs => $2 * power(2, least(signal_attempts, 30))),
				make_interval(secs => $3))
		WHERE id = $1 AND signaled_at IS NULL`, eventRef, base.Seconds(), ceiling.Seconds())
	if err != nil {
		return fmt.Errorf("defer signal of event %d: %w", eventRef, err)
	}
	return nil
}

// SetAsideEvent is an event set aside, as operators see it: ids and the reason, never a
// voter's data.
type SetAsideEvent struct {
	EventRef   int64
	EventID    string
	ElectionID string
	State      string
	County     string
	BallotKey  string
	Status     string
	Reason     string
	Attempts   int
	ImportID   *int64
	ReceivedAt time.Time
	SetAsideAt time.Time
}

// BallotEventListSetAside returns the events set aside in a state ("" for every state), newest first,
// at most limit, and how many there are in all.
func (s *Store) BallotEventListSetAside(ctx context.Context, state string, limit int) ([]SetAsideEvent, int, error) {
	var total int
	err := s.pool.QueryRow(ctx, `
		SELECT count(*) FROM ballot_events e JOIN jurisdictions j ON j.id = e.jurisdiction_id
		WHERE e.set_aside_at IS NOT NULL AND ($1 = '' OR j.state = $1)`, state).Scan(&total)
	if err != nil {
		return nil, 0, fmt.Errorf("count set-aside events: %w", err)
	}
	rows, err := s.pool.Query(ctx, `
		SELECT e.id, e.event_id, b.election_id, j.state, j.county, b.key, e.status, coalesce(e.set_aside_reason, ''),
			e.signal_attempts, e.import_id, e.received_at, e.set_aside_at
		FROM ballot_events e JOIN ballots b ON b.id = e.ballot_ref JOIN jurisdictions j ON j.id = e.jurisdiction_id
		WHERE e.set_aside_at IS NOT NULL AND ($1 = '' OR j.state = $1)
		ORDER BY e.set_aside_at DESC, e.id DESC LIMIT $2`, state, limit)
	if err != nil {
		return nil, 0, fmt.Errorf("set-aside events: %w", err)
	}
	events, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (SetAsideEvent, error) {
		var e SetAsideEvent
		var attempts int32
		err := row.Scan(&e.EventRef, &e.EventID, &e.ElectionID, &e.State, &e.County, &e.BallotKey, &e.Status, &e.Reason,
			&attempts, &e.ImportID, &e.ReceivedAt, &e.SetAsideAt)
		e.Attempts = int(attempts)
		return e, err
	})
	if err != nil {
		return nil, 0, fmt.Errorf("set-aside events: %w", err)
	}
	return events, total, nil
}
