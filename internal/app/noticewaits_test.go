package app_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"github.com/ballotflow/ballotflow/internal/ballot"
	"github.com/ballotflow/ballotflow/internal/demo"
	"github.com/ballotflow/ballotflow/internal/metrics"
	"github.com/ballotflow/ballotflow/internal/store"
	"github.com/ballotflow/ballotflow/worker"
	"github.com/ballotflow/ballotflow/workflows/contract"
)

// TestNoticesWaitingSurviveAWorkerRestart: a text held for the voter's contact hours is
// counted in PostgreSQL, so the "notices waiting" gauge reads 1 before and after the worker
// restarts (it read -1 when it was the difference of per-process counters), and 0 once the
// text has gone.
func TestNoticesWaitingSurviveAWorkerRestart(t *testing.T) {
	d := startDev(t)
	ctx := context.Background()
	maria := demo.Voters[0]
	voter, err := d.Store.VoterGetByID(ctx, "CO", maria.VoterID)
	require.NoError(t, err)
	// Contact hours that ended in Denver two hours ago: the text waits until tomorrow.
	from, to := hoursEndedAgo(denverNow(t), 2*time.Hour)
	subscribeHours(t, d.Store, voter.Ref, "sms", maria.SMS, from, to)

	resp := post(t, d, d.DemoKey, "application/json",
		eventJSON("waits-1", maria.VoterID, "DEN-WAITS", "mailed", time.Now().Add(-time.Minute).Truncate(time.Second)))
	require.Equal(t, http.StatusAccepted, resp.Status, "%+v", resp)
	workflowID := resp.Results[0].WorkflowID
	require.Eventually(t, func() bool { return len(outboxFor(d, "email", maria.Email)) == 1 }, 30*time.Second, 50*time.Millisecond)

	gauge := &worker.NoticeWaitGauge{Store: d.Store, Logger: slog.New(slog.DiscardHandler)}
	// (Measure's answer is what it set; the gauge itself is shared with the parallel tests'
	// workers, so it is read once below, where no other test holds a voice notice.)
	waiting := func() int64 { return gauge.Measure(ctx)[ballot.ChannelSMS].Count }
	require.Eventually(t, func() bool { return waiting() == 1 }, 10*time.Second, 50*time.Millisecond,
		"the held text is counted")
	require.Zero(t, gauge.Measure(ctx)[ballot.ChannelEmail].Count, "the email went at once")
	require.Empty(t, outboxFor(d, "sms", maria.SMS), "not texted outside her hours")

	require.NoError(t, d.RestartWorker())
	require.Equal(t, int64(1), waiting(), "a restart changes nothing")

	// She widens her hours to any time: the workflow re-plans, the text goes, its row goes.
	reachAnyHour(t, d, voter.Ref, "sms", maria.SMS)
	require.NoError(t, d.Temporal.SignalWorkflow(ctx, workflowID, "", ballot.SignalPreferencesChanged,
		contract.PreferencesChanged{Reason: "portal"}))
	require.Eventually(t, func() bool { return len(outboxFor(d, "sms", maria.SMS)) == 1 }, 30*time.Second, 50*time.Millisecond)
	require.Eventually(t, func() bool { return waiting() == 0 }, 10*time.Second, 50*time.Millisecond,
		"a text that went is no longer counted")

	// A row whose workflow will never remove it (terminated by an operator) is dropped once
	// long past its time.
	b, err := d.Store.BallotGetByKey(ctx, workflowID[len(fmt.Sprintf("ballot/%s/", demo.ElectionID)):])
	require.NoError(t, err)
	require.NoError(t, d.Store.NoticeWaitSet(ctx, b.Key, []store.NoticeWait{{Seq: 9, Channel: ballot.ChannelVoice, DueAt: time.Now().Add(-time.Hour)}}))
	require.Equal(t, int64(1), gauge.Measure(ctx)[ballot.ChannelVoice].Count)
	require.Greater(t, testutil.ToFloat64(metrics.NoticesWaitingOverdue.WithLabelValues(ballot.ChannelVoice)), 3000.0, "an hour overdue")
	gauge.Now = func() time.Time { return time.Now().Add(worker.DefaultNoticeWaitStaleAge) }
	require.Zero(t, gauge.Measure(ctx)[ballot.ChannelVoice].Count, "stale row pruned")
}
