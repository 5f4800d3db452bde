// Package workflows holds the ballot workflow: one durable workflow per mail ballot that
// takes the county's status events as signals, decides which of them move the ballot, and
// plans one notice per accepted status on each of the voter's active channels, holding text
// and voice notices until the voter's contact hours.
//
// This file is the package's contract: task queue, signal and query names, statuses, and the
// types that cross the Temporal boundary. Workflow code does no I/O and carries no personal
// data: contact details are read by activities at send time.
package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"
)

// TaskQueue is where ballot workflows and their bookkeeping activities run. Deliveries run
// on one queue per channel (see activities.TaskQueue) so each has its own rate limit.
const TaskQueue = "ballots"

// WorkflowName is the registered name of the ballot workflow.
const WorkflowName = "Ballot"

// WorkflowID names a ballot's workflow. The ballot key is opaque: never a name, date of
// birth, email or phone, because workflow IDs are not encrypted.
func WorkflowID(electionID, ballotKey string) string {
	return "ballot/" + electionID + "/" + ballotKey
}

// Status is where a mail ballot is. Each status is also the name of the signal that
// reports it, so a history in Temporal UI reads like the ballot's life.
type Status string

// The statuses a county reports.
const (
	StatusMailed        Status = "mailed"
	StatusUndeliverable Status = "undeliverable"
	StatusReceived      Status = "received"
	StatusAccepted      Status = "accepted"
	StatusChallenged    Status = "challenged"
	StatusCured         Status = "cured"
	StatusRejected      Status = "rejected"
	StatusCounted       Status = "counted"
	StatusReplaced      Status = "replaced"
)

// Statuses lists every status in the order of a ballot's life.
var Statuses = []Status{
	StatusMailed, StatusUndeliverable, StatusReceived, StatusChallenged, StatusCured,
	StatusAccepted, StatusRejected, StatusCounted, StatusReplaced,
}

// ParseStatus returns the Status named s, or false.
func ParseStatus(s string) (Status, bool) {
	for _, st := range Statuses {
		if string(st) == s {
			return st, true
		}
	}
	return "", false
}

// SignalPreferencesChanged tells a ballot that its voter's channels or contact hours
// changed; the workflow reloads them and re-plans waiting notices.
const SignalPreferencesChanged = "preferences-changed"

// QueryStatus returns a BallotView.
const QueryStatus = "status"

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
	Status       Status
	OccurredAt   time.Time // when it happened at the county
	Reason       string    // for challenged and rejected
	CureDeadline string    // YYYY-MM-DD, for challenged
}

// PreferencesChanged is the payload of the preferences-changed signal.
type PreferencesChanged struct {
	Reason string // "portal", "opt-out", "webhook", ...
}

// BallotView is what the status query returns: the ballot as its workflow sees it.
type BallotView struct {
	Status      Status
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
	Status       Status
	EventID      string
	OccurredAt   time.Time
	Reason       string
	CureDeadline string
}

// IgnoredEvent is an event that did not move the ballot, with why.
type IgnoredEvent struct {
	EventID    string
	Status     Status
	OccurredAt time.Time
	Reason     string
}

// PendingNotice is a notice waiting for its time (the voter's contact hours) or in flight.
type PendingNotice struct {
	Seq      int
	Status   Status
	Channel  string
	DueAt    time.Time
	InFlight bool
}

// DeliveryOutcome is how a notice on one channel ended.
type DeliveryOutcome struct {
	Seq     int
	Status  Status
	Channel string
	Outcome string // sent, skipped, failed, canceled
	Detail  string // provider id or why
	At      time.Time
}
