package store_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ballotflow/ballotflow/internal/store"
)

// TestInboundSMSActsOncePerMessageSidWithinTheRetention: an inbound text changes
// subscriptions once per MessageSid; the sid is forgotten only after the retention, and a
// prune keeps everything younger.
func TestInboundSMSActsOncePerMessageSidWithinTheRetention(t *testing.T) {
	st, v := setup(t)
	const phone = "+13035550142"
	require.NoError(t, st.SubscriptionUpsert(ctx, store.Subscription{VoterRef: v.Ref, Channel: "sms", Address: phone,
		State: "active", Source: "portal"}))
	stop := store.InboundSMS{MessageSID: "SMstop", Phone: phone, From: []string{"active"}, To: "opted_out",
		Actor: "provider:twilio", Reason: "sms keyword STOP"}
	start := store.InboundSMS{MessageSID: "SMstart", Phone: phone, From: []string{"opted_out"}, To: "active",
		Actor: "provider:twilio", Reason: "sms keyword START"}
	smsState := func() string {
		subs, err := st.SubscriptionListByVoter(ctx, v.Ref)
		require.NoError(t, err)
		for _, s := range subs {
			if s.Channel == "sms" {
				return s.State
			}
		}
		return ""
	}

	changed, dup, err := st.InboundMessageApply(ctx, stop)
	require.NoError(t, err)
	require.False(t, dup)
	require.Equal(t, []int64{v.Ref}, changed)
	_, _, err = st.InboundMessageApply(ctx, start)
	require.NoError(t, err)
	changed, dup, err = st.InboundMessageApply(ctx, stop)
	require.NoError(t, err)
	require.True(t, dup, "the same MessageSid again is a replay")
	require.Empty(t, changed)
	require.Equal(t, "active", smsState())

	_, _, err = st.InboundMessageApply(ctx, store.InboundSMS{Phone: phone})
	require.Error(t, err, "a text without its MessageSid cannot be recorded")

	n, err := st.InboundMessagePrune(ctx, time.Now().Add(-store.InboundMessageRetention))
	require.NoError(t, err)
	require.Zero(t, n, "nothing is older than the retention yet")
	_, dup, err = st.InboundMessageApply(ctx, stop)
	require.NoError(t, err)
	require.True(t, dup)

	n, err = st.InboundMessagePrune(ctx, time.Now().Add(time.Minute))
	require.NoError(t, err)
	require.EqualValues(t, 2, n)
}
