package store

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
)

// NoticeWait is one notice a ballot workflow holds until the voter's contact hours.
type NoticeWait struct {
	Seq     int
	Channel string
	DueAt   time.Time
}

// MaxNoticeWaits bounds the waits one ballot may record: a ballot has at most one waiting
// notice per channel and status, so anything near this is a bug, refused rather than stored.
const MaxNoticeWaits = 64

// noticeWaitsSetSQL makes the ballot's recorded waits exactly $2..$4: rows not in the set go,
// the others are written or moved. The delete and the insert touch different rows, so one
// statement does both.
const noticeWaitsSetSQL = `
	WITH b AS (SELECT id FROM ballots WHERE key = $1),
	w AS (SELECT * FROM unnest($2::int[], $3::text[], $4::timestamptz[]) AS w(seq, channel, due_at)),
	gone AS (
		DELETE FROM notice_waits n USING b
		WHERE n.ballot_ref = b.id AND (n.notice_seq, n.channel) NOT IN (SELECT seq, channel FROM w)),
	kept AS (
		INSERT INTO notice_waits (ballot_ref, notice_seq, channel, due_at)
		SELECT b.id, w.seq, w.channel, w.due_at FROM b, w
		ON CONFLICT (ballot_ref, notice_seq, channel) DO UPDATE SET due_at = excluded.due_at, recorded_at = now())
	SELECT EXISTS (SELECT 1 FROM b)`

func noticeWaitArgs(waits []NoticeWait) ([]int32, []string, []time.Time, error) {
	if len(waits) > MaxNoticeWaits {
		return nil, nil, nil, fmt.Errorf("%d notice waits for one ballot: at most %d", len(waits), MaxNoticeWaits)
	}
	seqs := make([]int32, len(waits))
	channels := make([]string, len(waits))
	dues := make([]time.Time, len(waits))
	for i, w := range waits {
		if w.Seq < 1 {
			return nil, nil, nil, fmt.Errorf("notice wait: notice number %d: notices are numbered from 1", w.Seq)
		}
		seqs[i], channels[i], dues[i] = int32(w.Seq), w.Channel, w.DueAt
	}
	return seqs, channels, dues, nil
}

// NoticeWaitSet records the notices a ballot's workflow holds now (none: an empty set).
// Idempotent: a retried call writes the same rows.
func (s *Store) NoticeWaitSet(ctx context.Context, ballotKey string, waits []NoticeWait) error {
	seqs, channels, dues, err := noticeWaitArgs(waits)
	if err != nil {
		return err
	}
	var found bool
	if err := s.pool.QueryRow(ctx, noticeWaitsSetSQL, ballotKey, seqs, channels, dues).Scan(&found); err != nil {
		return fmt.Errorf("record notice waits: %w", err)
	}
	if !found {
		return fmt.Errorf("ballot %s: %w", ballotKey, ErrNotFound)
	}
	return nil
}

// BallotSetStatusAndWaits is BallotSetStatus and NoticeWaitSet in one transaction and one
// round trip: the workflow records the status it moved to and the notices it now holds.
func (s *Store) BallotSetStatusAndWaits(ctx context.Context, key, status string, at time.Time, waits []NoticeWait) error {
	seqs, channels, dues, err := noticeWaitArgs(waits)
	if err != nil {
		return err
	}
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		batch := &pgx.Batch{}
		var found [2]bool
		batch.Queue(ballotSetStatusSQL, key, status, at).QueryRow(func(row pgx.Row) error { return row.Scan(&found[0]) })
		batch.Queue(noticeWaitsSetSQL, key, seqs, channels, dues).QueryRow(func(row pgx.Row) error { return row.Scan(&found[1]) })
		if err := tx.SendBatch(ctx, batch).Close(); err != nil {
			return fmt.Errorf("set ballot status and notice waits: %w", err)
		}
		if !found[0] || !found[1] {
			return fmt.Errorf("ballot %s: %w", key, ErrNotFound)
		}
		return nil
	})
}

// NoticeWaitCount is how many notices wait on one channel, and the earliest time one of
// them may go.
type NoticeWaitCount struct {
	Channel  string
	Count    int64
	Earliest time.Time
}

// NoticeWaitCounts counts the recorded waits by channel.
func (s *Store) NoticeWaitCounts(ctx context.Context) ([]NoticeWaitCount, error) {
	rows, err := s.pool.Query(ctx, `SELECT channel, count(*), min(due_at) FROM notice_waits GROUP BY channel ORDER BY channel`)
	if err != nil {
		return nil, fmt.Errorf("count notice waits: %w", err)
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (NoticeWaitCount, error) {
		var c NoticeWaitCount
		err := row.Scan(&c.Channel, &c.Count, &c.Earliest)
		return c, err
	})
}

// NoticeWaitPrune removes waits due before cutoff. A delivery removes its row when it
// starts, so a row long past its time belongs to a workflow an operator terminated or reset.
func (s *Store) NoticeWaitPrune(ctx context.Context, cutoff time.Time) (int64, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM notice_waits WHERE due_at < $1`, cutoff)
	if err != nil {
		return 0, fmt.Errorf("prune notice waits: %w", err)
	}
	if _, err := s.pool.Exec(ctx, `DELETE FROM notice_releases WHERE due_at < $1`, cutoff); err != nil {
		return 0, fmt.Errorf("prune notice releases: %w", err)
	}
	return tag.RowsAffected(), nil
}

// NoticeRelease is a held notice's place in the queue of its channel and instant: Place is
// how many notices took a place in that queue before it (0 for the first).
type NoticeRelease struct {
	Channel string
	DueAt   time.Time
	Place   int64
}

// NoticeReleaseTake gives each held notice (a channel and the instant its contact hours open)
// the next place in that channel's and instant's queue, in one transaction. A place taken
// twice (a retried call) leaves a gap: its notice goes a moment later, never with another.
func (s *Store) NoticeReleaseTake(ctx context.Context, releases []NoticeRelease) ([]NoticeRelease, error) {
	if len(releases) > MaxNoticeWaits {
		return nil, fmt.Errorf("%d notice releases for one ballot: at most %d", len(releases), MaxNoticeWaits)
	}
	out := slices.Clone(releases)
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		batch := &pgx.Batch{}
		for i, r := range out {
			batch.Queue(`
				INSERT INTO notice_releases (channel, due_at, taken) VALUES ($1, $2, 1)
				ON CONFLICT (channel, due_at) DO UPDATE SET taken = notice_releases.taken + 1
				RETURNING taken - 1`, r.Channel, r.DueAt).QueryRow(func(row pgx.Row) error {
				return row.Scan(&out[i].Place)
			})
		}
		return tx.SendBatch(ctx, batch).Close()
	})
	if err != nil {
		return nil, fmt.Errorf("take notice release places: %w", err)
	}
	return out, nil
}
