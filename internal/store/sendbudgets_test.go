package store_test

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ballotflow/ballotflow/internal/store"
	"github.com/ballotflow/ballotflow/internal/testdb"
)

// The shared send budget never grants more than its burst plus its rate for the time that
// passed, however many workers lease from it at once, and starts empty.
func TestSendBudgetGrantsNoMoreThanBurstPlusRate(t *testing.T) {
	st := testdb.Open(t)
	const rate, burst = 50.0, 25.0
	got, err := st.SendBudgetLease(ctx, "sms", rate, burst, 1000)
	require.NoError(t, err)
	require.LessOrEqual(t, got, int(burst), "a bucket never holds more than its burst")

	began := time.Now()
	var granted atomic.Int64
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for time.Since(began) < 600*time.Millisecond {
				n, err := st.SendBudgetLease(ctx, "sms", rate, burst, 10)
				if err != nil {
					t.Error(err)
					return
				}
				granted.Add(int64(n))
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(began).Seconds()
	require.LessOrEqual(t, float64(granted.Load()), burst+rate*elapsed+1,
		"granted %d in %.2fs at %v/s with burst %v", granted.Load(), elapsed, rate, burst)
	require.Greater(t, granted.Load(), int64(0), "the budget refills")

	// Other channels have budgets of their own.
	n, err := st.SendBudgetLease(ctx, "email", 1000, 1000, 5)
	require.NoError(t, err)
	require.LessOrEqual(t, n, 5)
}

// Nonsense asks are refused with the reason, and an unknown channel is not found.
func TestSendBudgetRefusesBadAsks(t *testing.T) {
	st := testdb.Open(t)
	for _, c := range []struct {
		rate, burst float64
		want        int
	}{{0, 1, 1}, {10, 0.5, 1}, {10, 10, 0}, {10, 10, 1_000_000}} {
		_, err := st.SendBudgetLease(ctx, "sms", c.rate, c.burst, c.want)
		require.Error(t, err, "%+v", c)
	}
	_, err := st.SendBudgetLease(ctx, "fax", 10, 10, 1)
	require.ErrorIs(t, err, store.ErrNotFound)
}
