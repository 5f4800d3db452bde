package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/ballotflow/ballotflow/activities"
)

// ConfirmWorkflowName is the registered name of the workflow that asks a voter to confirm a
// new address (a text to reply YES to, an email with a link). It runs on TaskQueue; its one
// activity runs on the channel's delivery queue, within the provider's rate limit.
const ConfirmWorkflowName = "ConfirmContact"

// ConfirmInput starts a ConfirmContact workflow. It carries no address.
type ConfirmInput struct {
	SubscriptionID int64
	Channel        string // ballot.ChannelSMS or ballot.ChannelEmail
	LinkBase       string // the portal's public URL, for the email's link
}

// confirmOptions: a provider outage is retried for a day; a permanent refusal stops at once
// (the activity marks the subscription bounced).
var confirmOptions = workflow.ActivityOptions{
	StartToCloseTimeout:    time.Minute,
	ScheduleToCloseTimeout: 24 * time.Hour,
	RetryPolicy: &temporal.RetryPolicy{
		InitialInterval:        5 * time.Second,
		BackoffCoefficient:     2,
		MaximumInterval:        10 * time.Minute,
		NonRetryableErrorTypes: []string{activities.ErrPermanent},
	},
}

// ConfirmContact sends one confirmation message through the channel's delivery queue.
func ConfirmContact(ctx workflow.Context, in ConfirmInput) (activities.NoticeResult, error) {
	opts := confirmOptions
	opts.TaskQueue = activities.TaskQueue(in.Channel)
	ctx = workflow.WithActivityOptions(ctx, opts)
	var res activities.NoticeResult
	err := workflow.ExecuteActivity(ctx, acts.SendConfirmation, activities.ConfirmationInput{
		SubscriptionID: in.SubscriptionID, Channel: in.Channel, LinkBase: in.LinkBase,
	}).Get(ctx, &res)
	return res, err
}
