package apiserver

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/ballotflow/ballotflow/internal/intake"
	"github.com/ballotflow/ballotflow/internal/store"
)

// correctionRequest is an operator's correction of a status posted in error: the ballot (its
// election and the county's ballot number), the event_id posted in error, the right status,
// and a note for the audit log. Counties post corrections themselves as events with
// "corrects" (POST /v1/ballot-events).
type correctionRequest struct {
	ElectionID   string `json:"election_id"`
	BallotID     string `json:"ballot_id"`
	Corrects     string `json:"corrects"`
	Status       string `json:"status"`
	Reason       string `json:"reason"`
	CureDeadline string `json:"cure_deadline"`
	Note         string `json:"note"`
}

// correctionEventID is the event id of an operator's correction of event corrects: the same
// for the same event, so that a correction posted twice is taken once. Every event is
// corrected at most once.
func correctionEventID(corrects string) string {
	sum := sha256.Sum256([]byte(corrects))
	return "op-fix-" + hex.EncodeToString(sum[:12])
}

// postOperatorCorrection posts an operator's correction for a voter's ballot. It goes the way
// a county's event goes (validated, stored, signaled), under the voter's state, and is
// audited with the operator's note.
func (h *handlers) postOperatorCorrection(c *gin.Context) {
	var req correctionRequest
	if !decodePortalBody(c, &req) {
		return
	}
	note, ok := requireNote(c, req.Note, `who found the mistake and how (e.g. "wrong file, ticket 4411")`)
	if !ok {
		return
	}
	if strings.TrimSpace(req.Corrects) == "" {
		abort(c, http.StatusBadRequest, "missing_field", "corrects is required: the event_id of the status posted in error", "corrects")
		return
	}
	v, ok := h.operatorVoter(c)
	if !ok {
		return
	}
	if refuseNotePersonalData(c, note, v) {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(c.Request.Context()), 30*time.Second)
	defer cancel()
	key := apiKey(c)
	ev := intake.Event{EventID: correctionEventID(req.Corrects), ElectionID: req.ElectionID, VoterID: v.VoterID,
		BallotID: req.BallotID, Status: req.Status, OccurredAt: time.Now().UTC().Format(time.RFC3339),
		Reason: req.Reason, CureDeadline: req.CureDeadline, Corrects: req.Corrects}
	res := h.cfg.Intake.Submit(ctx, intake.Caller{KeyID: key.ID, Role: store.RoleState, State: v.State}, ev)
	if res.Error != nil {
		e := res.Error
		if e.Code == "event_id_reused" {
			abort(c, http.StatusConflict, "corrected_already", "this event was corrected already, with another status", "corrects")
			return
		}
		abort(c, e.Status, e.Code, e.Message, e.Field)
		return
	}
	if err := h.cfg.Store.Audit(ctx, key.Actor(), "ballot.correct", res.WorkflowID, map[string]any{
		"election_id": req.ElectionID, "corrects": req.Corrects, "status": req.Status, "event_id": ev.EventID,
		"result": res.Result, "note": note,
	}); err != nil {
		h.cfg.Logger.Error("operator correction: audit", "workflow_id", res.WorkflowID, "error", err)
	}
	c.JSON(http.StatusAccepted, res)
}
