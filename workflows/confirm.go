package workflows

import (
	"go.temporal.io/sdk/workflow"

	"github.com/ballotflow/ballotflow/activities"
	"github.com/ballotflow/ballotflow/workflows/contract"
)

// ConfirmContact sends one confirmation message (contract.ConfirmWorkflowName) through the
// channel's delivery queue, with a notice's options: a provider outage is retried for a day;
// a permanent refusal stops at once (the activity marks the subscription bounced).
func ConfirmContact(ctx workflow.Context, in contract.ConfirmInput) (activities.NoticeResult, error) {
	ctx = workflow.WithActivityOptions(ctx, deliveryOptions(in.Channel))
	var res activities.NoticeResult
	err := workflow.ExecuteActivity(ctx, acts.SendConfirmation, activities.ConfirmationInput{
		SubscriptionID: in.SubscriptionID, Channel: in.Channel, LinkBase: in.LinkBase,
	}).Get(ctx, &res)
	return res, err
}
