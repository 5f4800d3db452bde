package workflows

import (
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/ballotflow/ballotflow/activities"
	"github.com/ballotflow/ballotflow/workflows/contract"
)

var retentionActs *activities.Retention // names activity methods; never called directly

// retentionListOptions: finding the elections due is one query; the database being away is
// retried without end.
var retentionListOptions = workflow.ActivityOptions{
	StartToCloseTimeout: time.Minute,
	RetryPolicy:         retryUntilBack,
}

// purgeHeartbeatTimeout is how long a PurgeElection attempt may go without a heartbeat (it
// sends one after every page of ballots) before Temporal runs it on another worker, which
// carries on from the last page reported.
const purgeHeartbeatTimeout = time.Minute

// purgeOptions: a large election's purge takes minutes; a failing one is given up for this
// run after retryThenNextRun's attempts, and the next day's run takes it up again.
var purgeOptions = workflow.ActivityOptions{
	StartToCloseTimeout: 12 * time.Hour,
	HeartbeatTimeout:    purgeHeartbeatTimeout,
	RetryPolicy:         retryThenNextRun,
}

// RetentionPurge is the workflow the retention schedule starts once a day: it purges the
// personal data of every election whose records period is over, one election after the
// other, keeping their counts and the audit log. An election whose purge fails does not stop
// the others; the run then fails naming it, and the next run starts it again where it
// stopped.
func RetentionPurge(ctx workflow.Context, _ contract.RetentionInput) (contract.RetentionResult, error) {
	var res contract.RetentionResult
	var due []string
	err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, retentionListOptions),
		retentionActs.ListElectionsDue).Get(ctx, &due)
	if err != nil {
		return res, err
	}
	logger := workflow.GetLogger(ctx)
	purgeCtx := workflow.WithActivityOptions(ctx, purgeOptions)
	for _, id := range due {
		var r activities.PurgeElectionResult
		err := workflow.ExecuteActivity(purgeCtx, retentionActs.PurgeElection, activities.PurgeElectionInput{ElectionID: id}).
			Get(ctx, &r)
		switch {
		case temporal.IsCanceledError(err):
			return res, err
		case err != nil:
			logger.Warn("purge of election failed; the next run tries again", "election_id", id, "error", err)
			res.Failed = append(res.Failed, id)
		case r.Kept:
			res.Kept = append(res.Kept, id)
		default:
			res.Purged = append(res.Purged, id)
		}
	}
	if len(res.Failed) > 0 {
		return res, temporal.NewApplicationError(
			fmt.Sprintf("the purge of %d election(s) failed (%s); the next run tries again", len(res.Failed),
				strings.Join(res.Failed, ", ")), "PurgeFailed", res)
	}
	return res, nil
}
