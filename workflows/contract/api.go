// Package contract is what crosses the Temporal boundary into and out of ballotflow's
// workflows: the task queue they run on, their registered names, their search attributes,
// and the types of their inputs, signals and queries. It is the one page a caller reads to
// start, signal or query a workflow.
//
// It is a leaf (it imports internal/ballot and the SDK's search attribute keys, nothing of
// ballotflow's implementation) so that the packages that talk to workflows
// (internal/workflowclient, and through it intake and prefs) never import the workflows
// themselves. That keeps the layers one way: workflows name their activities through
// package activities, and activities may in turn use intake and prefs, for instance to tell
// a household's other ballots that their shared address was refused.
//
// Names and JSON shapes here are in the histories of running workflows: a registered name
// or a field's JSON name never changes; Go names may. The domain words the types use
// (statuses, channels, workflow ids, the status signal and query names) are
// internal/ballot's. Nothing here carries personal data: a workflow knows a ballot by its
// opaque key, and activities read contact details at send time.
package contract

import (
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/ballotflow/ballotflow/internal/ballot"
)

// TaskQueue is where every ballotflow workflow and its bookkeeping activities run.
// Deliveries run on one queue per channel (activities.TaskQueue), each with its own rate limit.
const TaskQueue = "ballots"

// Registered workflow names.
const (
	// BallotWorkflowName is the workflow of one mail ballot, ID ballot.WorkflowID, started by
	// the county's first event (SignalWithStart with a BallotInput and a StatusEvent).
	BallotWorkflowName = "Ballot"
	// IngestWorkflowName is the workflow that fans out a bulk import of ballot events (a
	// county's mail-out day), ID ballot.IngestWorkflowID: it compares the stored events with
	// their ballots and, unless too many would move ballots backwards, signals them page by
	// page at the rate the worker is configured for.
	IngestWorkflowName = "IngestEvents"
	// ConfirmWorkflowName is the workflow that asks a voter to confirm a new address (a text
	// to reply YES to, an email with a link), ID ballot.ConfirmWorkflowID. Its one activity
	// runs on the channel's delivery queue, within the provider's rate limit.
	ConfirmWorkflowName = "ConfirmContact"
)

// Search attributes the ballot workflow keeps current, registered by the dev stack and compose.
var (
	SearchBallotStatus = temporal.NewSearchAttributeKeyKeyword("BallotStatus")
	SearchCounty       = temporal.NewSearchAttributeKeyKeyword("County")
	SearchElectionID   = temporal.NewSearchAttributeKeyKeyword("ElectionId")
)

// The ballot workflow.

// BallotInput starts a ballot workflow. It names the ballot; it holds no personal data.
type BallotInput struct {
	BallotKey     string
	ElectionID    string
	State         string
	County        string
	CanvassEndsAt time.Time // the workflow closes then, whatever is left
}

// StatusEvent is the payload of every status signal (named as its ballot.Status): one
// county event. With Corrects set it is a correction, the payload of the
// ballot.SignalCorrection signal: the event Corrects was posted in error, and Status is the
// ballot's right status ("" for the status the ballot had before that event).
type StatusEvent struct {
	EventID      string
	Status       ballot.Status
	OccurredAt   time.Time // when it happened at the county (for a correction: when it was made)
	Reason       string    // for challenged and rejected
	CureDeadline string    // YYYY-MM-DD, for challenged
	Corrects     string    `json:",omitempty"` // the event_id a correction names
}

// PreferencesChanged is the payload of the ballot.SignalPreferencesChanged signal.
type PreferencesChanged struct {
	Reason string // "portal", "opt-out", "webhook", ...
}

// Mail directions of a ballot envelope, as USPS scans it.
const (
	MailOutbound = "outbound" // from the county to the voter
	MailReturn   = "return"   // from the voter back to the county
)

// MailScan is the payload of the ballot.SignalMailScan signal: a USPS scan of the ballot's
// envelope. Where is a facility, never an address.
type MailScan struct {
	Direction string    // MailOutbound or MailReturn
	ScannedAt time.Time // UTC
	Facility  string    // the facility's name, or its city and state; may be empty
}

// MailScanEntry is a scan as the ballot's history shows it: whether the voter was told.
type MailScanEntry struct {
	MailScan
	Told bool
	Why  string // why the voter was not told, when not
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
	MailScans   []MailScanEntry // the newest 20
	// Waiting are corrections that came before the event they correct: each is applied when
	// that event comes.
	Waiting []StatusEvent `json:",omitempty"`
}

// TimelineEntry is one status the ballot moved to. A correction is an entry too: it names
// the entry it corrects (Corrects), and that entry names it back (CorrectedBy).
type TimelineEntry struct {
	Status       ballot.Status
	EventID      string
	OccurredAt   time.Time
	Reason       string
	CureDeadline string
	Corrects     string `json:",omitempty"` // this entry is a correction of that event
	CorrectedBy  string `json:",omitempty"` // this entry was posted in error: the correction's event id
	Told         bool   `json:",omitempty"` // a correction: the voter had heard the wrong status and is told
	NoticeSeq    int    `json:",omitempty"` // the notice planned about this entry, 0 for none
}

// IgnoredEvent is an event that did not move the ballot, with why.
type IgnoredEvent struct {
	EventID    string
	Status     ballot.Status
	OccurredAt time.Time
	Reason     string
	Corrects   string `json:",omitempty"` // a correction: the event it named
}

// PendingNotice is a notice waiting for its time (the voter's contact hours) or in flight.
type PendingNotice struct {
	Seq      int
	Status   ballot.Status
	Kind     string // "" for the status itself; a NoticeKind otherwise
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

// The ingestion workflow of a bulk import.

// Signals an operator sends to a held import (POST /v1/imports/{id}:approve and :reject),
// with an ImportDecision.
const (
	SignalApprove = "approve"
	SignalReject  = "reject"
)

// QueryProgress returns an IngestProgress.
const QueryProgress = "progress"

// Where an import's workflow is (IngestProgress.Status); the same words as the import's
// status in PostgreSQL.
const (
	IngestChecking  = "checking"
	IngestHeld      = "held"
	IngestSignaling = "signaling"
	IngestDone      = "done"
	IngestRejected  = "rejected"
)

// IngestInput starts an ingestion workflow. Settings (rate, hold threshold) come from the
// worker through the activities' results.
type IngestInput struct {
	ImportID int64
}

// ImportDecision is the payload of the approve and reject signals.
type ImportDecision struct {
	By string // the operator's key, "key:<prefix>"
}

// IngestProgress is what the progress query returns: counts only.
type IngestProgress struct {
	Status       string
	Events       int // stored events to signal
	Done         int // signaled
	Remaining    int
	Duplicates   int // rows of the file recorded before
	Rejected     int // rows of the file refused
	Backwards    int // events older than their ballot's current status
	Inconsistent int // events after a final status, or without the status they require
	Rate         float64
	DecidedBy    string
	// Corrections says the import corrects another: it is held for an operator whatever
	// it holds.
	Corrections bool `json:",omitempty"`
}

// The confirmation workflow.

// ConfirmInput starts a ConfirmContact workflow. It carries no address.
type ConfirmInput struct {
	SubscriptionID int64
	Channel        string // ballot.ChannelSMS or ballot.ChannelEmail
	LinkBase       string // the portal's public URL, for the email's link
}

// The retention purge.

// RetentionWorkflowName is the workflow the retention schedule (RetentionScheduleID) starts
// once a day: it finds the elections whose records period is over and, one after the other,
// purges the personal data tied to each, keeping their counts and the audit log. Its runs'
// ids are RetentionWorkflowID followed by the time Temporal started them.
const RetentionWorkflowName = "RetentionPurge"

// The retention schedule, which the worker creates or updates at start, and the id of the
// workflows it starts.
const (
	RetentionScheduleID = "retention-purge"
	RetentionWorkflowID = "retention-purge"
)

// RetentionInput starts a RetentionPurge run. It names nothing: each run finds the elections
// that are due.
type RetentionInput struct{}

// RetentionResult is what a RetentionPurge run did, by election id.
type RetentionResult struct {
	Purged []string // purged by this run
	Kept   []string // found due, but their records period was moved later before the purge began
	Failed []string // the purge failed; the next run starts it again where it stopped
}
