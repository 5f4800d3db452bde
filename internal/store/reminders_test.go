package store_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ballotflow/ballotflow/internal/store"
)

// A county's reminders are validated with the field named, saved in order, and read back;
// a county that set none has none.
func TestRemindersAreValidatedSavedAndReadBack(t *testing.T) {
	st, _ := setup(t)
	none, err := st.RemindersGet(ctx, "e1", "CO", "denver")
	require.NoError(t, err)
	require.Empty(t, none.ReturnDays)
	require.Equal(t, "19:00", none.ReturnsClose)

	for _, bad := range []store.Reminders{
		{ReturnDays: []int{0}}, {ReturnDays: []int{61}}, {CureDays: []int{31}}, {ReturnDays: []int{7, 7}},
		{ReturnDays: []int{1, 2, 3, 4, 5, 6}}, {ReturnsClose: "7pm"}, {ReturnsClose: "24:00"}, {RemindAt: "25:00"},
	} {
		bad.ElectionID, bad.State, bad.County = "e1", "CO", "denver"
		_, err := st.RemindersSave(ctx, bad, "test")
		require.Error(t, err, "%+v", bad)
	}
	_, err = st.RemindersSave(ctx, store.Reminders{ElectionID: "e1", State: "CA", County: "denver", ReturnDays: []int{7}}, "test")
	require.ErrorIs(t, err, store.ErrNotFound, "an election of another state")

	saved, err := st.RemindersSave(ctx, store.Reminders{ElectionID: "e1", State: "CO", County: "denver",
		ReturnDays: []int{2, 7}, CureDays: []int{1, 3}, ReturnsClose: "19:00"}, "county-key:1")
	require.NoError(t, err)
	require.Equal(t, []int{7, 2}, saved.ReturnDays, "most days first")
	got, err := st.RemindersGet(ctx, "e1", "CO", "denver")
	require.NoError(t, err)
	require.Equal(t, []int{7, 2}, got.ReturnDays)
	require.Equal(t, []int{3, 1}, got.CureDays)
	require.Equal(t, "19:00", got.ReturnsClose)
	require.Equal(t, "10:00", got.RemindAt, "the default")
	require.Equal(t, "county-key:1", got.UpdatedBy)
}
