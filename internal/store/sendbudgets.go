package store

import (
	"context"
	"errors"
	"fmt"
	"math"

	"github.com/jackc/pgx/v5"
)

// sendBudgetLeaseSQL refills the channel's bucket for the time since it was last touched
// (at most to the burst), grants up to the wanted number of whole tokens, and keeps the
// rest, in one statement under the row's lock. now() is when the transaction began, which
// for a leaser that waited on the lock is before the time the last one wrote: the refill
// never counts back and refilled_at never moves back, or that span would be granted twice.
const sendBudgetLeaseSQL = `
	WITH cur AS (
		SELECT channel, least($3::float8, tokens + $2::float8 * greatest(extract(epoch FROM now() - refilled_at)::float8, 0)) AS avail
		FROM send_budgets WHERE channel = $1 FOR UPDATE
	), granted AS (
		SELECT channel, avail, least(floor(avail), $4::float8) AS n FROM cur
	)
	UPDATE send_budgets b SET tokens = granted.avail - granted.n, refilled_at = greatest(b.refilled_at, now())
	FROM granted WHERE b.channel = granted.channel
	RETURNING granted.n::int`

// SendBudgetLease takes up to want sends from the channel's shared budget, which fills at
// rate a second up to burst, and returns how many it got (0 when the budget is spent).
func (s *Store) SendBudgetLease(ctx context.Context, channel string, rate, burst float64, want int) (int, error) {
	switch {
	case want < 1 || want > 100_000:
		return 0, fmt.Errorf("lease send budget: %d sends asked for; between 1 and 100000", want)
	case !(rate > 0) || math.IsInf(rate, 0) || !(burst >= 1) || math.IsInf(burst, 0):
		return 0, fmt.Errorf("lease send budget: rate %v and burst %v: both positive and finite, burst at least 1", rate, burst)
	}
	var got int
	err := s.pool.QueryRow(ctx, sendBudgetLeaseSQL, channel, rate, burst, want).Scan(&got)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, fmt.Errorf("lease send budget: channel %q has no budget: %w", channel, ErrNotFound)
	}
	if err != nil {
		return 0, fmt.Errorf("lease send budget: %w", err)
	}
	return got, nil
}
