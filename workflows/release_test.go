package workflows_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/workflow"

	"github.com/ballotflow/ballotflow/activities"
	"github.com/ballotflow/ballotflow/internal/ballot"
)

// The texts held overnight wake in the order of the morning's queue (ReleaseHeld), at the
// channel's pace, instead of all at 08:00.

func TestAHeldTextWakesAtItsPlaceInTheMorningsQueue(t *testing.T) {
	h := newHarness(t, day(0, 22, 0), emailSMS())
	h.f.place = func(activities.HeldNotice) time.Duration { return 7*time.Minute + 30*time.Second }
	h.signal(day(0, 22, 30), ballot.StatusMailed)
	h.signal(day(1, 12, 0), ballot.StatusCounted)
	h.run()

	calls := h.f.releaseCalls()
	require.Len(t, calls, 1, "one place, for the one held notice; the email went at once")
	requireAt(t, day(0, 22, 30), calls[0].At, "taken when the text was held")
	require.Equal(t, []activities.HeldNotice{{Channel: ballot.ChannelSMS, DueAt: day(1, 8, 0).UTC(),
		NotAfter: day(1, 20, 0).UTC()}}, utcNotices(calls[0].Notices))

	requireAt(t, day(0, 22, 30), h.f.sent(ballot.ChannelEmail)[0].At)
	sms := h.f.sent(ballot.ChannelSMS)
	require.Equal(t, []string{"mailed", "counted"}, statuses(sms))
	requireAt(t, day(1, 8, 7).Add(30*time.Second), sms[0].At, "the text wakes at its place, not at 08:00")
	requireAt(t, day(1, 20, 0), sms[0].Notice.NotAfter, "its window is the voter's still")
	requireAt(t, day(1, 12, 0), sms[1].At, "counted at noon is texted at once: nothing held")

	waits := h.f.waitsCalls()
	require.Len(t, waits, 1)
	requireAt(t, day(1, 8, 0), waits[0].Waits[0].DueAt, "PostgreSQL keeps when the hours open")
}

func TestAHeldTextTakesANewPlaceWhenItsHoursMove(t *testing.T) {
	h := newHarness(t, day(0, 22, 0), emailSMS())
	h.f.place = func(n activities.HeldNotice) time.Duration {
		if n.DueAt.Equal(day(1, 8, 0)) {
			return 20 * time.Minute
		}
		return 2 * time.Minute
	}
	h.signal(day(0, 22, 30), ballot.StatusMailed)
	r := emailSMS()
	r.Channels[1].Window = activities.ContactWindow{Start: "10:00", End: "12:00", TimeZone: "America/Denver"}
	h.prefsChanged(day(0, 23, 0), r)
	h.signal(day(1, 12, 30), ballot.StatusCounted)
	h.run()

	calls := h.f.releaseCalls()
	require.Len(t, calls, 3, "mailed at night, mailed again for its new hours, counted after them")
	requireAt(t, day(1, 8, 0), calls[0].Notices[0].DueAt)
	requireAt(t, day(0, 23, 0), calls[1].At)
	requireAt(t, day(1, 10, 0), calls[1].Notices[0].DueAt, "a new place, in the queue of the new opening")
	requireAt(t, day(2, 10, 0), calls[2].Notices[0].DueAt)
	sms := h.f.sent(ballot.ChannelSMS)
	require.Equal(t, []string{"mailed", "counted"}, statuses(sms))
	requireAt(t, day(1, 10, 2), sms[0].At, "at its new place, never at the old one")
	requireAt(t, day(2, 10, 2), sms[1].At)
}

// A place after the hours close is no place: the fake answers the opening itself, as the
// activity does; the text goes when the hours open.
func TestAHeldTextWithoutAPlaceWakesWhenItsHoursOpen(t *testing.T) {
	h := newHarness(t, day(0, 22, 0), emailSMS())
	h.signal(day(0, 22, 30), ballot.StatusMailed)
	h.signal(day(1, 12, 0), ballot.StatusCounted)
	h.run()
	require.Len(t, h.f.releaseCalls(), 1)
	requireAt(t, day(1, 8, 0), h.f.sent(ballot.ChannelSMS)[0].At)
}

func TestBallotsOfTheOldVersionWakeEveryHeldTextWhenTheHoursOpen(t *testing.T) {
	h := newHarness(t, day(0, 22, 0), emailSMS())
	h.env.OnGetVersion("release-held-in-order", workflow.DefaultVersion, 1).Return(workflow.DefaultVersion)
	h.f.place = func(activities.HeldNotice) time.Duration { return time.Hour }
	h.signal(day(0, 22, 30), ballot.StatusMailed)
	h.signal(day(1, 12, 0), ballot.StatusCounted)
	h.run()
	require.Empty(t, h.f.releaseCalls(), "no place is taken")
	requireAt(t, day(1, 8, 0), h.f.sent(ballot.ChannelSMS)[0].At)
}

func TestABallotThatHoldsNothingTakesNoPlace(t *testing.T) {
	h := newHarness(t, day(0, 9, 0), emailSMS())
	h.signal(day(0, 12, 0), ballot.StatusMailed)
	h.signal(day(1, 12, 0), ballot.StatusCounted)
	h.run()
	require.Empty(t, h.f.releaseCalls())
}

func utcNotices(ns []activities.HeldNotice) []activities.HeldNotice {
	out := make([]activities.HeldNotice, len(ns))
	for i, n := range ns {
		out[i] = activities.HeldNotice{Channel: n.Channel, DueAt: n.DueAt.UTC(), NotAfter: n.NotAfter.UTC()}
	}
	return out
}
