package apiserver

import (
	"time"

	"github.com/ballotflow/ballotflow/internal/store"
)

// statusChangeJSON is one status a ballot moved to: an entry of the portal's timeline
// (GET /v1/portal/ballot) and of the operator API's history, which show the same fields.
type statusChangeJSON struct {
	Status       string    `json:"status"`
	At           time.Time `json:"at"`
	Reason       string    `json:"reason,omitempty"`
	CureDeadline string    `json:"cure_deadline,omitempty"`
	// PostedInError says the county or an operator corrected this status: it was never the
	// ballot's; CorrectedAt is when.
	PostedInError bool       `json:"posted_in_error,omitempty"`
	CorrectedAt   *time.Time `json:"corrected_at,omitempty"`
	// Correction says this move is a correction: the status the ballot has in truth.
	Correction bool `json:"correction,omitempty"`
}

// statusChangeView shows a stored status change as it is, at the time as stored: the
// operator API then writes times in UTC, as all its times are; the portal has always written
// them as the database returns them (the same instant either way).
func statusChangeView(s store.StatusChange) statusChangeJSON {
	j := statusChangeJSON{Status: s.Status, At: s.At, Reason: s.Reason, CureDeadline: s.CureDeadline, Correction: s.Correction}
	if s.CorrectedAt != nil {
		at := s.CorrectedAt.UTC()
		j.PostedInError, j.CorrectedAt = true, &at
	}
	return j
}
