package workflows_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/workflow"

	"github.com/ballotflow/ballotflow/activities"
	"github.com/ballotflow/ballotflow/internal/ballot"
	"github.com/ballotflow/ballotflow/workflows/contract"
)

// withReminders gives the recipient return reminders 7 and 2 days before an election on
// day 14 (ballots in by 19:00) and cure reminders 3 and 1 days before a cure deadline.
func withReminders(r activities.Recipient) activities.Recipient {
	r.Reminders = &activities.ReminderPlan{
		ReturnBy: day(14, 19, 0).UTC(),
		ReturnAt: []time.Time{day(7, 10, 0).UTC(), day(12, 10, 0).UTC()},
		CureDays: []int{3, 1},
		TimeZone: "America/Denver",
		RemindAt: "10:00",
	}
	return r
}

// A mailed ballot not yet received gets each return reminder once, at 10:00 on its day;
// none once the county has it.
func TestReturnRemindersUntilTheBallotIsReceived(t *testing.T) {
	h := newHarness(t, day(0, 9, 0), withReminders(emailSMS()))
	h.signal(day(0, 12, 0), ballot.StatusMailed)
	h.signal(day(10, 15, 0), ballot.StatusReceived)
	h.run()

	sms := h.f.sent(ballot.ChannelSMS)
	require.Equal(t, []string{"mailed", activities.KindReturnReminder, "received"}, kinds(sms))
	requireAt(t, day(7, 10, 0), sms[1].At, "the 7-day reminder at 10:00")
	requireAt(t, day(7, 20, 0), sms[1].Notice.NotAfter, "the text within that day's hours")
	require.Equal(t, "2026-10-19", sms[1].Notice.CureDeadline, "the notice says election day")
	email := h.f.sent(ballot.ChannelEmail)
	require.Equal(t, []string{"mailed", activities.KindReturnReminder, "received"}, kinds(email))
	requireAt(t, day(14, 19, 0), email[1].Notice.NotAfter, "an email never after the deadline")
}

// A ballot mailed after a reminder's time does not get it; a reminder whose voter's hours
// open only after the deadline is not sent; a replaced ballot gets none.
func TestReturnRemindersAreNeverLateOrForAReplacedBallot(t *testing.T) {
	h := newHarness(t, day(0, 9, 0), withReminders(emailSMS()))
	h.signal(day(8, 12, 0), ballot.StatusMailed)
	h.signal(day(13, 12, 0), ballot.StatusReceived)
	h.run()
	require.Equal(t, []string{"mailed", activities.KindReturnReminder, "received"}, kinds(h.f.sent(ballot.ChannelSMS)))
	requireAt(t, day(12, 10, 0), h.f.sent(ballot.ChannelSMS)[1].At)

	h = newHarness(t, day(0, 9, 0), withReminders(emailSMS()))
	h.signal(day(0, 12, 0), ballot.StatusMailed)
	h.signal(day(3, 12, 0), ballot.StatusReplaced)
	h.run()
	for _, a := range h.f.all("") {
		require.Empty(t, a.Notice.Kind, "no reminder for a replaced ballot")
	}
}

// A challenged ballot gets cure reminders before its deadline until it is cured; a
// reminder waiting for contact hours is dropped when the ballot moves on.
func TestCureRemindersUntilCured(t *testing.T) {
	h := newHarness(t, day(0, 9, 0), withReminders(emailSMS()))
	h.signal(day(0, 12, 0), ballot.StatusMailed)
	h.signal(day(1, 12, 0), ballot.StatusReceived)
	h.at(day(1, 13, 0), func() {
		h.signalEvent(contract.StatusEvent{EventID: "ev-challenge", Status: ballot.StatusChallenged,
			OccurredAt: day(1, 13, 0), Reason: "signature mismatch", CureDeadline: "2026-10-11"}) // day 6
	})
	h.signal(day(4, 11, 0), ballot.StatusCured)
	h.signal(day(5, 12, 0), ballot.StatusAccepted)
	h.run()

	sms := h.f.sent(ballot.ChannelSMS)
	require.Equal(t, []string{"mailed", "received", "challenged", activities.KindCureReminder, "cured", "accepted"}, kinds(sms))
	requireAt(t, day(3, 10, 0), sms[3].At, "3 days before the deadline, at 10:00")
	require.Equal(t, "2026-10-11", sms[3].Notice.CureDeadline)
	v := h.query()
	require.Empty(t, v.Pending)
}

// Ballots of the old code (GetVersion answers DefaultVersion) get no reminders.
func TestNoRemindersOnTheOldVersion(t *testing.T) {
	h := newHarness(t, day(0, 9, 0), withReminders(emailSMS()))
	h.env.OnGetVersion("reminders", workflow.DefaultVersion, 1).Return(workflow.DefaultVersion)
	h.signal(day(0, 12, 0), ballot.StatusMailed)
	h.signal(day(13, 12, 0), ballot.StatusReceived)
	h.run()
	require.Equal(t, []string{"mailed", "received"}, kinds(h.f.sent(ballot.ChannelSMS)))
}
