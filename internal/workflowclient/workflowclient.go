// Package workflowclient is the client side of ballotflow's workflows: the one place that
// starts, signals and queries them, and so the only place that builds workflow options (task
// queue, id reuse, timeouts, memo, search attributes, summaries). The API, the intake
// service and the preference notifier call it with domain values; none of them needs to know
// how a workflow is started. It knows the workflows only by their contract
// (workflows/contract), never their code, so that the activities the workflows call may use
// it in turn.
package workflowclient

import (
	"context"
	"errors"
	"fmt"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/ballotflow/ballotflow/internal/ballot"
	"github.com/ballotflow/ballotflow/workflows/contract"
)

// Client starts and signals ballotflow's workflows through a Temporal client.
type Client struct {
	temporal client.Client
}

// New returns a Client over tc.
func New(tc client.Client) *Client { return &Client{temporal: tc} }

// ErrBallotClosed: the ballot's workflow has ended (a final status, or its canvass closed),
// so an event for it is recorded but cannot be delivered; it is never started again.
var ErrBallotClosed = errors.New("the ballot's workflow has closed")

// Ballot workflows' lifetime. A ballot workflow closes itself when its election's canvass
// ends; the execution timeout is only the backstop, and must be positive and finite
// whatever an election's dates say.
const (
	// workflowGrace is how long a ballot workflow may outlive its canvass.
	workflowGrace = 7 * 24 * time.Hour
	// maxWorkflowTimeout bounds the timeout; elections are validated (roll.CheckElection) to
	// end their canvass well within it.
	maxWorkflowTimeout = 2*366*24*time.Hour + workflowGrace
	// minWorkflowTimeout leaves an event that arrives just before the canvass closes time to
	// be handled and its notices settled.
	minWorkflowTimeout = time.Hour
)

// workflowTimeout is a ballot workflow's execution timeout at now: until the canvass ends,
// plus the grace, never negative and never overflowing (a canvass in the year 9999 is
// clamped).
func workflowTimeout(canvassEndsAt, now time.Time) time.Duration {
	left := canvassEndsAt.Sub(now) // saturates rather than overflows
	if left > maxWorkflowTimeout-workflowGrace {
		return maxWorkflowTimeout
	}
	return max(left+workflowGrace, minWorkflowTimeout)
}

// SignalBallot delivers a county's status event to the ballot's workflow, starting the
// workflow with the ballot's first event (SignalWithStart). A workflow that has closed is
// not started again: that is ErrBallotClosed. now is the current time, for the timeout.
func (c *Client) SignalBallot(ctx context.Context, in contract.BallotInput, ev contract.StatusEvent, now time.Time) error {
	id := ballot.WorkflowID(in.ElectionID, in.BallotKey)
	signal := string(ev.Status)
	if ev.Corrects != "" {
		signal = ballot.SignalCorrection
	}
	_, err := c.temporal.SignalWithStartWorkflow(ctx, id, signal, ev, client.StartWorkflowOptions{
		TaskQueue:                contract.TaskQueue,
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
		WorkflowExecutionTimeout: workflowTimeout(in.CanvassEndsAt, now),
		Memo:                     map[string]any{"county": in.County, "state": in.State, "election": in.ElectionID},
		TypedSearchAttributes: temporal.NewSearchAttributes(
			contract.SearchCounty.ValueSet(in.County),
			contract.SearchElectionID.ValueSet(in.ElectionID),
		),
		StaticSummary: "Ballot in " + in.County + ", " + in.ElectionID,
	}, contract.BallotWorkflowName, in)
	var started *serviceerror.WorkflowExecutionAlreadyStarted
	if errors.As(err, &started) {
		return ErrBallotClosed
	}
	if err != nil {
		return fmt.Errorf("signal-with-start %s: %w", id, err)
	}
	return nil
}

// PreferencesChanged tells a ballot's workflow that its voter's channels or contact hours
// changed (reason is shown in Temporal UI). A workflow that has completed is skipped.
func (c *Client) PreferencesChanged(ctx context.Context, electionID, ballotKey, reason string) error {
	id := ballot.WorkflowID(electionID, ballotKey)
	err := c.temporal.SignalWorkflow(ctx, id, "", ballot.SignalPreferencesChanged, contract.PreferencesChanged{Reason: reason})
	var nf *serviceerror.NotFound
	if err != nil && !errors.As(err, &nf) {
		return fmt.Errorf("signal %s: %w", id, err)
	}
	return nil
}

// StartIngest starts the ingestion workflow of a loaded import of state (and county, for a
// county's import). Starting it again is harmless: a running or finished workflow of the
// import is left as it is.
func (c *Client) StartIngest(ctx context.Context, importID int64, state, county string) error {
	scope := state
	if county != "" {
		scope = county + ", " + state
	}
	id := ballot.IngestWorkflowID(importID)
	_, err := c.temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:                    id,
		TaskQueue:             contract.TaskQueue,
		WorkflowIDReusePolicy: enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
		Memo:                  map[string]any{"import": importID, "state": state, "county": county},
		StaticSummary:         fmt.Sprintf("Import %d of ballot events from %s", importID, scope),
	}, contract.IngestWorkflowName, contract.IngestInput{ImportID: importID})
	var started *serviceerror.WorkflowExecutionAlreadyStarted
	if errors.As(err, &started) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("start %s: %w", id, err)
	}
	return nil
}

// Import decisions an operator gives a held import.
const (
	Approve = contract.SignalApprove
	Reject  = contract.SignalReject
)

// DecideImport delivers an operator's decision (Approve or Reject) on a held import, by
// (the operator's key, "key:<prefix>").
func (c *Client) DecideImport(ctx context.Context, importID int64, decision, by string) error {
	if decision != Approve && decision != Reject {
		return fmt.Errorf("decide import %d: unknown decision %q", importID, decision)
	}
	id := ballot.IngestWorkflowID(importID)
	if err := c.temporal.SignalWorkflow(ctx, id, "", decision, contract.ImportDecision{By: by}); err != nil {
		return fmt.Errorf("signal %s %s: %w", decision, id, err)
	}
	return nil
}

// StartConfirmation starts the workflow that sends one confirmation (a text asking for YES,
// an email with a link) of a subscription, named after its send record so that starting it
// again is the same workflow.
func (c *Client) StartConfirmation(ctx context.Context, sendID int64, in contract.ConfirmInput) error {
	id := ballot.ConfirmWorkflowID(in.SubscriptionID, sendID)
	_, err := c.temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: contract.TaskQueue},
		contract.ConfirmWorkflowName, in)
	if err != nil {
		return fmt.Errorf("start %s: %w", id, err)
	}
	return nil
}
