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

func (h *harness) scan(when time.Time, direction string) {
	h.at(when, func() {
		h.env.SignalWorkflow(ballot.SignalMailScan, contract.MailScan{Direction: direction, ScannedAt: when.UTC(),
			Facility: "DENVER CO P&DC"})
	})
}

// kinds returns the notice kinds of attempts, "" for a status notice shown as its status.
func kinds(as []attempt) []string {
	var out []string
	for _, a := range as {
		if a.Notice.Kind == "" {
			out = append(out, string(a.Notice.Status))
		} else {
			out = append(out, a.Notice.Kind)
		}
	}
	return out
}

// The first outbound scan and the first return scan are each told once, in the voter's
// contact hours; a second scan of a direction is recorded, not told.
func TestMailScansAreToldOnceADirection(t *testing.T) {
	h := newHarness(t, day(0, 9, 0), emailSMS())
	h.signal(day(0, 10, 0), ballot.StatusMailed)
	h.scan(day(1, 6, 30), contract.MailOutbound) // before 08:00: the text waits
	h.scan(day(1, 14, 0), contract.MailOutbound)
	h.scan(day(4, 16, 0), contract.MailReturn)
	h.signal(day(6, 11, 0), ballot.StatusReceived)
	h.run()

	require.Equal(t, []string{"mailed", activities.KindMailOutbound, activities.KindMailReturn, "received"},
		kinds(h.f.sent(ballot.ChannelEmail)))
	sms := h.f.sent(ballot.ChannelSMS)
	require.Equal(t, []string{"mailed", activities.KindMailOutbound, activities.KindMailReturn, "received"}, kinds(sms))
	requireAt(t, day(1, 8, 0), sms[1].At, "the outbound scan at 06:30 is texted at 08:00")
	requireAt(t, day(1, 6, 30), sms[1].Notice.ScannedAt, "with the scan's time")
	require.Equal(t, "DENVER CO P&DC", sms[1].Notice.Facility)

	v := h.query()
	require.Len(t, v.MailScans, 3)
	require.True(t, v.MailScans[0].Told)
	require.False(t, v.MailScans[1].Told)
	require.Contains(t, v.MailScans[1].Why, "told of this direction already")
	require.True(t, v.MailScans[2].Told)
}

// A scan that comes after the county received the ballot is recorded and never told; a
// scan notice still waiting for contact hours is dropped when a newer status arrives.
func TestMailScansNeverContradictALaterStatus(t *testing.T) {
	h := newHarness(t, day(0, 9, 0), emailSMS())
	h.signal(day(0, 10, 0), ballot.StatusMailed)
	h.scan(day(3, 22, 0), contract.MailReturn)    // text held until 08:00 ...
	h.signal(day(4, 7, 0), ballot.StatusReceived) // ... and superseded at 07:00
	h.scan(day(4, 9, 0), contract.MailOutbound)   // a late scan
	h.run()

	require.Equal(t, []string{"mailed", "received"}, kinds(h.f.sent(ballot.ChannelSMS)),
		"the held return-scan text gave way to received")
	require.Equal(t, []string{"mailed", activities.KindMailReturn, "received"}, kinds(h.f.sent(ballot.ChannelEmail)),
		"email went at once, before received")
	v := h.query()
	require.Len(t, v.MailScans, 2)
	require.True(t, v.MailScans[0].Told)
	require.False(t, v.MailScans[1].Told)
	require.Contains(t, v.MailScans[1].Why, "the ballot is received")
}

// An outbound scan is not told on a channel whose "mailed" notice is still waiting.
func TestAnOutboundScanWaitsBehindTheMailedNotice(t *testing.T) {
	h := newHarness(t, day(0, 9, 0), emailSMS())
	h.signal(day(0, 21, 0), ballot.StatusMailed) // text held until 08:00
	h.scan(day(0, 23, 0), contract.MailOutbound)
	h.signal(day(5, 12, 0), ballot.StatusReceived)
	h.run()

	require.Equal(t, []string{"mailed", "received"}, kinds(h.f.sent(ballot.ChannelSMS)))
	require.Equal(t, []string{"mailed", activities.KindMailOutbound, "received"}, kinds(h.f.sent(ballot.ChannelEmail)))
}

// A ballot of the old code (GetVersion answers DefaultVersion) drops scans, as that code did.
func TestMailScansOnTheOldVersionAreDropped(t *testing.T) {
	h := newHarness(t, day(0, 9, 0), emailSMS())
	h.env.OnGetVersion("mail-scans", workflow.DefaultVersion, 1).Return(workflow.DefaultVersion)
	h.signal(day(0, 10, 0), ballot.StatusMailed)
	h.scan(day(1, 12, 0), contract.MailOutbound)
	h.signal(day(5, 12, 0), ballot.StatusReceived)
	h.run()

	require.Equal(t, []string{"mailed", "received"}, kinds(h.f.sent(ballot.ChannelEmail)))
	require.Empty(t, h.query().MailScans)
}
