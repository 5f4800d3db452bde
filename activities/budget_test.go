package activities_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ballotflow/ballotflow/activities"
	"github.com/ballotflow/ballotflow/internal/ballot"
	"github.com/ballotflow/ballotflow/internal/testdb"
)

// leaser is a shared budget that grants what grant says, counting the asks.
type leaser struct {
	asks  []int
	grant func(want int) int
}

func (l *leaser) lease(_ context.Context, channel string, rate, burst float64, want int) (int, error) {
	l.asks = append(l.asks, want)
	if channel != "sms" || rate != 50 || burst != 25 {
		return 0, errors.New("unexpected lease")
	}
	return l.grant(want), nil
}

// A process leases a fifth of a second's worth of sends, spends them without asking
// again, lets what it did not spend lapse after a second, and after an empty answer does
// not ask again until a token could have come back.
func TestBudgetLeasesInChunksAndLetsThemLapse(t *testing.T) {
	now := time.Date(2026, 11, 3, 8, 0, 0, 0, time.UTC)
	l := &leaser{grant: func(want int) int { return want }}
	b := &activities.Budget{Lease: l.lease, Channel: "sms", Rate: 50, Now: func() time.Time { return now }}

	for range 10 {
		ok, err := b.TryTake(context.Background())
		require.NoError(t, err)
		require.True(t, ok)
	}
	require.Equal(t, []int{10}, l.asks, "one lease of 0.2 s × 50/s for ten sends")

	ok, _ := b.TryTake(context.Background())
	require.True(t, ok)
	require.Len(t, l.asks, 2)
	now = now.Add(1100 * time.Millisecond) // nine leased sends unspent lapse
	l.grant = func(int) int { return 0 }
	ok, _ = b.TryTake(context.Background())
	require.False(t, ok, "lapsed tokens are not spent")
	require.Len(t, l.asks, 3)
	ok, _ = b.TryTake(context.Background())
	require.False(t, ok)
	require.Len(t, l.asks, 3, "no ask while the budget cannot have refilled")
	now = now.Add(20 * time.Millisecond)
	l.grant = func(int) int { return 1 }
	ok, _ = b.TryTake(context.Background())
	require.True(t, ok)
	require.Len(t, l.asks, 4)

	// A wait that the budget never ends is an error the queued delivery retries.
	l.grant = func(int) int { return 0 }
	b2 := &activities.Budget{Lease: l.lease, Channel: "sms", Rate: 50}
	require.ErrorIs(t, b2.TakeWithin(context.Background(), 50*time.Millisecond), activities.ErrBudgetWait)

	// No budget (a channel without a rate) never limits.
	var none *activities.Budget
	ok, err := none.TryTake(context.Background())
	require.NoError(t, err)
	require.True(t, ok)
	require.NoError(t, none.TakeWithin(context.Background(), time.Second))
}

// A first try that finds the channel's budget spent defers without a trace: no provider
// call, no deliveries row; with the budget back, it sends.
func TestSendNowDefersWhenTheBudgetIsSpent(t *testing.T) {
	t.Parallel()
	bg := context.Background()
	st := demoStore(t)
	key := mariaMailed(t, st, "B-BUDGET")

	spent := true
	lease := func(context.Context, string, float64, float64, int) (int, error) {
		if spent {
			return 0, nil
		}
		return 1, nil
	}
	s := &senders{}
	env := activityEnv(&activities.Activities{Store: st, Email: s, Phone: s,
		Budgets: activities.NewBudgets(lease, map[string]float64{ballot.ChannelEmail: 10})})
	n := activities.Notice{IdempotencyKey: key + "/1/email", BallotKey: key, Seq: 1,
		Status: "mailed", Channel: ballot.ChannelEmail}
	v, err := env.ExecuteActivity("SendNow", n)
	require.NoError(t, err)
	var res activities.SendNowResult
	require.NoError(t, v.Get(&res))
	require.Equal(t, activities.DeferredRate, res.Deferred)
	require.Empty(t, s.emails)
	var rows int
	require.NoError(t, st.Pool().QueryRow(bg, `SELECT count(*) FROM deliveries WHERE idempotency_key = $1`,
		n.IdempotencyKey).Scan(&rows))
	require.Zero(t, rows)

	spent = false
	env = activityEnv(&activities.Activities{Store: st, Email: s, Phone: s,
		Budgets: activities.NewBudgets(lease, map[string]float64{ballot.ChannelEmail: 10})})
	v, err = env.ExecuteActivity("SendNow", n)
	require.NoError(t, err)
	require.NoError(t, v.Get(&res))
	require.Empty(t, res.Deferred)
	require.Equal(t, activities.OutcomeSent, res.Result.Outcome)
	require.Len(t, s.emails, 1)
}

// The notices held for the same opening of hours on a channel take places in one queue in
// PostgreSQL (across workers) and wake at the channel's rate; another opening, another
// channel and a channel without a rate have queues of their own or none.
func TestHeldNoticesWakeInTheOrderOfTheMorningsQueueAtTheChannelsRate(t *testing.T) {
	t.Parallel()
	bg := context.Background()
	st := testdb.Open(t)
	lease := func(context.Context, string, float64, float64, int) (int, error) { return 1, nil }
	env := activityEnv(&activities.Activities{Store: st,
		Budgets: activities.NewBudgets(lease, map[string]float64{ballot.ChannelSMS: 100, ballot.ChannelVoice: 2})})
	eight := time.Date(2026, 10, 6, 14, 0, 0, 0, time.UTC)
	eightMT := activities.HeldNotice{Channel: ballot.ChannelSMS, DueAt: eight, NotAfter: eight.Add(12 * time.Hour)}
	release := func(ns ...activities.HeldNotice) []time.Time {
		t.Helper()
		v, err := env.ExecuteActivity("ReleaseHeld", activities.ReleaseHeldInput{Notices: ns})
		require.NoError(t, err)
		var at []time.Time
		require.NoError(t, v.Get(&at))
		require.Len(t, at, len(ns))
		return at
	}
	requireTimes := func(want []time.Time, got []time.Time) {
		t.Helper()
		require.Len(t, got, len(want))
		for i := range want {
			require.True(t, want[i].Equal(got[i]), "place %d: want %s, got %s", i, want[i], got[i])
		}
	}

	requireTimes([]time.Time{eight}, release(eightMT))
	requireTimes([]time.Time{eight.Add(10 * time.Millisecond), eight.Add(20 * time.Millisecond)}, release(eightMT, eightMT))
	for range 97 {
		release(eightMT)
	}
	requireTimes([]time.Time{eight.Add(time.Second)}, release(eightMT)) // the 101st, a second later at 100/s

	eightPT := activities.HeldNotice{Channel: ballot.ChannelSMS, DueAt: eight.Add(time.Hour)}
	requireTimes([]time.Time{eight.Add(time.Hour)}, release(eightPT))
	voice := activities.HeldNotice{Channel: ballot.ChannelVoice, DueAt: eight, NotAfter: eight.Add(time.Second)}
	requireTimes([]time.Time{eight, eight.Add(500 * time.Millisecond), eight}, release(voice, voice, voice))
	email := activities.HeldNotice{Channel: ballot.ChannelEmail, DueAt: eight}
	requireTimes([]time.Time{eight, eight}, release(email, email))

	var places int64
	require.NoError(t, st.Pool().QueryRow(bg, `SELECT taken FROM notice_releases WHERE channel = 'sms' AND due_at = $1`,
		eight).Scan(&places))
	require.EqualValues(t, 101, places)
	_, err := st.NoticeWaitPrune(bg, eight.Add(time.Minute))
	require.NoError(t, err)
	require.NoError(t, st.Pool().QueryRow(bg, `SELECT count(*) FROM notice_releases`).Scan(&places))
	require.EqualValues(t, 1, places, "the queues of past openings are pruned with the waits")
}
