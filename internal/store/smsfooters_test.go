package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestTheSMSFooterGoesOnTheFirstTextAndOnceAPeriod(t *testing.T) {
	st, _ := setup(t)
	ctx := context.Background()
	const from, phone, period = "+17205550100", "+13035550101", 30 * 24 * time.Hour
	t0 := time.Date(2026, 10, 1, 9, 0, 0, 0, time.UTC)

	due, err := st.SMSFooterClaim(ctx, from, phone, "b1/1/sms", period, t0)
	require.NoError(t, err)
	require.True(t, due, "the first text to a number")
	due, err = st.SMSFooterClaim(ctx, from, phone, "b1/1/sms", period, t0.Add(time.Minute))
	require.NoError(t, err)
	require.True(t, due, "a retry of the same delivery carries it again")
	due, err = st.SMSFooterClaim(ctx, from, phone, "b1/2/sms", period, t0.Add(24*time.Hour))
	require.NoError(t, err)
	require.False(t, due, "not on the next text")
	due, err = st.SMSFooterClaim(ctx, from, "+13035550102", "b2/1/sms", period, t0.Add(24*time.Hour))
	require.NoError(t, err)
	require.True(t, due, "another number")
	due, err = st.SMSFooterClaim(ctx, "+17205550199", phone, "b3/1/sms", period, t0.Add(24*time.Hour))
	require.NoError(t, err)
	require.True(t, due, "another county's number")
	due, err = st.SMSFooterClaim(ctx, from, phone, "b1/3/sms", period, t0.Add(period+time.Minute))
	require.NoError(t, err)
	require.True(t, due, "a period later")

	// A confirmation says how to stop: the next notice needs no footer.
	require.NoError(t, st.SMSFooterRecord(ctx, from, "+13035550103", t0))
	due, err = st.SMSFooterClaim(ctx, from, "+13035550103", "b4/1/sms", period, t0.Add(time.Hour))
	require.NoError(t, err)
	require.False(t, due)

	var stored int
	require.NoError(t, st.Pool().QueryRow(ctx, `SELECT count(*) FROM sms_footers WHERE position(convert_to('3035550', 'UTF8') in destination) > 0`).Scan(&stored))
	require.Zero(t, stored, "no phone number is stored")
	n, err := st.SMSFooterForget(ctx, t0.Add(period))
	require.NoError(t, err)
	require.EqualValues(t, 3, n)
}
