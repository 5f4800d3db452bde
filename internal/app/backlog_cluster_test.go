package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ballotflow/ballotflow/internal/ballot"
	"github.com/ballotflow/ballotflow/internal/intake"
)

// BenchmarkMorningBacklogCluster is BenchmarkMorningBacklog on the production topology
// (`BALLOTFLOW_CLUSTER_BENCH=MorningBacklogCluster make bench-cluster`): BALLOTFLOW_BENCH_BACKLOG
// voters (default 2,000) each get one text held for contact hours that open at the same
// minute, with SMS_RATE BALLOTFLOW_BENCH_SMS_RATE (default 100, a short code) on the workers
// and `ballotflow sandbox` holding Twilio to the same rate (SANDBOX_ENFORCE_RATES: 429 above
// it), BALLOTFLOW_CLUSTER_WORKERS workers (default 1). The county's events go in as batches of
// 1,000 over both APIs; the hours open once every text is held (BALLOTFLOW_BENCH_START_RATE,
// default 40 ballots a second, sets how long that is allowed to take).
//
// It prints the rate achieved (first to last text) beside the configured one, the texts of
// each second, the 429s the sandbox answered, each process's CPU from the opening to the last
// text per text, and the first worker's sticky-cache hits and misses over the same span
// (BALLOTFLOW_BENCH_WORKFLOW_CACHE sets the workers' WORKFLOW_CACHE_SIZE), and every five
// minutes of the drain the texts so far. Every voter must get exactly one text, none before
// the hours open, within ten times the drain the rate allows (at least 15 minutes), or it
// fails; the rate itself is never judged: a rate beyond what the cluster sustains shows as
// the rate it reached.
func BenchmarkMorningBacklogCluster(b *testing.B) {
	bin := os.Getenv("BALLOTFLOW_CLUSTER_BIN")
	if bin == "" {
		b.Skip("BALLOTFLOW_CLUSTER_BIN is not set: run `BALLOTFLOW_CLUSTER_BENCH=MorningBacklogCluster make bench-cluster`")
	}
	voters := envInt(b, "BALLOTFLOW_BENCH_BACKLOG", 2000)
	smsRate := envInt(b, "BALLOTFLOW_BENCH_SMS_RATE", 100)
	startRate := envInt(b, "BALLOTFLOW_BENCH_START_RATE", 40)
	env := []string{fmt.Sprintf("SMS_RATE=%d", smsRate), "SANDBOX_ENFORCE_RATES=on"}
	if n := envInt(b, "BALLOTFLOW_BENCH_WORKFLOW_CACHE", 0); n > 0 {
		env = append(env, fmt.Sprintf("WORKFLOW_CACHE_SIZE=%d", n))
	}
	c := startCluster(b, bin, envInt(b, "BALLOTFLOW_CLUSTER_SHARDS", 4), env...)
	c.startWorkers(b, envInt(b, "BALLOTFLOW_CLUSTER_WORKERS", 1))
	ctx := context.Background()

	began := time.Now()
	bv := newBacklogVoters(b, c.store, voters)
	ids, phones := bv.ids, slices.Sorted(slices.Values(bv.phones))
	b.Logf("%d voters with a phone created in %s", voters, time.Since(began).Round(time.Millisecond))
	at := time.Now().Add(-time.Hour).Truncate(time.Second)

	for iter := 0; b.Loop(); iter++ {
		require.NoError(b, c.sandbox.resetOutbox())
		limited0 := c.rateLimited(b)
		began := time.Now()
		lead := max(30*time.Second, time.Duration(voters)*time.Second/time.Duration(startRate))
		opens := began.Add(lead).Truncate(time.Minute).Add(time.Minute).UTC()
		bv.textFrom(b, c.store, opens)
		// Batches of 1,000 (the API's limit) from BALLOTFLOW_BENCH_POSTERS connections (default
		// 4), over both APIs, as a county's system would send its mail-out.
		client := &http.Client{Timeout: 10 * time.Minute}
		batches := make(chan int)
		var posting sync.WaitGroup
		for range envInt(b, "BALLOTFLOW_BENCH_POSTERS", 4) {
			posting.Go(func() {
				for k := range batches {
					var chunk []string
					for i := k; i < min(k+1000, voters); i++ {
						chunk = append(chunk, eventJSON(fmt.Sprintf("cbacklog-%d-%d", iter, i), ids[i], fmt.Sprintf("CBKLG-%d-%d", iter, i), "mailed", at))
					}
					results, err := tryPostEvents(client, c.dev(k/1000), `{"events":[`+strings.Join(chunk, ",")+`]}`)
					if err != nil {
						b.Errorf("batch from event %d: %v", k, err)
					}
					for _, r := range results {
						if r.Result != intake.Accepted {
							b.Errorf("event not accepted: %+v", r)
						}
					}
				}
			})
		}
		for k := 0; k < voters; k += 1000 {
			batches <- k
		}
		close(batches)
		posting.Wait()
		if b.Failed() {
			b.FailNow()
		}
		posted := time.Since(began)
		for waiting := 0; waiting < voters; {
			require.NoError(b, c.store.Pool().QueryRow(ctx, `SELECT count(*) FROM notice_waits WHERE channel = 'sms'`).Scan(&waiting))
			if time.Now().After(opens) {
				b.Fatalf("only %d of %d texts were held when the hours opened: lower BALLOTFLOW_BENCH_START_RATE", waiting, voters)
			}
			time.Sleep(time.Second)
		}
		held := time.Since(began)
		b.Logf("iteration %d: %d events posted in %s, all texts held after %s, %s before the hours opened",
			iter, voters, posted.Round(time.Millisecond), held.Round(time.Millisecond), opens.Sub(began.Add(held)).Round(time.Millisecond))

		// What the drain costs: each process's CPU from the opening to the last text, and the
		// first worker's sticky cache (a miss replays the ballot from its history first).
		time.Sleep(time.Until(opens))
		cpu0, cache0 := c.cpu(), c.workerCache(b)

		// Count the texts in the database (cheap) until all are sent, then read the outbox once.
		// A rate beyond what the cluster sustains only makes the drain longer: the deadline is
		// for a text that never goes, not for a slow one. Every five minutes the count so far.
		nominal := time.Duration(float64(voters) / float64(smsRate) * float64(time.Second))
		deadline := opens.Add(max(15*time.Minute, 10*nominal))
		prefix := fmt.Sprintf("CBKLG-%d-", iter)
		mark, marked, markedAt := opens.Add(5*time.Minute), 0, opens
		for sent := c.deliveries(b, prefix).sent; sent < voters; sent = c.deliveries(b, prefix).sent {
			if now := time.Now(); now.After(mark) {
				b.Logf("iteration %d: %s after the opening, %d texts: %.1f a second since the last count; CPU-ms a text so far: %s",
					iter, now.Sub(opens).Round(time.Second), sent, float64(sent-marked)/now.Sub(markedAt).Seconds(), drainCosts(cpu0, c.cpu(), sent))
				mark, marked, markedAt = mark.Add(5*time.Minute), sent, now
			}
			if time.Now().After(deadline) {
				b.Fatalf("after %s only %d of %d texts were sent", time.Since(opens).Round(time.Second), sent, voters)
			}
			time.Sleep(5 * time.Second) // seldom: the count is a join over the round's deliveries
			c.cpu()                     // sees PostgreSQL's backends before they close (a pool that churns)
		}
		cpu1, cache1 := c.cpu(), c.workerCache(b)
		time.Sleep(2 * time.Second) // a duplicate would show up by now
		msgs, err := c.sandbox.outbox()
		require.NoError(b, err)
		msgs = slices.DeleteFunc(msgs, func(m sandboxMessage) bool { return m.channel != ballot.ChannelSMS })
		dr := checkDrain(b, msgs, phones, opens)
		rate := dr.rate
		limited := c.rateLimited(b) - limited0
		b.Logf("iteration %d: %d texts from %s to %s after the hours opened: %.1f texts/s, %.3f of SMS_RATE %d; %d answered 429",
			iter, len(msgs), dr.first.Round(time.Millisecond), dr.last.Round(time.Millisecond),
			rate, rate/float64(smsRate), smsRate, limited)
		hits, misses := cache1.hits-cache0.hits, cache1.misses-cache0.misses
		b.Logf("iteration %d: CPU-ms a text from the opening to the last text: %s; worker-1's sticky cache: %.0f hits, %.0f misses",
			iter, drainCosts(cpu0, cpu1, voters), hits, misses)
		var temporal time.Duration // the Temporal server and its two databases
		for _, g := range []string{"temporal", "postgres:temporal", "postgres:visibility"} {
			temporal += cpu1[g] - cpu0[g]
		}
		b.ReportMetric(ms(temporal)/float64(voters), "temporal+db-CPU-ms/text")
		b.ReportMetric(ms(cpu1["worker"]-cpu0["worker"])/float64(voters), "worker-CPU-ms/text")
		if hits+misses > 0 {
			b.ReportMetric(misses/(hits+misses), "cache-miss-share")
		}
		b.ReportMetric(rate, "texts/s")
		b.ReportMetric(rate/float64(smsRate), "of-rate")
		b.ReportMetric(float64(limited), "429s")
	}
}

// drainCosts words each process group's CPU between two readings, per text.
func drainCosts(cpu0, cpu1 map[string]time.Duration, texts int) string {
	var costs []string
	for _, g := range []string{"worker", "temporal", "postgres:temporal", "postgres:visibility", "postgres:app", "api", "sandbox"} {
		costs = append(costs, fmt.Sprintf("%s %.1f", g, ms(cpu1[g]-cpu0[g])/float64(max(texts, 1))))
	}
	return strings.Join(costs, ", ")
}

// rateLimited is how many texts the sandbox has refused with a 429 since it started.
func (c *cluster) rateLimited(b *testing.B) int {
	b.Helper()
	resp, err := c.sandbox.client.Get(c.sandbox.url + "/dev/rate-limited")
	require.NoError(b, err)
	defer resp.Body.Close()
	require.Equal(b, http.StatusOK, resp.StatusCode)
	var counts map[string]int
	require.NoError(b, json.NewDecoder(resp.Body).Decode(&counts))
	return counts[ballot.ChannelSMS]
}

// stickyCache is what a worker's sticky cache has answered so far.
type stickyCache struct{ hits, misses float64 }

// workerCache reads the first worker's sticky-cache counters from its metrics.
func (c *cluster) workerCache(b *testing.B) stickyCache {
	b.Helper()
	resp, err := c.sandbox.client.Get("http://" + clusterWorkerMetricsAddr + "/metrics")
	require.NoError(b, err)
	defer resp.Body.Close()
	require.Equal(b, http.StatusOK, resp.StatusCode)
	body, err := io.ReadAll(resp.Body)
	require.NoError(b, err)
	var sc stickyCache
	for line := range strings.Lines(string(body)) {
		name, value, _ := strings.Cut(strings.TrimSpace(line), " ")
		name, _, _ = strings.Cut(name, "{")
		v, err := strconv.ParseFloat(value, 64)
		switch {
		case err != nil:
		case strings.HasPrefix(name, "temporal_sticky_cache_hit"):
			sc.hits += v
		case strings.HasPrefix(name, "temporal_sticky_cache_miss"):
			sc.misses += v
		}
	}
	return sc
}
