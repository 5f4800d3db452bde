package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/ballotflow/ballotflow/activities"
)

// The workflows' two retry policies. Activity options differ (local or not, timeouts, task
// queue), but what to do when an attempt fails comes down to one of these.

// retryUntilBack is for bookkeeping that fails only while PostgreSQL or Temporal is away: it
// retries without end, backing off to once a minute. Every activity it is used for is
// idempotent.
var retryUntilBack = &temporal.RetryPolicy{
	InitialInterval:    time.Second,
	BackoffCoefficient: 2,
	MaximumInterval:    time.Minute,
}

// retryProviderOutage is for a message handed to a provider: a transient failure retries
// with backoff (the activity's schedule-to-close timeout bounds how long), while a permanent
// refusal, or a contact window that closed meanwhile (only notices that carry a NotAfter fail
// so), comes back to the workflow at once.
var retryProviderOutage = &temporal.RetryPolicy{
	InitialInterval:        5 * time.Second,
	BackoffCoefficient:     2,
	MaximumInterval:        10 * time.Minute,
	NonRetryableErrorTypes: []string{activities.ErrPermanent, activities.ErrWindowClosed},
}

// retryThenNextRun is for work that a later run of a schedule takes up again where it
// stopped (the retention purge): eight attempts with backoff, about twenty minutes in all,
// then the workflow moves on to its next item rather than holding up every other one.
var retryThenNextRun = &temporal.RetryPolicy{
	InitialInterval:    10 * time.Second,
	BackoffCoefficient: 2,
	MaximumInterval:    15 * time.Minute,
	MaximumAttempts:    8,
}
