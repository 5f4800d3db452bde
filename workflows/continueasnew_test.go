package workflows_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/workflow"

	"github.com/ballotflow/ballotflow/internal/ballot"
	"github.com/ballotflow/ballotflow/workflows"
	"github.com/ballotflow/ballotflow/workflows/contract"
)

// A flood of events (a county re-sending its file over and over) must not grow one history
// without bound: the ballot continues as new with its state, and the next run still knows
// which events it has seen and which notices it has sent.
func TestFloodOfEventsContinuesAsNewWithItsState(t *testing.T) {
	h := newHarness(t, day(0, 9, 0), emailSMS())
	mailed := h.signal(day(0, 10, 0), ballot.StatusMailed)
	for i := range 40 {
		h.at(day(0, 11, i), func() { h.signalEvent(mailed) }) // the same event, again and again
	}
	// The test environment does not count history events; say the flood made it long.
	h.at(day(0, 11, 30), func() { h.env.SetCurrentHistoryLength(2500) })
	h.env.ExecuteWorkflow(contract.BallotWorkflowName, h.in)

	var can *workflow.ContinueAsNewError
	require.True(t, errors.As(h.env.GetWorkflowError(), &can), "want continue-as-new, got %v", h.env.GetWorkflowError())
	var next workflows.BallotStart
	require.NoError(t, converter.GetDefaultDataConverter().FromPayloads(can.Input, &next))
	require.Equal(t, h.in.BallotKey, next.BallotKey)
	require.NotNil(t, next.Resume)
	require.Equal(t, ballot.StatusMailed, next.Resume.Status)
	require.True(t, next.Resume.Seen[mailed.EventID])
	require.NotEmpty(t, next.Resume.Ignored)
	require.Equal(t, 1, next.Resume.NextSeq)
	require.Equal(t, []string{"bTEST/1/email"}, keys(h.f.sent(ballot.ChannelEmail)), "one notice, however often the event came")

	// The next run: the old event is still a duplicate, a new status gets the next notice number.
	h2 := newHarness(t, h.env.Now(), emailSMS())
	h2.in = next
	h2.at(h.env.Now().Add(time.Minute), func() { h2.signalEvent(mailed) })
	h2.signal(h.env.Now().Add(time.Hour), ballot.StatusCounted)
	h2.run()
	require.Equal(t, []string{"bTEST/2/email"}, keys(h2.f.sent(ballot.ChannelEmail)))
	v := h2.query()
	require.Equal(t, ballot.StatusCounted, v.Status)
	require.Equal(t, []ballot.Status{ballot.StatusMailed, ballot.StatusCounted}, timelineStatuses(v))
	last := v.Ignored[len(v.Ignored)-1]
	require.Equal(t, fmt.Sprint(mailed.EventID, " ", "duplicate event_id"), last.EventID+" "+last.Reason)
}

// A county system resending a status under ever new event ids grows the ids seen; what
// continue-as-new carries of them is bounded by what it carries of the ballot's history.
func TestEventIDsSeenAreBoundedAcrossContinueAsNew(t *testing.T) {
	h := newHarness(t, day(0, 9, 0), emailSMS())
	mailed := h.signal(day(0, 10, 0), ballot.StatusMailed)
	for i := range 300 {
		h.at(day(0, 11, 0).Add(time.Duration(i)*time.Second), func() {
			h.signalEvent(event(ballot.StatusMailed, day(0, 10, 0))) // the same status, a new id each time
		})
	}
	h.at(day(0, 11, 30), func() {
		h.env.SetCurrentHistoryLength(2500)
		h.signalEvent(event(ballot.StatusMailed, day(0, 10, 0))) // wakes the workflow
	})
	h.env.ExecuteWorkflow(contract.BallotWorkflowName, h.in)

	var can *workflow.ContinueAsNewError
	require.True(t, errors.As(h.env.GetWorkflowError(), &can), "want continue-as-new, got %v", h.env.GetWorkflowError())
	var next workflows.BallotStart
	require.NoError(t, converter.GetDefaultDataConverter().FromPayloads(can.Input, &next))
	require.Len(t, next.Resume.Ignored, 100)
	require.LessOrEqual(t, len(next.Resume.Seen), 1+100, "the timeline's ids and the kept ignored events' ids")
	require.True(t, next.Resume.Seen[mailed.EventID], "the id that moved the ballot is kept")
	for _, ig := range next.Resume.Ignored {
		require.True(t, next.Resume.Seen[ig.EventID], "every kept ignored event is still known")
	}
}
