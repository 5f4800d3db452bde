package workflows

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/ballotflow/ballotflow/activities"
	"github.com/ballotflow/ballotflow/internal/ballot"
	"github.com/ballotflow/ballotflow/workflows/contract"
)

// Ballot is the workflow of one mail ballot. It lives from the county's first event until
// the ballot reaches a final status and its last notice is settled, or until the
// election's canvass closes.
func Ballot(ctx workflow.Context, in BallotStart) error {
	b := &ballotRun{In: in}
	if in.Resume != nil {
		b.BallotState, b.In.Resume = *in.Resume, nil
	} else {
		b.Seen = map[string]bool{}
	}
	return b.run(ctx)
}

// ballotRun is the running workflow: its input, its state, and what the signal channels
// delivered since the loop last looked. The main loop in run reads top to bottom: take in
// signals, apply events, send what is due, wait.
type ballotRun struct {
	In BallotStart
	BallotState

	inbox        []contract.StatusEvent
	scans        []contract.MailScan
	prefsChanged bool
	sendNow      *bool                  // sendNowVersion, once asked
	reminders    *bool                  // remindersVersion, once asked
	corrections  *bool                  // correctionsVersion, once asked
	releases     *bool                  // releaseHeldVersion, once asked
	fixes        []contract.StatusEvent // corrections received (corrections.go)
}

// BallotState is everything a ballot workflow knows, carried whole into the next run by
// continue-as-new.
type BallotState struct {
	Status      ballot.Status
	StatusAt    time.Time
	Timeline    []contract.TimelineEntry
	Ignored     []contract.IgnoredEvent
	Outcomes    []contract.DeliveryOutcome
	Unreachable bool
	Closed      string
	Seen        map[string]bool // event ids already taken in
	Recipient   activities.Recipient
	Pending     []*Notice
	NextSeq     int
	MailScans   []contract.MailScanEntry // the newest maxMailScans
	MailTold    map[string]bool          // directions the voter was told of (at most once each)
	// RemindersDone holds the reminders planned or dropped: never twice.
	RemindersDone map[string]bool
	// FixesWaiting holds corrections that came before the event they correct (its signal was
	// delayed): each is applied when that event comes (at most maxFixesWaiting).
	FixesWaiting []contract.StatusEvent `json:",omitempty"`
	// WaitsRecorded is the set of held notices PostgreSQL was last told of (a delivery
	// removes its own row when it starts): the workflow writes the set again only when the
	// two differ.
	WaitsRecorded []activities.NoticeWait
}

// Notice is one planned message about one status on one channel.
type Notice struct {
	Seq          int
	Status       ballot.Status
	Kind         string             // "" for the status; activities.KindMail* for a mail scan
	Was          ballot.Status      `json:",omitempty"` // a correction: the status posted in error
	Scan         *contract.MailScan `json:",omitempty"` // the scan a mail notice tells of
	Channel      string
	Reason       string
	CureDeadline string
	DueAt        time.Time
	NotAfter     time.Time
	InFlight     bool
	Replan       bool // its window could not be read: re-plan at DueAt instead of sending
	Held         bool // planned for later than when it was planned: it waits for contact hours
	// ReleaseAt is when a held notice wakes: its place among the notices held for the same
	// opening of hours on its channel, at the channel's rate (ReleaseHeld), given for the
	// DueAt in ReleasedFor. A notice re-planned since wakes at its DueAt until it has a new
	// place.
	ReleaseAt   time.Time `json:",omitzero"`
	ReleasedFor time.Time `json:",omitzero"`
}

// wakeAt is when the notice may go: its place in the morning's queue, or else its DueAt.
func (n *Notice) wakeAt() time.Time {
	if n.ReleasedFor.Equal(n.DueAt) && n.ReleaseAt.After(n.DueAt) {
		return n.ReleaseAt
	}
	return n.DueAt
}

// deliveryDone is what a delivery goroutine reports back to the main loop.
type deliveryDone struct {
	Notice *Notice
	Result activities.NoticeResult
	Err    error
}

var acts *activities.Activities // names activity methods; never called directly

// Bookkeeping (a PostgreSQL read or write of a few milliseconds) runs as local activities:
// one marker in the history instead of three events and a workflow task, which keeps a
// typical ballot's history well under 100 events. They retry until the database is back.
var bookkeepingOptions = workflow.LocalActivityOptions{
	StartToCloseTimeout: 10 * time.Second,
	RetryPolicy:         retryUntilBack,
}

// deliveryOptions: transient provider errors retry with backoff for up to a day; permanent
// refusals and a closed contact window come back to the workflow at once.
func deliveryOptions(channel string) workflow.ActivityOptions {
	return workflow.ActivityOptions{
		TaskQueue:              activities.TaskQueue(channel),
		StartToCloseTimeout:    time.Minute,
		ScheduleToCloseTimeout: 24 * time.Hour,
		RetryPolicy:            retryProviderOutage,
	}
}

func (b *ballotRun) run(ctx workflow.Context) error {
	if err := workflow.SetQueryHandler(ctx, ballot.QueryStatus, b.view); err != nil {
		return fmt.Errorf("register status query: %w", err)
	}
	ctx = workflow.WithLocalActivityOptions(ctx, bookkeepingOptions)
	if err := b.loadRecipient(ctx); err != nil {
		return err
	}

	signals := make([]workflow.ReceiveChannel, 0, len(ballot.Statuses))
	for _, s := range ballot.Statuses {
		signals = append(signals, workflow.GetSignalChannel(ctx, string(s)))
	}
	prefs := workflow.GetSignalChannel(ctx, ballot.SignalPreferencesChanged)
	mail := workflow.GetSignalChannel(ctx, ballot.SignalMailScan)
	fix := workflow.GetSignalChannel(ctx, ballot.SignalCorrection)
	done := workflow.NewChannel(ctx)
	canvass := workflow.NewTimerWithOptions(ctx, b.In.CanvassEndsAt.Sub(workflow.Now(ctx)),
		workflow.TimerOptions{Summary: "end of canvass"})
	inFlight := 0
	var remTimer reminderTimer

	for {
		b.drainSignals(ctx, signals, prefs)
		b.drainScans(mail)
		b.drainCorrections(fix)
		if b.prefsChanged {
			b.prefsChanged = false
			if err := b.loadRecipient(ctx); err != nil {
				return err
			}
			b.replan(ctx)
		}
		if err := b.applyInbox(ctx); err != nil {
			return err
		}
		if err := b.applyCorrections(ctx); err != nil {
			return err
		}
		b.applyScans(ctx)
		b.dueReminders(ctx)
		inFlight += b.dispatchDue(ctx, done)
		if err := b.recordWaits(ctx); err != nil {
			return err
		}
		b.releaseHeld(ctx)
		// A final status ends the ballot once its notices are settled, unless the ballot takes
		// corrections: then it waits for one until the canvass closes.
		if inFlight == 0 && (b.Closed != "" || (b.Status.IsFinal() && len(b.Pending) == 0 && !b.correctionsOn(ctx))) {
			break
		}
		if inFlight == 0 && b.historyTooLong(ctx) {
			// A pathological stream of events: start afresh with the same state, so the history
			// stays small. Nothing is in flight, so nothing is lost.
			next := b.In
			next.Resume = b.carry()
			return workflow.NewContinueAsNewError(ctx, contract.BallotWorkflowName, next)
		}

		sel := workflow.NewSelector(ctx)
		for _, ch := range signals {
			sel.AddReceive(ch, func(workflow.ReceiveChannel, bool) {}) // drained at the top of the loop
		}
		sel.AddReceive(prefs, func(workflow.ReceiveChannel, bool) {})
		sel.AddReceive(mail, func(workflow.ReceiveChannel, bool) {})
		sel.AddReceive(fix, func(workflow.ReceiveChannel, bool) {})
		sel.AddReceive(done, func(c workflow.ReceiveChannel, _ bool) {
			var d deliveryDone
			c.Receive(ctx, &d)
			inFlight--
			b.settle(ctx, d)
		})
		remTimer.add(ctx, b, sel)
		if b.Closed == "" {
			sel.AddFuture(canvass, func(workflow.Future) { b.close(ctx, "the election's canvass closed") })
		}
		timerCtx, cancelTimer := workflow.WithCancel(ctx)
		if due, ok := b.nextDue(); ok {
			wait := due.Sub(workflow.Now(ctx))
			sel.AddFuture(workflow.NewTimerWithOptions(timerCtx, wait, workflow.TimerOptions{Summary: "wait for contact hours"}),
				func(workflow.Future) {})
		}
		sel.Select(ctx)
		cancelTimer()
	}
	workflow.GetLogger(ctx).Info("ballot workflow done", "status", b.Status, "closed", b.Closed)
	return nil
}

// drainSignals moves every buffered signal into the inbox.
func (b *ballotRun) drainSignals(ctx workflow.Context, signals []workflow.ReceiveChannel, prefs workflow.ReceiveChannel) {
	for i, ch := range signals {
		for {
			var ev contract.StatusEvent
			if !ch.ReceiveAsync(&ev) {
				break
			}
			ev.Status = ballot.Statuses[i] // the signal's name is the status, whatever the payload says
			b.inbox = append(b.inbox, ev)
		}
	}
	for {
		var p contract.PreferencesChanged
		if !prefs.ReceiveAsync(&p) {
			break
		}
		b.prefsChanged = true
	}
}

// drainScans moves every buffered mail scan into the scan inbox.
func (b *ballotRun) drainScans(mail workflow.ReceiveChannel) {
	for {
		var m contract.MailScan
		if !mail.ReceiveAsync(&m) {
			return
		}
		b.scans = append(b.scans, m)
	}
}

// mailScansVersion versions the handling of mail scans: a ballot whose history holds a scan
// signal its old code never read (it had no such channel) drops it on replay as it did then.
const mailScansVersion = "mail-scans"

// maxMailScans bounds the scans a ballot keeps in its state and view.
const maxMailScans = 20

// applyScans records the mail scans received and tells the voter of the first of each
// direction while the ballot is still "mailed": a scan that comes after the county received,
// accepted or counted the ballot, or after it was replaced, is recorded, never told.
func (b *ballotRun) applyScans(ctx workflow.Context) {
	scans := b.scans
	b.scans = nil
	if len(scans) == 0 || workflow.GetVersion(ctx, mailScansVersion, workflow.DefaultVersion, 1) == workflow.DefaultVersion {
		return
	}
	slices.SortStableFunc(scans, func(x, y contract.MailScan) int { return x.ScannedAt.Compare(y.ScannedAt) })
	for _, m := range scans {
		e := contract.MailScanEntry{MailScan: m}
		switch {
		case m.Direction != contract.MailOutbound && m.Direction != contract.MailReturn:
			e.Why = "unknown direction"
		case b.MailTold[m.Direction]:
			e.Why = "the voter was told of this direction already"
		case b.Closed != "":
			e.Why = "the ballot's tracking is closed: " + b.Closed
		case b.Status != ballot.StatusMailed:
			e.Why = fmt.Sprintf("the ballot is %s: a scan says nothing newer", b.Status)
		case !b.Recipient.Notifiable || len(b.Recipient.Channels) == 0:
			e.Why = "the voter has no channel to tell"
		default:
			if b.MailTold == nil {
				b.MailTold = map[string]bool{}
			}
			b.MailTold[m.Direction] = true
			e.Told = b.planMailNotice(ctx, m)
			if !e.Told {
				e.Why = "the voter is still to hear that the ballot was mailed"
			}
		}
		b.MailScans = lastN(append(b.MailScans, e), maxMailScans)
	}
}

// planMailNotice plans a notice of the scan on each active channel. An outbound scan is not
// told on a channel whose "mailed" notice is still waiting: the voter is about to hear that.
// It reports whether any channel got one.
func (b *ballotRun) planMailNotice(ctx workflow.Context, m contract.MailScan) bool {
	kind := activities.KindMailOutbound
	if m.Direction == contract.MailReturn {
		kind = activities.KindMailReturn
	}
	planned := false
	seq := b.NextSeq + 1
	for _, ch := range b.Recipient.Channels {
		if kind == activities.KindMailOutbound && slices.ContainsFunc(b.Pending, func(n *Notice) bool {
			return n.Channel == ch.Channel && n.Kind == "" && n.Status == ballot.StatusMailed && !n.InFlight
		}) {
			continue
		}
		scan := m
		n := &Notice{Seq: seq, Status: b.Status, Kind: kind, Scan: &scan, Channel: ch.Channel}
		b.schedule(ctx, n, ch)
		b.Pending = append(b.Pending, n)
		planned = true
	}
	if planned {
		b.NextSeq = seq
	}
	return planned
}

// applyInbox runs the status graph over the received events, in the order they happened at
// the county, and plans notices for those that move the ballot.
func (b *ballotRun) applyInbox(ctx workflow.Context) error {
	events := b.inbox
	b.inbox = nil
	slices.SortStableFunc(events, func(x, y contract.StatusEvent) int {
		if c := x.OccurredAt.Compare(y.OccurredAt); c != 0 {
			return c
		}
		return x.Status.Stage() - y.Status.Stage()
	})
	moved := false
	for _, ev := range events {
		if b.Seen[ev.EventID] {
			b.ignore(ev, "duplicate event_id")
			continue
		}
		b.Seen[ev.EventID] = true
		if b.Closed != "" {
			b.ignore(ev, "the ballot's tracking is closed: "+b.Closed)
			continue
		}
		if why := ballot.Transition(b.Status, ev.Status); why != "" {
			b.ignore(ev, why)
			continue
		}
		b.Status, b.StatusAt = ev.Status, ev.OccurredAt
		b.Timeline = append(b.Timeline, contract.TimelineEntry{Status: ev.Status, EventID: ev.EventID,
			OccurredAt: ev.OccurredAt, Reason: ev.Reason, CureDeadline: ev.CureDeadline})
		moved = true
		// Plan first (it issues no command), so that the status and the notices now held
		// are recorded together.
		b.dropReminders(ctx, "the ballot moved on to "+string(ev.Status))
		seq := b.NextSeq
		if ev.Status == ballot.StatusReplaced {
			b.cancelPending(ctx, "the ballot was replaced")
		} else {
			b.planNotices(ctx, ev)
		}
		if b.NextSeq != seq {
			b.Timeline[len(b.Timeline)-1].NoticeSeq = b.NextSeq // what a correction asks: was the voter told?
		}
		in := activities.RecordStatusInput{BallotKey: b.In.BallotKey, Status: ev.Status, At: ev.OccurredAt, EventID: ev.EventID}
		if err := b.recordStatus(ctx, in); err != nil {
			return err
		}
	}
	if moved {
		err := workflow.UpsertTypedSearchAttributes(ctx, contract.SearchBallotStatus.ValueSet(string(b.Status)))
		if err != nil {
			return fmt.Errorf("upsert BallotStatus: %w", err)
		}
	}
	return nil
}

func (b *ballotRun) ignore(ev contract.StatusEvent, why string) {
	b.Ignored = append(b.Ignored, contract.IgnoredEvent{EventID: ev.EventID, Status: ev.Status, OccurredAt: ev.OccurredAt,
		Reason: why, Corrects: ev.Corrects})
}

// planNotices plans one notice about ev on each active channel. A notice still waiting on a
// channel is replaced by the newer one, so a voter gets one message with the newest status
// instead of a burst; a cure notice is kept unless the ballot reached a final status.
func (b *ballotRun) planNotices(ctx workflow.Context, ev contract.StatusEvent) {
	if !ev.Status.Notifies() || !b.Recipient.Notifiable {
		return
	}
	b.NextSeq++
	seq := b.NextSeq
	for _, ch := range b.Recipient.Channels {
		b.Pending = slices.DeleteFunc(b.Pending, func(n *Notice) bool {
			superseded := n.Channel == ch.Channel && !n.InFlight && ballot.Supersedes(ev.Status, n.Status)
			if superseded {
				b.outcome(ctx, n, "coalesced", fmt.Sprintf("superseded by notice %d (%s)", seq, ev.Status))
			}
			return superseded
		})
		n := &Notice{Seq: seq, Status: ev.Status, Channel: ch.Channel, Reason: ev.Reason, CureDeadline: ev.CureDeadline}
		b.schedule(ctx, n, ch)
		b.Pending = append(b.Pending, n)
	}
}

// schedule sets when a notice may go: at once for email (unless the voter asked otherwise),
// otherwise at the start of the voter's next contact window.
func (b *ballotRun) schedule(ctx workflow.Context, n *Notice, ch activities.ChannelPlan) {
	now := workflow.Now(ctx)
	n.DueAt, n.NotAfter, n.Replan, n.Held = now, time.Time{}, false, false
	defer func() { n.Held = n.DueAt.After(now) }()
	if ch.Channel == ballot.ChannelEmail && !ch.HoldForHours {
		return
	}
	from, until, err := contactSlot(now, ch.Window)
	if err != nil {
		// The window came from PostgreSQL and was validated there; if it is still bad, the
		// default-hours rule is safer than texting at night: wait an hour and re-plan.
		workflow.GetLogger(ctx).Error("bad contact window", "channel", ch.Channel, "error", err)
		n.DueAt, n.Replan = now.Add(time.Hour), true
		return
	}
	n.DueAt, n.NotAfter = from, until
}

// dispatchDue starts the delivery of every notice whose time has come, each in its own
// goroutine so that a slow channel never holds up another. It returns how many it started.
func (b *ballotRun) dispatchDue(ctx workflow.Context, done workflow.Channel) int {
	now := workflow.Now(ctx)
	started := 0
	busy := b.busyChannels()
	due := slices.Clone(b.Pending)
	slices.SortStableFunc(due, func(x, y *Notice) int { return x.Seq - y.Seq })
	for _, n := range due {
		if n.InFlight || n.wakeAt().After(now) || busy[n.Channel] {
			continue
		}
		if n.Replan { // the window could not be read: read it again rather than send blind
			if ch, ok := b.channel(n.Channel); ok {
				b.schedule(ctx, n, ch)
			} else {
				n.DueAt = now.Add(time.Hour)
			}
			if n.wakeAt().After(now) {
				continue
			}
		}
		busy[n.Channel] = true // one delivery per channel at a time, oldest first
		n.InFlight = true
		// The delivery removes the notice's row in notice_waits when it starts.
		// (A new slice: the recorded one may be what a local activity was given.)
		b.WaitsRecorded = slices.DeleteFunc(slices.Clone(b.WaitsRecorded), func(w activities.NoticeWait) bool {
			return w.Seq == n.Seq && w.Channel == n.Channel
		})
		started++
		in := activities.Notice{
			IdempotencyKey: fmt.Sprintf("%s/%d/%s", b.In.BallotKey, n.Seq, n.Channel),
			BallotKey:      b.In.BallotKey, Seq: n.Seq, Status: n.Status, Channel: n.Channel,
			Reason: n.Reason, CureDeadline: n.CureDeadline, NotAfter: n.NotAfter, Kind: n.Kind, Was: n.Was,
		}
		if n.Scan != nil {
			in.ScannedAt, in.Facility = n.Scan.ScannedAt, n.Scan.Facility
		}
		sendNow := b.sendNowFirst(ctx)
		workflow.Go(ctx, func(gctx workflow.Context) {
			if sendNow {
				d, sent, wait := trySendNow(gctx, n, in)
				if sent {
					done.Send(gctx, d)
					return
				}
				if wait > 0 {
					// The provider failed the first try: the queued delivery is its retry, and
					// waits as a retry would (Retry-After, else the first retry interval), so that a
					// provider that took the message and dropped the connection has time to report
					// it delivered before it could be sent twice.
					_ = workflow.NewTimerWithOptions(gctx, wait, workflow.TimerOptions{Summary: "provider retry"}).Get(gctx, nil)
				}
			}
			actx := workflow.WithActivityOptions(gctx, deliveryOptions(n.Channel))
			var res activities.NoticeResult
			err := workflow.ExecuteActivity(actx, deliveryActivity(n.Channel), in).Get(actx, &res)
			done.Send(gctx, deliveryDone{Notice: n, Result: res, Err: err})
		})
	}
	return started
}

// sendNowVersion versions the change that tries every delivery first as a local activity
// (SendNow) and queues it only when that could not send: ballots started before it keep
// queuing every delivery, so their histories replay.
const sendNowVersion = "send-now-first"

// sendNowFirst says whether this run tries deliveries as local activities first. It asks
// Temporal once per run, at the first delivery, so that a ballot that never delivers
// records no marker.
func (b *ballotRun) sendNowFirst(ctx workflow.Context) bool {
	if b.sendNow == nil {
		v := workflow.GetVersion(ctx, sendNowVersion, workflow.DefaultVersion, 1) >= 1
		b.sendNow = &v
	}
	return *b.sendNow
}

// sendNowOptions: one try, short. A provider answering slowly or not at all is the queued
// activity's to retry with backoff, and a workflow task must not wait for it.
var sendNowOptions = workflow.LocalActivityOptions{
	StartToCloseTimeout: 15 * time.Second,
	RetryPolicy:         &temporal.RetryPolicy{MaximumAttempts: 1},
}

// trySendNow runs a delivery's first try as a local activity. It reports sent when that
// settled the notice (sent, found settled, refused for good, or its window closed).
// Otherwise the caller queues the delivery: at once when the try was deferred for the
// channel's rate, after wait when it failed (what the provider asked for, at least the
// retry policy's first interval).
func trySendNow(ctx workflow.Context, n *Notice, in activities.Notice) (d deliveryDone, sent bool, wait time.Duration) {
	lctx := workflow.WithLocalActivityOptions(ctx, sendNowOptions)
	var res activities.SendNowResult
	err := workflow.ExecuteLocalActivity(lctx, acts.SendNow, in).Get(lctx, &res)
	var appErr *temporal.ApplicationError
	switch {
	case err == nil && res.Deferred == "":
		return deliveryDone{Notice: n, Result: res.Result}, true, 0
	case err == nil:
		return deliveryDone{}, false, 0
	case errors.As(err, &appErr) && (appErr.Type() == activities.ErrPermanent || appErr.Type() == activities.ErrWindowClosed):
		return deliveryDone{Notice: n, Err: err}, true, 0
	case errors.As(err, &appErr):
		return deliveryDone{}, false, max(retryProviderOutage.InitialInterval, appErr.NextRetryDelay())
	}
	return deliveryDone{}, false, retryProviderOutage.InitialInterval
}

// busyChannels returns the channels with a delivery in flight.
func (b *ballotRun) busyChannels() map[string]bool {
	busy := map[string]bool{}
	for _, n := range b.Pending {
		if n.InFlight {
			busy[n.Channel] = true
		}
	}
	return busy
}

func deliveryActivity(channel string) any {
	switch channel {
	case ballot.ChannelSMS:
		return acts.SendSMS
	case ballot.ChannelVoice:
		return acts.PlaceCall
	default:
		return acts.SendEmail
	}
}

// settle records how a delivery ended and falls back to another channel when it failed.
func (b *ballotRun) settle(ctx workflow.Context, d deliveryDone) {
	n := d.Notice
	n.InFlight = false
	var appErr *temporal.ApplicationError
	switch {
	case d.Err == nil:
		b.remove(n)
		b.outcome(ctx, n, d.Result.Outcome, d.Result.ProviderID)
		return
	case errors.As(d.Err, &appErr) && appErr.Type() == activities.ErrWindowClosed:
		if b.Closed != "" {
			b.remove(n)
			b.outcome(ctx, n, "canceled", b.Closed)
			return
		}
		if newer := b.newerOn(n, n.Channel); newer != nil {
			b.remove(n)
			b.outcome(ctx, n, "coalesced", fmt.Sprintf("superseded by notice %d (%s)", newer.Seq, newer.Status))
			return
		}
		if ch, ok := b.channel(n.Channel); ok {
			b.schedule(ctx, n, ch) // the next window
			return
		}
		b.remove(n)
		b.outcome(ctx, n, "canceled", "channel turned off")
		return
	case errors.As(d.Err, &appErr) && appErr.Type() == activities.ErrPermanent:
		b.remove(n)
		b.outcome(ctx, n, "failed", appErr.Message())
	default:
		b.remove(n)
		b.outcome(ctx, n, "failed", "gave up after retries: "+rootMessage(d.Err))
	}
	// The channel is unusable; the subscription was marked by the activity.
	b.Recipient.Channels = slices.DeleteFunc(b.Recipient.Channels, func(c activities.ChannelPlan) bool {
		return c.Channel == n.Channel
	})
	if b.Closed != "" {
		return // tracking closed: nothing more is planned
	}
	b.fallback(ctx, n)
}

// newerOn returns a notice planned on channel that supersedes n (same rule as planNotices:
// a challenge is superseded only by a final status), or nil.
func (b *ballotRun) newerOn(n *Notice, channel string) *Notice {
	for _, p := range b.Pending {
		if p != n && p.Channel == channel && p.Seq > n.Seq && ballot.Supersedes(p.Status, n.Status) {
			return p
		}
	}
	return nil
}

// fallback plans a failed notice on the voter's next channel that has not had it yet; never
// a notice of a status that was corrected meanwhile.
func (b *ballotRun) fallback(ctx workflow.Context, failed *Notice) {
	if failed.Kind == "" && b.postedInError(failed.Seq) {
		return
	}
	for _, name := range fallbackOrder(failed.Channel) {
		ch, ok := b.channel(name)
		if !ok || b.hasNotice(failed.Seq, name) {
			continue
		}
		if b.newerOn(failed, name) != nil {
			return // that channel is about to tell the voter something newer
		}
		if b.hasNotice(failed.Seq, "") {
			return // another channel already has it: the voter is told
		}
		n := &Notice{Seq: failed.Seq, Status: failed.Status, Kind: failed.Kind, Was: failed.Was, Scan: failed.Scan, Channel: name,
			Reason: failed.Reason, CureDeadline: failed.CureDeadline}
		b.schedule(ctx, n, ch)
		b.Pending = append(b.Pending, n)
		return
	}
	if !b.hasNotice(failed.Seq, "") {
		b.Unreachable = true
	}
}

// hasNotice reports whether notice seq was delivered or is planned on channel ("" = any).
func (b *ballotRun) hasNotice(seq int, channel string) bool {
	for _, n := range b.Pending {
		if n.Seq == seq && (channel == "" || n.Channel == channel) {
			return true
		}
	}
	for _, o := range b.Outcomes {
		if o.Seq == seq && (channel == "" || o.Channel == channel) &&
			(o.Outcome == activities.OutcomeSent || o.Outcome == activities.OutcomeAlreadySent) {
			return true
		}
	}
	return false
}

func fallbackOrder(failed string) []string {
	switch failed {
	case ballot.ChannelSMS:
		return []string{ballot.ChannelEmail, ballot.ChannelVoice}
	case ballot.ChannelVoice:
		return []string{ballot.ChannelSMS, ballot.ChannelEmail}
	default:
		return []string{ballot.ChannelSMS, ballot.ChannelVoice}
	}
}

func (b *ballotRun) channel(name string) (activities.ChannelPlan, bool) {
	for _, c := range b.Recipient.Channels {
		if c.Channel == name {
			return c, true
		}
	}
	return activities.ChannelPlan{}, false
}

func (b *ballotRun) remove(n *Notice) {
	b.Pending = slices.DeleteFunc(b.Pending, func(p *Notice) bool { return p == n })
}

func (b *ballotRun) outcome(ctx workflow.Context, n *Notice, outcome, detail string) {
	b.Outcomes = append(b.Outcomes, contract.DeliveryOutcome{Seq: n.Seq, Status: n.Status, Channel: n.Channel,
		Outcome: outcome, Detail: detail, At: workflow.Now(ctx)})
}

// loadRecipient reads the voter's active channels and contact hours.
func (b *ballotRun) loadRecipient(ctx workflow.Context) error {
	var r activities.Recipient
	err := workflow.ExecuteLocalActivity(ctx, acts.LoadRecipient, activities.LoadRecipientInput{BallotKey: b.In.BallotKey}).Get(ctx, &r)
	if err != nil {
		return fmt.Errorf("load recipient: %w", err)
	}
	b.Recipient = r
	return nil
}

// replan applies changed preferences to waiting notices: a channel turned off (or an
// opt-out) cancels them, new contact hours move them.
func (b *ballotRun) replan(ctx workflow.Context) {
	if !b.Recipient.Notifiable {
		b.cancelPending(ctx, "the voter can no longer be contacted")
		return
	}
	b.Pending = slices.DeleteFunc(b.Pending, func(n *Notice) bool {
		if n.InFlight {
			return false // the activity itself checks the subscription at send time
		}
		ch, ok := b.channel(n.Channel)
		if !ok {
			b.outcome(ctx, n, "canceled", "channel turned off")
			return true
		}
		b.schedule(ctx, n, ch)
		return false
	})
}

// cancelPending drops every notice that has not started.
func (b *ballotRun) cancelPending(ctx workflow.Context, why string) {
	b.Pending = slices.DeleteFunc(b.Pending, func(n *Notice) bool {
		if n.InFlight {
			return false
		}
		b.outcome(ctx, n, "canceled", why)
		return true
	})
}

// close ends tracking: nothing more is planned, waiting notices are dropped.
func (b *ballotRun) close(ctx workflow.Context, why string) {
	b.Closed = why
	b.cancelPending(ctx, why)
}

// waits returns the notices held for the voter's contact hours, in a stable order: what
// PostgreSQL should hold for this ballot in notice_waits.
func (b *ballotRun) waits() []activities.NoticeWait {
	var ws []activities.NoticeWait
	for _, n := range b.Pending {
		if n.Held && !n.InFlight {
			ws = append(ws, activities.NoticeWait{Seq: n.Seq, Channel: n.Channel, DueAt: n.DueAt})
		}
	}
	slices.SortFunc(ws, func(x, y activities.NoticeWait) int {
		if x.Seq != y.Seq {
			return x.Seq - y.Seq
		}
		return strings.Compare(x.Channel, y.Channel)
	})
	return ws
}

// recordWaits tells PostgreSQL of the held notices when they changed without a status move
// (new contact hours, a channel turned off, a window missed, a fallback, the canvass
// closing). A status move carries them in RecordStatus; a delivery removes its own row. The
// local activity is new in version 1 of noticeWaitsChange: ballots started before it skip it.
func (b *ballotRun) recordWaits(ctx workflow.Context) error {
	waits := b.waits()
	if sameWaits(waits, b.WaitsRecorded) {
		return nil
	}
	if workflow.GetVersion(ctx, noticeWaitsChange, workflow.DefaultVersion, 1) >= 1 {
		in := activities.RecordNoticeWaitsInput{BallotKey: b.In.BallotKey, Waits: waits}
		if err := workflow.ExecuteLocalActivity(ctx, acts.RecordNoticeWaits, in).Get(ctx, nil); err != nil {
			return fmt.Errorf("record notice waits: %w", err)
		}
	}
	b.WaitsRecorded = waits
	return nil
}

// sameWaits compares two sets of held notices by instant, not by time.Time's ==: times that
// crossed continue-as-new come back from JSON with a location of their own.
func sameWaits(a, b []activities.NoticeWait) bool {
	return slices.EqualFunc(a, b, func(x, y activities.NoticeWait) bool {
		return x.Seq == y.Seq && x.Channel == y.Channel && x.DueAt.Equal(y.DueAt)
	})
}

// releaseHeldVersion versions the morning's release order: from version 1 a notice held for
// contact hours takes a place in the queue of its channel and opening (ReleaseHeld) and
// wakes at it. Ballots started before it wake every held notice when the hours open.
const releaseHeldVersion = "release-held-in-order"

// releaseHeld gives the held notices without a place for their DueAt one, in one local
// activity. It asks Temporal for the version once per run, at the first held notice, so
// that a ballot that never holds one records no marker.
func (b *ballotRun) releaseHeld(ctx workflow.Context) {
	var held []*Notice
	for _, n := range b.Pending {
		if n.Held && !n.InFlight && !n.Replan && !n.ReleasedFor.Equal(n.DueAt) {
			held = append(held, n)
		}
	}
	if len(held) == 0 {
		return
	}
	if b.releases == nil {
		v := workflow.GetVersion(ctx, releaseHeldVersion, workflow.DefaultVersion, 1) >= 1
		b.releases = &v
	}
	if !*b.releases {
		return
	}
	slices.SortStableFunc(held, func(x, y *Notice) int { return x.Seq - y.Seq })
	in := activities.ReleaseHeldInput{Notices: make([]activities.HeldNotice, len(held))}
	for i, n := range held {
		in.Notices[i] = activities.HeldNotice{Channel: n.Channel, DueAt: n.DueAt, NotAfter: n.NotAfter}
	}
	var at []time.Time
	err := workflow.ExecuteLocalActivity(ctx, acts.ReleaseHeld, in).Get(ctx, &at)
	if err != nil || len(at) != len(held) {
		// Only a workflow being torn down gets here (bookkeeping retries until the database is
		// back): the notices wake when their hours open, as without a place.
		workflow.GetLogger(ctx).Warn("no release places for held notices", "error", err)
		at = nil
	}
	for i, n := range held {
		n.ReleasedFor, n.ReleaseAt = n.DueAt, n.DueAt
		if at != nil {
			n.ReleaseAt = at[i]
		}
	}
}

// noticeWaitsChange is the change id of recording held notices outside a status move.
const noticeWaitsChange = "record-notice-waits"

// nextDue returns the earliest time a waiting notice may go.
func (b *ballotRun) nextDue() (time.Time, bool) {
	var next time.Time
	busy := b.busyChannels()
	for _, n := range b.Pending {
		if at := n.wakeAt(); !n.InFlight && !busy[n.Channel] && (next.IsZero() || at.Before(next)) {
			next = at
		}
	}
	return next, !next.IsZero()
}

// continueAsNewAfter is the history length at which a ballot continues as new (unless the
// server suggests it sooner). A typical ballot ends with fewer than 100 events; only a flood
// of events gets here.
const continueAsNewAfter = 2000

// Kept when a ballot continues as new: the newest ignored events and delivery outcomes.
const (
	carriedIgnored  = 100
	carriedOutcomes = 200
)

func (b *ballotRun) historyTooLong(ctx workflow.Context) bool {
	info := workflow.GetInfo(ctx)
	return info.GetContinueAsNewSuggested() || info.GetCurrentHistoryLength() >= continueAsNewAfter
}

// carry returns the state for the next run, with its lists bounded: the newest ignored
// events and outcomes, and of the event ids seen, those that moved the ballot and those of
// the ignored events kept (a county system resending events under new ids could otherwise
// grow Seen until continue-as-new itself is refused). An id dropped from Seen is still an
// event the status graph ignores, and the API refuses its re-post as a duplicate. What
// continue-as-new carries is the next run's input, not a command: no version gate.
func (b *ballotRun) carry() *BallotState {
	s := b.BallotState
	s.Ignored = lastN(s.Ignored, carriedIgnored)
	s.Outcomes = lastN(s.Outcomes, carriedOutcomes)
	s.Seen = make(map[string]bool, len(s.Timeline)+len(s.Ignored))
	for _, e := range s.Timeline {
		s.Seen[e.EventID] = true
	}
	for _, e := range s.Ignored {
		s.Seen[e.EventID] = true
	}
	return &s
}

func lastN[T any](xs []T, n int) []T {
	if len(xs) <= n {
		return xs
	}
	return slices.Clone(xs[len(xs)-n:])
}

// view answers the status query.
func (b *ballotRun) view() (contract.BallotView, error) {
	v := contract.BallotView{
		Status: b.Status, StatusAt: b.StatusAt, Unreachable: b.Unreachable, Closed: b.Closed,
		Timeline:   slices.Clone(b.Timeline),
		Ignored:    slices.Clone(b.Ignored),
		Deliveries: slices.Clone(b.Outcomes),
		MailScans:  slices.Clone(b.MailScans),
		Waiting:    slices.Clone(b.FixesWaiting),
	}
	for _, n := range b.Pending {
		v.Pending = append(v.Pending, contract.PendingNotice{Seq: n.Seq, Status: n.Status, Kind: n.Kind, Channel: n.Channel,
			DueAt: n.DueAt, InFlight: n.InFlight})
	}
	return v, nil
}

// rootMessage is the innermost error's text: for an activity that gave up, the provider's
// classified (address-free) error.
func rootMessage(err error) string {
	for {
		next := errors.Unwrap(err)
		if next == nil {
			return err.Error()
		}
		err = next
	}
}
