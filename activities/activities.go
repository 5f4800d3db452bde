package activities

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/ballotflow/ballotflow/internal/ballot"
	"github.com/ballotflow/ballotflow/internal/metrics"
	"github.com/ballotflow/ballotflow/internal/notices"
	"github.com/ballotflow/ballotflow/internal/prefs"
	"github.com/ballotflow/ballotflow/internal/providers"
	"github.com/ballotflow/ballotflow/internal/recipient"
	"github.com/ballotflow/ballotflow/internal/store"
)

// EmailSender sends email; *providers.SendGrid is the one ballotflow uses.
type EmailSender interface {
	SendEmail(ctx context.Context, m providers.Email) (providers.Accepted, error)
}

// PhoneSender sends text messages and places calls; *providers.Twilio is the one ballotflow uses.
type PhoneSender interface {
	SendSMS(ctx context.Context, m providers.SMS) (providers.Accepted, error)
	PlaceCall(ctx context.Context, c providers.Call) (providers.Accepted, error)
}

// Activities holds what the activities need. The worker registers one value of it; the
// workflow names its methods through a nil pointer.
type Activities struct {
	Store *store.Store
	Email EmailSender
	Phone PhoneSender
	// TwilioStatusCallbackURL receives Twilio message and call status callbacks; empty for none.
	// Each message and call adds its delivery's idempotency key to it.
	TwilioStatusCallbackURL string
	// TwilioVoiceURL is where a call's "press 1 to hear this again" goes (the API's voice
	// webhook); empty reads each notice twice instead.
	TwilioVoiceURL string
	// PublicURL is the API's public URL: notice emails link to its portal and to their
	// one-click unsubscribe (List-Unsubscribe) there. Empty sends emails without either.
	PublicURL string
	// Temporal signals the running ballots of other voters whose subscription a refused
	// address turned off (a household sharing it), so that they re-plan waiting notices at
	// once (prefs.Notify). Nil tells nobody: tests of a single activity run without Temporal.
	Temporal client.Client
	// Budgets hold each channel's send rate across all workers (Budget); a channel without
	// one is not limited here (tests of a single activity).
	Budgets map[string]*Budget
	Now     func() time.Time
	Logger  *slog.Logger

	wordings wordingCache // each county's own wording of its notices (wording.go)
}

// LoadRecipient returns the voter's active channels and contact hours for a ballot: what the
// workflow needs to plan, and no address.
func (a *Activities) LoadRecipient(ctx context.Context, in LoadRecipientInput) (Recipient, error) {
	c, err := a.contact(ctx, in.BallotKey)
	if err != nil {
		return Recipient{}, err
	}
	r := Recipient{Notifiable: c.Notifiable()}
	if !r.Notifiable {
		return r, nil
	}
	for _, s := range c.Subscriptions {
		if s.State != ballot.SubscriptionActive {
			continue
		}
		var w ContactWindow
		w.Start, w.End, w.TimeZone = recipient.ContactHours(s, c.Jurisdiction)
		r.Channels = append(r.Channels, ChannelPlan{Channel: s.Channel, Window: w, HoldForHours: s.HoldForHours})
	}
	if len(r.Channels) == 0 {
		return r, nil
	}
	plan, err := a.reminderPlan(ctx, c)
	if err != nil {
		return Recipient{}, err
	}
	r.Reminders = plan
	return r, nil
}

// reminderPlan reads the county's reminders for the ballot's election and places them in
// time: nil when it sends none.
func (a *Activities) reminderPlan(ctx context.Context, c recipient.Recipient) (*ReminderPlan, error) {
	rem, err := a.Store.RemindersGet(ctx, c.Ballot.ElectionID, c.Ballot.State, c.Ballot.County)
	if err != nil {
		return nil, err
	}
	if len(rem.ReturnDays) == 0 && len(rem.CureDays) == 0 {
		return nil, nil
	}
	e, err := a.Store.ElectionGetByID(ctx, c.Ballot.ElectionID)
	if err != nil {
		return nil, notFoundIsPermanent(err)
	}
	loc, err := time.LoadLocation(c.Jurisdiction.TimeZone)
	if err != nil {
		return nil, temporal.NewNonRetryableApplicationError("the county's time zone is unknown", "BadTimeZone", err)
	}
	closes, err := time.Parse("15:04", rem.ReturnsClose)
	if err != nil {
		return nil, err
	}
	at, err := time.Parse("15:04", rem.RemindAt)
	if err != nil {
		return nil, err
	}
	y, m, d := e.ElectionDay.Date()
	p := &ReminderPlan{
		ReturnBy: time.Date(y, m, d, closes.Hour(), closes.Minute(), 0, 0, loc).UTC(),
		CureDays: rem.CureDays, TimeZone: c.Jurisdiction.TimeZone, RemindAt: rem.RemindAt,
	}
	for _, days := range rem.ReturnDays { // most days first: earliest first
		p.ReturnAt = append(p.ReturnAt, time.Date(y, m, d-days, at.Hour(), at.Minute(), 0, 0, loc).UTC())
	}
	return p, nil
}

// RecordStatus stores the status the workflow moved a ballot to, for reads that must not ask
// Temporal (the portal, reports).
func (a *Activities) RecordStatus(ctx context.Context, in RecordStatusInput) error {
	if c := in.Corrected; c != nil {
		return a.Store.BallotCorrectStatus(ctx, in.BallotKey, store.StatusCorrection{Status: string(in.Status), At: in.At,
			Wrong: string(c.Status), WrongAt: c.At, Moved: c.Moved}, in.SyncWaits, storeWaits(in.Waits))
	}
	if in.SyncWaits {
		return a.Store.BallotSetStatusAndWaits(ctx, in.BallotKey, string(in.Status), in.At, storeWaits(in.Waits))
	}
	return a.Store.BallotSetStatus(ctx, in.BallotKey, string(in.Status), in.At)
}

// RecordNoticeWaits records the notices a ballot's workflow holds for the voter's contact
// hours, when they changed without a status move (new contact hours, a channel turned off,
// a window missed): what the "notices waiting" gauge counts. A delivery removes its own row
// when it starts.
func (a *Activities) RecordNoticeWaits(ctx context.Context, in RecordNoticeWaitsInput) error {
	return a.Store.NoticeWaitSet(ctx, in.BallotKey, storeWaits(in.Waits))
}

// ReleaseHeld spreads the notices held for the same opening of contact hours over the
// channel's rate: each takes the next place in its channel's and instant's queue
// (PostgreSQL, across workers), and wakes that many sends after the hours open. The texts
// held overnight for 08:00 then wake at the pace they can be sent, rather than all at 08:00
// to be refused by the rate and queued again. A notice whose place falls after its hours
// close wakes when they open, as before; so does every notice of a channel without a rate.
func (a *Activities) ReleaseHeld(ctx context.Context, in ReleaseHeldInput) ([]time.Time, error) {
	places := make([]store.NoticeRelease, len(in.Notices))
	for i, n := range in.Notices {
		places[i] = store.NoticeRelease{Channel: n.Channel, DueAt: n.DueAt}
	}
	places, err := a.Store.NoticeReleaseTake(ctx, places)
	if err != nil {
		return nil, err
	}
	out := make([]time.Time, len(in.Notices))
	for i, n := range in.Notices {
		out[i] = n.DueAt
		b := a.Budgets[n.Channel]
		if b == nil || b.Rate <= 0 {
			continue
		}
		at := n.DueAt.Add(time.Duration(float64(places[i].Place) * float64(time.Second) / b.Rate))
		if n.NotAfter.IsZero() || at.Before(n.NotAfter) {
			out[i] = at
		}
	}
	return out, nil
}

func storeWaits(waits []NoticeWait) []store.NoticeWait {
	out := make([]store.NoticeWait, len(waits))
	for i, w := range waits {
		out[i] = store.NoticeWait{Seq: w.Seq, Channel: w.Channel, DueAt: w.DueAt}
	}
	return out
}

// SendEmail delivers a notice by email through SendGrid: the queued delivery, when SendNow
// could not send at once.
func (a *Activities) SendEmail(ctx context.Context, n Notice) (NoticeResult, error) {
	return a.deliver(ctx, n, ballot.ChannelEmail, a.takeQueued)
}

// SendSMS delivers a notice by text message through Twilio, with the opt-out footer when
// the number is due one (sms.go).
func (a *Activities) SendSMS(ctx context.Context, n Notice) (NoticeResult, error) {
	return a.deliver(ctx, n, ballot.ChannelSMS, a.takeQueued)
}

// PlaceCall delivers a notice by a voice call through Twilio.
func (a *Activities) PlaceCall(ctx context.Context, n Notice) (NoticeResult, error) {
	return a.deliver(ctx, n, ballot.ChannelVoice, a.takeQueued)
}

// SendNow is a delivery's first try, run by the ballot workflow as a local activity: in the
// workflow task that planned the notice, with no task queue round trip and one history
// event instead of three and a workflow task. It sends only if the channel's budget has a
// send to spare this moment; otherwise it returns Deferred and the workflow hands the
// notice to the channel's queued activity (SendEmail, SendSMS, PlaceCall), which waits its
// turn and retries provider outages with backoff. A transient failure fails this try
// (the workflow then queues it too); a permanent refusal and a closed window are the
// queued activities' errors.
func (a *Activities) SendNow(ctx context.Context, n Notice) (SendNowResult, error) {
	deferred := false
	res, err := a.deliver(ctx, n, n.Channel, func(ctx context.Context, channel string) error {
		ok, err := a.Budgets[channel].TryTake(ctx)
		if err == nil && !ok {
			deferred = true
			return errDeferred
		}
		return err
	})
	if deferred {
		return SendNowResult{Deferred: DeferredRate}, nil
	}
	return SendNowResult{Result: res}, err
}

// errDeferred stops deliver before it writes anything when SendNow's budget is spent.
var errDeferred = errors.New("deferred: the channel's send budget is spent")

// queuedBudgetWait is how long a queued delivery waits for its channel's budget before it
// fails the attempt (retried with backoff). The queue's own rate limit normally keeps it
// short; it is long only while local first tries spend most of the budget.
const queuedBudgetWait = 30 * time.Second

func (a *Activities) takeQueued(ctx context.Context, channel string) error {
	return a.Budgets[channel].TakeWithin(ctx, queuedBudgetWait)
}

// sender returns the provider call of a channel: it renders the notice for the voter and
// sends it.
func (a *Activities) sender(ctx context.Context, n Notice, channel string) sendFunc {
	switch channel {
	case ballot.ChannelSMS:
		// With the opt-out footer when the number is due one (sms.go).
		return func(c recipient.Recipient, sub store.Subscription) (providers.Accepted, int64, error) {
			m, err := a.noticeSMS(ctx, n, c, sub)
			if err != nil {
				return providers.Accepted{}, 0, err
			}
			accepted, err := a.Phone.SendSMS(ctx, providers.SMS{
				To: sub.Address, From: c.Jurisdiction.SMSFrom,
				Body:           m.SMS,
				StatusCallback: providers.WithIdempotencyKey(a.TwilioStatusCallbackURL, n.IdempotencyKey),
			})
			return accepted, m.SMSVersion, err
		}
	case ballot.ChannelVoice:
		// A voice call reads the notice aloud and offers to read it again (press 1, answered
		// by the API's voice webhook).
		return func(c recipient.Recipient, sub store.Subscription) (providers.Accepted, int64, error) {
			d, err := a.noticeData(ctx, c, n, c.Language(sub.Channel))
			if err != nil {
				return providers.Accepted{}, 0, err
			}
			call, err := notices.RenderCall(c.Language(sub.Channel), n.MessageKey(), d,
				providers.WithIdempotencyKey(a.TwilioVoiceURL, n.IdempotencyKey))
			if err != nil {
				return providers.Accepted{}, 0, renderFailed{err}
			}
			accepted, err := a.Phone.PlaceCall(ctx, providers.Call{
				To: sub.Address, From: c.Jurisdiction.VoiceFrom, Twiml: call.TwiML,
				StatusCallback: providers.WithIdempotencyKey(a.TwilioStatusCallbackURL, n.IdempotencyKey),
			})
			return accepted, call.Version, err
		}
	default:
		return func(c recipient.Recipient, sub store.Subscription) (providers.Accepted, int64, error) {
			email, version, err := a.noticeEmail(ctx, n, c, sub) // email.go
			if err != nil {
				return providers.Accepted{}, 0, err
			}
			accepted, err := a.Email.SendEmail(ctx, email)
			return accepted, version, err
		}
	}
}

// errProviderConfiguration: the provider refused ballotflow's credentials or settings.
// Retryable: the notice waits until an operator fixes the configuration.
const errProviderConfiguration = "ProviderConfiguration"

// sendFunc renders a notice for the voter and hands it to the provider; it returns the
// version of the county's wording the message used (0: the catalog's). A notice that cannot
// be rendered is a renderFailed error (the renderers in sms.go and email.go wrap it so):
// retrying would not help, unlike a database or provider error on the way.
type sendFunc func(c recipient.Recipient, sub store.Subscription) (providers.Accepted, int64, error)

// renderFailed is a sendFunc's error when the notice could not be rendered.
type renderFailed struct{ err error }

func (e renderFailed) Error() string { return "render notice: " + e.err.Error() }

// takeFunc takes one send from a channel's budget, or says why not.
type takeFunc func(ctx context.Context, channel string) error

// deliver is the one path of every delivery: take a send from the channel's budget, read
// the voter at send time, write the deliveries row before calling the provider, and settle
// it after. A retried or re-run activity that finds the row accepted does not send again.
func (a *Activities) deliver(ctx context.Context, n Notice, channel string, take takeFunc) (res NoticeResult, err error) {
	defer func() { metrics.Notices.WithLabelValues(channel, outcomeLabel(res, err)).Inc() }()
	if !n.NotAfter.IsZero() && a.now().After(n.NotAfter) {
		return NoticeResult{}, temporal.NewNonRetryableApplicationError(
			"the voter's contact hours ended before the notice could be sent", ErrWindowClosed, nil)
	}
	// Before anything is written: a send deferred for the budget leaves no trace. A token
	// taken for a notice that turns out to be settled or skipped is simply not used.
	if err := take(ctx, channel); err != nil {
		return NoticeResult{}, err
	}
	send := a.sender(ctx, n, channel)
	c, err := a.contact(ctx, n.BallotKey)
	if err != nil {
		return NoticeResult{}, err
	}
	d, err := a.Store.DeliveryBegin(ctx, store.Delivery{
		IdempotencyKey: n.IdempotencyKey, BallotRef: c.Ballot.Ref, VoterRef: c.Voter.Ref,
		NoticeSeq: n.Seq, NoticeStatus: n.MessageKey(), Channel: channel, // what the voter was told
	})
	if err != nil {
		return NoticeResult{}, err
	}
	switch d.State {
	case store.DeliveryAccepted, store.DeliveryDelivered:
		return NoticeResult{Outcome: OutcomeAlreadySent, ProviderID: d.ProviderID}, nil
	case store.DeliverySkipped:
		return NoticeResult{Outcome: OutcomeSkipped}, nil
	case store.DeliveryFailed:
		return NoticeResult{}, temporal.NewNonRetryableApplicationError("an earlier attempt was refused for good", ErrPermanent, nil)
	}

	sub, ok := c.Subscription(channel)
	if !c.Notifiable() || !ok || sub.State != ballot.SubscriptionActive {
		// Opted out, turned off or unconfirmed since the notice was planned.
		if err := a.Store.DeliveryFinish(ctx, n.IdempotencyKey, store.DeliverySkipped, "", "channel not active at send time"); err != nil {
			return NoticeResult{}, err
		}
		return NoticeResult{Outcome: OutcomeSkipped}, nil
	}
	if channel != ballot.ChannelEmail {
		if _, err := ballot.ContactPhone(sub.Address); err != nil {
			return NoticeResult{}, a.refuseNumber(ctx, n, c, channel, sub, err)
		}
	}
	start := time.Now()
	accepted, version, err := send(c, sub)
	metrics.ProviderLatency.WithLabelValues(channel).Observe(time.Since(start).Seconds())
	var rf renderFailed
	if errors.As(err, &rf) {
		return NoticeResult{}, temporal.NewNonRetryableApplicationError(rf.err.Error(), "RenderFailed", rf.err)
	}
	if err != nil {
		return NoticeResult{}, a.providerFailure(ctx, n, c, channel, err)
	}
	if err := a.recordAccepted(ctx, n.IdempotencyKey, accepted.ProviderID, version); err != nil {
		return NoticeResult{}, err
	}
	a.logger().Info("notice sent", "ballot", n.BallotKey, "notice", n.Seq, "status", n.Status, "channel", channel,
		"attempt", activity.GetInfo(ctx).Attempt)
	return NoticeResult{Outcome: OutcomeSent, ProviderID: accepted.ProviderID}, nil
}

// recordAccepted settles a delivery the provider accepted, with the version of the
// county's wording its message used. The message is out: were this
// write lost, the retry would send it again unless the provider's callback came first (and
// SendGrid batches its events, often for longer than the first retry interval). So a failed
// write, such as one on a connection the database just dropped, is tried again for a few
// seconds, on a fresh connection, before the activity gives up.
func (a *Activities) recordAccepted(ctx context.Context, key, providerID string, messagesVersion int64) error {
	wait := 100 * time.Millisecond
	for {
		err := a.Store.DeliveryAccept(ctx, key, providerID, messagesVersion)
		if err == nil || wait > 2*time.Second {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(wait):
		}
		wait *= 2
	}
}

// outcomeLabel names how a delivery attempt ended, for the notices metric.
func outcomeLabel(res NoticeResult, err error) string {
	var appErr *temporal.ApplicationError
	switch {
	case err == nil:
		return res.Outcome
	case errors.Is(err, errDeferred):
		return "deferred" // the first try found the channel's rate spent: queued
	case errors.As(err, &appErr) && appErr.Type() == ErrPermanent:
		return "permanent_failure"
	case errors.As(err, &appErr) && appErr.Type() == ErrWindowClosed:
		return "window_closed"
	case errors.As(err, &appErr) && appErr.Type() == errProviderConfiguration:
		return "config_failure"
	}
	return "transient_failure"
}

// providerFailure classifies a provider error once: permanent ones settle the delivery, mark
// the subscription and stop retries; transient ones retry, after the provider's Retry-After
// when it gave one.
func (a *Activities) providerFailure(ctx context.Context, n Notice, c recipient.Recipient, channel string, err error) error {
	var pe *providers.Error
	if !errors.As(err, &pe) {
		_ = a.Store.DeliverySetLastError(ctx, n.IdempotencyKey, "unclassified error")
		return err
	}
	if pe.Config {
		// Ours to fix, not the voter's: keep the subscription, keep retrying with backoff, and
		// say so loudly so an operator fixes the credentials or sender settings.
		a.logger().Error("provider refused ballotflow's configuration; notices wait until it is fixed",
			"provider", pe.Provider, "channel", channel, "code", pe.Code)
		_ = a.Store.DeliverySetLastError(ctx, n.IdempotencyKey, pe.Error())
		return temporal.NewApplicationError(pe.Error(), errProviderConfiguration)
	}
	if pe.Permanent {
		state := ballot.SubscriptionBounced
		if pe.Unsubscribed {
			state = ballot.SubscriptionOptedOut // the number texted STOP to the provider: its owner's choice, kept as such
		}
		sub, _ := c.Subscription(channel)
		changed, err := a.Store.DeliveryRefuse(ctx, store.DeliveryRefusal{
			IdempotencyKey: n.IdempotencyKey, Channel: channel, Provider: pe.Provider, Detail: pe.Error(),
			Subscription: state, Address: sub.Address,
		})
		if err != nil {
			return err
		}
		a.notifyHousehold(ctx, c.Voter.Ref, changed, channel)
		return temporal.NewNonRetryableApplicationError(pe.Error(), ErrPermanent, nil)
	}
	_ = a.Store.DeliverySetLastError(ctx, n.IdempotencyKey, pe.Error())
	return temporal.NewApplicationErrorWithOptions(pe.Error(), "TransientDeliveryFailure",
		temporal.ApplicationErrorOptions{NextRetryDelay: pe.RetryAfter})
}

// refuseNumber settles a delivery to a number ballotflow does not text or call (a premium,
// Caribbean or foreign number, stored by the roll before the rule or by a migration) as a
// provider's refusal would: the channel is turned off for everyone on the number and the
// notice falls back to the voter's next channel. Nothing is sent, so nothing is paid.
func (a *Activities) refuseNumber(ctx context.Context, n Notice, c recipient.Recipient, channel string, sub store.Subscription, why error) error {
	detail := "not sent: ballotflow does not text or call this kind of number"
	var problem ballot.PhoneProblem
	if errors.As(why, &problem) {
		detail += " (" + problem.Code() + ")"
	}
	changed, err := a.Store.DeliveryRefuse(ctx, store.DeliveryRefusal{
		IdempotencyKey: n.IdempotencyKey, Channel: channel, Provider: "ballotflow", Detail: detail,
		Subscription: ballot.SubscriptionBounced, Address: sub.Address,
	})
	if err != nil {
		return err
	}
	a.notifyHousehold(ctx, c.Voter.Ref, changed, channel)
	return temporal.NewNonRetryableApplicationError(detail, ErrPermanent, nil)
}

// notifyHousehold tells the running ballots of the other voters whose subscription the
// refusal turned off (a household sharing the address) that their channels changed; this
// ballot learns it from the activity's error. A lost signal costs only promptness: their
// deliveries read the subscription at send time.
func (a *Activities) notifyHousehold(ctx context.Context, self int64, changed []int64, channel string) {
	if a.Temporal == nil {
		return
	}
	reason := prefs.ReasonSMSBounce // texts and calls go to the same number
	if channel == ballot.ChannelEmail {
		reason = prefs.ReasonEmailBounce
	}
	for _, ref := range changed {
		if ref == self {
			continue
		}
		if err := prefs.Notify(ctx, a.Temporal, a.Store, ref, reason); err != nil {
			a.logger().Warn("could not tell a household member's ballots that the address was refused",
				"voter", ref, "channel", channel, "error", err)
		}
	}
}

// contact reads the recipient of a ballot at send time; a ballot, voter or county that is
// gone will not come back by retrying.
func (a *Activities) contact(ctx context.Context, ballotKey string) (recipient.Recipient, error) {
	r, err := recipient.OfBallotKey(ctx, a.Store, ballotKey)
	return r, notFoundIsPermanent(err)
}

// notFoundIsPermanent: a ballot or voter that is gone will not come back by retrying.
func notFoundIsPermanent(err error) error {
	if err != nil && errors.Is(err, store.ErrNotFound) {
		return temporal.NewNonRetryableApplicationError(err.Error(), "NotFound", err)
	}
	return err
}

func (a *Activities) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
}

func (a *Activities) logger() *slog.Logger {
	if a.Logger != nil {
		return a.Logger
	}
	return slog.Default()
}
