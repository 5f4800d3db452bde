package store_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ballotflow/ballotflow/internal/store"
)

func waitCounts(t *testing.T, st *store.Store) map[string]int64 {
	t.Helper()
	counts, err := st.NoticeWaitCounts(ctx)
	require.NoError(t, err)
	out := map[string]int64{}
	for _, c := range counts {
		out[c.Channel] = c.Count
	}
	return out
}

// The held notices a workflow records are exactly its last set; a delivery that starts
// removes its own; a status and its set are written together.
func TestNoticeWaitsAreTheWorkflowsLastSetLessWhatStarted(t *testing.T) {
	st, v := setup(t)
	at := time.Date(2026, 10, 10, 12, 0, 0, 0, time.UTC)
	rec, err := st.BallotEventRecord(ctx, event(v, "ev1", "mailed", at))
	require.NoError(t, err)
	key := rec.Ballot.Key
	eight := at.Add(20 * time.Hour)

	require.NoError(t, st.BallotSetStatusAndWaits(ctx, key, "mailed", at, []store.NoticeWait{
		{Seq: 1, Channel: "sms", DueAt: eight}, {Seq: 1, Channel: "voice", DueAt: eight}}))
	require.Equal(t, map[string]int64{"sms": 1, "voice": 1}, waitCounts(t, st))
	b, err := st.BallotGetByKey(ctx, key)
	require.NoError(t, err)
	require.Equal(t, "mailed", b.Status, "the status is written with the set")

	// The voice channel is turned off and the text moved: the set replaces what was there.
	require.NoError(t, st.NoticeWaitSet(ctx, key, []store.NoticeWait{{Seq: 1, Channel: "sms", DueAt: eight.Add(2 * time.Hour)}}))
	counts, err := st.NoticeWaitCounts(ctx)
	require.NoError(t, err)
	require.Len(t, counts, 1)
	require.True(t, counts[0].Earliest.Equal(eight.Add(2*time.Hour)), "moved, not added")

	// The text starts: its row goes with the delivery row, in the same statement.
	_, err = st.DeliveryBegin(ctx, store.Delivery{IdempotencyKey: key + "/1/sms", BallotRef: b.Ref, VoterRef: v.Ref,
		NoticeSeq: 1, NoticeStatus: "mailed", Channel: "sms"})
	require.NoError(t, err)
	require.Empty(t, waitCounts(t, st))

	// Retried calls write the same thing; an empty set clears.
	require.NoError(t, st.NoticeWaitSet(ctx, key, []store.NoticeWait{{Seq: 2, Channel: "email", DueAt: eight}}))
	require.NoError(t, st.NoticeWaitSet(ctx, key, []store.NoticeWait{{Seq: 2, Channel: "email", DueAt: eight}}))
	require.Equal(t, map[string]int64{"email": 1}, waitCounts(t, st))
	require.NoError(t, st.NoticeWaitSet(ctx, key, nil))
	require.Empty(t, waitCounts(t, st))

	// Refused whole: an unknown ballot, a bad notice number, an unknown channel, too many.
	require.ErrorIs(t, st.NoticeWaitSet(ctx, "bnope", nil), store.ErrNotFound)
	require.Error(t, st.NoticeWaitSet(ctx, key, []store.NoticeWait{{Seq: 0, Channel: "sms", DueAt: eight}}))
	require.Error(t, st.NoticeWaitSet(ctx, key, []store.NoticeWait{{Seq: 3, Channel: "fax", DueAt: eight}}))
	many := make([]store.NoticeWait, store.MaxNoticeWaits+1)
	for i := range many {
		many[i] = store.NoticeWait{Seq: i + 1, Channel: "sms", DueAt: eight}
	}
	require.Error(t, st.NoticeWaitSet(ctx, key, many))
	require.Error(t, st.BallotSetStatusAndWaits(ctx, key, "received", at.Add(time.Hour), many))
	b, err = st.BallotGetByKey(ctx, key)
	require.NoError(t, err)
	require.Equal(t, "mailed", b.Status, "nothing written when the set is refused")
	require.Empty(t, waitCounts(t, st))

	// Rows long past their time (a terminated workflow's) are pruned; others stay.
	require.NoError(t, st.NoticeWaitSet(ctx, key, []store.NoticeWait{{Seq: 4, Channel: "sms", DueAt: at}, {Seq: 5, Channel: "sms", DueAt: eight}}))
	n, err := st.NoticeWaitPrune(ctx, at.Add(time.Hour))
	require.NoError(t, err)
	require.EqualValues(t, 1, n)
	require.Equal(t, map[string]int64{"sms": 1}, waitCounts(t, st))
}
