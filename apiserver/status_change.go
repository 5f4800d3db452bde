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
}

// statusChangeView shows a stored status change as it is, at the time as stored: the
// operator API then writes times in UTC, as all its times are; the portal has always written
// them as the database returns them (the same instant either way).
func statusChangeView(s store.StatusChange) statusChangeJSON {
	return statusChangeJSON{Status: s.Status, At: s.At, Reason: s.Reason, CureDeadline: s.CureDeadline}
}
