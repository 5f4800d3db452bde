package ballot

// Status is where a mail ballot is. Each status is also the name of the signal that reports
// it to the ballot's workflow, so a history in Temporal UI reads like the ballot's life.
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

// The status graph. A ballot moves forward only: each status has a stage, and an event moves
// the ballot when its stage is later than the current one. Counted, rejected and replaced are
// final. Cured only follows a challenge. Anything else is recorded as ignored, with why, and
// never notified: a voter is never told something older than what they were already told.

// Stage is s's place in a ballot's life: 1 for mailed up to 8 for replaced, 0 for an unknown
// status. Statuses of one stage (rejected, counted) exclude each other.
func (s Status) Stage() int {
	switch s {
	case StatusMailed:
		return 1
	case StatusUndeliverable:
		return 2
	case StatusReceived:
		return 3
	case StatusChallenged:
		return 4
	case StatusCured:
		return 5
	case StatusAccepted:
		return 6
	case StatusRejected, StatusCounted:
		return 7
	case StatusReplaced:
		return 8
	}
	return 0
}

// IsFinal reports whether nothing can follow s.
func (s Status) IsFinal() bool {
	return s == StatusCounted || s == StatusRejected || s == StatusReplaced
}

// Requires returns the status a ballot must be at before it can move to s, or "".
func (s Status) Requires() Status {
	if s == StatusCured {
		return StatusChallenged
	}
	return ""
}

// Notifies reports whether voters are told about s. A replaced ballot ends quietly: the
// voter hears about the replacement ballot from its own workflow.
func (s Status) Notifies() bool { return s != StatusReplaced }

// Transition returns "" when an event with status next moves a ballot that is at current
// ("" for a ballot with no status yet), and otherwise the reason it is ignored.
func Transition(current, next Status) string {
	switch {
	case current == "":
		return ""
	case current.IsFinal():
		return "the ballot is already " + string(current)
	case next == current:
		return "the ballot is already " + string(current)
	case next == StatusReplaced:
		return ""
	case next.Requires() != "" && current != next.Requires():
		return string(next) + ", but the ballot was not " + string(next.Requires())
	case next.Stage() < current.Stage():
		return "older than the ballot's current status, " + string(current)
	}
	return ""
}

// Supersedes reports whether a waiting notice about older may be replaced by one about
// newer, so the voter hears the newest status once instead of a burst. A cure notice
// (challenged) is never swallowed by a later non-final status: the voter must learn how to
// cure.
func Supersedes(newer, older Status) bool {
	return older != StatusChallenged || newer.IsFinal()
}
