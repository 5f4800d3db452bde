package activities

import (
	"context"
	"errors"
	"math"
	"sync"
	"time"
)

// Budget is one channel's share of its provider account's rate, across every worker. The
// task queues' server-side rate limits (TaskQueueActivitiesPerSecond) only see queued
// activities; a delivery's first try runs as a local activity (SendNow) that they never
// see, so every send of a channel, local or queued, first takes a token here. The tokens
// live in PostgreSQL (send_budgets); a process leases a fifth of a second's worth at a
// time and lets what it did not spend lapse after leaseLife, so a worker that stops takes
// little with it and the rate holds however many workers run.
type Budget struct {
	// Lease takes up to want sends from the shared budget, which fills at rate a second up
	// to burst (store.Store.SendBudgetLease).
	Lease   func(ctx context.Context, channel string, rate, burst float64, want int) (int, error)
	Channel string
	Rate    float64 // sends a second across all workers
	Now     func() time.Time

	mu       sync.Mutex
	tokens   int
	expires  time.Time
	dryUntil time.Time
}

const (
	leaseSpan = 200 * time.Millisecond // how much of a second's rate one lease asks for
	leaseLife = time.Second            // when leased tokens not yet spent lapse
	// burstSpan is how much of a second's rate the shared bucket holds at most. Half a
	// second keeps a backlog's opening under a provider's one-second burst even while
	// leased tokens are still being spent.
	burstSpan = 500 * time.Millisecond
	maxLease  = 1000
)

// ErrBudgetWait is TakeWithin's error when the budget stayed spent for the whole wait.
var ErrBudgetWait = errors.New("the channel's send rate is spent; try again shortly")

// TryTake takes one send if the budget has one now. It reaches PostgreSQL only when this
// process's leased tokens are spent, and not again until the budget could have refilled.
func (b *Budget) TryTake(ctx context.Context) (bool, error) {
	if b == nil {
		return true, nil // no budget: unlimited (tests of a single activity)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.now()
	if b.tokens > 0 && now.Before(b.expires) {
		b.tokens--
		return true, nil
	}
	if now.Before(b.dryUntil) {
		return false, nil
	}
	want := int(math.Ceil(b.Rate * leaseSpan.Seconds()))
	want = min(max(want, 1), maxLease)
	burst := max(b.Rate*burstSpan.Seconds(), 1)
	got, err := b.Lease(ctx, b.Channel, b.Rate, burst, want)
	if err != nil {
		return false, err
	}
	if got == 0 {
		// Nothing until the bucket has had time to refill a token (at least 5 ms).
		b.tokens, b.dryUntil = 0, now.Add(max(time.Duration(float64(time.Second)/b.Rate), 5*time.Millisecond))
		return false, nil
	}
	b.tokens, b.expires = got-1, now.Add(leaseLife)
	return true, nil
}

// TakeWithin waits up to wait for a send, polling the budget at its own pace. It returns
// ErrBudgetWait when none came.
func (b *Budget) TakeWithin(ctx context.Context, wait time.Duration) error {
	if b == nil {
		return nil
	}
	deadline := b.now().Add(wait)
	for {
		ok, err := b.TryTake(ctx)
		if ok || err != nil {
			return err
		}
		pause := 10 * time.Millisecond
		if b.Rate > 0 {
			pause = max(pause, min(time.Duration(float64(time.Second)/b.Rate), 250*time.Millisecond))
		}
		if b.now().Add(pause).After(deadline) {
			return ErrBudgetWait
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(pause):
		}
	}
}

func (b *Budget) now() time.Time {
	if b.Now != nil {
		return b.Now()
	}
	return time.Now()
}

// NewBudgets returns a budget for each channel with a positive rate, leasing from lease.
func NewBudgets(lease func(ctx context.Context, channel string, rate, burst float64, want int) (int, error),
	rates map[string]float64) map[string]*Budget {
	out := map[string]*Budget{}
	for channel, rate := range rates {
		if rate > 0 {
			out[channel] = &Budget{Lease: lease, Channel: channel, Rate: rate}
		}
	}
	return out
}
