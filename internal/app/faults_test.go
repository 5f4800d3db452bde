package app_test

// Delivery under faults (DESIGN.md §8): the sandbox providers drop connections after
// accepting, hang, fail for a while, rate-limit and refuse for good; the worker, PostgreSQL's
// connections and the Temporal server go away mid-ballot. Afterwards no notice is lost, none
// is sent twice more than the crash could force, and none goes out after an opt-out.
//
// The tests assert what the providers saw (the sandbox's outbox and request log), what
// PostgreSQL holds (deliveries, subscriptions) and what the workflow reports; they assert
// orderings and lower bounds of waits, never how fast anything ran.

import (
	"context"
	"fmt"
	enumspb "go.temporal.io/api/enums/v1"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ballotflow/ballotflow/internal/app"
	"github.com/ballotflow/ballotflow/internal/ballot"
	"github.com/ballotflow/ballotflow/internal/config"
	"github.com/ballotflow/ballotflow/internal/demo"
	"github.com/ballotflow/ballotflow/internal/intake"
	"github.com/ballotflow/ballotflow/internal/sandbox"
	"github.com/ballotflow/ballotflow/internal/store"
	"github.com/ballotflow/ballotflow/internal/testdb"
	"github.com/ballotflow/ballotflow/internal/tzdb"
	"github.com/ballotflow/ballotflow/workflows/contract"
)

// faultWait bounds every wait in these tests. Retries after a failed attempt follow the
// delivery retry policy (5 s, then 10 s, ...) unless the provider's Retry-After says otherwise;
// the bound leaves room for a loaded 2-core machine, and is never what a test asserts.
const faultWait = 90 * time.Second

// startDevWith runs the whole dev stack like startDev, with opts (always ephemeral) and the
// configuration adjusted by tune.
func startDevWith(tb testing.TB, opts app.DevOptions, tune func(*config.Config)) *app.Dev {
	tb.Helper()
	cfg, err := config.FromEnv()
	require.NoError(tb, err)
	cfg.DatabaseURL = testdb.New(tb)
	if tune != nil {
		tune(&cfg)
	}
	logger := slog.New(slog.NewTextHandler(tb.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	opts.Ephemeral = true
	d, err := app.StartDev(ctx, cfg, logger, opts)
	require.NoError(tb, err)
	tb.Cleanup(func() { require.NoError(tb, d.Stop()) })
	// PPROF_ADDR profiles the whole stack in this process, as it does `ballotflow worker`:
	// for one benchmark at a time, a CPU profile of the phase that matters (go tool pprof
	// -seconds N). Tests that start several stacks at once would find the address taken.
	profiles, stopProfiles := context.WithCancel(context.Background())
	tb.Cleanup(stopProfiles)
	require.NoError(tb, app.ServeProfiles(profiles, cfg, logger))
	return d
}

// reachAnyHour subscribes a voter's channel as active with contact hours all day, so that
// texts and calls go at once whatever the time the test runs at.
func reachAnyHour(tb testing.TB, d *app.Dev, voterRef int64, channel, address string) {
	tb.Helper()
	subscribeHours(tb, d.Store, voterRef, channel, address, "00:00", "00:00")
}

// subscribeHours subscribes a voter's address on channel, active, with contact hours from-to
// (HH:MM in the county's zone; 00:00-00:00 is any hour).
func subscribeHours(tb testing.TB, st *store.Store, voterRef int64, channel, address, from, to string) {
	tb.Helper()
	require.NoError(tb, st.SubscriptionUpsert(context.Background(), store.Subscription{VoterRef: voterRef,
		Channel: channel, Address: address, State: "active", Source: "portal", ContactStart: from, ContactEnd: to}))
}

// hoursEndedAgo returns contact hours of one hour that ended ago before now (HH:MM in now's
// zone): a text planned now waits until they come round tomorrow.
func hoursEndedAgo(now time.Time, ago time.Duration) (from, to string) {
	return now.Add(-ago - time.Hour).Format("15:04"), now.Add(-ago).Format("15:04")
}

// denverNow is the time now in the demo county's zone.
func denverNow(tb testing.TB) time.Time {
	tb.Helper()
	denver, err := tzdb.Load("America/Denver")
	require.NoError(tb, err)
	return time.Now().In(denver)
}

// demoVoter returns a demo voter's registration, with SMS (when the demo voter has a number)
// reachable at any hour.
func demoVoter(tb testing.TB, d *app.Dev, v demo.Voter) store.Voter {
	tb.Helper()
	voter, err := d.Store.VoterGetByID(context.Background(), v.State, v.VoterID)
	require.NoError(tb, err)
	if v.SMS != "" {
		reachAnyHour(tb, d, voter.Ref, "sms", v.SMS)
	}
	return voter
}

// postStatus posts one county event and returns the ballot's workflow ID and ballot.
func postStatus(t *testing.T, d *app.Dev, eventID, voterID, ballotID, status string, at time.Time) (string, store.Ballot) {
	t.Helper()
	resp := post(t, d, d.DemoKey, "application/json", eventJSON(eventID, voterID, ballotID, status, at))
	require.Equal(t, http.StatusAccepted, resp.Status, "%+v", resp)
	require.Len(t, resp.Results, 1)
	require.Equal(t, intake.Accepted, resp.Results[0].Result, "%+v", resp.Results[0])
	id := resp.Results[0].WorkflowID
	b, err := d.Store.BallotGetByKey(context.Background(), id[strings.LastIndex(id, "/")+1:])
	require.NoError(t, err)
	return id, b
}

// requestsTo returns the provider requests the sandbox saw on channel for one recipient.
func requestsTo(d *app.Dev, channel, to string) []sandbox.Request {
	return slices.DeleteFunc(d.Sandbox.Requests(), func(r sandbox.Request) bool {
		return r.Channel != channel || !slices.Contains(r.To, to)
	})
}

func statuses(rs []sandbox.Request) []int {
	out := make([]int, len(rs))
	for i, r := range rs {
		out[i] = r.Status
	}
	return out
}

// viewOf queries a ballot workflow; false while the query does not answer.
func viewOf(t *testing.T, d *app.Dev, workflowID string) (contract.BallotView, bool) {
	t.Helper()
	q, err := d.Temporal.QueryWorkflow(context.Background(), workflowID, "", ballot.QueryStatus)
	if err != nil {
		return contract.BallotView{}, false
	}
	var v contract.BallotView
	return v, q.Get(&v) == nil
}

// settledOn waits until the ballot's notice seq on channel has an outcome, and returns it.
func settledOn(t *testing.T, d *app.Dev, workflowID string, seq int, channel string) contract.DeliveryOutcome {
	t.Helper()
	var got contract.DeliveryOutcome
	require.Eventually(t, func() bool {
		v, ok := viewOf(t, d, workflowID)
		if !ok {
			return false
		}
		for _, o := range v.Deliveries {
			if o.Seq == seq && o.Channel == channel {
				got = o
				return true
			}
		}
		return false
	}, faultWait, 100*time.Millisecond, "notice %d on %s settles", seq, channel)
	return got
}

// deliveryOf returns a ballot's delivery of notice seq on channel.
func deliveryOf(t *testing.T, d *app.Dev, b store.Ballot, seq int, channel string) store.Delivery {
	t.Helper()
	dl, err := d.Store.DeliveryGetByKey(context.Background(), fmt.Sprintf("%s/%d/%s", b.Key, seq, channel))
	require.NoError(t, err)
	return dl
}

// subscriptionState returns the state of a voter's subscription on channel, "" for none.
func subscriptionState(t *testing.T, d *app.Dev, voterRef int64, channel string) string {
	t.Helper()
	subs, err := d.Store.SubscriptionListByVoter(context.Background(), voterRef)
	require.NoError(t, err)
	for _, s := range subs {
		if s.Channel == channel {
			return s.State
		}
	}
	return ""
}

// TestAcceptedThenDroppedIsSentOnce: the provider accepts a notice and the connection drops
// before its answer reaches the worker. The activity fails and is retried; the provider's
// signed callback (Twilio's status callback, SendGrid's events) carries the delivery's
// idempotency key and settles the delivery meanwhile, so the retry finds it accepted and does
// not send again: the voter gets exactly one text and one email.
func TestAcceptedThenDroppedIsSentOnce(t *testing.T) {
	t.Parallel()
	d := startDevWith(t, app.DevOptions{}, nil)
	maria := demo.Voters[0]
	demoVoter(t, d, maria)
	d.Sandbox.InjectFault(sandbox.Fault{Channel: ballot.ChannelSMS, To: maria.SMS, Kind: sandbox.DropAfterAccept, Times: 1})
	d.Sandbox.InjectFault(sandbox.Fault{Channel: ballot.ChannelEmail, To: maria.Email, Kind: sandbox.DropAfterAccept, Times: 1})

	workflowID, posted := postStatus(t, d, "drop-1", maria.VoterID, "DEN-DROP", "mailed", time.Now().Add(-time.Hour))

	for _, c := range []struct{ channel, to string }{{"sms", maria.SMS}, {"email", maria.Email}} {
		o := settledOn(t, d, workflowID, 1, c.channel)
		sent := outboxFor(d, c.channel, c.to)
		require.Len(t, sent, 1, "%s: the voter receives exactly one", c.channel)
		reqs := requestsTo(d, c.channel, c.to)
		require.Equal(t, []int{0}, statuses(reqs), "%s: one request, its answer lost; the retry did not call the provider", c.channel)
		require.Equal(t, "already_sent", o.Outcome, "%s: the retry found the delivery settled by the callback", c.channel)
		require.Equal(t, sent[0].ProviderID, o.Detail)

		dl := deliveryOf(t, d, posted, 1, c.channel)
		require.Contains(t, []string{store.DeliveryAccepted, store.DeliveryDelivered}, dl.State, c.channel)
		require.Equal(t, sent[0].ProviderID, dl.ProviderID, "%s: the delivery row learns the provider's id from the callback", c.channel)
		require.Equal(t, 1, dl.Attempts, "%s: one attempt reached the provider", c.channel)
	}
}

// TestWorkerKilledMidSend: the worker goes away while a text is with the provider (the
// provider hangs). The abandoned request is never accepted, Temporal retries the activity on
// the new worker, and the voter gets the text once: none lost, no duplicate.
func TestWorkerKilledMidSend(t *testing.T) {
	t.Parallel()
	d := startDevWith(t, app.DevOptions{}, nil)
	maria := demo.Voters[0]
	demoVoter(t, d, maria)
	d.Sandbox.InjectFault(sandbox.Fault{Channel: ballot.ChannelSMS, To: maria.SMS, Kind: sandbox.Latency, Delay: 5 * time.Minute, Times: 1})

	workflowID, posted := postStatus(t, d, "kill-1", maria.VoterID, "DEN-KILL", "mailed", time.Now().Add(-time.Hour))
	require.Eventually(t, func() bool { return len(requestsTo(d, "sms", maria.SMS)) == 1 }, faultWait, 20*time.Millisecond,
		"the text is with the provider")
	require.Equal(t, store.DeliverySending, deliveryOf(t, d, posted, 1, "sms").State)

	require.NoError(t, d.RestartWorker())

	o := settledOn(t, d, workflowID, 1, "sms")
	require.Equal(t, "sent", o.Outcome)
	sent := outboxFor(d, "sms", maria.SMS)
	require.Len(t, sent, 1, "delivered once: the hung request was abandoned, the retry sent it")
	reqs := requestsTo(d, "sms", maria.SMS)
	require.Equal(t, []int{0, http.StatusCreated}, statuses(reqs), "the first request got no answer, the second was accepted")
	dl := deliveryOf(t, d, posted, 1, "sms")
	require.Contains(t, []string{store.DeliveryAccepted, store.DeliveryDelivered}, dl.State)
	require.Equal(t, sent[0].ProviderID, dl.ProviderID)
	require.Equal(t, 2, dl.Attempts)
	require.Len(t, outboxFor(d, "email", maria.Email), 1, "the email is not sent again either")
}

// TestProviderDownThenRecovers: each provider fails for a while, then recovers. Every notice
// is delivered exactly once after the recovery; a 5xx with Retry-After and a 429 are retried
// no sooner than the provider asked (7 s here, longer than the retry policy's first
// interval of 5 s, so a retry that ignored the header would show).
func TestProviderDownThenRecovers(t *testing.T) {
	t.Parallel()
	d := startDevWith(t, app.DevOptions{}, nil)
	maria, jose := demo.Voters[0], demo.Voters[3]
	demoVoter(t, d, maria)
	demoVoter(t, d, jose)
	const retryAfter = 7 * time.Second

	// Maria: Twilio rate-limits her text; SendGrid is down (a 500, then 503s asking for 1 s).
	d.Sandbox.InjectFault(sandbox.Fault{Channel: ballot.ChannelSMS, To: maria.SMS, Kind: sandbox.RateLimited, Delay: retryAfter, Times: 1})
	d.Sandbox.InjectFault(sandbox.Fault{Channel: ballot.ChannelEmail, To: maria.Email, Kind: sandbox.ServerError, Code: 500, Times: 1})
	d.Sandbox.InjectFault(sandbox.Fault{Channel: ballot.ChannelEmail, To: maria.Email, Kind: sandbox.ServerError, Code: 503, Delay: time.Second, Times: 3})
	// José: the other way round.
	d.Sandbox.InjectFault(sandbox.Fault{Channel: ballot.ChannelEmail, To: jose.Email, Kind: sandbox.RateLimited, Delay: retryAfter, Times: 1})
	d.Sandbox.InjectFault(sandbox.Fault{Channel: ballot.ChannelSMS, To: jose.SMS, Kind: sandbox.ServerError, Code: 500, Times: 1})
	d.Sandbox.InjectFault(sandbox.Fault{Channel: ballot.ChannelSMS, To: jose.SMS, Kind: sandbox.ServerError, Code: 503, Delay: time.Second, Times: 3})

	at := time.Now().Add(-time.Hour)
	mariaWF, mariaBallot := postStatus(t, d, "down-1", maria.VoterID, "DEN-DOWN-1", "mailed", at)
	joseWF, joseBallot := postStatus(t, d, "down-2", jose.VoterID, "DEN-DOWN-2", "mailed", at)

	for _, c := range []struct {
		name, workflowID  string
		ballot            store.Ballot
		limited, down     string // channels
		limitedTo, downTo string
	}{
		{"maria", mariaWF, mariaBallot, "sms", "email", maria.SMS, maria.Email},
		{"josé", joseWF, joseBallot, "email", "sms", jose.Email, jose.SMS},
	} {
		require.Equal(t, "sent", settledOn(t, d, c.workflowID, 1, c.limited).Outcome, c.name)
		require.Equal(t, "sent", settledOn(t, d, c.workflowID, 1, c.down).Outcome, c.name)
		require.Len(t, outboxFor(d, c.limited, c.limitedTo), 1, "%s: %s delivered once", c.name, c.limited)
		require.Len(t, outboxFor(d, c.down, c.downTo), 1, "%s: %s delivered once", c.name, c.down)

		limited := requestsTo(d, c.limited, c.limitedTo)
		require.Equal(t, []int{http.StatusTooManyRequests}, statuses(limited[:1]), c.name)
		require.Len(t, limited, 2, "%s: one retry after the 429", c.name)
		require.GreaterOrEqual(t, limited[1].At.Sub(limited[0].At), retryAfter,
			"%s: the retry after a 429 waits at least its Retry-After", c.name)

		down := requestsTo(d, c.down, c.downTo)
		require.Equal(t, []int{500, 503, 503, 503}, statuses(down[:4]), c.name)
		require.Len(t, down, 5, "%s: one request per failure, then the one that went through", c.name)
		require.Contains(t, []int{http.StatusCreated, http.StatusAccepted}, down[4].Status)
		for i := 2; i < 5; i++ {
			require.GreaterOrEqual(t, down[i].At.Sub(down[i-1].At), time.Second,
				"%s: a retry after a 503 waits at least its Retry-After", c.name)
		}

		for _, ch := range []string{c.limited, c.down} {
			dl := deliveryOf(t, d, c.ballot, 1, ch)
			require.Contains(t, []string{store.DeliveryAccepted, store.DeliveryDelivered}, dl.State, "%s %s", c.name, ch)
			require.NotEmpty(t, dl.ProviderID)
		}
		require.Equal(t, 5, deliveryOf(t, d, c.ballot, 1, c.down).Attempts, "%s: every attempt is counted", c.name)
	}
}

// TestOptOutWhileASendRetries: the provider answers 503 while a text retries; the voter
// texts STOP meanwhile, and the provider recovers at once. Nothing is texted after the STOP:
// the retry reads the opted-out subscription and skips the notice.
func TestOptOutWhileASendRetries(t *testing.T) {
	t.Parallel()
	d := startDevWith(t, app.DevOptions{}, nil)
	ctx := context.Background()
	maria := demo.Voters[0]
	voter := demoVoter(t, d, maria)
	const denverNumber = "+17205550100"
	// Until cleared; each 503 asks for 2 s, time enough for the STOP to land between attempts.
	d.Sandbox.InjectFault(sandbox.Fault{Channel: ballot.ChannelSMS, To: maria.SMS, Kind: sandbox.ServerError, Code: 503, Delay: 2 * time.Second})

	workflowID, posted := postStatus(t, d, "stop-1", maria.VoterID, "DEN-STOP", "mailed", time.Now().Add(-time.Hour))
	require.Eventually(t, func() bool { return len(requestsTo(d, "sms", maria.SMS)) == 2 }, faultWait, 10*time.Millisecond,
		"the text is being retried")

	require.NoError(t, d.Sandbox.InboundSMS(ctx, maria.SMS, denverNumber, "STOP"))
	// An attempt that read her subscription just before the STOP landed may still be on its
	// way to the provider: let it meet the 503 (they come 2 s apart) before the provider
	// recovers. Every attempt after that reads the STOP.
	time.Sleep(2500 * time.Millisecond)
	stopped := time.Now()
	d.Sandbox.ClearFaults() // the provider is back: anything sent now would reach her

	o := settledOn(t, d, workflowID, 1, "sms")
	require.Equal(t, "skipped", o.Outcome)
	require.Equal(t, store.DeliverySkipped, deliveryOf(t, d, posted, 1, "sms").State)
	require.Equal(t, "opted_out", subscriptionState(t, d, voter.Ref, "sms"))
	require.Empty(t, outboxFor(d, "sms", maria.SMS), "nothing is texted to her")
	for _, r := range requestsTo(d, "sms", maria.SMS) {
		require.True(t, r.At.Before(stopped), "no request to the provider after her STOP")
		require.Equal(t, http.StatusServiceUnavailable, r.Status)
	}
	require.Len(t, outboxFor(d, "email", maria.Email), 1, "her email still comes")
}

// TestPermanentRefusals: a number or address the provider refuses for good is tried once,
// its subscription is marked (bounced, or opted out when Twilio says the voter replied STOP),
// the channel is not used again, and the notice falls back to a channel that has not had it.
func TestPermanentRefusals(t *testing.T) {
	t.Parallel()
	d := startDevWith(t, app.DevOptions{}, nil)
	ctx := context.Background()
	at := time.Now().Add(-2 * time.Hour)

	t.Run("twilio 21211: the number bounces, for the household too, the email already has the notice", func(t *testing.T) {
		maria := demo.Voters[0]
		voter := demoVoter(t, d, maria)
		// Her son texts on the same (family) number.
		son, err := d.Store.VoterUpsert(ctx, store.Voter{State: "CO", VoterID: "600100076", County: "denver",
			FirstName: "Leo", LastName: "Garcia", DateOfBirth: time.Date(2004, 5, 6, 0, 0, 0, 0, time.UTC),
			ResidentialZIP: "80202", Status: "active", Language: "en"})
		require.NoError(t, err)
		reachAnyHour(t, d, son, "sms", maria.SMS)
		// Times 1: were the refusal retried, the retry would go through and show.
		d.Sandbox.InjectFault(sandbox.Fault{Channel: ballot.ChannelSMS, To: maria.SMS, Kind: sandbox.Permanent, Code: 21211, Times: 1})
		workflowID, posted := postStatus(t, d, "perm-1", maria.VoterID, "DEN-PERM-1", "mailed", at)

		o := settledOn(t, d, workflowID, 1, "sms")
		require.Equal(t, "failed", o.Outcome)
		require.Contains(t, o.Detail, "21211")
		require.Equal(t, []int{http.StatusBadRequest}, statuses(requestsTo(d, "sms", maria.SMS)), "tried once")
		require.Equal(t, store.DeliveryFailed, deliveryOf(t, d, posted, 1, "sms").State)
		require.Equal(t, "bounced", subscriptionState(t, d, voter.Ref, "sms"))
		require.Equal(t, "bounced", subscriptionState(t, d, son, "sms"), "the provider refused the number, not the voter")
		require.Equal(t, "sent", settledOn(t, d, workflowID, 1, "email").Outcome)

		// The next status goes by email only: the dead number is not tried again.
		postStatus(t, d, "perm-1b", maria.VoterID, "DEN-PERM-1", "received", at.Add(time.Hour))
		require.Equal(t, "sent", settledOn(t, d, workflowID, 2, "email").Outcome)
		require.Len(t, outboxFor(d, "email", maria.Email), 2, "one email per status, no duplicate from the fallback")
		require.Len(t, requestsTo(d, "sms", maria.SMS), 1)
		require.Empty(t, outboxFor(d, "sms", maria.SMS))
		v, ok := viewOf(t, d, workflowID)
		require.True(t, ok)
		require.False(t, v.Unreachable)
	})

	t.Run("twilio 21610: the voter replied STOP at Twilio, the number is opted out", func(t *testing.T) {
		jose := demo.Voters[3]
		voter := demoVoter(t, d, jose)
		d.Sandbox.InjectFault(sandbox.Fault{Channel: ballot.ChannelSMS, To: jose.SMS, Kind: sandbox.Permanent, Code: 21610, Times: 1})
		workflowID, posted := postStatus(t, d, "perm-2", jose.VoterID, "DEN-PERM-2", "mailed", at)

		require.Equal(t, "failed", settledOn(t, d, workflowID, 1, "sms").Outcome)
		require.Equal(t, []int{http.StatusBadRequest}, statuses(requestsTo(d, "sms", jose.SMS)), "tried once")
		require.Equal(t, store.DeliveryFailed, deliveryOf(t, d, posted, 1, "sms").State)
		require.Equal(t, "opted_out", subscriptionState(t, d, voter.Ref, "sms"),
			"an unsubscribed number is the voter's choice, not a bad number")
		require.Equal(t, "sent", settledOn(t, d, workflowID, 1, "email").Outcome)
		require.Empty(t, outboxFor(d, "sms", jose.SMS))
	})

	t.Run("twilio 21614 for a text-only voter who adds calls: the notice falls back to a call", func(t *testing.T) {
		const landline = "+13035550177"
		ref, err := d.Store.VoterUpsert(ctx, store.Voter{State: "CO", VoterID: "600100077", County: "denver",
			FirstName: "Pat", LastName: "Doe", DateOfBirth: time.Date(1950, 2, 3, 0, 0, 0, 0, time.UTC),
			ResidentialZIP: "80202", Status: "active", Language: "en", Phone: landline})
		require.NoError(t, err)
		reachAnyHour(t, d, ref, "sms", landline)
		// The first attempt meets a 503 (retry in 20 s, time enough for the preferences change
		// below to reach the workflow first); the retry learns the number is a landline.
		d.Sandbox.InjectFault(sandbox.Fault{Channel: ballot.ChannelSMS, To: landline, Kind: sandbox.ServerError, Code: 503, Delay: 20 * time.Second, Times: 1})
		d.Sandbox.InjectFault(sandbox.Fault{Channel: ballot.ChannelSMS, To: landline, Kind: sandbox.Permanent, Code: 21614, Times: 1})
		workflowID, posted := postStatus(t, d, "perm-3", "600100077", "DEN-PERM-3", "mailed", at)

		require.Eventually(t, func() bool { return len(requestsTo(d, "sms", landline)) == 1 }, faultWait, 10*time.Millisecond)
		// Meanwhile Pat asks for calls too (as the portal does: store, then tell the ballot).
		reachAnyHour(t, d, ref, "voice", landline)
		require.NoError(t, d.Temporal.SignalWorkflow(ctx, workflowID, "", ballot.SignalPreferencesChanged,
			contract.PreferencesChanged{Reason: "portal"}))

		require.Equal(t, "failed", settledOn(t, d, workflowID, 1, "sms").Outcome)
		require.Equal(t, "sent", settledOn(t, d, workflowID, 1, "voice").Outcome)
		require.Equal(t, []int{http.StatusServiceUnavailable, http.StatusBadRequest}, statuses(requestsTo(d, "sms", landline)))
		require.Equal(t, "bounced", subscriptionState(t, d, ref, "sms"))
		calls := outboxFor(d, "voice", landline)
		require.Len(t, calls, 1, "the mailed notice is read to Pat")
		require.Contains(t, calls[0].Text, "Pat Doe")
		require.Empty(t, outboxFor(d, "sms", landline))
		require.Equal(t, store.DeliveryFailed, deliveryOf(t, d, posted, 1, "sms").State)
		v, ok := viewOf(t, d, workflowID)
		require.True(t, ok)
		require.False(t, v.Unreachable)
	})

	t.Run("sendgrid 400: the address bounces, an email-only voter is unreachable", func(t *testing.T) {
		james := demo.Voters[1]
		voter := demoVoter(t, d, james)
		d.Sandbox.InjectFault(sandbox.Fault{Channel: ballot.ChannelEmail, To: james.Email, Kind: sandbox.Permanent, Code: 400, Times: 1})
		workflowID, posted := postStatus(t, d, "perm-4", james.VoterID, "DEN-PERM-4", "mailed", at)

		o := settledOn(t, d, workflowID, 1, "email")
		require.Equal(t, "failed", o.Outcome)
		require.Equal(t, []int{http.StatusBadRequest}, statuses(requestsTo(d, "email", james.Email)), "tried once")
		require.Equal(t, store.DeliveryFailed, deliveryOf(t, d, posted, 1, "email").State)
		require.Equal(t, "bounced", subscriptionState(t, d, voter.Ref, "email"))
		require.Empty(t, outboxFor(d, "email", james.Email))
		require.Eventually(t, func() bool {
			v, ok := viewOf(t, d, workflowID)
			return ok && v.Unreachable
		}, faultWait, 100*time.Millisecond, "an operator sees that James cannot be reached")
	})

	// Last: it breaks, then mends, Denver's sender address.
	t.Run("sendgrid 400 about the sender: ballotflow's configuration, nothing bounces, the notice waits for the fix", func(t *testing.T) {
		const address = "lee.sender@example.org"
		ref, err := d.Store.VoterUpsert(ctx, store.Voter{State: "CO", VoterID: "600100078", County: "denver",
			FirstName: "Lee", LastName: "Roe", DateOfBirth: time.Date(1970, 4, 5, 0, 0, 0, 0, time.UTC),
			ResidentialZIP: "80202", Status: "active", Language: "en", Email: address})
		require.NoError(t, err)
		denver := demo.Jurisdictions[0]
		broken := denver
		broken.EmailFrom = "ballots at denver.example.org" // SendGrid answers 400 on from.email
		_, err = d.Store.JurisdictionUpsert(ctx, broken)
		require.NoError(t, err)
		workflowID, posted := postStatus(t, d, "perm-5", "600100078", "DEN-PERM-5", "mailed", at)

		var dl store.Delivery
		require.Eventually(t, func() bool {
			dl, err = d.Store.DeliveryGetByKey(ctx, posted.Key+"/1/email")
			return err == nil && (dl.Attempts >= 2 || dl.State != store.DeliverySending)
		}, faultWait, 50*time.Millisecond)
		require.Equal(t, store.DeliverySending, dl.State, "not settled as failed: the voter's address is not at fault")
		require.Equal(t, "active", subscriptionState(t, d, ref, "email"), "the voter's email is not bounced")

		_, err = d.Store.JurisdictionUpsert(ctx, denver)
		require.NoError(t, err)
		require.Equal(t, "sent", settledOn(t, d, workflowID, 1, "email").Outcome)
		require.Len(t, outboxFor(d, "email", address), 1, "sent once the operator fixed the sender")
	})
}

// TestDatabaseConnectionsKilledMidRetry: every connection ballotflow holds to PostgreSQL is
// terminated (what a database restart or failover does to them) while a text retries. The
// worker, the API and the webhooks reconnect: the text is delivered once and the next county
// event goes through.
func TestDatabaseConnectionsKilledMidRetry(t *testing.T) {
	t.Parallel()
	d := startDevWith(t, app.DevOptions{}, nil)
	ctx := context.Background()
	maria := demo.Voters[0]
	demoVoter(t, d, maria)
	d.Sandbox.InjectFault(sandbox.Fault{Channel: ballot.ChannelSMS, To: maria.SMS, Kind: sandbox.ServerError, Code: 503, Delay: time.Second})

	at := time.Now().Add(-2 * time.Hour)
	workflowID, posted := postStatus(t, d, "pg-1", maria.VoterID, "DEN-PG", "mailed", at)
	require.Eventually(t, func() bool { return len(requestsTo(d, "sms", maria.SMS)) >= 1 }, faultWait, 10*time.Millisecond)

	killed := testdb.TerminateSessions(t, d.Store)
	require.Positive(t, killed, "ballotflow's connections were terminated")
	d.Sandbox.ClearFaults()

	requireSentOnce(t, settledOn(t, d, workflowID, 1, "sms"))
	require.Len(t, outboxFor(d, "sms", maria.SMS), 1)
	requireSentOnce(t, settledOn(t, d, workflowID, 1, "email"))
	require.Len(t, outboxFor(d, "email", maria.Email), 1)

	// The county posts its next event just after the connections died again. The pool sees
	// that each connection it holds is dead before using it (the server's goodbye waits on
	// its socket) and opens new ones: the post is accepted at once, not refused.
	killed = testdb.TerminateSessions(t, d.Store)
	require.Positive(t, killed)
	body := eventJSON("pg-2", maria.VoterID, "DEN-PG", "received", at.Add(time.Hour))
	resp := post(t, d, d.DemoKey, "application/json", body)
	require.Equal(t, http.StatusAccepted, resp.Status, "%+v", resp)
	require.Equal(t, intake.Accepted, resp.Results[0].Result)
	requireSentOnce(t, settledOn(t, d, workflowID, 2, "sms"))
	requireSentOnce(t, settledOn(t, d, workflowID, 2, "email"))
	require.Len(t, outboxFor(d, "sms", maria.SMS), 2)
	require.Len(t, outboxFor(d, "email", maria.Email), 2)
	for _, ch := range []string{"sms", "email"} {
		require.Contains(t, []string{store.DeliveryAccepted, store.DeliveryDelivered}, deliveryOf(t, d, posted, 2, ch).State)
	}
	b, err := d.Store.BallotGetByKey(ctx, posted.Key)
	require.NoError(t, err)
	require.Equal(t, "received", b.Status)
	var events int
	require.NoError(t, d.Store.Pool().QueryRow(ctx, `SELECT count(*) FROM ballot_events WHERE ballot_ref = $1`, b.Ref).Scan(&events))
	require.Equal(t, 2, events, "each event stored once")
}

// TestAcceptedWhileDatabaseConnectionsDie: the database connections die while the provider
// holds a request it then accepts. The activity's record of the acceptance must not be lost
// to a dead connection: were it lost, the retry would send again unless the provider's
// callback happened to come first (SendGrid batches its events, often for longer than the
// first retry interval).
func TestAcceptedWhileDatabaseConnectionsDie(t *testing.T) {
	t.Parallel()
	d := startDevWith(t, app.DevOptions{}, nil)
	james := demo.Voters[1] // email only
	demoVoter(t, d, james)
	d.Sandbox.InjectFault(sandbox.Fault{Channel: ballot.ChannelEmail, To: james.Email, Kind: sandbox.Latency, Delay: 500 * time.Millisecond, Times: 1})

	workflowID, posted := postStatus(t, d, "pgsend-1", james.VoterID, "DEN-PGSEND", "mailed", time.Now().Add(-time.Hour))
	require.Eventually(t, func() bool { return len(requestsTo(d, "email", james.Email)) == 1 }, faultWait, 5*time.Millisecond)
	require.Positive(t, testdb.TerminateSessions(t, d.Store))

	o := settledOn(t, d, workflowID, 1, "email")
	require.Equal(t, "sent", o.Outcome, "the attempt that was accepted recorded it")
	sent := outboxFor(d, "email", james.Email)
	require.Len(t, sent, 1)
	require.Equal(t, sent[0].ProviderID, o.Detail)
	require.Len(t, requestsTo(d, "email", james.Email), 1)
	require.Equal(t, sent[0].ProviderID, deliveryOf(t, d, posted, 1, "email").ProviderID)
}

// requireSentOnce: the notice was sent, by this attempt or by an earlier one whose provider
// accepted it and whose end (here: the write of the provider's id) was lost; the provider's
// callback settled the delivery then, and the retry did not send again.
func requireSentOnce(t *testing.T, o contract.DeliveryOutcome) {
	t.Helper()
	require.Contains(t, []string{"sent", "already_sent"}, o.Outcome, "notice %d on %s", o.Seq, o.Channel)
}

// TestTemporalServerRestartMidBallot: the Temporal server is stopped and started again on
// its data directory while a text waits for its retry (the provider is down) and a county
// event is still to come. The ballot resumes where it was: the text goes out once the
// provider is back, and the next event is notified.
func TestTemporalServerRestartMidBallot(t *testing.T) {
	t.Parallel()
	d := startDevWith(t, app.DevOptions{TemporalDataDir: t.TempDir()}, nil)
	ctx := context.Background()
	maria := demo.Voters[0]
	demoVoter(t, d, maria)
	// A 503 asking for 30 s: the retry is a durable timer in the server, due well after the
	// restart, so no attempt is in flight when the server stops.
	d.Sandbox.InjectFault(sandbox.Fault{Channel: ballot.ChannelSMS, To: maria.SMS, Kind: sandbox.ServerError, Code: 503,
		Delay: 30 * time.Second, Times: 1})

	at := time.Now().Add(-2 * time.Hour)
	workflowID, posted := postStatus(t, d, "tmp-1", maria.VoterID, "DEN-TEMPORAL", "mailed", at)
	// The first try (a local activity) failed: the workflow waits the 30 s on a timer in the
	// server before the queued retry.
	require.Eventually(t, func() bool {
		timers := 0
		iter := d.Temporal.GetWorkflowHistory(ctx, workflowID, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		for iter.HasNext() {
			ev, err := iter.Next()
			if err != nil {
				return false
			}
			if ev.GetEventType() == enumspb.EVENT_TYPE_TIMER_STARTED {
				timers++
			}
		}
		return timers >= 2 // the canvass's and the retry's
	}, faultWait, 20*time.Millisecond, "the server recorded the failed attempt and waits to retry")
	// Nothing in flight: the email is settled (a completion the stopped server never heard of
	// would be retried only after the activity's one-minute timeout).
	require.Equal(t, "sent", settledOn(t, d, workflowID, 1, "email").Outcome)
	require.Len(t, outboxFor(d, "email", maria.Email), 1)

	restartCtx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	require.NoError(t, d.RestartTemporal(restartCtx))

	require.Equal(t, "sent", settledOn(t, d, workflowID, 1, "sms").Outcome)
	require.Equal(t, []int{http.StatusServiceUnavailable, http.StatusCreated}, statuses(requestsTo(d, "sms", maria.SMS)))
	require.Len(t, outboxFor(d, "sms", maria.SMS), 1)
	require.Len(t, outboxFor(d, "email", maria.Email), 1, "the email is not sent again")

	postStatus(t, d, "tmp-2", maria.VoterID, "DEN-TEMPORAL", "received", at.Add(time.Hour))
	require.Equal(t, "sent", settledOn(t, d, workflowID, 2, "sms").Outcome)
	require.Equal(t, "sent", settledOn(t, d, workflowID, 2, "email").Outcome)
	require.Len(t, outboxFor(d, "sms", maria.SMS), 2)
	require.Len(t, outboxFor(d, "email", maria.Email), 2)
	require.Equal(t, store.DeliveryDelivered, waitDelivered(t, d, posted, 2, "sms"))
}

// waitDelivered waits for the provider's callback to mark a delivery delivered.
func waitDelivered(t *testing.T, d *app.Dev, b store.Ballot, seq int, channel string) string {
	t.Helper()
	var state string
	require.Eventually(t, func() bool {
		state = deliveryOf(t, d, b, seq, channel).State
		return state == store.DeliveryDelivered
	}, faultWait, 50*time.Millisecond)
	return state
}
