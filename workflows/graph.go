package workflows

// The status graph. A ballot moves forward only: each status has a stage, and an event moves
// the ballot when its stage is later than the current one. Counted, rejected and replaced are
// final. Cured only follows a challenge. Anything else is recorded as ignored, with why, and
// never notified: a voter is never told something older than what they were already told.

func stage(s Status) int {
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

// isFinal reports whether nothing can follow s.
func isFinal(s Status) bool {
	return s == StatusCounted || s == StatusRejected || s == StatusReplaced
}

// requires returns the status a ballot must be at before it can move to s, or "".
func requires(s Status) Status {
	if s == StatusCured {
		return StatusChallenged
	}
	return ""
}

// notifies reports whether voters are told about s. A replaced ballot ends quietly: the
// voter hears about the replacement ballot from its own workflow.
func notifies(s Status) bool { return s != StatusReplaced }

// transition returns "" when an event with status next moves a ballot that is at current,
// and otherwise the reason it is ignored.
func transition(current, next Status) string {
	switch {
	case current == "":
		return ""
	case isFinal(current):
		return "the ballot is already " + string(current)
	case next == current:
		return "the ballot is already " + string(current)
	case next == StatusReplaced:
		return ""
	case requires(next) != "" && current != requires(next):
		return string(next) + ", but the ballot was not " + string(requires(next))
	case stage(next) < stage(current):
		return "older than the ballot's current status, " + string(current)
	}
	return ""
}

// supersedes reports whether a waiting notice about older may be replaced by one about newer,
// so the voter hears the newest status once instead of a burst. A cure notice (challenged)
// is never swallowed by a later non-final status: the voter must learn how to cure.
func supersedes(newer, older Status) bool {
	return older != StatusChallenged || isFinal(newer)
}
