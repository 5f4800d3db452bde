package workflows_test

import (
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"

	"github.com/ballotflow/ballotflow/activities"
	"github.com/ballotflow/ballotflow/internal/ballot"
	"github.com/ballotflow/ballotflow/workflows/contract"
)

func emailSMS() activities.Recipient {
	return recipient(ballot.ChannelEmail, ballot.ChannelSMS)
}

// 1. A status at night is emailed at once and texted at 08:00 the next morning, local time.
func TestMailedAtNight_EmailNow_SMSAtEightNextMorning(t *testing.T) {
	h := newHarness(t, day(0, 22, 0), emailSMS())
	h.signal(day(0, 22, 30), ballot.StatusMailed)
	h.signal(day(1, 12, 0), ballot.StatusCounted)
	h.run()

	email := h.f.sent(ballot.ChannelEmail)
	require.Equal(t, []string{"bTEST/1/email", "bTEST/2/email"}, keys(email))
	requireAt(t, day(0, 22, 30), email[0].At, "mailed is emailed at once")
	require.True(t, email[0].Notice.NotAfter.IsZero(), "email may go at any hour")
	require.Equal(t, ballot.StatusMailed, email[0].Notice.Status)
	require.Equal(t, "bTEST", email[0].Notice.BallotKey)
	require.Equal(t, 1, email[0].Notice.Seq)
	require.Equal(t, ballot.ChannelEmail, email[0].Notice.Channel)

	sms := h.f.sent(ballot.ChannelSMS)
	require.Equal(t, []string{"bTEST/1/sms", "bTEST/2/sms"}, keys(sms))
	require.Equal(t, []string{"mailed", "counted"}, statuses(sms))
	requireAt(t, day(1, 8, 0), sms[0].At, "mailed is texted at 08:00 local the next morning")
	require.Equal(t, "08:00", sms[0].At.In(denver).Format("15:04"))
	requireAt(t, day(1, 20, 0), sms[0].Notice.NotAfter, "the text may go until the window closes")
	require.Equal(t, ballot.ChannelSMS, sms[0].Notice.Channel)
	requireAt(t, day(1, 12, 0), sms[1].At, "counted at noon is texted at once")
	requireAt(t, day(1, 12, 0), email[1].At)

	require.Empty(t, h.f.all(ballot.ChannelVoice))
	h.requireSettledAt(day(1, 12, 0), "nothing happens once counted is delivered")
	v := h.query()
	require.Equal(t, ballot.StatusCounted, v.Status)
	require.Empty(t, v.Pending)
	require.Len(t, v.Deliveries, 4)
	for _, d := range v.Deliveries {
		require.Equal(t, activities.OutcomeSent, d.Outcome)
		require.Equal(t, "prov-bTEST/"+map[bool]string{true: "1", false: "2"}[d.Seq == 1]+"/"+d.Channel, d.Detail)
	}
}

// 2. The window's end is exclusive: 19:59 is texted at once, 20:01 waits until 08:00.
func TestSMSAtWindowEdge(t *testing.T) {
	for _, tt := range []struct {
		name   string
		at     time.Time
		wantAt time.Time
	}{
		{"19:59 is texted at once", day(0, 19, 59), day(0, 19, 59)},
		{"20:00 waits for the morning", day(0, 20, 0), day(1, 8, 0)},
		{"20:01 waits for the morning", day(0, 20, 1), day(1, 8, 0)},
		{"07:59 waits a minute", day(1, 7, 59), day(1, 8, 0)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, day(0, 9, 0), emailSMS())
			h.signal(tt.at, ballot.StatusReceived)
			h.signal(day(2, 12, 0), ballot.StatusCounted)
			h.run()

			sms := h.f.sent(ballot.ChannelSMS)
			require.Equal(t, []string{"received", "counted"}, statuses(sms))
			requireAt(t, tt.wantAt, sms[0].At)
			email := h.f.sent(ballot.ChannelEmail)
			require.Equal(t, []string{"received", "counted"}, statuses(email))
			requireAt(t, tt.at, email[0].At, "email does not wait")
		})
	}
}

// 3. The happy path: one email and one text per status, recorded in order, and the workflow
// ends after counted.
func TestHappyPath_MailedReceivedAcceptedCounted(t *testing.T) {
	h := newHarness(t, day(0, 9, 0), emailSMS())
	var upserted []string
	h.env.OnUpsertTypedSearchAttributes(mock.Anything).Run(func(args mock.Arguments) {
		sa := args.Get(0).(temporal.SearchAttributes)
		v, ok := sa.GetKeyword(contract.SearchBallotStatus)
		require.True(t, ok, "BallotStatus is upserted")
		upserted = append(upserted, v)
	}).Return(nil)

	order := []ballot.Status{ballot.StatusMailed, ballot.StatusReceived, ballot.StatusAccepted, ballot.StatusCounted}
	var evs []contract.StatusEvent
	for i, s := range order {
		evs = append(evs, h.signal(day(i, 12, 0), s))
	}
	mid := h.queryAt(day(1, 13, 0))
	h.run()

	for _, ch := range []string{ballot.ChannelEmail, ballot.ChannelSMS} {
		sent := h.f.sent(ch)
		require.Equal(t, []string{"mailed", "received", "accepted", "counted"}, statuses(sent), ch)
		require.Equal(t, []string{"10-05 12:00", "10-06 12:00", "10-07 12:00", "10-08 12:00"}, localTimes(sent), ch)
		for i, a := range sent {
			require.Equal(t, i+1, a.Notice.Seq)
		}
	}
	require.Empty(t, h.f.all(ballot.ChannelVoice))

	rec := h.f.recorded()
	require.Equal(t, []string{"mailed", "received", "accepted", "counted"}, recordedStatuses(rec))
	for i, r := range rec {
		require.Equal(t, "bTEST", r.BallotKey)
		require.Equal(t, evs[i].EventID, r.EventID)
		requireAt(t, evs[i].OccurredAt, r.At)
	}
	require.Equal(t, []string{"mailed", "received", "accepted", "counted"}, upserted)

	require.Equal(t, ballot.StatusReceived, mid.Status, "the query during the run")
	require.Len(t, mid.Timeline, 2)

	v := h.query()
	require.Equal(t, ballot.StatusCounted, v.Status)
	requireAt(t, day(3, 12, 0), v.StatusAt)
	require.Equal(t, order, timelineStatuses(v))
	for i, e := range v.Timeline {
		require.Equal(t, evs[i].EventID, e.EventID)
		requireAt(t, evs[i].OccurredAt, e.OccurredAt)
	}
	require.Empty(t, v.Ignored)
	require.Empty(t, v.Pending)
	require.False(t, v.Unreachable)
	require.Equal(t, "the election's canvass closed", v.Closed, "a counted ballot waits for a correction until then")
	require.Len(t, v.Deliveries, 8)
	h.requireSettledAt(day(3, 12, 0), "nothing happens once counted is delivered")
	require.Len(t, h.f.loadTimes(), 1, "preferences are read once at the start")
}

// 4. Statuses that pile up overnight are texted once, with the newest status; email gets each.
func TestOvernightStatusesCoalesceIntoOneSMS(t *testing.T) {
	h := newHarness(t, day(0, 9, 0), emailSMS())
	h.signal(day(0, 22, 0), ballot.StatusReceived)
	h.signal(day(0, 23, 0), ballot.StatusAccepted)
	h.signal(day(1, 12, 0), ballot.StatusCounted)
	h.run()

	email := h.f.sent(ballot.ChannelEmail)
	require.Equal(t, []string{"received", "accepted", "counted"}, statuses(email))
	require.Equal(t, []string{"10-05 22:00", "10-05 23:00", "10-06 12:00"}, localTimes(email))

	sms := h.f.sent(ballot.ChannelSMS)
	require.Equal(t, []string{"accepted", "counted"}, statuses(sms), "one text in the morning, with the newest status")
	require.Equal(t, []string{"10-06 08:00", "10-06 12:00"}, localTimes(sms))
	require.Equal(t, "bTEST/2/sms", sms[0].Notice.IdempotencyKey)

	v := h.query()
	co := findOutcome(v, 1, ballot.ChannelSMS)
	require.Len(t, co, 1)
	require.Equal(t, "coalesced", co[0].Outcome)
	require.Contains(t, co[0].Detail, "accepted")
	requireAt(t, day(0, 23, 0), co[0].At)
}

// 5. A challenge is never swallowed by a later cure; only a final status supersedes it.
func TestChallengeNoticeIsKeptUntilFinal(t *testing.T) {
	t.Run("challenged then cured overnight: both texted, challenged first", func(t *testing.T) {
		h := newHarness(t, day(0, 9, 0), emailSMS())
		ch := event(ballot.StatusChallenged, day(0, 22, 0))
		ch.Reason, ch.CureDeadline = "signature does not match", "2026-10-20"
		h.at(day(0, 22, 0), func() { h.signalEvent(ch) })
		h.signal(day(0, 23, 0), ballot.StatusCured)
		h.signal(day(1, 12, 0), ballot.StatusCounted)
		h.run()

		sms := h.f.sent(ballot.ChannelSMS)
		sort.SliceStable(sms, func(i, j int) bool { return sms[i].ActivityID < sms[j].ActivityID }) // dispatch order
		require.Equal(t, []string{"challenged", "cured", "counted"}, statuses(sms))
		require.Equal(t, []string{"10-06 08:00", "10-06 08:00", "10-06 12:00"}, localTimes(sms))
		require.Equal(t, "signature does not match", sms[0].Notice.Reason)
		require.Equal(t, "2026-10-20", sms[0].Notice.CureDeadline)
		require.Equal(t, []string{"bTEST/1/sms", "bTEST/2/sms", "bTEST/3/sms"}, keys(sms))

		email := h.f.sent(ballot.ChannelEmail)
		require.Equal(t, []string{"challenged", "cured", "counted"}, statuses(email))
		require.Equal(t, "signature does not match", email[0].Notice.Reason)
		require.Equal(t, "2026-10-20", email[0].Notice.CureDeadline)

		v := h.query()
		require.Equal(t, "signature does not match", v.Timeline[0].Reason)
		require.Equal(t, "2026-10-20", v.Timeline[0].CureDeadline)
	})
	t.Run("challenged then counted overnight: only counted is texted", func(t *testing.T) {
		h := newHarness(t, day(0, 9, 0), emailSMS())
		ch := event(ballot.StatusChallenged, day(0, 22, 0))
		ch.Reason, ch.CureDeadline = "signature does not match", "2026-10-20"
		h.at(day(0, 22, 0), func() { h.signalEvent(ch) })
		h.signal(day(0, 23, 0), ballot.StatusCounted)
		h.run()

		sms := h.f.sent(ballot.ChannelSMS)
		require.Equal(t, []string{"counted"}, statuses(sms))
		require.Equal(t, []string{"10-06 08:00"}, localTimes(sms))
		email := h.f.sent(ballot.ChannelEmail)
		require.Equal(t, []string{"challenged", "counted"}, statuses(email))
		v := h.query()
		co := findOutcome(v, 1, ballot.ChannelSMS)
		require.Len(t, co, 1)
		require.Equal(t, "coalesced", co[0].Outcome)
		h.requireSettledAt(day(1, 8, 0), "nothing happens once the last text is sent")
	})
}

// 5b. Two notices due on one channel at once go out one after the other, oldest first: the
// cure text must not reach the provider before the challenge text was accepted.
func TestChallengeAndCureTextsAreSentInOrder(t *testing.T) {
	h := newHarness(t, day(0, 9, 0), emailSMS())
	var overlap []string
	inFlight := map[ballot.Status]bool{}
	h.f.setDeliver(func(a attempt) (*activities.NoticeResult, error) {
		if a.Activity != "SendSMS" {
			return nil, nil
		}
		h.f.mu.Lock()
		for other := range inFlight {
			overlap = append(overlap, string(a.Notice.Status)+" started while "+string(other)+" was in flight")
		}
		inFlight[a.Notice.Status] = true
		h.f.mu.Unlock()
		time.Sleep(200 * time.Millisecond) // a slow provider
		h.f.mu.Lock()
		delete(inFlight, a.Notice.Status)
		h.f.mu.Unlock()
		return nil, nil
	})
	h.signal(day(0, 22, 0), ballot.StatusChallenged)
	h.signal(day(0, 23, 0), ballot.StatusCured)
	h.signal(day(1, 12, 0), ballot.StatusCounted)
	h.run()

	sms := h.f.sent(ballot.ChannelSMS)
	require.Len(t, sms, 3)
	sort.SliceStable(sms, func(i, j int) bool { return sms[i].Begun.Before(sms[j].Begun) })
	require.Equal(t, []string{"challenged", "cured", "counted"}, statuses(sms), "texts reach the provider oldest first")
	require.Empty(t, overlap, "the cure text waited for the challenge text")
}

// 6. An event older than the ballot's status is ignored, with why, and never notified.
func TestOutOfOrderEventIsIgnored(t *testing.T) {
	h := newHarness(t, day(0, 9, 0), emailSMS())
	h.signal(day(0, 10, 0), ballot.StatusAccepted)
	late := event(ballot.StatusReceived, day(0, 9, 30)) // happened earlier, arrives later
	h.at(day(0, 11, 0), func() { h.signalEvent(late) })
	h.signal(day(0, 12, 0), ballot.StatusCounted)
	h.run()

	for _, ch := range []string{ballot.ChannelEmail, ballot.ChannelSMS} {
		require.Equal(t, []string{"accepted", "counted"}, statuses(h.f.sent(ch)), ch)
	}
	require.Equal(t, []string{"accepted", "counted"}, recordedStatuses(h.f.recorded()))
	v := h.query()
	require.Equal(t, []ballot.Status{ballot.StatusAccepted, ballot.StatusCounted}, timelineStatuses(v))
	require.Len(t, v.Ignored, 1)
	require.Equal(t, late.EventID, v.Ignored[0].EventID)
	require.Equal(t, ballot.StatusReceived, v.Ignored[0].Status)
	requireAt(t, late.OccurredAt, v.Ignored[0].OccurredAt)
	require.Contains(t, v.Ignored[0].Reason, "older than the ballot's current status, accepted")
}

// 6b. Events that arrive together are applied in the order they happened at the county.
func TestEventsArrivingTogetherAreAppliedInOccurrenceOrder(t *testing.T) {
	h := newHarness(t, day(0, 9, 0), emailSMS())
	acc := event(ballot.StatusAccepted, day(0, 8, 30))
	rcv := event(ballot.StatusReceived, day(0, 8, 0))
	h.atStart(func() {
		h.signalEvent(acc) // arrives first, happened last
		h.signalEvent(rcv)
	})
	h.signal(day(1, 12, 0), ballot.StatusCounted)
	h.run()

	require.Equal(t, []string{"received", "accepted", "counted"}, recordedStatuses(h.f.recorded()))
	v := h.query()
	require.Empty(t, v.Ignored)
	require.Equal(t, []ballot.Status{ballot.StatusReceived, ballot.StatusAccepted, ballot.StatusCounted}, timelineStatuses(v))
	// Both were decided before anything was sent: the voter hears the newest once per channel.
	for _, ch := range []string{ballot.ChannelEmail, ballot.ChannelSMS} {
		require.Equal(t, []string{"accepted", "counted"}, statuses(h.f.sent(ch)), ch)
	}
}

// 6b'. Final statuses reported together: the one that happened first wins, whatever the
// order of the signal channels.
func TestSimultaneousFinalStatusesTakeTheFirstToHappen(t *testing.T) {
	h := newHarness(t, day(0, 9, 0), emailSMS())
	counted := event(ballot.StatusCounted, day(0, 8, 0))
	rejected := event(ballot.StatusRejected, day(0, 8, 30)) // a late correction
	h.atStart(func() {
		h.signalEvent(rejected)
		h.signalEvent(counted)
	})
	h.run()

	require.Equal(t, []string{"counted"}, recordedStatuses(h.f.recorded()))
	require.Equal(t, []string{"counted"}, statuses(h.f.sent(ballot.ChannelEmail)))
	v := h.query()
	require.Equal(t, ballot.StatusCounted, v.Status)
	require.Len(t, v.Ignored, 1)
	require.Equal(t, rejected.EventID, v.Ignored[0].EventID)
	require.Equal(t, "the ballot is already counted", v.Ignored[0].Reason)
}

// 6c. The signal's name is the status, whatever the payload says.
func TestSignalNameIsTheStatus(t *testing.T) {
	h := newHarness(t, day(0, 9, 0), emailSMS())
	ev := event(ballot.StatusCounted, day(0, 10, 0)) // payload claims counted
	h.at(day(0, 10, 0), func() { h.env.SignalWorkflow(string(ballot.StatusReceived), ev) })
	h.signal(day(0, 11, 0), ballot.StatusCounted)
	h.run()
	require.Equal(t, []string{"received", "counted"}, recordedStatuses(h.f.recorded()))
	require.Equal(t, []string{"received", "counted"}, statuses(h.f.sent(ballot.ChannelSMS)))
}

// 7. A redelivered event (same event_id) is taken in once.
func TestDuplicateEventID(t *testing.T) {
	t.Run("redelivered later", func(t *testing.T) {
		h := newHarness(t, day(0, 9, 0), emailSMS())
		ev := h.signal(day(0, 10, 0), ballot.StatusMailed)
		h.at(day(0, 11, 0), func() { h.signalEvent(ev) })
		h.signal(day(1, 12, 0), ballot.StatusCounted)
		h.run()

		require.Equal(t, []string{"mailed", "counted"}, statuses(h.f.sent(ballot.ChannelEmail)))
		require.Equal(t, []string{"mailed", "counted"}, statuses(h.f.sent(ballot.ChannelSMS)))
		require.Equal(t, []string{"mailed", "counted"}, recordedStatuses(h.f.recorded()))
		v := h.query()
		require.Len(t, v.Ignored, 1)
		require.Equal(t, ev.EventID, v.Ignored[0].EventID)
		require.Equal(t, "duplicate event_id", v.Ignored[0].Reason)
	})
	t.Run("redelivered in the same batch", func(t *testing.T) {
		h := newHarness(t, day(0, 9, 0), emailSMS())
		ev := event(ballot.StatusMailed, day(0, 8, 0))
		h.atStart(func() { h.signalEvent(ev); h.signalEvent(ev) })
		h.signal(day(1, 12, 0), ballot.StatusCounted)
		h.run()

		require.Equal(t, []string{"bTEST/1/email", "bTEST/2/email"}, keys(h.f.sent(ballot.ChannelEmail)))
		require.Equal(t, []string{"bTEST/1/sms", "bTEST/2/sms"}, keys(h.f.sent(ballot.ChannelSMS)))
		v := h.query()
		require.Len(t, v.Ignored, 1)
		require.Equal(t, "duplicate event_id", v.Ignored[0].Reason)
	})
}

// 8. Nothing moves a ballot that reached a final status.
func TestEventAfterFinalStatusIsIgnored(t *testing.T) {
	h := newHarness(t, day(0, 9, 0), emailSMS())
	h.signal(day(0, 10, 0), ballot.StatusMailed)
	h.signal(day(0, 22, 0), ballot.StatusCounted)
	late := h.signal(day(0, 23, 0), ballot.StatusReceived) // the counted text still waits
	h.run()

	require.Equal(t, []string{"mailed", "counted"}, statuses(h.f.sent(ballot.ChannelEmail)))
	sms := h.f.sent(ballot.ChannelSMS)
	require.Equal(t, []string{"mailed", "counted"}, statuses(sms))
	requireAt(t, day(1, 8, 0), sms[1].At)
	require.Equal(t, []string{"mailed", "counted"}, recordedStatuses(h.f.recorded()))
	v := h.query()
	require.Equal(t, ballot.StatusCounted, v.Status)
	require.Len(t, v.Ignored, 1)
	require.Equal(t, late.EventID, v.Ignored[0].EventID)
	require.Equal(t, "the ballot is already counted", v.Ignored[0].Reason)
}

// 8b. A cure with no challenge is ignored.
func TestCureWithoutChallengeIsIgnored(t *testing.T) {
	h := newHarness(t, day(0, 9, 0), emailSMS())
	h.signal(day(0, 10, 0), ballot.StatusReceived)
	h.signal(day(0, 11, 0), ballot.StatusCured)
	h.signal(day(0, 12, 0), ballot.StatusCounted)
	h.run()
	require.Equal(t, []string{"received", "counted"}, statuses(h.f.sent(ballot.ChannelSMS)))
	v := h.query()
	require.Len(t, v.Ignored, 1)
	require.Equal(t, "cured, but the ballot was not challenged", v.Ignored[0].Reason)
}

// 9. A channel refused for good: fall back to a channel that has not had the notice.
func TestPermanentFailureFallback(t *testing.T) {
	failSMS := func(a attempt) (*activities.NoticeResult, error) {
		if a.Activity == "SendSMS" {
			return nil, permanent("21211")
		}
		return nil, nil
	}

	t.Run("sms and voice: the call already has it, the dead number is dropped", func(t *testing.T) {
		h := newHarness(t, day(0, 9, 0), recipient(ballot.ChannelSMS, ballot.ChannelVoice))
		h.f.setDeliver(failSMS)
		h.signal(day(0, 12, 0), ballot.StatusMailed)
		h.signal(day(1, 12, 0), ballot.StatusCounted)
		h.run()

		require.Len(t, h.f.all(ballot.ChannelSMS), 1, "one attempt: permanent failures do not retry, and the number is not used again")
		calls := h.f.sent(ballot.ChannelVoice)
		require.Equal(t, []string{"bTEST/1/voice", "bTEST/2/voice"}, keys(calls), "one call per status, no duplicate from the fallback")
		require.Empty(t, h.f.all(ballot.ChannelEmail))
		v := h.query()
		f := findOutcome(v, 1, ballot.ChannelSMS)
		require.Len(t, f, 1)
		require.Equal(t, "failed", f[0].Outcome)
		require.Equal(t, "21211", f[0].Detail)
		require.False(t, v.Unreachable)
	})

	t.Run("sms only, voice added later: the failed text falls back to a call", func(t *testing.T) {
		h := newHarness(t, day(0, 9, 0), recipient(ballot.ChannelSMS))
		h.f.setDeliver(failSMS)
		h.signal(day(0, 22, 30), ballot.StatusMailed)                                    // texted at 08:00
		h.prefsChanged(day(0, 23, 0), recipient(ballot.ChannelSMS, ballot.ChannelVoice)) // voice added overnight
		h.signal(day(1, 12, 0), ballot.StatusCounted)
		h.run()

		require.Len(t, h.f.all(ballot.ChannelSMS), 1)
		requireAt(t, day(1, 8, 0), h.f.all(ballot.ChannelSMS)[0].At)
		calls := h.f.sent(ballot.ChannelVoice)
		require.Equal(t, []string{"bTEST/1/voice", "bTEST/2/voice"}, keys(calls))
		require.Equal(t, ballot.StatusMailed, calls[0].Notice.Status)
		requireAt(t, day(1, 8, 0), calls[0].At, "the fallback call goes at once: the window is open")
		requireAt(t, day(1, 20, 0), calls[0].Notice.NotAfter)
		require.False(t, h.query().Unreachable)
	})

	t.Run("email and sms: email already has it, no duplicate email", func(t *testing.T) {
		h := newHarness(t, day(0, 9, 0), emailSMS())
		h.f.setDeliver(failSMS)
		h.signal(day(0, 12, 0), ballot.StatusMailed)
		h.signal(day(1, 12, 0), ballot.StatusCounted)
		h.run()

		require.Equal(t, []string{"bTEST/1/email", "bTEST/2/email"}, keys(h.f.sent(ballot.ChannelEmail)))
		require.Len(t, h.f.all(ballot.ChannelSMS), 1, "counted is not texted to a dead number")
		require.False(t, h.query().Unreachable)
	})

	t.Run("the only channel fails: unreachable", func(t *testing.T) {
		h := newHarness(t, day(0, 9, 0), recipient(ballot.ChannelSMS))
		h.f.setDeliver(failSMS)
		h.signal(day(0, 12, 0), ballot.StatusMailed)
		mid := h.queryAt(day(0, 13, 0))
		h.signal(day(1, 12, 0), ballot.StatusCounted)
		h.run()

		require.Len(t, h.f.all(ballot.ChannelSMS), 1)
		require.True(t, mid.Unreachable)
		v := h.query()
		require.True(t, v.Unreachable)
		require.Equal(t, ballot.StatusCounted, v.Status)
	})
}

// 10. Preferences that change while a text waits re-plan it.
func TestPreferencesChangedWhileSMSWaits(t *testing.T) {
	t.Run("sms turned off: the waiting text is canceled", func(t *testing.T) {
		h := newHarness(t, day(0, 9, 0), emailSMS())
		h.signal(day(0, 22, 30), ballot.StatusMailed)
		h.prefsChanged(day(0, 23, 0), recipient(ballot.ChannelEmail))
		h.signal(day(1, 12, 0), ballot.StatusCounted)
		h.run()

		require.Empty(t, h.f.all(ballot.ChannelSMS), "never texted")
		require.Equal(t, []string{"mailed", "counted"}, statuses(h.f.sent(ballot.ChannelEmail)))
		require.Len(t, h.f.loadTimes(), 2)
		requireAt(t, day(0, 23, 0), h.f.loadTimes()[1], "reloaded on the signal")
		v := h.query()
		c := findOutcome(v, 1, ballot.ChannelSMS)
		require.Len(t, c, 1)
		require.Equal(t, "canceled", c[0].Outcome)
		requireAt(t, day(0, 23, 0), c[0].At)
	})

	t.Run("new contact hours 10:00-12:00: texted at 10:00", func(t *testing.T) {
		h := newHarness(t, day(0, 9, 0), emailSMS())
		h.signal(day(0, 22, 30), ballot.StatusMailed)
		r := emailSMS()
		r.Channels[1].Window = activities.ContactWindow{Start: "10:00", End: "12:00", TimeZone: "America/Denver"}
		h.prefsChanged(day(0, 23, 0), r)
		mid := h.queryAt(day(1, 9, 0))
		h.signal(day(1, 12, 30), ballot.StatusCounted)
		h.run()

		sms := h.f.sent(ballot.ChannelSMS)
		require.Equal(t, []string{"mailed", "counted"}, statuses(sms))
		require.Equal(t, []string{"10-06 10:00", "10-07 10:00"}, localTimes(sms))
		requireAt(t, day(1, 12, 0), sms[0].Notice.NotAfter)
		require.Len(t, mid.Pending, 1)
		requireAt(t, day(1, 10, 0), mid.Pending[0].DueAt)
	})

	t.Run("voter no longer notifiable: nothing pending is sent", func(t *testing.T) {
		h := newHarness(t, day(0, 9, 0), emailSMS())
		r := emailSMS()
		r.Channels[0].HoldForHours = true // email waits too, so both are pending at night
		h.f.setRecipient(r)
		h.signal(day(0, 22, 30), ballot.StatusMailed)
		h.prefsChanged(day(0, 23, 0), activities.Recipient{Notifiable: false})
		h.signal(day(1, 12, 0), ballot.StatusCounted)
		h.run()

		require.Empty(t, h.f.all(""), "nothing sent")
		v := h.query()
		require.Empty(t, v.Pending)
		require.Len(t, v.Deliveries, 2)
		for _, d := range v.Deliveries {
			require.Equal(t, "canceled", d.Outcome)
			require.Equal(t, "the voter can no longer be contacted", d.Detail)
		}
		h.requireSettledAt(day(1, 12, 0), "nothing happens once the ballot is counted")
	})

	t.Run("not notifiable even with channels still listed: nothing pending is sent", func(t *testing.T) {
		h := newHarness(t, day(0, 9, 0), emailSMS())
		h.signal(day(0, 22, 30), ballot.StatusMailed)
		r := emailSMS()
		r.Notifiable = false
		h.prefsChanged(day(0, 23, 0), r)
		h.signal(day(1, 12, 0), ballot.StatusCounted)
		h.run()

		require.Empty(t, h.f.all(ballot.ChannelSMS), "never texted")
		require.Equal(t, []string{"mailed"}, statuses(h.f.sent(ballot.ChannelEmail)), "counted is not emailed either")
	})
}

// 10b. Email held for contact hours waits like a text.
func TestEmailHeldForHours(t *testing.T) {
	r := emailSMS()
	r.Channels[0].HoldForHours = true
	h := newHarness(t, day(0, 9, 0), r)
	h.signal(day(0, 22, 30), ballot.StatusMailed)
	h.signal(day(1, 12, 0), ballot.StatusCounted)
	h.run()
	email := h.f.sent(ballot.ChannelEmail)
	require.Equal(t, []string{"10-06 08:00", "10-06 12:00"}, localTimes(email))
	requireAt(t, day(1, 20, 0), email[0].Notice.NotAfter)
}

// 11. Retries that run past the contact hours come back, and the text goes in the next window.
func TestWindowClosedIsReplannedToTheNextWindow(t *testing.T) {
	h := newHarness(t, day(0, 9, 0), emailSMS())
	h.f.setDeliver(func(a attempt) (*activities.NoticeResult, error) {
		if a.Activity != "SendSMS" {
			return nil, nil
		}
		if r, err := honorNotAfter(a); err != nil {
			return r, err
		}
		if a.Attempt == 1 && a.Notice.Seq == 1 && a.At.Equal(day(0, 19, 30)) {
			return nil, transient(time.Hour) // the provider is down; the retry runs at 20:30
		}
		return nil, nil
	})
	h.signal(day(0, 19, 30), ballot.StatusMailed)
	h.signal(day(1, 12, 0), ballot.StatusCounted)
	h.run()

	// The first try (local) fails at 19:30; the queued delivery retries when the provider
	// asked, at 20:30.
	all := h.f.all(ballot.ChannelSMS)
	require.Equal(t, []string{"10-05 19:30", "10-05 20:30", "10-06 08:00", "10-06 12:00"}, localTimes(all))
	require.True(t, all[0].Local)
	require.False(t, all[1].Local)
	require.Error(t, all[0].Err)
	require.Error(t, all[1].Err, "the retry after 20:00 is refused")
	require.NoError(t, all[2].Err)
	require.True(t, all[2].Local, "the re-planned notice is tried at once again")
	require.Equal(t, "bTEST/1/sms", all[2].Notice.IdempotencyKey, "the same notice, re-planned")
	requireAt(t, day(1, 20, 0), all[2].Notice.NotAfter, "with the new window's end")
	require.Equal(t, []string{"mailed", "counted"}, statuses(h.f.sent(ballot.ChannelSMS)))
	require.False(t, h.query().Unreachable)
}

// 11b. ErrWindowClosed reported while the window is still open is not a busy loop: the notice
// goes again (once) in that window.
func TestWindowClosedOnceInsideTheWindow(t *testing.T) {
	h := newHarness(t, day(0, 9, 0), emailSMS())
	refused := false
	h.f.setDeliver(func(a attempt) (*activities.NoticeResult, error) {
		if a.Activity == "SendSMS" && !refused {
			refused = true
			return nil, windowClosed()
		}
		return nil, nil
	})
	h.signal(day(0, 22, 30), ballot.StatusMailed)
	h.signal(day(1, 12, 0), ballot.StatusCounted)
	h.run()
	all := h.f.all(ballot.ChannelSMS)
	require.Len(t, all, 3)
	require.Error(t, all[0].Err)
	require.Equal(t, "bTEST/1/sms", all[1].Notice.IdempotencyKey)
	require.NoError(t, all[1].Err)
	requireAt(t, day(1, 8, 0), all[0].At)
	require.Equal(t, []string{"mailed", "counted"}, statuses(h.f.sent(ballot.ChannelSMS)))
}

// 11c. A notice re-planned after its window closed must not be sent next to a newer notice on
// the same channel: the voter gets the newest status once, as with any coalesced notice.
func TestWindowClosedNoticeIsCoalescedWithANewerOne(t *testing.T) {
	h := newHarness(t, day(0, 9, 0), emailSMS())
	h.f.setDeliver(func(a attempt) (*activities.NoticeResult, error) {
		if a.Activity != "SendSMS" {
			return nil, nil
		}
		if r, err := honorNotAfter(a); err != nil {
			return r, err
		}
		if a.Attempt == 1 && a.Notice.Seq == 1 {
			return nil, transient(time.Hour) // retry at 20:30, after the window
		}
		return nil, nil
	})
	h.signal(day(0, 19, 30), ballot.StatusReceived)
	h.signal(day(0, 20, 10), ballot.StatusAccepted) // the received text is still retrying
	h.signal(day(1, 12, 0), ballot.StatusCounted)
	h.run()

	sms := h.f.sent(ballot.ChannelSMS)
	require.Equal(t, []string{"accepted", "counted"}, statuses(sms), "no stale 'received' text next to 'accepted' in the morning")
}

// 12. A replaced ballot ends quietly, and drops what waits.
func TestReplacedWhileSMSWaits(t *testing.T) {
	h := newHarness(t, day(0, 9, 0), emailSMS())
	h.signal(day(0, 22, 30), ballot.StatusMailed)
	h.signal(day(0, 23, 0), ballot.StatusReplaced)
	h.run()

	require.Empty(t, h.f.all(ballot.ChannelSMS), "the waiting text is never sent")
	require.Equal(t, []string{"mailed"}, statuses(h.f.sent(ballot.ChannelEmail)), "replaced is not notified")
	require.Equal(t, []string{"mailed", "replaced"}, recordedStatuses(h.f.recorded()))
	h.requireSettledAt(day(0, 23, 0), "nothing happens once replaced")
	v := h.query()
	require.Equal(t, ballot.StatusReplaced, v.Status)
	require.Empty(t, v.Pending)
	c := findOutcome(v, 1, ballot.ChannelSMS)
	require.Len(t, c, 1)
	require.Equal(t, "canceled", c[0].Outcome)
	require.Equal(t, "the ballot was replaced", c[0].Detail)
}

// 13. The canvass closing ends tracking of a ballot that never reached a final status.
func TestCanvassCloses(t *testing.T) {
	t.Run("a ballot left at received completes at CanvassEndsAt", func(t *testing.T) {
		h := newHarness(t, day(0, 9, 0), emailSMS())
		h.signal(day(0, 12, 0), ballot.StatusMailed)
		h.signal(day(1, 12, 0), ballot.StatusReceived)
		h.run()

		requireAt(t, h.in.CanvassEndsAt, h.env.Now())
		v := h.query()
		require.Equal(t, ballot.StatusReceived, v.Status)
		require.Equal(t, "the election's canvass closed", v.Closed)
		require.Empty(t, v.Pending)
		require.Len(t, h.f.sent(""), 4)
	})
	t.Run("a text waiting at the close is dropped", func(t *testing.T) {
		h := newHarness(t, day(0, 9, 0), emailSMS())
		h.in.CanvassEndsAt = day(1, 0, 0)
		h.signal(day(0, 22, 30), ballot.StatusReceived)
		h.run()

		requireAt(t, day(1, 0, 0), h.env.Now())
		require.Empty(t, h.f.all(ballot.ChannelSMS))
		v := h.query()
		c := findOutcome(v, 1, ballot.ChannelSMS)
		require.Len(t, c, 1)
		require.Equal(t, "canceled", c[0].Outcome)
		require.Equal(t, "the election's canvass closed", c[0].Detail)
	})
}

// 14. The status query lists what waits, and when it is due.
func TestQueryListsPendingSMS(t *testing.T) {
	h := newHarness(t, day(0, 9, 0), emailSMS())
	mailed := h.signal(day(0, 22, 30), ballot.StatusMailed)
	mid := h.queryAt(day(0, 23, 0))
	h.signal(day(1, 12, 0), ballot.StatusCounted)
	h.run()

	require.Equal(t, ballot.StatusMailed, mid.Status)
	requireAt(t, mailed.OccurredAt, mid.StatusAt)
	require.Empty(t, mid.Closed)
	require.Len(t, mid.Pending, 1)
	p := mid.Pending[0]
	require.Equal(t, 1, p.Seq)
	require.Equal(t, ballot.StatusMailed, p.Status)
	require.Equal(t, ballot.ChannelSMS, p.Channel)
	requireAt(t, day(1, 8, 0), p.DueAt)
	require.False(t, p.InFlight)
	require.Len(t, mid.Deliveries, 1)
	require.Equal(t, ballot.ChannelEmail, mid.Deliveries[0].Channel)
	require.Equal(t, activities.OutcomeSent, mid.Deliveries[0].Outcome)
}

// 15. A contact window that cannot be read never leads to a text at night: the notice waits
// and is re-planned, and goes in the voter's hours once they are readable again.
func TestBadContactWindowNeverTextsAtNight(t *testing.T) {
	r := emailSMS()
	r.Channels[1].Window.TimeZone = "Not/A_Zone"
	h := newHarness(t, day(0, 9, 0), r)
	h.signal(day(0, 22, 30), ballot.StatusMailed)
	h.prefsChanged(day(1, 2, 0), emailSMS()) // fixed overnight
	h.signal(day(1, 12, 0), ballot.StatusCounted)
	h.run()

	sms := h.f.sent(ballot.ChannelSMS)
	for _, a := range sms {
		hour := a.At.In(denver).Hour()
		require.Truef(t, hour >= 8 && hour < 20, "texted at %s", a.At.In(denver).Format("15:04"))
	}
	require.Equal(t, []string{"10-06 08:00", "10-06 12:00"}, localTimes(sms))
}

// 16. A failed notice does not fall back to a channel that already has a newer status: the
// fallback would tell the voter something older than what that channel is about to say.
func TestFallbackIsNotStale(t *testing.T) {
	r := recipient(ballot.ChannelSMS, ballot.ChannelVoice)
	r.Channels[1].Window = activities.ContactWindow{Start: "12:00", End: "14:00", TimeZone: "America/Denver"}
	h := newHarness(t, day(0, 8, 0), r)
	h.f.setDeliver(func(a attempt) (*activities.NoticeResult, error) {
		if a.Activity != "SendSMS" {
			return nil, nil
		}
		if a.Notice.Seq == 1 && a.Attempt == 1 {
			return nil, transient(time.Hour) // retried at 10:00, then refused
		}
		return nil, permanent("21211")
	})
	h.signal(day(0, 9, 0), ballot.StatusReceived) // texted at once; the call waits for 12:00
	h.signal(day(0, 9, 30), ballot.StatusAccepted)
	h.signal(day(1, 13, 0), ballot.StatusCounted)
	h.run()

	calls := h.f.sent(ballot.ChannelVoice)
	require.Equal(t, []string{"accepted", "counted"}, statuses(calls), "one call at noon with the newest status")
}

func TestNoticeKeysAndChannels(t *testing.T) {
	// Each notice's idempotency key names its ballot, seq and channel, and its channel
	// matches the activity that delivers it.
	h := newHarness(t, day(0, 9, 0), recipient(ballot.ChannelEmail, ballot.ChannelSMS, ballot.ChannelVoice))
	h.signal(day(0, 12, 0), ballot.StatusMailed)
	h.signal(day(0, 13, 0), ballot.StatusCounted)
	h.run()
	all := h.f.sent("")
	require.Len(t, all, 6)
	for _, a := range all {
		require.Equal(t, activityChannel(a.Activity), a.Notice.Channel)
		parts := strings.Split(a.Notice.IdempotencyKey, "/")
		require.Equal(t, []string{"bTEST", map[ballot.Status]string{ballot.StatusMailed: "1", ballot.StatusCounted: "2"}[a.Notice.Status], a.Notice.Channel}, parts)
	}
}

// 11d. A text whose retries ran past the window while the voter turned texts off is dropped.
func TestWindowClosedAfterChannelTurnedOff(t *testing.T) {
	h := newHarness(t, day(0, 9, 0), emailSMS())
	h.f.setDeliver(func(a attempt) (*activities.NoticeResult, error) {
		if a.Activity != "SendSMS" {
			return nil, nil
		}
		if r, err := honorNotAfter(a); err != nil {
			return r, err
		}
		return nil, transient(time.Hour) // 19:30 fails, the retry at 20:30 is past the window
	})
	h.signal(day(0, 19, 30), ballot.StatusMailed)
	during := h.queryAt(day(0, 19, 45))
	h.prefsChanged(day(0, 20, 0), recipient(ballot.ChannelEmail))
	h.signal(day(1, 12, 0), ballot.StatusCounted)
	h.run()

	require.Len(t, during.Pending, 1)
	require.True(t, during.Pending[0].InFlight, "a retrying delivery is in flight")
	require.Equal(t, ballot.ChannelSMS, during.Pending[0].Channel)

	// The local first try at 19:30, the queued retry when the provider asked, at 20:30.
	require.Equal(t, []string{"10-05 19:30", "10-05 20:30"}, localTimes(h.f.all(ballot.ChannelSMS)))
	require.Empty(t, h.f.sent(ballot.ChannelSMS))
	v := h.query()
	c := findOutcome(v, 1, ballot.ChannelSMS)
	require.Len(t, c, 1)
	require.Equal(t, "canceled", c[0].Outcome)
	require.Equal(t, "channel turned off", c[0].Detail)
	require.False(t, v.Unreachable)
}

// 9d. A text that keeps failing until its retries run out is settled as failed, and the
// number is not used again for this ballot.
func TestRetriesExhausted(t *testing.T) {
	h := newHarness(t, day(0, 9, 0), recipient(ballot.ChannelEmail, ballot.ChannelSMS))
	r := h.f.recipient
	r.Channels[1].Window = activities.ContactWindow{Start: "00:00", End: "00:00", TimeZone: "America/Denver"} // any hour
	h.f.setRecipient(r)
	h.f.setDeliver(func(a attempt) (*activities.NoticeResult, error) {
		if a.Activity == "SendSMS" {
			return nil, transient(0)
		}
		return nil, nil
	})
	h.signal(day(0, 12, 0), ballot.StatusMailed)
	h.signal(day(3, 12, 0), ballot.StatusCounted)
	h.run()

	// The test environment caps retries at 10 attempts (the server would go on for 24h).
	all := h.f.all(ballot.ChannelSMS)
	require.Greater(t, len(all), 2, "a transient failure is retried")
	require.True(t, all[0].Local, "the first try is local")
	requireAt(t, day(0, 12, 0).Add(5*time.Second), all[1].At, "then queued after the retry policy's first interval")
	requireAt(t, day(0, 12, 0).Add(10*time.Second), all[2].At, "and retried after it again")
	for _, a := range all {
		require.Equal(t, 1, a.Notice.Seq, "counted is not texted once the number gave up")
		require.Equal(t, "bTEST/1/sms", a.Notice.IdempotencyKey, "retries keep the idempotency key")
	}
	v := h.query()
	f := findOutcome(v, 1, ballot.ChannelSMS)
	require.Len(t, f, 1)
	require.Equal(t, "failed", f[0].Outcome)
	require.True(t, strings.HasPrefix(f[0].Detail, "gave up after retries"), f[0].Detail)
	require.False(t, v.Unreachable, "email has it")
	require.Equal(t, []string{"mailed", "counted"}, statuses(h.f.sent(ballot.ChannelEmail)))
}

// 13c. Nothing is planned once tracking closed: a delivery that fails after the canvass
// closed does not fall back to another channel.
func TestNoFallbackAfterTheCanvassClosed(t *testing.T) {
	h := newHarness(t, day(0, 9, 0), recipient(ballot.ChannelSMS))
	h.in.CanvassEndsAt = day(0, 12, 30)
	h.f.setDeliver(func(a attempt) (*activities.NoticeResult, error) {
		if a.Activity != "SendSMS" {
			return nil, nil
		}
		if a.Local {
			return nil, transient(time.Hour) // queued for 13:00, after the close
		}
		return nil, permanent("21211")
	})
	h.signal(day(0, 12, 0), ballot.StatusReceived)
	h.prefsChanged(day(0, 12, 10), recipient(ballot.ChannelSMS, ballot.ChannelVoice))
	h.run()

	// The local first try at 12:00, the queued one when the provider asked, at 13:00.
	require.Equal(t, []string{"10-05 12:00", "10-05 13:00"}, localTimes(h.f.all(ballot.ChannelSMS)))
	require.Empty(t, h.f.all(ballot.ChannelVoice), "no call placed after tracking closed")
	v := h.query()
	require.Equal(t, "the election's canvass closed", v.Closed)
	require.Empty(t, v.Pending)
}

// 13d. A text whose retries ran past its window after the canvass closed is settled, not left
// pending for a morning that never comes.
func TestWindowClosedAfterTheCanvassClosed(t *testing.T) {
	h := newHarness(t, day(0, 9, 0), emailSMS())
	h.in.CanvassEndsAt = day(0, 20, 15)
	h.f.setDeliver(func(a attempt) (*activities.NoticeResult, error) {
		if a.Activity != "SendSMS" {
			return nil, nil
		}
		if r, err := honorNotAfter(a); err != nil {
			return r, err
		}
		return nil, transient(time.Hour)
	})
	h.signal(day(0, 19, 30), ballot.StatusReceived)
	h.run()

	requireAt(t, day(0, 20, 30), h.env.Now(), "the workflow waited for the delivery in flight")
	require.Empty(t, h.f.sent(ballot.ChannelSMS))
	v := h.query()
	require.Equal(t, "the election's canvass closed", v.Closed)
	require.Empty(t, v.Pending, "nothing waits once tracking closed")
	c := findOutcome(v, 1, ballot.ChannelSMS)
	require.Len(t, c, 1, "the text's end is recorded")
	require.Equal(t, "canceled", c[0].Outcome)
}

// A rejection carries its reason to every channel.
func TestRejectedCarriesReason(t *testing.T) {
	h := newHarness(t, day(0, 9, 0), recipient(ballot.ChannelEmail, ballot.ChannelSMS, ballot.ChannelVoice))
	ev := event(ballot.StatusRejected, day(0, 12, 0))
	ev.Reason = "no signature"
	h.at(day(0, 12, 0), func() { h.signalEvent(ev) })
	h.run()
	all := h.f.sent("")
	require.Len(t, all, 3)
	for _, a := range all {
		require.Equal(t, ballot.StatusRejected, a.Notice.Status)
		require.Equal(t, "no signature", a.Notice.Reason)
	}
	h.requireSettledAt(day(0, 12, 0), "rejected is final")
}

// A ballot whose voter cannot be found fails the workflow at once.
func TestUnknownBallotFails(t *testing.T) {
	h := newHarness(t, day(0, 9, 0), emailSMS())
	h.in.BallotKey = "nope"
	h.env.ExecuteWorkflow(contract.BallotWorkflowName, h.in)
	require.True(t, h.env.IsWorkflowCompleted())
	err := h.env.GetWorkflowError()
	require.Error(t, err)
	require.Contains(t, err.Error(), "load recipient")
}

// An undeliverable ballot is notified, and may still be received later.
func TestUndeliverableThenReceived(t *testing.T) {
	h := newHarness(t, day(0, 9, 0), emailSMS())
	h.signal(day(0, 10, 0), ballot.StatusMailed)
	h.signal(day(1, 10, 0), ballot.StatusUndeliverable)
	h.signal(day(2, 10, 0), ballot.StatusReceived)
	h.signal(day(3, 10, 0), ballot.StatusCounted)
	h.run()
	require.Equal(t, []string{"mailed", "undeliverable", "received", "counted"}, statuses(h.f.sent(ballot.ChannelSMS)))
	require.Empty(t, h.query().Ignored)
}
