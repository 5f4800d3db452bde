package workflows

import (
	"fmt"
	"slices"

	"go.temporal.io/sdk/workflow"

	"github.com/ballotflow/ballotflow/activities"
	"github.com/ballotflow/ballotflow/internal/ballot"
	"github.com/ballotflow/ballotflow/workflows/contract"
)

// correctionsVersion versions corrections: taking in the correction signal, and a ballot at
// a final status staying open until its canvass closes, so that a status posted in error
// (a wrong "rejected", a wrong file of "counted") can still be corrected. A ballot whose
// history holds a correction signal its old code never read drops it on replay as it did
// then, and a ballot whose old code ended at its final status still ends there on replay.
// The workflow asks once per run, the first time it needs to know.
const correctionsVersion = "corrections"

// maxFixesWaiting bounds the corrections a ballot keeps waiting for the event they correct.
const maxFixesWaiting = 20

// correctionsOn says whether this run takes corrections (correctionsVersion).
func (b *ballotRun) correctionsOn(ctx workflow.Context) bool {
	if b.corrections == nil {
		v := workflow.GetVersion(ctx, correctionsVersion, workflow.DefaultVersion, 1) >= 1
		b.corrections = &v
	}
	return *b.corrections
}

// drainCorrections moves every buffered correction into the correction inbox.
func (b *ballotRun) drainCorrections(ch workflow.ReceiveChannel) {
	for {
		var c contract.StatusEvent
		if !ch.ReceiveAsync(&c) {
			return
		}
		b.fixes = append(b.fixes, c)
	}
}

// applyCorrections applies the corrections received, in the order they were made, after
// the events of the same turn.
func (b *ballotRun) applyCorrections(ctx workflow.Context) error {
	if len(b.fixes) == 0 && len(b.FixesWaiting) == 0 {
		return nil
	}
	fixes := append(slices.Clone(b.FixesWaiting), b.fixes...)
	b.fixes, b.FixesWaiting = nil, nil
	if !b.correctionsOn(ctx) {
		return nil
	}
	slices.SortStableFunc(fixes, func(x, y contract.StatusEvent) int { return x.OccurredAt.Compare(y.OccurredAt) })
	moved := false
	for _, c := range fixes {
		m, err := b.applyCorrection(ctx, c)
		if err != nil {
			return err
		}
		moved = moved || m
	}
	if moved {
		if err := workflow.UpsertTypedSearchAttributes(ctx, contract.SearchBallotStatus.ValueSet(string(b.Status))); err != nil {
			return fmt.Errorf("upsert BallotStatus: %w", err)
		}
	}
	return nil
}

// applyCorrection applies one correction. The event it names must be this ballot's, must
// have moved it and must not be corrected already. When that event is the ballot's current
// status, the ballot returns to the right status: what the voter was still to hear of the
// wrong one is dropped; a voter who heard it gets one correction notice, on the channels
// that told them; a voter who did not hears nothing of the mistake, only the right status if
// they have not heard it yet. When a later status came after the event, that status stands:
// the event is marked as posted in error and nobody is told. It reports whether the ballot's
// status changed.
func (b *ballotRun) applyCorrection(ctx workflow.Context, c contract.StatusEvent) (bool, error) {
	if b.Seen[c.EventID] {
		b.ignore(c, "duplicate event_id")
		return false, nil
	}
	b.Seen[c.EventID] = true
	i := slices.IndexFunc(b.Timeline, func(e contract.TimelineEntry) bool { return e.EventID == c.Corrects })
	switch {
	case b.Closed != "":
		b.ignore(c, "the ballot's tracking is closed: "+b.Closed)
		return false, nil
	case i < 0 && slices.ContainsFunc(b.Ignored, func(e contract.IgnoredEvent) bool { return e.EventID == c.Corrects }):
		b.ignore(c, "the event it corrects never moved the ballot: nothing to correct")
		return false, nil
	case i < 0 && len(b.FixesWaiting) < maxFixesWaiting:
		// The event may still come (its signal was delayed): wait for it.
		delete(b.Seen, c.EventID)
		if !slices.ContainsFunc(b.FixesWaiting, func(w contract.StatusEvent) bool { return w.EventID == c.EventID }) {
			b.FixesWaiting = append(b.FixesWaiting, c)
		}
		return false, nil
	case i < 0:
		b.ignore(c, "the event it corrects is not in this ballot's history")
		return false, nil
	case b.Timeline[i].CorrectedBy != "":
		b.ignore(c, "the event it corrects was corrected already, by "+b.Timeline[i].CorrectedBy)
		return false, nil
	}
	wrong := b.Timeline[i]
	before := b.entryBefore(i)
	right := c.Status
	if c.Status == "" { // "the status before it": the event should never have been posted
		right = before.Status
		if right == ballot.StatusChallenged && c.CureDeadline == "" {
			c.Reason, c.CureDeadline = before.Reason, before.CureDeadline
		}
	}
	if right == wrong.Status {
		b.ignore(c, "it gives the status that was posted: nothing to correct")
		return false, nil
	}
	current := b.currentEntry()
	b.Timeline[i].CorrectedBy = c.EventID
	mark := &activities.CorrectedStatus{Status: wrong.Status, At: wrong.OccurredAt}
	if j := current; j != i {
		// A later status came after the wrong one, and stands.
		b.ignore(c, fmt.Sprintf("a later status, %s, stands: the event it corrects is marked as posted in error", b.Timeline[j].Status))
		in := activities.RecordStatusInput{BallotKey: b.In.BallotKey, Status: b.Status, At: b.StatusAt, EventID: c.EventID, Corrected: mark}
		return false, b.recordStatus(ctx, in)
	}

	mark.Moved = true
	told := b.toldOf(wrong)
	why := "the status was posted in error"
	b.Pending = slices.DeleteFunc(b.Pending, func(n *Notice) bool {
		drop := !n.InFlight && ((wrong.NoticeSeq > 0 && n.Seq == wrong.NoticeSeq) ||
			n.Kind == activities.KindReturnReminder || n.Kind == activities.KindCureReminder)
		if drop {
			b.outcome(ctx, n, "canceled", why)
		}
		return drop
	})
	b.Status, b.StatusAt = right, c.OccurredAt
	b.Timeline = append(b.Timeline, contract.TimelineEntry{Status: right, EventID: c.EventID, OccurredAt: c.OccurredAt,
		Reason: c.Reason, CureDeadline: c.CureDeadline, Corrects: c.Corrects, Told: len(told) > 0})
	seq := b.NextSeq
	switch {
	case right == ballot.StatusReplaced:
		b.cancelPending(ctx, "the ballot was replaced")
	case len(told) > 0:
		b.planCorrection(ctx, wrong.Status, right, c, told)
	case right != "" && !b.heard(right):
		b.planNotices(ctx, contract.StatusEvent{EventID: c.EventID, Status: right, OccurredAt: c.OccurredAt,
			Reason: c.Reason, CureDeadline: c.CureDeadline})
	}
	if b.NextSeq != seq {
		b.Timeline[len(b.Timeline)-1].NoticeSeq = b.NextSeq
	}
	in := activities.RecordStatusInput{BallotKey: b.In.BallotKey, Status: right, At: c.OccurredAt, EventID: c.EventID, Corrected: mark}
	return true, b.recordStatus(ctx, in)
}

// postedInError reports whether notice seq told a status that was corrected since.
func (b *ballotRun) postedInError(seq int) bool {
	return slices.ContainsFunc(b.Timeline, func(e contract.TimelineEntry) bool {
		return e.NoticeSeq == seq && e.CorrectedBy != ""
	})
}

// recordStatus records a move in PostgreSQL with the notices now held, as applyInbox does.
func (b *ballotRun) recordStatus(ctx workflow.Context, in activities.RecordStatusInput) error {
	if waits := b.waits(); !sameWaits(waits, b.WaitsRecorded) {
		in.SyncWaits, in.Waits = true, waits
	}
	if err := workflow.ExecuteLocalActivity(ctx, acts.RecordStatus, in).Get(ctx, nil); err != nil {
		return fmt.Errorf("record status %s: %w", in.Status, err)
	}
	if in.SyncWaits {
		b.WaitsRecorded = in.Waits
	}
	return nil
}

// currentEntry is the index of the timeline entry that gave the ballot its status: the last
// one not posted in error (-1 for none).
func (b *ballotRun) currentEntry() int {
	for j := len(b.Timeline) - 1; j >= 0; j-- {
		if b.Timeline[j].CorrectedBy == "" {
			return j
		}
	}
	return -1
}

// entryBefore is the entry that gave the ballot its status before entry i, skipping
// entries posted in error; the zero entry (no status) when there is none.
func (b *ballotRun) entryBefore(i int) contract.TimelineEntry {
	for j := i - 1; j >= 0; j-- {
		if b.Timeline[j].CorrectedBy == "" {
			return b.Timeline[j]
		}
	}
	return contract.TimelineEntry{}
}

// toldOf returns the channels on which the voter heard of entry e: its notice sent, or
// being sent now. An entry from before notices were numbered in the timeline is matched by
// its status.
func (b *ballotRun) toldOf(e contract.TimelineEntry) []string {
	about := func(seq int, status ballot.Status) bool {
		if e.NoticeSeq > 0 {
			return seq == e.NoticeSeq
		}
		return status == e.Status
	}
	var told []string
	for _, o := range b.Outcomes {
		if about(o.Seq, o.Status) && (o.Outcome == activities.OutcomeSent || o.Outcome == activities.OutcomeAlreadySent) &&
			!slices.Contains(told, o.Channel) {
			told = append(told, o.Channel)
		}
	}
	for _, n := range b.Pending {
		if n.InFlight && about(n.Seq, n.Status) && !slices.Contains(told, n.Channel) {
			told = append(told, n.Channel)
		}
	}
	return told
}

// heard reports whether the voter heard of status s, or is about to.
func (b *ballotRun) heard(s ballot.Status) bool {
	for _, o := range b.Outcomes {
		if o.Status == s && (o.Outcome == activities.OutcomeSent || o.Outcome == activities.OutcomeAlreadySent) {
			return true
		}
	}
	return slices.ContainsFunc(b.Pending, func(n *Notice) bool { return n.Status == s && n.Kind == "" })
}

// planCorrection plans one correction notice: on each channel that told the voter the wrong
// status and is still active, or, when none is, on every active channel.
func (b *ballotRun) planCorrection(ctx workflow.Context, was, right ballot.Status, c contract.StatusEvent, told []string) {
	if !b.Recipient.Notifiable {
		return
	}
	channels := slices.DeleteFunc(slices.Clone(b.Recipient.Channels), func(ch activities.ChannelPlan) bool {
		return !slices.Contains(told, ch.Channel)
	})
	if len(channels) == 0 {
		channels = b.Recipient.Channels
	}
	if len(channels) == 0 {
		return
	}
	b.NextSeq++
	for _, ch := range channels {
		n := &Notice{Seq: b.NextSeq, Status: right, Kind: activities.KindCorrection, Was: was, Channel: ch.Channel,
			Reason: c.Reason, CureDeadline: c.CureDeadline}
		b.schedule(ctx, n, ch)
		b.Pending = append(b.Pending, n)
	}
}
