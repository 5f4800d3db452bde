package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
)

// Rate limits are fixed-window counters in PostgreSQL, so that every API replica shares
// them. A bucket is stored as keyed_hash(sha256(key)) (migration 009): the table holds no
// name, ZIP or address, and no hash that hashing every name or every ZIP would reverse.

// RateLimit is one fixed-window counter: at most Max hits per Window for Key. Key may name
// a client address or a person; it is never stored.
type RateLimit struct {
	Key    string
	Max    int
	Window time.Duration
	// Shared marks a bucket that every request counts against (a global circuit breaker).
	// Shared buckets are locked last, so that a request holds their row only for its commit
	// and not while it counts its other buckets: every lookup of every replica waits on it.
	Shared bool
}

// RateCount is one counted hit, which RateLimitUncount can give back.
type RateCount struct {
	keyHash     []byte // sha256 of the key: with shared, the order rows are locked in
	shared      bool
	windowStart time.Time
}

// lockOrder is the one order buckets are locked in, in every transaction, so that two
// requests that share buckets never deadlock: the requests' own buckets by their keys'
// hashes, then the shared ones.
func lockOrder(aHash, bHash []byte, aShared, bShared bool) int {
	switch {
	case aShared != bShared && aShared:
		return 1
	case aShared != bShared:
		return -1
	}
	return bytes.Compare(aHash, bHash)
}

// countSQL counts one hit in the window that holds now() and answers the count and the
// seconds left in the window.
const countSQL = `
	INSERT INTO portal_rate_limits (bucket, window_start, hits)
	VALUES (keyed_hash($1), date_bin(make_interval(secs => $2), now(), timestamptz 'epoch'), 1)
	ON CONFLICT (bucket, window_start) DO UPDATE SET hits = portal_rate_limits.hits + 1
	RETURNING window_start, hits, extract(epoch FROM window_start + make_interval(secs => $2) - now())::float8`

// RateLimitHit counts one hit against each limit, whatever the outcome. It returns 0 when
// every limit still allows the hit, else how long until the latest exceeded window ends.
func (s *Store) RateLimitHit(ctx context.Context, limits ...RateLimit) (time.Duration, error) {
	var wait time.Duration
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var err error
		_, wait, err = countLimits(ctx, tx, limits)
		return err
	})
	return wait, err
}

// RateLimitCount counts one hit against each limit, all or none. When some are exceeded
// nothing is counted and waits[i] says, for each exceeded limit i, how long until its window
// ends; so a refused request never uses up what a voter is allowed. A request that turns
// out not to count (a lookup that found its voter) gives its hits back with
// RateLimitUncount; counted[i] is the hit of limits[i]. Concurrent calls serialize on each
// bucket's row, so no more than Max hits ever pass in a window.
func (s *Store) RateLimitCount(ctx context.Context, limits ...RateLimit) (counted []RateCount, waits []time.Duration, err error) {
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		var err error
		counted, waits, err = countEach(ctx, tx, limits)
		if err == nil && slices.ContainsFunc(waits, func(w time.Duration) bool { return w > 0 }) {
			counted = nil
			return errRollback
		}
		return err
	})
	if errors.Is(err, errRollback) {
		err = nil
	}
	return counted, waits, err
}

// errRollback ends a transaction without an error for the caller.
var errRollback = errors.New("roll back")

// countLimits counts one hit per limit in tx and returns the longest wait of the exceeded.
func countLimits(ctx context.Context, tx pgx.Tx, limits []RateLimit) ([]RateCount, time.Duration, error) {
	counted, waits, err := countEach(ctx, tx, limits)
	if err != nil {
		return nil, 0, err
	}
	var wait time.Duration
	for _, w := range waits {
		wait = max(wait, w)
	}
	return counted, wait, nil
}

// countEach counts one hit per limit in tx, answering per limit (in the order given) the hit
// and, when the limit is exceeded, how long until its window ends. Rows are locked in the
// one lockOrder, the same in every transaction, so two requests that share buckets never
// deadlock.
func countEach(ctx context.Context, tx pgx.Tx, limits []RateLimit) ([]RateCount, []time.Duration, error) {
	hashes := make([][32]byte, len(limits))
	order := make([]int, len(limits))
	for i, l := range limits {
		hashes[i], order[i] = sha256.Sum256([]byte(l.Key)), i
	}
	slices.SortFunc(order, func(a, b int) int { return lockOrder(hashes[a][:], hashes[b][:], limits[a].Shared, limits[b].Shared) })
	counted := make([]RateCount, len(limits))
	waits := make([]time.Duration, len(limits))
	for _, i := range order {
		counted[i].keyHash, counted[i].shared = hashes[i][:], limits[i].Shared
		var hits int
		var left float64
		if err := tx.QueryRow(ctx, countSQL, hashes[i][:], limits[i].Window.Seconds()).Scan(&counted[i].windowStart, &hits, &left); err != nil {
			return nil, nil, fmt.Errorf("rate limit: %w", err)
		}
		if hits > limits[i].Max {
			waits[i] = max(time.Duration(left*float64(time.Second)), time.Second)
		}
	}
	return counted, waits, nil
}

// RateLimitUncount gives back hits counted by RateLimitCount, in the windows they were
// counted in.
func (s *Store) RateLimitUncount(ctx context.Context, counted ...RateCount) error {
	if len(counted) == 0 {
		return nil
	}
	ordered := slices.Clone(counted)
	slices.SortFunc(ordered, func(a, b RateCount) int { return lockOrder(a.keyHash, b.keyHash, a.shared, b.shared) })
	return s.inTx(ctx, func(tx pgx.Tx) error {
		for _, c := range ordered {
			_, err := tx.Exec(ctx, `UPDATE portal_rate_limits SET hits = greatest(hits - 1, 0) WHERE bucket = keyed_hash($1) AND window_start = $2`,
				c.keyHash, c.windowStart)
			if err != nil {
				return fmt.Errorf("give back rate limit hit: %w", err)
			}
		}
		return nil
	})
}
