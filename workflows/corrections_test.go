package workflows_test

import (
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/workflow"

	"github.com/ballotflow/ballotflow/activities"
	"github.com/ballotflow/ballotflow/internal/ballot"
	"github.com/ballotflow/ballotflow/workflows/contract"
)

var fixSeq int

// correct sends, at when, a correction saying that event wrong was posted in error and
// that the ballot's status is right ("" for the status before it). It returns the
// correction's event id.
func (h *harness) correct(when time.Time, wrong string, right ballot.Status) string {
	fixSeq++
	id := "fix-" + strconv.Itoa(fixSeq)
	h.at(when, func() {
		h.env.SignalWorkflow(ballot.SignalCorrection, contract.StatusEvent{EventID: id, Status: right,
			OccurredAt: when.UTC(), Corrects: wrong})
	})
	return id
}

// corrections returns the correction notices among attempts, as "was>now".
func corrections(as []attempt) []string {
	var out []string
	for _, a := range as {
		if a.Notice.Kind == activities.KindCorrection {
			out = append(out, string(a.Notice.Was)+">"+string(a.Notice.Status))
		}
	}
	return out
}

// A "received" posted in error, emailed at once and held for texting until the morning:
// the voter gets one correction by email, the channel that told them; the held text is
// dropped and nothing is texted about the mistake. The ballot is mailed again, and the real
// "received" later is told as any status is.
func TestACorrectionTellsOnlyTheChannelsThatToldTheWrongStatus(t *testing.T) {
	h := newHarness(t, day(0, 9, 0), emailSMS())
	h.signal(day(0, 10, 0), ballot.StatusMailed)
	wrong := h.signal(day(2, 21, 0), ballot.StatusReceived) // email now, text held until 08:00
	fix := h.correct(day(2, 22, 0), wrong.EventID, ballot.StatusMailed)
	mid := h.queryAt(day(2, 23, 0))
	h.signal(day(5, 12, 0), ballot.StatusReceived)
	h.run()

	email := h.f.sent(ballot.ChannelEmail)
	require.Equal(t, []string{"mailed", "received", activities.KindCorrection, "received"}, kinds(email))
	require.Equal(t, []string{"received>mailed"}, corrections(email))
	requireAt(t, day(2, 22, 0), email[2].At, "email goes at once")
	require.Equal(t, []string{"mailed", "received"}, kinds(h.f.sent(ballot.ChannelSMS)),
		"the held text of the wrong status is dropped, and the voter hears nothing of it by text")

	require.Equal(t, ballot.StatusMailed, mid.Status)
	require.Equal(t, []ballot.Status{"mailed", "received", "mailed"}, timelineStatuses(*mid))
	require.Equal(t, fix, mid.Timeline[1].CorrectedBy)
	require.Equal(t, wrong.EventID, mid.Timeline[2].Corrects)
	require.True(t, mid.Timeline[2].Told)
	held := findOutcome(*mid, mid.Timeline[1].NoticeSeq, ballot.ChannelSMS)
	require.Len(t, held, 1)
	require.Equal(t, "canceled", held[0].Outcome)
	require.Equal(t, "the status was posted in error", held[0].Detail)

	rec := h.f.recorded()
	require.Equal(t, []string{"mailed", "received", "mailed", "received"}, recordedStatuses(rec))
	require.NotNil(t, rec[2].Corrected)
	require.Equal(t, ballot.StatusReceived, rec[2].Corrected.Status)
	require.True(t, rec[2].Corrected.Moved)
	requireAt(t, day(2, 21, 0), rec[2].Corrected.At)
}

// A "rejected" posted in error reopens the ballot: the voter, told on both channels, gets
// one correction on each (the text in contact hours) with the right status, "accepted"; the
// ballot then moves on as usual.
func TestACorrectedRejectionReopensTheBallot(t *testing.T) {
	h := newHarness(t, day(0, 9, 0), emailSMS())
	h.signal(day(0, 10, 0), ballot.StatusMailed)
	h.signal(day(1, 10, 0), ballot.StatusReceived)
	wrong := h.signal(day(2, 10, 0), ballot.StatusRejected)
	h.correct(day(3, 21, 0), wrong.EventID, ballot.StatusAccepted)
	h.signal(day(6, 10, 0), ballot.StatusCounted)
	h.run()

	for _, ch := range []string{ballot.ChannelEmail, ballot.ChannelSMS} {
		sent := h.f.sent(ch)
		require.Equal(t, []string{"mailed", "received", "rejected", activities.KindCorrection, "counted"}, kinds(sent), ch)
		require.Equal(t, []string{"rejected>accepted"}, corrections(sent), ch)
	}
	requireAt(t, day(4, 8, 0), h.f.sent(ballot.ChannelSMS)[3].At, "the correction is texted in contact hours")
	v := h.query()
	require.Equal(t, ballot.StatusCounted, v.Status)
	require.Equal(t, []ballot.Status{"mailed", "received", "rejected", "accepted", "counted"}, timelineStatuses(v))
	require.NotEmpty(t, v.Timeline[2].CorrectedBy)
}

// A voter who never heard the wrong status hears nothing of the mistake, only the right
// status when it is news; a correction to "challenged" carries its cure deadline.
func TestAVoterWhoWasNotToldHearsOnlyTheRightStatus(t *testing.T) {
	h := newHarness(t, day(0, 9, 0), recipient(ballot.ChannelSMS))
	h.signal(day(0, 10, 0), ballot.StatusMailed)
	wrong := h.signal(day(1, 22, 0), ballot.StatusAccepted) // text held until 08:00
	h.at(day(1, 23, 0), func() {
		h.env.SignalWorkflow(ballot.SignalCorrection, contract.StatusEvent{EventID: "fix-challenge", Status: ballot.StatusChallenged,
			OccurredAt: day(1, 23, 0).UTC(), Corrects: wrong.EventID, Reason: "no signature", CureDeadline: "2026-10-20"})
	})
	h.signal(day(8, 10, 0), ballot.StatusCured)
	h.run()

	sms := h.f.sent(ballot.ChannelSMS)
	require.Equal(t, []string{"mailed", "challenged", "cured"}, kinds(sms), "accepted was never texted; no correction")
	requireAt(t, day(2, 8, 0), sms[1].At)
	require.Equal(t, "2026-10-20", sms[1].Notice.CureDeadline)
	require.Equal(t, "no signature", sms[1].Notice.Reason)
	v := h.query()
	require.False(t, v.Timeline[2].Told)
}

// Corrections that cannot apply are recorded with why, and change nothing: one naming an
// event the ballot never saw (it waits for it until the canvass closes), one naming an
// ignored event, one giving the status posted, one
// already applied, and one sent twice. A correction of an event a later status followed
// marks the event, and the later status stands, untold.
func TestCorrectionsThatCannotApplyAreRecordedNotTold(t *testing.T) {
	h := newHarness(t, day(0, 9, 0), recipient(ballot.ChannelEmail))
	mailed := h.signal(day(0, 10, 0), ballot.StatusMailed)
	received := h.signal(day(1, 10, 0), ballot.StatusReceived)
	late := h.signal(day(1, 11, 0), ballot.StatusMailed) // ignored: older than received
	h.correct(day(2, 10, 0), "no-such-event", ballot.StatusAccepted)
	h.correct(day(2, 10, 1), late.EventID, ballot.StatusAccepted)
	h.correct(day(2, 10, 2), received.EventID, ballot.StatusReceived)
	h.correct(day(2, 10, 3), mailed.EventID, ballot.StatusUndeliverable)
	h.at(day(2, 10, 4), func() { // the same correction, sent again
		h.env.SignalWorkflow(ballot.SignalCorrection, contract.StatusEvent{EventID: "fix-twice", Status: ballot.StatusMailed,
			OccurredAt: day(2, 10, 4).UTC(), Corrects: received.EventID})
	})
	h.at(day(2, 10, 5), func() {
		h.env.SignalWorkflow(ballot.SignalCorrection, contract.StatusEvent{EventID: "fix-twice", Status: ballot.StatusMailed,
			OccurredAt: day(2, 10, 4).UTC(), Corrects: received.EventID})
	})
	h.correct(day(2, 10, 6), received.EventID, ballot.StatusAccepted)
	h.signal(day(3, 10, 0), ballot.StatusCounted)
	mid := h.queryAt(day(3, 11, 0))
	h.run()

	require.Len(t, mid.Waiting, 1, "a correction of an event not seen (yet) waits for it")
	require.Equal(t, "no-such-event", mid.Waiting[0].Corrects)
	v := h.query()
	require.Empty(t, v.Waiting)
	reasons := map[string]string{}
	for _, e := range v.Ignored {
		if e.Corrects != "" {
			reasons[e.Corrects+" "+string(e.Status)] += e.Reason + ";"
		}
	}
	require.Equal(t, map[string]string{
		"no-such-event accepted":          "the ballot's tracking is closed: the election's canvass closed;",
		late.EventID + " accepted":        "the event it corrects never moved the ballot: nothing to correct;",
		received.EventID + " received":    "it gives the status that was posted: nothing to correct;",
		mailed.EventID + " undeliverable": "a later status, received, stands: the event it corrects is marked as posted in error;",
		received.EventID + " mailed":      "duplicate event_id;",
		received.EventID + " accepted":    "the event it corrects was corrected already, by fix-twice;",
	}, reasons)
	require.Equal(t, "fix-twice", v.Timeline[1].CorrectedBy)
	require.Equal(t, []string{"mailed", "received", activities.KindCorrection, "counted"}, kinds(h.f.sent(ballot.ChannelEmail)),
		"one correction (received was emailed), nothing for the ones that did not apply")
}

// "The status before it": a correction without a status undoes the event, and a first
// event posted in error leaves the ballot with no status.
func TestACorrectionWithoutAStatusUndoesTheEvent(t *testing.T) {
	h := newHarness(t, day(0, 9, 0), recipient(ballot.ChannelEmail))
	mailed := h.signal(day(0, 10, 0), ballot.StatusMailed)
	h.correct(day(0, 11, 0), mailed.EventID, "")
	h.run()

	require.Equal(t, []string{"mailed>"}, corrections(h.f.sent(ballot.ChannelEmail)))
	v := h.query()
	require.Equal(t, ballot.Status(""), v.Status)
	require.Equal(t, []ballot.Status{"mailed", ""}, timelineStatuses(v))
}

// A ballot of the old code (GetVersion answers DefaultVersion) drops corrections, as that
// code did, and ends at its final status.
func TestCorrectionsOnTheOldVersionAreDropped(t *testing.T) {
	h := newHarness(t, day(0, 9, 0), recipient(ballot.ChannelEmail))
	h.env.OnGetVersion("corrections", workflow.DefaultVersion, 1).Return(workflow.DefaultVersion)
	h.signal(day(0, 10, 0), ballot.StatusMailed)
	wrong := h.signal(day(1, 10, 0), ballot.StatusRejected)
	h.correct(day(1, 9, 0).Add(2*time.Hour), wrong.EventID, ballot.StatusAccepted)
	h.run()

	require.Equal(t, []string{"mailed", "rejected"}, kinds(h.f.sent(ballot.ChannelEmail)))
	requireAt(t, day(1, 10, 0), h.env.Now(), "the old code ends at its final status")
	require.Equal(t, ballot.StatusRejected, h.query().Status)
}

// A correction whose event is late (its signal was delayed) waits for it: when the event
// comes, the ballot takes it and the correction in the same turn, and the voter never hears
// the wrong status.
func TestACorrectionThatComesBeforeItsEventWaitsForIt(t *testing.T) {
	h := newHarness(t, day(0, 9, 0), recipient(ballot.ChannelEmail))
	h.signal(day(0, 10, 0), ballot.StatusMailed)
	wrong := event(ballot.StatusRejected, day(1, 10, 0))
	h.correct(day(1, 10, 5), wrong.EventID, ballot.StatusAccepted)
	mid := h.queryAt(day(1, 11, 0))
	h.at(day(1, 12, 0), func() { h.signalEvent(wrong) })
	h.run()

	require.Len(t, mid.Waiting, 1)
	require.Equal(t, ballot.StatusMailed, mid.Status)
	require.Equal(t, []string{"mailed", "accepted"}, kinds(h.f.sent(ballot.ChannelEmail)),
		"the rejection posted in error is never told; the right status is")
	v := h.query()
	require.Empty(t, v.Waiting)
	require.Equal(t, []ballot.Status{"mailed", "rejected", "accepted"}, timelineStatuses(v))
	require.NotEmpty(t, v.Timeline[1].CorrectedBy)
}

// A text of the wrong status still in its retries when the correction comes counts as told:
// the correction follows it on that channel. When the text then fails for good, the wrong
// status does not fall back to the calls the voter turned on meanwhile.
func TestAWrongStatusInFlightDoesNotFallBackAfterItsCorrection(t *testing.T) {
	h := newHarness(t, day(0, 9, 0), recipient(ballot.ChannelSMS))
	h.f.setDeliver(func(a attempt) (*activities.NoticeResult, error) {
		if a.Notice.Channel == ballot.ChannelSMS && a.Notice.Status == ballot.StatusRejected && a.Notice.Kind == "" {
			if a.Attempt < 3 {
				return nil, transient(20 * time.Minute)
			}
			return nil, permanent("21610")
		}
		return nil, nil
	})
	h.signal(day(0, 10, 0), ballot.StatusMailed)
	wrong := h.signal(day(1, 10, 0), ballot.StatusRejected)
	h.correct(day(1, 10, 30), wrong.EventID, ballot.StatusAccepted)
	h.prefsChanged(day(1, 10, 45), recipient(ballot.ChannelSMS, ballot.ChannelVoice))
	h.run()

	for _, a := range h.f.sent(ballot.ChannelVoice) {
		require.NotEqual(t, ballot.StatusRejected, a.Notice.Status, "the corrected rejection is never called in: %+v", a.Notice)
	}
}
