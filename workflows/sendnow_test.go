package workflows_test

import (
	"testing"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/workflow"

	"github.com/ballotflow/ballotflow/activities"
	"github.com/ballotflow/ballotflow/internal/ballot"
)

// anyHour gives the recipient's text channel a window open at every hour.
func anyHour(r activities.Recipient) activities.Recipient {
	for i := range r.Channels {
		r.Channels[i].Window = activities.ContactWindow{Start: "00:00", End: "00:00", TimeZone: "America/Denver"}
	}
	return r
}

// A delivery whose time has come is tried first as a local activity, in the workflow task
// that planned it: with the budget to spare, nothing is queued.
func TestDeliveriesAreTriedAtOnceAsLocalActivities(t *testing.T) {
	h := newHarness(t, day(0, 9, 0), anyHour(emailSMS()))
	h.signal(day(0, 12, 0), ballot.StatusMailed)
	h.signal(day(1, 12, 0), ballot.StatusCounted)
	h.run()

	all := h.f.all("")
	require.Len(t, all, 4)
	for _, a := range all {
		require.True(t, a.Local, "%s of notice %d was queued", a.Activity, a.Notice.Seq)
		require.NoError(t, a.Err)
	}
	require.Equal(t, []string{"mailed", "counted"}, statuses(h.f.sent(ballot.ChannelEmail)))
	require.Equal(t, []string{"mailed", "counted"}, statuses(h.f.sent(ballot.ChannelSMS)))
	v := h.query()
	require.Len(t, findOutcome(v, 1, ballot.ChannelSMS), 1)
	require.Equal(t, activities.OutcomeSent, findOutcome(v, 1, ballot.ChannelSMS)[0].Outcome)
	require.Empty(t, v.Pending)
}

// When the channel's budget has nothing to spare, the first try defers without sending and
// the channel's queued activity sends the notice once.
func TestADeferredFirstTryIsQueuedAndSentOnce(t *testing.T) {
	h := newHarness(t, day(0, 9, 0), anyHour(emailSMS()))
	h.f.deferNow = func(n activities.Notice) bool { return n.Channel == ballot.ChannelSMS }
	h.signal(day(0, 12, 0), ballot.StatusMailed)
	h.run()

	sms := h.f.all(ballot.ChannelSMS)
	require.Len(t, sms, 1, "deferred, then sent once by the queue")
	require.False(t, sms[0].Local)
	require.NoError(t, sms[0].Err)
	requireAt(t, day(0, 12, 0), sms[0].At, "queued at once")
	require.Len(t, h.f.deferred, 1)
	email := h.f.all(ballot.ChannelEmail)
	require.Len(t, email, 1)
	require.True(t, email[0].Local)
	require.Equal(t, activities.OutcomeSent, findOutcome(h.query(), 1, ballot.ChannelSMS)[0].Outcome)
}

// A refusal for good on the first try settles the notice there (no queued attempt) and
// falls back to another channel, as a refusal of the queued activity does.
func TestAPermanentRefusalOnTheFirstTryIsNotQueued(t *testing.T) {
	h := newHarness(t, day(0, 9, 0), anyHour(recipient(ballot.ChannelSMS, ballot.ChannelEmail)))
	h.f.setDeliver(func(a attempt) (*activities.NoticeResult, error) {
		if a.Activity == "SendSMS" {
			return nil, permanent("21211")
		}
		return nil, nil
	})
	h.signal(day(0, 12, 0), ballot.StatusMailed)
	h.run()

	sms := h.f.all(ballot.ChannelSMS)
	require.Len(t, sms, 1, "not queued after a refusal for good")
	require.True(t, sms[0].Local)
	f := findOutcome(h.query(), 1, ballot.ChannelSMS)
	require.Len(t, f, 1)
	require.Equal(t, "failed", f[0].Outcome)
	require.Len(t, h.f.sent(ballot.ChannelEmail), 1, "email has it")
}

// Ballots that began before the change (GetVersion answers DefaultVersion) queue every
// delivery, as the code they started on did.
func TestBallotsOfTheOldVersionQueueEveryDelivery(t *testing.T) {
	h := newHarness(t, day(0, 9, 0), anyHour(emailSMS()))
	h.env.OnGetVersion("send-now-first", workflow.DefaultVersion, 1).Return(workflow.DefaultVersion)
	h.signal(day(0, 12, 0), ballot.StatusMailed)
	h.run()

	all := h.f.all("")
	require.Len(t, all, 2)
	for _, a := range all {
		require.False(t, a.Local, "%s ran as a local activity on the old version", a.Activity)
	}
}
