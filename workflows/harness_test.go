package workflows_test

import (
	"context"
	"log/slog"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/ballotflow/ballotflow/activities"
	"github.com/ballotflow/ballotflow/internal/ballot"
	"github.com/ballotflow/ballotflow/workflows"
	"github.com/ballotflow/ballotflow/workflows/contract"
)

// The ballot workflow's tests run it in the SDK's test environment, whose clock skips ahead
// whenever the workflow only waits. Activities are an in-test fake registered under the
// names the workflow uses, which records when (on the test clock) each delivery ran and with
// which notice.

var denver = func() *time.Location {
	loc, err := time.LoadLocation("America/Denver")
	if err != nil {
		panic(err)
	}
	return loc
}()

// day returns a wall-clock time in Denver, day days after Monday 2026-10-05 (MDT).
func day(d, hh, mm int) time.Time {
	return time.Date(2026, time.October, 5+d, hh, mm, 0, 0, denver)
}

func defaultWindow() activities.ContactWindow {
	return activities.ContactWindow{Start: ballot.DefaultContactStart, End: ballot.DefaultContactEnd, TimeZone: "America/Denver"}
}

func plan(channel string) activities.ChannelPlan {
	return activities.ChannelPlan{Channel: channel, Window: defaultWindow()}
}

func recipient(channels ...string) activities.Recipient {
	r := activities.Recipient{Notifiable: true}
	for _, c := range channels {
		r.Channels = append(r.Channels, plan(c))
	}
	return r
}

// attempt is one run of a delivery activity.
type attempt struct {
	Activity   string // SendEmail, SendSMS, PlaceCall
	At         time.Time
	Notice     activities.Notice
	ActivityID int
	Attempt    int32
	Err        error
	Done       time.Time // wall clock, when the fake returned
	Begun      time.Time // wall clock, when the fake started
	Local      bool      // the first try, SendNow, a local activity
}

// fake implements the activities. Hooks may refuse a delivery.
type fake struct {
	env *testsuite.TestWorkflowEnvironment

	mu        sync.Mutex
	recipient activities.Recipient
	loads     []time.Time
	records   []activities.RecordStatusInput
	waits     []waitsCall // every write of the held notices, by RecordStatus or RecordNoticeWaits
	attempts  []attempt
	lastAct   time.Time // when a status was last recorded or a delivery last tried
	// deliver, when set, decides a delivery attempt: nil, nil means the provider accepted it.
	deliver func(a attempt) (*activities.NoticeResult, error)
	// deferNow, when set, says which first tries find the channel's budget spent.
	deferNow func(n activities.Notice) bool
	deferred []activities.Notice
	// place, when set, says how long after its hours open a held notice wakes (its place in
	// the morning's queue); nil: at once.
	place    func(n activities.HeldNotice) time.Duration
	released []releaseCall
}

// releaseCall is one call of ReleaseHeld.
type releaseCall struct {
	At      time.Time
	Notices []activities.HeldNotice
}

func (f *fake) ReleaseHeld(_ context.Context, in activities.ReleaseHeldInput) ([]time.Time, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.released = append(f.released, releaseCall{At: f.env.Now(), Notices: in.Notices})
	out := make([]time.Time, len(in.Notices))
	for i, n := range in.Notices {
		out[i] = n.DueAt
		if f.place != nil {
			out[i] = n.DueAt.Add(f.place(n))
		}
	}
	return out, nil
}

func (f *fake) releaseCalls() []releaseCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]releaseCall(nil), f.released...)
}

func (f *fake) LoadRecipient(_ context.Context, in activities.LoadRecipientInput) (activities.Recipient, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if in.BallotKey != "bTEST" {
		return activities.Recipient{}, temporal.NewNonRetryableApplicationError("unknown ballot "+in.BallotKey, "NotFound", nil)
	}
	f.loads = append(f.loads, f.env.Now())
	r := f.recipient
	r.Channels = append([]activities.ChannelPlan(nil), r.Channels...)
	return r, nil
}

func (f *fake) RecordStatus(_ context.Context, in activities.RecordStatusInput) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.records = append(f.records, in)
	f.lastAct = f.env.Now()
	if in.SyncWaits {
		f.waits = append(f.waits, waitsCall{By: "RecordStatus", At: f.env.Now(), Waits: in.Waits})
	}
	return nil
}

// waitsCall is one write of a ballot's held notices.
type waitsCall struct {
	By    string // RecordStatus or RecordNoticeWaits
	At    time.Time
	Waits []activities.NoticeWait
}

func (f *fake) RecordNoticeWaits(_ context.Context, in activities.RecordNoticeWaitsInput) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.waits = append(f.waits, waitsCall{By: "RecordNoticeWaits", At: f.env.Now(), Waits: in.Waits})
	return nil
}

func (f *fake) waitsCalls() []waitsCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]waitsCall(nil), f.waits...)
}

func (f *fake) SendEmail(ctx context.Context, n activities.Notice) (activities.NoticeResult, error) {
	return f.send(ctx, "SendEmail", n)
}

func (f *fake) SendSMS(ctx context.Context, n activities.Notice) (activities.NoticeResult, error) {
	return f.send(ctx, "SendSMS", n)
}

func (f *fake) PlaceCall(ctx context.Context, n activities.Notice) (activities.NoticeResult, error) {
	return f.send(ctx, "PlaceCall", n)
}

// SendNow is the first try: the channel's attempt, marked Local, unless deferNow says the
// budget is spent.
func (f *fake) SendNow(ctx context.Context, n activities.Notice) (activities.SendNowResult, error) {
	f.mu.Lock()
	deferNow := f.deferNow
	f.mu.Unlock()
	if deferNow != nil && deferNow(n) {
		f.mu.Lock()
		f.deferred = append(f.deferred, n)
		f.mu.Unlock()
		return activities.SendNowResult{Deferred: activities.DeferredRate}, nil
	}
	name := map[string]string{ballot.ChannelEmail: "SendEmail", ballot.ChannelSMS: "SendSMS", ballot.ChannelVoice: "PlaceCall"}[n.Channel]
	res, err := f.send(ctx, name, n)
	return activities.SendNowResult{Result: res}, err
}

func (f *fake) send(ctx context.Context, name string, n activities.Notice) (activities.NoticeResult, error) {
	info := activity.GetInfo(ctx)
	id, _ := strconv.Atoi(info.ActivityID)
	a := attempt{Activity: name, At: f.env.Now(), Notice: n, ActivityID: id, Attempt: info.Attempt, Begun: time.Now(),
		Local: info.IsLocalActivity}
	f.mu.Lock()
	deliver := f.deliver
	f.mu.Unlock()
	res := activities.NoticeResult{Outcome: activities.OutcomeSent, ProviderID: "prov-" + n.IdempotencyKey}
	var err error
	if deliver != nil {
		var r *activities.NoticeResult
		r, err = deliver(a)
		if r != nil {
			res = *r
		}
	}
	a.Err, a.Done = err, time.Now()
	f.mu.Lock()
	f.attempts = append(f.attempts, a)
	f.lastAct = a.At
	f.mu.Unlock()
	if err != nil {
		return activities.NoticeResult{}, err
	}
	return res, nil
}

func (f *fake) setRecipient(r activities.Recipient) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.recipient = r
}

func (f *fake) setDeliver(fn func(a attempt) (*activities.NoticeResult, error)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.deliver = fn
}

func activityChannel(name string) string {
	switch name {
	case "SendSMS":
		return ballot.ChannelSMS
	case "PlaceCall":
		return ballot.ChannelVoice
	default:
		return ballot.ChannelEmail
	}
}

// all returns every delivery attempt on channel ("" = any), in the order they ran.
func (f *fake) all(channel string) []attempt {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []attempt
	for _, a := range f.attempts {
		if channel == "" || activityChannel(a.Activity) == channel {
			out = append(out, a)
		}
	}
	return out
}

// sent returns the deliveries on channel that the provider accepted.
func (f *fake) sent(channel string) []attempt {
	var out []attempt
	for _, a := range f.all(channel) {
		if a.Err == nil {
			out = append(out, a)
		}
	}
	return out
}

func (f *fake) recorded() []activities.RecordStatusInput {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]activities.RecordStatusInput(nil), f.records...)
}

func (f *fake) loadTimes() []time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]time.Time(nil), f.loads...)
}

// harness runs one ballot workflow.
type harness struct {
	t     *testing.T
	suite *testsuite.WorkflowTestSuite
	env   *testsuite.TestWorkflowEnvironment
	f     *fake
	start time.Time
	in    workflows.BallotStart
	ran   bool
}

func newHarness(t *testing.T, start time.Time, r activities.Recipient) *harness {
	t.Helper()
	s := &testsuite.WorkflowTestSuite{}
	s.SetLogger(log.NewStructuredLogger(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))))
	env := s.NewTestWorkflowEnvironment()
	env.SetStartTime(start)
	env.SetTestTimeout(30 * time.Second)
	env.RegisterWorkflowWithOptions(workflows.Ballot, workflow.RegisterOptions{Name: contract.BallotWorkflowName})

	f := &fake{env: env, recipient: r}
	env.RegisterActivityWithOptions(f.LoadRecipient, activity.RegisterOptions{Name: "LoadRecipient"})
	env.RegisterActivityWithOptions(f.RecordStatus, activity.RegisterOptions{Name: "RecordStatus"})
	env.RegisterActivityWithOptions(f.RecordNoticeWaits, activity.RegisterOptions{Name: "RecordNoticeWaits"})
	env.RegisterActivityWithOptions(f.ReleaseHeld, activity.RegisterOptions{Name: "ReleaseHeld"})
	env.RegisterActivityWithOptions(f.SendEmail, activity.RegisterOptions{Name: "SendEmail"})
	env.RegisterActivityWithOptions(f.SendSMS, activity.RegisterOptions{Name: "SendSMS"})
	env.RegisterActivityWithOptions(f.PlaceCall, activity.RegisterOptions{Name: "PlaceCall"})
	env.RegisterActivityWithOptions(f.SendNow, activity.RegisterOptions{Name: "SendNow"})

	return &harness{t: t, suite: s, env: env, f: f, start: start, in: workflows.BallotStart{BallotInput: contract.BallotInput{
		BallotKey: "bTEST", ElectionID: "e1", State: "CO", County: "denver",
		CanvassEndsAt: start.Add(30 * 24 * time.Hour),
	}}}
}

// at runs fn when the test clock reaches when.
func (h *harness) at(when time.Time, fn func()) {
	h.t.Helper()
	require.True(h.t, when.After(h.start), "callbacks run after the workflow starts")
	h.env.RegisterDelayedCallback(fn, when.Sub(h.start))
}

// atStart runs fn as the workflow starts: signals sent then are buffered until the workflow
// first reads its signal channels (as with SignalWithStart, or several signals in one
// workflow task), so they are taken in together.
func (h *harness) atStart(fn func()) {
	h.env.RegisterDelayedCallback(fn, 0)
}

var eventSeq int

// event builds a county event that happened at occurred.
func event(s ballot.Status, occurred time.Time) contract.StatusEvent {
	eventSeq++
	return contract.StatusEvent{EventID: "ev-" + strconv.Itoa(eventSeq) + "-" + string(s), Status: s, OccurredAt: occurred}
}

func (h *harness) signalEvent(ev contract.StatusEvent) {
	h.env.SignalWorkflow(string(ev.Status), ev)
}

// signal sends a status signal at when, for an event that happened then.
func (h *harness) signal(when time.Time, s ballot.Status) contract.StatusEvent {
	ev := event(s, when)
	h.at(when, func() { h.signalEvent(ev) })
	return ev
}

// prefsChanged swaps the voter's preferences and signals the workflow at when.
func (h *harness) prefsChanged(when time.Time, r activities.Recipient) {
	h.at(when, func() {
		h.f.setRecipient(r)
		h.env.SignalWorkflow(ballot.SignalPreferencesChanged, contract.PreferencesChanged{Reason: "portal"})
	})
}

// queryAt captures the status query's answer at when.
func (h *harness) queryAt(when time.Time) *contract.BallotView {
	v := &contract.BallotView{Closed: "<not queried>"}
	h.at(when, func() {
		*v = h.query()
	})
	return v
}

func (h *harness) query() contract.BallotView {
	h.t.Helper()
	res, err := h.env.QueryWorkflow(ballot.QueryStatus)
	require.NoError(h.t, err)
	var v contract.BallotView
	require.NoError(h.t, res.Get(&v))
	return v
}

// run executes the workflow to its end and requires that it completed without error.
func (h *harness) run() {
	h.t.Helper()
	h.env.ExecuteWorkflow(contract.BallotWorkflowName, h.in)
	h.ran = true
	require.True(h.t, h.env.IsWorkflowCompleted(), "the workflow completed")
	require.NoError(h.t, h.env.GetWorkflowError())
}

// ---- assertions

// requireSettledAt requires that the ballot's last act (a status recorded, a delivery tried)
// was at when, and that the workflow then stayed open for a correction, doing nothing more,
// until the canvass closed.
func (h *harness) requireSettledAt(when time.Time, msg string) {
	h.t.Helper()
	h.f.mu.Lock()
	last := h.f.lastAct
	h.f.mu.Unlock()
	requireAt(h.t, when, last, msg)
	requireAt(h.t, h.in.CanvassEndsAt, h.env.Now(), "the ballot waits for a correction until the canvass closes")
}

func requireAt(t *testing.T, want, got time.Time, msgAndArgs ...any) {
	t.Helper()
	require.Truef(t, want.Equal(got), "want %s, got %s %v", want.In(denver).Format(time.RFC3339), got.In(denver).Format(time.RFC3339), msgAndArgs)
}

func statuses(as []attempt) []string {
	out := make([]string, 0, len(as))
	for _, a := range as {
		out = append(out, string(a.Notice.Status))
	}
	return out
}

func keys(as []attempt) []string {
	out := make([]string, 0, len(as))
	for _, a := range as {
		out = append(out, a.Notice.IdempotencyKey)
	}
	return out
}

func localTimes(as []attempt) []string {
	out := make([]string, 0, len(as))
	for _, a := range as {
		out = append(out, a.At.In(denver).Format("01-02 15:04"))
	}
	return out
}

func recordedStatuses(rs []activities.RecordStatusInput) []string {
	out := make([]string, 0, len(rs))
	for _, r := range rs {
		out = append(out, string(r.Status))
	}
	return out
}

func timelineStatuses(v contract.BallotView) []ballot.Status {
	out := make([]ballot.Status, 0, len(v.Timeline))
	for _, e := range v.Timeline {
		out = append(out, e.Status)
	}
	return out
}

func findOutcome(v contract.BallotView, seq int, channel string) []contract.DeliveryOutcome {
	var out []contract.DeliveryOutcome
	for _, d := range v.Deliveries {
		if d.Seq == seq && d.Channel == channel {
			out = append(out, d)
		}
	}
	return out
}

// permanent is how a delivery activity reports a refusal for good.
func permanent(code string) error {
	return temporal.NewNonRetryableApplicationError(code, activities.ErrPermanent, nil)
}

// windowClosed is how a delivery activity reports that retries ran past the contact hours.
func windowClosed() error {
	return temporal.NewNonRetryableApplicationError("the voter's contact hours ended before the notice could be sent", activities.ErrWindowClosed, nil)
}

// transient is a provider error that retries after delay.
func transient(delay time.Duration) error {
	return temporal.NewApplicationErrorWithOptions("provider busy", "TransientDeliveryFailure",
		temporal.ApplicationErrorOptions{NextRetryDelay: delay})
}

// honorNotAfter makes the fake behave like the real activities: an attempt after the notice's
// NotAfter fails with ErrWindowClosed.
func honorNotAfter(a attempt) (*activities.NoticeResult, error) {
	if !a.Notice.NotAfter.IsZero() && a.At.After(a.Notice.NotAfter) {
		return nil, windowClosed()
	}
	return nil, nil
}
