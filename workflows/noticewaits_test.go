package workflows_test

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/workflow"

	"github.com/ballotflow/ballotflow/activities"
	"github.com/ballotflow/ballotflow/internal/ballot"
	"github.com/ballotflow/ballotflow/workflows"
	"github.com/ballotflow/ballotflow/workflows/contract"
)

// The notices held for contact hours are written to PostgreSQL (the "notices waiting" gauge
// reads them there, whatever worker restarted since): with the status move that planned
// them, again only when they change otherwise, never for a notice that goes at once.

func TestHeldTextIsRecordedWithTheStatusThatPlannedIt(t *testing.T) {
	h := newHarness(t, day(0, 9, 0), emailSMS())
	h.signal(day(0, 12, 0), ballot.StatusMailed)    // by day: both go at once, nothing held
	h.signal(day(0, 22, 30), ballot.StatusReceived) // at night: the text waits for 08:00
	h.signal(day(1, 12, 0), ballot.StatusCounted)
	h.run()

	calls := h.f.waitsCalls()
	require.Len(t, calls, 1, "one write: the held text, with the status that planned it; its delivery removes it")
	require.Equal(t, "RecordStatus", calls[0].By)
	requireAt(t, day(0, 22, 30), calls[0].At)
	require.Len(t, calls[0].Waits, 1)
	require.Equal(t, 2, calls[0].Waits[0].Seq)
	require.Equal(t, ballot.ChannelSMS, calls[0].Waits[0].Channel)
	requireAt(t, day(1, 8, 0), calls[0].Waits[0].DueAt)

	recs := h.f.recorded()
	require.Equal(t, []string{"mailed", "received", "counted"}, recordedStatuses(recs))
	require.False(t, recs[0].SyncWaits, "nothing held, nothing written")
	require.True(t, recs[1].SyncWaits)
	require.False(t, recs[2].SyncWaits, "the text was sent at 08:00 and removed its own row")
}

func TestHeldTextsAreRewrittenWhenTheyChangeWithoutAStatus(t *testing.T) {
	t.Run("new contact hours move the held text", func(t *testing.T) {
		h := newHarness(t, day(0, 9, 0), emailSMS())
		h.signal(day(0, 22, 30), ballot.StatusMailed)
		r := emailSMS()
		r.Channels[1].Window = activities.ContactWindow{Start: "10:00", End: "12:00", TimeZone: "America/Denver"}
		h.prefsChanged(day(0, 23, 0), r)
		h.signal(day(1, 12, 30), ballot.StatusCounted)
		h.run()

		calls := h.f.waitsCalls()
		require.Len(t, calls, 3)
		require.Equal(t, "RecordStatus", calls[0].By)
		requireAt(t, day(1, 8, 0), calls[0].Waits[0].DueAt)
		require.Equal(t, "RecordNoticeWaits", calls[1].By)
		requireAt(t, day(0, 23, 0), calls[1].At)
		require.Len(t, calls[1].Waits, 1)
		requireAt(t, day(1, 10, 0), calls[1].Waits[0].DueAt, "moved to the new window")
		// counted at 12:30 is after the new window: held until 10:00 the next day.
		require.Equal(t, "RecordStatus", calls[2].By)
		require.Len(t, calls[2].Waits, 1)
		require.Equal(t, 2, calls[2].Waits[0].Seq)
		requireAt(t, day(2, 10, 0), calls[2].Waits[0].DueAt)
	})

	t.Run("the text channel turned off empties the set", func(t *testing.T) {
		h := newHarness(t, day(0, 9, 0), emailSMS())
		h.signal(day(0, 22, 30), ballot.StatusMailed)
		h.prefsChanged(day(0, 23, 0), recipient(ballot.ChannelEmail))
		h.signal(day(1, 12, 0), ballot.StatusCounted)
		h.run()

		calls := h.f.waitsCalls()
		require.Len(t, calls, 2)
		require.Equal(t, "RecordNoticeWaits", calls[1].By)
		require.Empty(t, calls[1].Waits)
	})

	t.Run("a replaced ballot's held text goes with the status", func(t *testing.T) {
		h := newHarness(t, day(0, 9, 0), emailSMS())
		h.signal(day(0, 22, 30), ballot.StatusMailed)
		h.signal(day(0, 23, 0), ballot.StatusReplaced)
		h.run()

		calls := h.f.waitsCalls()
		require.Len(t, calls, 2)
		require.Equal(t, "RecordStatus", calls[1].By)
		require.Empty(t, calls[1].Waits)
	})

	t.Run("the canvass closing empties the set", func(t *testing.T) {
		h := newHarness(t, day(0, 9, 0), emailSMS())
		h.in.CanvassEndsAt = day(0, 23, 0)
		h.signal(day(0, 22, 30), ballot.StatusMailed)
		h.run()

		calls := h.f.waitsCalls()
		require.Len(t, calls, 2)
		require.Equal(t, "RecordNoticeWaits", calls[1].By)
		requireAt(t, day(0, 23, 0), calls[1].At)
		require.Empty(t, calls[1].Waits)
	})
}

// A ballot started before the held notices were recorded (version DefaultVersion of the
// change) never runs the new local activity: its history has no such command to replay.
func TestBallotsFromBeforeTheWaitsChangeSkipTheNewActivity(t *testing.T) {
	h := newHarness(t, day(0, 9, 0), emailSMS())
	h.env.OnGetVersion("record-notice-waits", workflow.DefaultVersion, 1).Return(workflow.DefaultVersion)
	h.signal(day(0, 22, 30), ballot.StatusMailed)
	h.prefsChanged(day(0, 23, 0), recipient(ballot.ChannelEmail))
	h.signal(day(1, 12, 0), ballot.StatusCounted)
	h.run()

	for _, c := range h.f.waitsCalls() {
		require.Equal(t, "RecordStatus", c.By, "no RecordNoticeWaits on the old version")
	}
	require.Empty(t, h.f.all(ballot.ChannelSMS), "and the ballot behaves as before")
}

// A held text carried through continue-as-new is not written again: its time came back
// from JSON with a location of its own, but it is the same instant.
func TestHeldTextsCarriedAcrossContinueAsNewAreNotRewritten(t *testing.T) {
	h := newHarness(t, day(0, 9, 0), emailSMS())
	mailed := h.signal(day(0, 22, 30), ballot.StatusMailed)
	h.at(day(0, 23, 0), func() {
		h.env.SetCurrentHistoryLength(2500)
		h.signalEvent(mailed) // a duplicate wakes the workflow, which then continues as new
	})
	h.env.ExecuteWorkflow(contract.BallotWorkflowName, h.in)
	var can *workflow.ContinueAsNewError
	require.True(t, errors.As(h.env.GetWorkflowError(), &can), "want continue-as-new, got %v", h.env.GetWorkflowError())
	var next workflows.BallotStart
	require.NoError(t, converter.GetDefaultDataConverter().FromPayloads(can.Input, &next))
	require.Len(t, next.Resume.WaitsRecorded, 1)

	h2 := newHarness(t, h.env.Now(), emailSMS())
	h2.in = next
	h2.signal(day(1, 12, 0), ballot.StatusCounted)
	h2.run()
	require.Equal(t, []string{"mailed", "counted"}, statuses(h2.f.sent(ballot.ChannelSMS)))
	for _, c := range h2.f.waitsCalls() {
		require.NotEqual(t, "RecordNoticeWaits", c.By, "nothing changed but the run: %+v", c)
	}
}
