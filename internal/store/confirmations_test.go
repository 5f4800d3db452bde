package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ballotflow/ballotflow/internal/demo"
	"github.com/ballotflow/ballotflow/internal/store"
	"github.com/ballotflow/ballotflow/internal/testdb"
)

func TestEmailConfirmationLinksAreOneLivePerSubscription(t *testing.T) {
	t.Parallel()
	bg := context.Background()
	st := testdb.Open(t)
	require.NoError(t, demo.Seed(bg, st, time.Now()))
	sam, err := st.VoterGetByID(bg, "CO", "600200001")
	require.NoError(t, err)
	saved, err := st.SubscriptionSavePreferences(bg, sam.Ref, store.PortalPreferences{Email: &store.ChannelChoice{Enabled: true, Address: "sam.2@example.org"}})
	require.NoError(t, err)
	sub := saved.Confirm[0].SubscriptionID
	for _, token := range []string{"one", "two", "three"} {
		require.NoError(t, st.EmailConfirmationCreate(bg, sub, token, time.Now().Add(time.Hour)))
	}
	_, err = st.EmailConfirmationUse(bg, "one")
	require.ErrorIs(t, err, store.ErrConfirmationInvalid, "a newer link replaced it")
	_, err = st.EmailConfirmationUse(bg, "two")
	require.ErrorIs(t, err, store.ErrConfirmationInvalid)
	ref, err := st.EmailConfirmationUse(bg, "three")
	require.NoError(t, err)
	require.Equal(t, sam.Ref, ref)
}

// Only the newest confirmation of a subscription, asked for its address now, is delivered,
// once, by one workflow.
func TestClaimConfirmationDeliversTheNewestForTheCurrentAddressOnce(t *testing.T) {
	t.Parallel()
	bg := context.Background()
	st := testdb.Open(t)
	require.NoError(t, demo.Seed(bg, st, time.Now()))
	sam, err := st.VoterGetByID(bg, "CO", "600200001")
	require.NoError(t, err)
	save := func(phone string) store.Confirmation {
		saved, err := st.SubscriptionSavePreferences(bg, sam.Ref, store.PortalPreferences{SMS: &store.ChannelChoice{Enabled: true, Address: phone}})
		require.NoError(t, err)
		require.Len(t, saved.Confirm, 1)
		return saved.Confirm[0]
	}
	first := save("+13035550181")
	second := save("+13035550182")
	require.Equal(t, first.SubscriptionID, second.SubscriptionID)
	require.NotEqual(t, first.SendID, second.SendID)

	_, owed, err := st.ConfirmationClaim(bg, second.SubscriptionID, "sms", "+13035550181", "workflow:a")
	require.NoError(t, err)
	require.False(t, owed, "the earlier address is not owed a confirmation any more")
	id, owed, err := st.ConfirmationClaim(bg, second.SubscriptionID, "sms", "+13035550182", "workflow:a")
	require.NoError(t, err)
	require.True(t, owed)
	require.Equal(t, second.SendID, id)
	_, owed, err = st.ConfirmationClaim(bg, second.SubscriptionID, "sms", "+13035550182", "workflow:b")
	require.NoError(t, err)
	require.False(t, owed, "another workflow may not deliver it too")
	_, owed, err = st.ConfirmationClaim(bg, second.SubscriptionID, "sms", "+13035550182", "workflow:a")
	require.NoError(t, err)
	require.True(t, owed, "the claiming workflow's retry may")
	require.NoError(t, st.ConfirmationMarkDelivered(bg, id))
	_, owed, err = st.ConfirmationClaim(bg, second.SubscriptionID, "sms", "+13035550182", "workflow:a")
	require.NoError(t, err)
	require.False(t, owed, "delivered once")
}

// A confirmation whose workflow could not be started is forgotten: the next save asks
// again. But the start may have reached Temporal after all, and that workflow must find its
// send taken, not "no record, so owed" (which would send it uncounted, and once more for the
// save that asks again).
func TestAForgottenConfirmationIsNeverDelivered(t *testing.T) {
	t.Parallel()
	bg := context.Background()
	st := testdb.Open(t)
	require.NoError(t, demo.Seed(bg, st, time.Now()))
	sam, err := st.VoterGetByID(bg, "CO", "600200001")
	require.NoError(t, err)
	saved, err := st.SubscriptionSavePreferences(bg, sam.Ref, store.PortalPreferences{SMS: &store.ChannelChoice{Enabled: true, Address: "+13035550183"}})
	require.NoError(t, err)
	require.Len(t, saved.Confirm, 1)
	require.NoError(t, st.ConfirmationForget(bg, saved.Confirm))
	for _, claimer := range []string{"workflow:late", "workflow:other"} {
		_, owed, err := st.ConfirmationClaim(bg, saved.Confirm[0].SubscriptionID, "sms", "+13035550183", claimer)
		require.NoError(t, err)
		require.False(t, owed, claimer)
	}
}
