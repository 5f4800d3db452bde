package workflows_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/ballotflow/ballotflow/activities"
	"github.com/ballotflow/ballotflow/workflows"
	"github.com/ballotflow/ballotflow/workflows/contract"
)

// ConfirmContact sends one confirmation on the channel's delivery queue, retries a provider
// outage, and stops at once on a permanent refusal.
func TestConfirmContactRetriesOutagesOnTheChannelsQueue(t *testing.T) {
	for _, tc := range []struct {
		channel, queue string
		failures       int
		permanent      bool
	}{
		{"sms", activities.SMSTaskQueue, 2, false},
		{"email", activities.EmailTaskQueue, 0, false},
		{"sms", activities.SMSTaskQueue, 1, true},
	} {
		var s testsuite.WorkflowTestSuite
		env := s.NewTestWorkflowEnvironment()
		env.RegisterWorkflow(workflows.ConfirmContact)
		var queues []string
		var got []activities.ConfirmationInput
		env.RegisterActivityWithOptions(func(ctx context.Context, in activities.ConfirmationInput) (activities.NoticeResult, error) {
			queues = append(queues, activity.GetInfo(ctx).TaskQueue)
			got = append(got, in)
			if tc.permanent {
				return activities.NoticeResult{}, temporal.NewNonRetryableApplicationError("unsubscribed", activities.ErrPermanent, nil)
			}
			if len(got) <= tc.failures {
				return activities.NoticeResult{}, temporal.NewApplicationError("provider down", "TransientDeliveryFailure")
			}
			return activities.NoticeResult{Outcome: activities.OutcomeSent}, nil
		}, activity.RegisterOptions{Name: "SendConfirmation"})

		env.ExecuteWorkflow(workflows.ConfirmContact, contract.ConfirmInput{SubscriptionID: 42, Channel: tc.channel, LinkBase: "https://x"})
		require.True(t, env.IsWorkflowCompleted())
		if tc.permanent {
			require.Error(t, env.GetWorkflowError())
			require.Len(t, got, 1, "a permanent refusal is not retried")
			continue
		}
		require.NoError(t, env.GetWorkflowError())
		require.Len(t, got, tc.failures+1)
		for i := range got {
			require.Equal(t, tc.queue, queues[i])
			require.Equal(t, activities.ConfirmationInput{SubscriptionID: 42, Channel: tc.channel, LinkBase: "https://x"}, got[i])
		}
	}
}
