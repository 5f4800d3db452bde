package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ballotflow/ballotflow/internal/app"
	"github.com/ballotflow/ballotflow/internal/ballot"
	"github.com/ballotflow/ballotflow/internal/config"
	"github.com/ballotflow/ballotflow/internal/intake"
	"github.com/ballotflow/ballotflow/internal/sandbox"
	"github.com/ballotflow/ballotflow/internal/store"
)

// BenchmarkMorningBacklog: 300 text notices wait for the voters' contact hours, which open at
// the same minute (the 08:00 of a real morning: the next whole minute at least 20 s away, so
// the county's batch is in before it), with SMS_RATE at 20/s and the sandbox holding Twilio to
// that same rate like the account would (429 above it). The backlog must drain at the allowed
// rate with no 429s: the worker-side limit (TaskQueueActivitiesPerSecond on notify-sms) does
// the pacing, not the provider.
//
// It reports the achieved rate (first to last accepted text) beside the configured one, their
// ratio, and the 429s the sandbox answered. Every voter must get exactly one text, none
// before the hours open, or the benchmark fails. Each iteration waits up to a minute for its
// contact hours.
//
// BALLOTFLOW_BENCH_BACKLOG (voters, default 300) and BALLOTFLOW_BENCH_SMS_RATE (default 20)
// scale it: a short code's 100 texts/s, for instance, with thousands of voters.
// BALLOTFLOW_BENCH_START_RATE (default 40) is how many ballots a second the wait before the
// hours open allows for: raise it for a large backlog on a machine that starts them faster.
func BenchmarkMorningBacklog(b *testing.B) {
	voters := envInt(b, "BALLOTFLOW_BENCH_BACKLOG", 300)
	smsRate := float64(envInt(b, "BALLOTFLOW_BENCH_SMS_RATE", 20))
	startRate := envInt(b, "BALLOTFLOW_BENCH_START_RATE", 40) // ballots a second the lead allows for
	d := startDevWith(b, app.DevOptions{EnforceProviderRates: true}, func(c *config.Config) { c.SMSRate = smsRate })
	ctx := context.Background()
	bv := newBacklogVoters(b, d.Store, voters)
	ids, phones := bv.ids, bv.phones
	at := time.Now().Add(-time.Hour).Truncate(time.Second)

	var rates []float64
	limited := 0
	for iter := 0; b.Loop(); iter++ {
		d.Sandbox.ResetOutbox()
		began := time.Now()
		// Time for the county's batch to be in and every ballot's text held: at least 20 s, and
		// more for a large backlog (ballots start at some tens a second here).
		lead := max(20*time.Second, time.Duration(voters)*time.Second/time.Duration(startRate))
		opens := began.Add(lead).Truncate(time.Minute).Add(time.Minute).UTC()
		bv.textFrom(b, d.Store, opens)
		events := make([]string, voters)
		for i := range voters {
			events[i] = eventJSON(fmt.Sprintf("backlog-%d-%d", iter, i), ids[i], fmt.Sprintf("BKLG-%d-%d", iter, i), "mailed", at)
		}
		for chunk := range slices.Chunk(events, 1000) { // the API's batch limit
			for _, r := range postBatch(b, d, `{"events":[`+strings.Join(chunk, ",")+`]}`) {
				if r.Result != intake.Accepted {
					b.Fatalf("event not accepted: %+v", r)
				}
			}
		}
		posted := time.Since(began)
		// A backlog: every text is held before the hours open.
		for waiting := 0; waiting < voters; {
			if err := d.Store.Pool().QueryRow(ctx, `SELECT count(*) FROM notice_waits WHERE channel = 'sms'`).Scan(&waiting); err != nil {
				b.Fatal(err)
			}
			if time.Now().After(opens) {
				b.Fatalf("only %d of %d texts were held when the hours opened: start fewer voters", waiting, voters)
			}
			time.Sleep(100 * time.Millisecond)
		}
		held := time.Since(began)

		var texts []sandbox.Message
		// Five minutes, or twice what the backlog takes at the rate.
		for deadline := opens.Add(max(5*time.Minute, time.Duration(2*float64(voters)/smsRate*float64(time.Second)))); ; {
			texts = slices.DeleteFunc(d.Sandbox.Outbox(), func(m sandbox.Message) bool { return m.Channel != ballot.ChannelSMS })
			if len(texts) >= voters {
				break
			}
			if time.Now().After(deadline) {
				b.Fatalf("after %s %d of %d texts were sent", time.Since(opens).Round(time.Second), len(texts), voters)
			}
			time.Sleep(100 * time.Millisecond)
		}
		time.Sleep(time.Second) // a duplicate would show up by now
		texts = slices.DeleteFunc(d.Sandbox.Outbox(), func(m sandbox.Message) bool { return m.Channel != ballot.ChannelSMS })
		drained := make([]sandboxMessage, len(texts))
		for i, m := range texts {
			drained[i] = sandboxMessage{channel: m.Channel, to: m.To, at: m.ReceivedAt}
		}
		dr := checkDrain(b, drained, phones, opens)
		rates = append(rates, dr.rate)
		for _, r := range d.Sandbox.Requests() {
			if r.Channel == ballot.ChannelSMS && !r.At.Before(began) && r.Status == http.StatusTooManyRequests {
				limited++
			}
		}
		b.Logf("iteration %d: %d events posted in %s, all texts held after %s, %s before the hours opened; %d texts from %s to %s after",
			iter, voters, posted.Round(time.Millisecond), held.Round(time.Millisecond), opens.Sub(began.Add(held)).Round(time.Millisecond), len(texts),
			dr.first.Round(time.Millisecond), dr.last.Round(time.Millisecond))
	}

	var sum float64
	for _, r := range rates {
		sum += r
	}
	achieved := sum / float64(len(rates))
	b.ReportMetric(achieved, "sms/s")
	b.ReportMetric(smsRate, "allowed-sms/s")
	b.ReportMetric(achieved/smsRate, "rate/allowed")
	b.ReportMetric(float64(limited)/float64(len(rates)), "429s/op")
}

// drain is what a morning backlog's texts showed: how many went out each second after the
// hours opened, the first and the last (after the opening), and the rate between them.
type drain struct {
	perSecond   []int
	first, last time.Duration
	rate        float64
}

// checkDrain fails the benchmark unless texts are exactly one to each of phones, none before
// opens, and returns what they showed (logging the texts of each second).
func checkDrain(b *testing.B, texts []sandboxMessage, phones []string, opens time.Time) drain {
	b.Helper()
	texts = slices.SortedFunc(slices.Values(texts), func(x, y sandboxMessage) int { return x.at.Compare(y.at) })
	to := make([]string, len(texts))
	for i, m := range texts {
		to[i] = m.to
	}
	slices.Sort(to)
	if !slices.Equal(to, slices.Sorted(slices.Values(phones))) {
		b.Fatalf("%d texts for %d voters: every voter must get exactly one", len(texts), len(phones))
	}
	if texts[0].at.Before(opens) {
		b.Fatalf("a text went out %s before the contact hours opened", opens.Sub(texts[0].at))
	}
	d := drain{first: texts[0].at.Sub(opens), last: texts[len(texts)-1].at.Sub(opens)}
	d.perSecond = make([]int, int(d.last/time.Second)+1)
	for _, m := range texts {
		d.perSecond[int(m.at.Sub(opens)/time.Second)]++
	}
	d.rate = float64(len(texts)-1) / (d.last - d.first).Seconds()
	b.Logf("texts per second after the hours opened: %v", d.perSecond)
	return d
}

// backlogVoters are the voters of a morning backlog, each with a phone.
type backlogVoters struct {
	ids    []string
	phones []string // phones[i] is voter ids[i]'s
	refs   []int64
}

// newBacklogVoters creates n Denver voters with a phone each: voter_ids 7001xxxxx and numbers
// +1 720 2xx xxxx, one exchange per 10,000 voters (an exchange never starts with 0 or 1).
func newBacklogVoters(b *testing.B, st *store.Store, n int) backlogVoters {
	b.Helper()
	bv := backlogVoters{ids: make([]string, n), phones: make([]string, n), refs: make([]int64, n)}
	for i := range n {
		bv.ids[i], bv.phones[i] = fmt.Sprintf("7001%05d", i), fmt.Sprintf("+1720%03d%04d", 200+i/10_000, i%10_000)
		ref, err := st.VoterUpsert(context.Background(), store.Voter{State: "CO", VoterID: bv.ids[i], County: "denver",
			FirstName: "Backlog", LastName: fmt.Sprintf("Voter%d", i), DateOfBirth: time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC),
			ResidentialZIP: "80202", Status: "active", Language: "en", Phone: bv.phones[i]})
		if err != nil {
			b.Fatal(err)
		}
		bv.refs[i] = ref
	}
	return bv
}

// textFrom gives every voter an active text subscription whose contact hours (UTC) open at
// opens and last an hour, so that their texts wait for it.
func (bv backlogVoters) textFrom(b *testing.B, st *store.Store, opens time.Time) {
	b.Helper()
	for i, ref := range bv.refs {
		err := st.SubscriptionUpsert(context.Background(), store.Subscription{VoterRef: ref, Channel: "sms",
			Address: bv.phones[i], State: "active", Source: "portal", TimeZone: "UTC",
			ContactStart: opens.Format("15:04"), ContactEnd: opens.Add(time.Hour).Format("15:04")})
		if err != nil {
			b.Fatal(err)
		}
	}
}

// postBatch posts a batch of county events and returns the results.
func postBatch(tb testing.TB, d *app.Dev, body string) []intake.Result {
	tb.Helper()
	req, err := http.NewRequest(http.MethodPost, d.APIURL+"/v1/ballot-events", strings.NewReader(body))
	if err != nil {
		tb.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+d.DemoKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	var out apiResponse
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		tb.Fatal(err)
	}
	if resp.StatusCode != http.StatusAccepted {
		tb.Fatalf("batch answered %d: %+v", resp.StatusCode, out.Error)
	}
	return out.Results
}
