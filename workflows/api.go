// Package workflows holds the ballot workflow: one durable workflow per mail ballot that
// takes the county's status events as signals, decides which of them move the ballot, and
// plans one notice per accepted status on each of the voter's active channels, holding text
// and voice notices until the voter's contact hours.
//
// This file is the package's contract: task queue, workflow names, search attributes, and
// the types that cross the Temporal boundary. The domain words those types use (statuses,
// channels, workflow ids, the signal and query names the API shares) are internal/ballot's.
// Workflow code does no I/O and carries no personal data: contact details are read by
// activities at send time.
package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/ballotflow/ballotflow/internal/ballot"
)

// TaskQueue is where ballot workflows and their bookkeeping activities run. Deliveries run
// on one queue per channel (see activities.TaskQueue) so each has its own rate limit.
const TaskQueue = "ballots"

// WorkflowName is the registered name of the ballot workflow.
const WorkflowName = "Ballot"

// Search attributes the workflow keeps current, registered by the dev stack and compose.
var (
	SearchBallotStatus = temporal.NewSearchAttributeKeyKeyword("BallotStatus")
	SearchCounty       = temporal.NewSearchAttributeKeyKeyword("County")
	SearchElectionID   = temporal.NewSearchAttributeKeyKeyword("ElectionId")
)

// BallotInput starts a ballot workflow. It names the ballot; it holds no personal data.
type BallotInput struct {
	BallotKey     string
	ElectionID    string
	State         string
	County        string
	CanvassEndsAt time.Time // the workflow closes then, whatever is left

	// Resume is the state carried over when a ballot continues as new; nil for a new ballot.
	Resume *BallotState `json:",omitempty"`
}

// StatusEvent is the payload of every status signal: one county event.
type StatusEvent struct {
	EventID      string
	Status       ballot.Status
	OccurredAt   time.Time // when it happened at the county
	Reason       string    // for challenged and rejected
	CureDeadline string    // YYYY-MM-DD, for challenged
}

// PreferencesChanged is the payload of the ballot.SignalPreferencesChanged signal.
type PreferencesChanged struct {
	Reason string // "portal", "opt-out", "webhook", ...
}

// BallotView is what the status query (ballot.QueryStatus) returns: the ballot as its
// workflow sees it.
type BallotView struct {
	Status      ballot.Status
	StatusAt    time.Time
	Timeline    []TimelineEntry
	Pending     []PendingNotice
	Ignored     []IgnoredEvent
	Deliveries  []DeliveryOutcome
	Unreachable bool // a notice could be delivered on none of the voter's channels
	Closed      string
}

// TimelineEntry is one status the ballot moved to.
type TimelineEntry struct {
	Status       ballot.Status
	EventID      string
	OccurredAt   time.Time
	Reason       string
	CureDeadline string
}

// IgnoredEvent is an event that did not move the ballot, with why.
type IgnoredEvent struct {
	EventID    string
	Status     ballot.Status
	OccurredAt time.Time
	Reason     string
}

// PendingNotice is a notice waiting for its time (the voter's contact hours) or in flight.
type PendingNotice struct {
	Seq      int
	Status   ballot.Status
	Channel  string
	DueAt    time.Time
	InFlight bool
}

// DeliveryOutcome is how a notice on one channel ended.
type DeliveryOutcome struct {
	Seq     int
	Status  ballot.Status
	Channel string
	Outcome string // sent, skipped, failed, canceled
	Detail  string // provider id or why
	At      time.Time
}
