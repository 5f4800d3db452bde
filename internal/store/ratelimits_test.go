package store_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ballotflow/ballotflow/internal/store"
	"github.com/ballotflow/ballotflow/internal/testdb"
)

func TestRateLimitsCountInFixedWindows(t *testing.T) {
	t.Parallel()
	bg := context.Background()
	st := testdb.Open(t)
	limit := store.RateLimit{Key: "someone", Max: 2, Window: time.Hour}
	for i := 0; i < 2; i++ {
		wait, err := st.RateLimitHit(bg, limit)
		require.NoError(t, err)
		require.Zero(t, wait, "hit %d", i+1)
	}
	wait, err := st.RateLimitHit(bg, limit, store.RateLimit{Key: "someone else", Max: 2, Window: time.Minute})
	require.NoError(t, err)
	require.Positive(t, wait)
	require.LessOrEqual(t, wait, time.Hour)
	// An old window no longer counts.
	_, err = st.Pool().Exec(bg, `UPDATE portal_rate_limits SET window_start = window_start - interval '2 hours'`)
	require.NoError(t, err)
	wait, err = st.RateLimitHit(bg, limit)
	require.NoError(t, err)
	require.Zero(t, wait)
	require.NoError(t, st.PortalPrune(bg))
}

func TestCountRateLimitsCountsAllOrNoneAndGivesHitsBack(t *testing.T) {
	t.Parallel()
	bg := context.Background()
	st := testdb.Open(t)
	tight := store.RateLimit{Key: "tight", Max: 1, Window: time.Hour}
	loose := store.RateLimit{Key: "loose", Max: 100, Window: time.Hour}
	hitsOf := func() int {
		var n int
		require.NoError(t, st.Pool().QueryRow(bg, `SELECT coalesce(sum(hits), 0) FROM portal_rate_limits`).Scan(&n))
		return n
	}
	first, waits, err := st.RateLimitCount(bg, loose, tight)
	require.NoError(t, err)
	require.Equal(t, []time.Duration{0, 0}, waits)
	require.Len(t, first, 2)
	require.Equal(t, 2, hitsOf())

	// tight is used up: nothing is counted, not even against loose, and waits say which.
	counted, waits, err := st.RateLimitCount(bg, loose, tight)
	require.NoError(t, err)
	require.Nil(t, counted)
	require.Zero(t, waits[0])
	require.Positive(t, waits[1])
	require.LessOrEqual(t, waits[1], time.Hour)
	require.Equal(t, 2, hitsOf(), "a refused request counts nothing")

	// Given back, tight allows one more.
	require.NoError(t, st.RateLimitUncount(bg, first...))
	require.Zero(t, hitsOf())
	again, waits, err := st.RateLimitCount(bg, loose, tight)
	require.NoError(t, err)
	require.Equal(t, []time.Duration{0, 0}, waits, "tight's hit was given back")
	require.Len(t, again, 2)
	require.Equal(t, 2, hitsOf())
}

func TestCountRateLimitsNeverLetsMoreThanMaxThroughConcurrently(t *testing.T) {
	t.Parallel()
	bg := context.Background()
	st := testdb.Open(t)
	limit := store.RateLimit{Key: "one name and ZIP", Max: 5, Window: time.Hour}
	var wg sync.WaitGroup
	var mu sync.Mutex
	passed := 0
	for i := range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, waits, err := st.RateLimitCount(bg, limit, store.RateLimit{Key: fmt.Sprint("client ", i), Max: 10, Window: time.Hour})
			if err != nil { // require would not stop the test from this goroutine
				t.Error(err)
				return
			}
			if waits[0] == 0 {
				mu.Lock()
				passed++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	require.Equal(t, 5, passed)
}
