package workflows

import (
	"fmt"
	"slices"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/ballotflow/ballotflow/activities"
	"github.com/ballotflow/ballotflow/internal/ballot"
	"github.com/ballotflow/ballotflow/internal/tzdb"
)

// remindersVersion versions reminders. The workflow asks once per run, the first time a
// reminder would be scheduled, so that a ballot whose county sends none records nothing.
const remindersVersion = "reminders"

// reminderGrace is how late a reminder may still go (a worker down at its time): a
// reminder missed by more is dropped, not sent days late.
const reminderGrace = 24 * time.Hour

// reminder is one reminder of the ballot's current status.
type reminder struct {
	Key      string // in RemindersDone: never twice
	At       time.Time
	Kind     string
	Deadline time.Time // none goes after it
	Date     string    // the deadline's day (YYYY-MM-DD, county time), as the notice says it
}

// remindersOn says whether this run sends reminders (remindersVersion).
func (b *ballotRun) remindersOn(ctx workflow.Context) bool {
	if b.reminders == nil {
		v := workflow.GetVersion(ctx, remindersVersion, workflow.DefaultVersion, 1) >= 1
		b.reminders = &v
	}
	return *b.reminders
}

// nextReminder is the earliest reminder of the current status not yet done: a return
// reminder while the ballot is mailed (not for a ballot mailed after the reminder's time),
// a cure reminder while it is challenged, each before its deadline.
func (b *ballotRun) nextReminder() (reminder, bool) {
	p := b.Recipient.Reminders
	if p == nil || b.Closed != "" || !b.Recipient.Notifiable || len(b.Recipient.Channels) == 0 {
		return reminder{}, false
	}
	var out []reminder
	switch b.Status {
	case ballot.StatusMailed:
		loc, err := tzdb.Load(p.TimeZone)
		if err != nil {
			return reminder{}, false
		}
		for _, at := range p.ReturnAt {
			out = append(out, reminder{Key: "return/" + at.UTC().Format(time.RFC3339), At: at,
				Kind: activities.KindReturnReminder, Deadline: p.ReturnBy, Date: p.ReturnBy.In(loc).Format(time.DateOnly)})
		}
	case ballot.StatusChallenged:
		deadline, ok := b.cureDeadlineEnd(p.TimeZone)
		if !ok {
			return reminder{}, false
		}
		loc, _ := tzdb.Load(p.TimeZone)
		hh, mm := remindAt(p.RemindAt)
		y, m, d := deadline.Add(-time.Second).In(loc).Date()
		for _, days := range p.CureDays {
			at := time.Date(y, m, d-days, hh, mm, 0, 0, loc)
			out = append(out, reminder{Key: fmt.Sprintf("cure/%s/%d", b.cureDeadline(), days), At: at,
				Kind: activities.KindCureReminder, Deadline: deadline, Date: b.cureDeadline()})
		}
	}
	out = slices.DeleteFunc(out, func(r reminder) bool {
		return b.RemindersDone[r.Key] || !r.At.After(b.StatusAt) || !r.At.Before(r.Deadline)
	})
	if len(out) == 0 {
		return reminder{}, false
	}
	return slices.MinFunc(out, func(x, y reminder) int { return x.At.Compare(y.At) }), true
}

// remindAt is the hour and minute of a ReminderPlan's RemindAt, 10:00 when it has none.
func remindAt(s string) (int, int) {
	t, err := time.Parse("15:04", s)
	if err != nil {
		return 10, 0
	}
	return t.Hour(), t.Minute()
}

// cureDeadline is the current challenge's cure deadline (YYYY-MM-DD), "" if it gave none.
func (b *ballotRun) cureDeadline() string {
	for i := len(b.Timeline) - 1; i >= 0; i-- {
		if b.Timeline[i].Status == ballot.StatusChallenged && b.Timeline[i].CorrectedBy == "" {
			return b.Timeline[i].CureDeadline
		}
	}
	return ""
}

// cureDeadlineEnd is the end of the cure deadline's day in the county's time zone.
func (b *ballotRun) cureDeadlineEnd(tz string) (time.Time, bool) {
	loc, err := tzdb.Load(tz)
	if err != nil {
		return time.Time{}, false
	}
	day, err := time.ParseInLocation(time.DateOnly, b.cureDeadline(), loc)
	if err != nil {
		return time.Time{}, false
	}
	return day.AddDate(0, 0, 1), true
}

// dueReminders plans the reminders whose time has come: each once, on every active channel
// in the voter's contact hours, and only if it can go before its deadline.
func (b *ballotRun) dueReminders(ctx workflow.Context) {
	now := workflow.Now(ctx)
	for {
		r, ok := b.nextReminder()
		if !ok || r.At.After(now) || !b.remindersOn(ctx) {
			return
		}
		if b.RemindersDone == nil {
			b.RemindersDone = map[string]bool{}
		}
		b.RemindersDone[r.Key] = true
		if now.Sub(r.At) > reminderGrace {
			workflow.GetLogger(ctx).Warn("reminder dropped: too late", "kind", r.Kind, "due", r.At)
			continue
		}
		seq := b.NextSeq + 1
		planned := false
		for _, ch := range b.Recipient.Channels {
			n := &Notice{Seq: seq, Status: b.Status, Kind: r.Kind, Channel: ch.Channel, CureDeadline: r.Date}
			b.schedule(ctx, n, ch)
			if !n.DueAt.Before(r.Deadline) {
				continue // the voter's hours open only after the deadline
			}
			if n.NotAfter.IsZero() || n.NotAfter.After(r.Deadline) {
				n.NotAfter = r.Deadline
			}
			b.Pending = append(b.Pending, n)
			planned = true
		}
		if planned {
			b.NextSeq = seq
		}
	}
}

// dropReminders removes reminders still waiting when the ballot moves on: they were about
// the status it left.
func (b *ballotRun) dropReminders(ctx workflow.Context, why string) {
	b.Pending = slices.DeleteFunc(b.Pending, func(n *Notice) bool {
		drop := !n.InFlight && (n.Kind == activities.KindReturnReminder || n.Kind == activities.KindCureReminder)
		if drop {
			b.outcome(ctx, n, "canceled", why)
		}
		return drop
	})
}

// reminderTimer keeps one timer for the next reminder across loop turns: it is started
// when that reminder changes and canceled when there is none, not on every signal.
type reminderTimer struct {
	at     time.Time
	fired  bool
	future workflow.Future
	cancel workflow.CancelFunc
}

// add puts the next reminder's timer in the selector (starting it if needed), or cancels a
// timer no longer wanted.
func (t *reminderTimer) add(ctx workflow.Context, b *ballotRun, sel workflow.Selector) {
	r, ok := b.nextReminder()
	if !ok || !b.remindersOn(ctx) {
		t.stop()
		return
	}
	if t.future == nil || t.fired || !t.at.Equal(r.At) {
		t.stop()
		tctx, cancel := workflow.WithCancel(ctx)
		t.at, t.fired, t.cancel = r.At, false, cancel
		t.future = workflow.NewTimerWithOptions(tctx, r.At.Sub(workflow.Now(ctx)), workflow.TimerOptions{Summary: "reminder"})
	}
	sel.AddFuture(t.future, func(workflow.Future) { t.fired = true })
}

func (t *reminderTimer) stop() {
	if t.cancel != nil && !t.fired {
		t.cancel()
	}
	t.future, t.cancel = nil, nil
}
