package apiserver

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/ballotflow/ballotflow/internal/ballot"
	"github.com/ballotflow/ballotflow/internal/store"
)

// Correcting a whole import: an operator finds that a county's file was the wrong one (the
// "rejected" file of another county, yesterday's file again). GET .../correction previews
// what a correction would do; POST creates it as an import of its own, held like a wrong
// file until an operator approves it (POST /v1/imports/{id}:approve), then signaled at the
// import rate.

func (h *handlers) registerImportCorrections(v1 *gin.RouterGroup) {
	g := v1.Group("/imports/:id/correction", noStore, h.authenticate(store.RoleOperator))
	g.GET("", h.getImportCorrection)
	g.POST("", h.postImportCorrection)
}

// correctionPreviewJSON is what correcting an import would do, by the status its events
// posted: how many voters would be told of the mistake, and how many ballots would return
// quietly, keep a later status, or are untouched.
type correctionPreviewJSON struct {
	ImportID int64                 `json:"import_id"`
	Events   int                   `json:"events"`
	Told     int                   `json:"told"`
	ByStatus []correctionCountJSON `json:"by_status"`
}

type correctionCountJSON struct {
	Status            string `json:"status"`
	Told              int    `json:"told"`                // the voter heard it: one correction notice
	NotTold           int    `json:"not_told"`            // the ballot returns; the voter hears nothing of the mistake
	LaterStatusStands int    `json:"later_status_stands"` // marked as posted in error; nothing else changes
	NotApplied        int    `json:"not_applied"`         // the event never moved its ballot
	CorrectedAlready  int    `json:"corrected_already"`
}

func (h *handlers) correctionPreview(ctx context.Context, importID, pending int64) (correctionPreviewJSON, error) {
	counts, err := h.cfg.Store.ImportCorrectionPreview(ctx, importID, pending)
	if err != nil {
		return correctionPreviewJSON{}, err
	}
	out := correctionPreviewJSON{ImportID: importID, ByStatus: make([]correctionCountJSON, len(counts))}
	for i, c := range counts {
		out.ByStatus[i] = correctionCountJSON(c)
		out.Told += c.Told
		out.Events += c.Told + c.NotTold + c.LaterStatusStands + c.NotApplied + c.CorrectedAlready
	}
	return out, nil
}

// getImportCorrection previews the correction of an import.
func (h *handlers) getImportCorrection(c *gin.Context) {
	im, ok := h.importInScope(c, c.Param("id"))
	if !ok {
		return
	}
	p, err := h.correctionPreview(c.Request.Context(), im.ID, 0)
	if err != nil {
		h.adminUnavailable(c, "preview import correction", err)
		return
	}
	c.JSON(http.StatusOK, p)
}

type importCorrectionRequest struct {
	// Status is the right status of every ballot of the import; left out, each ballot returns
	// to the status it had before the import's event.
	Status string `json:"status"`
	Note   string `json:"note"`
}

// postImportCorrection creates the correction of an import, held for an operator.
func (h *handlers) postImportCorrection(c *gin.Context) {
	var req importCorrectionRequest
	if !decodePortalBody(c, &req) {
		return
	}
	note, ok := requireNote(c, req.Note, `who found the mistake and how (e.g. "wrong file, ticket 4411")`)
	// No voter to compare with: the note is checked for addresses, numbers and birth dates.
	if !ok || refuseNotePersonalData(c, note, store.Voter{}) {
		return
	}
	if req.Status != "" {
		if _, ok := ballot.ParseStatus(req.Status); !ok {
			abort(c, http.StatusBadRequest, "invalid_field", "status must be a ballot status, or left out for the status each ballot had before", "status")
			return
		}
	}
	im, ok := h.importInScope(c, c.Param("id"))
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(c.Request.Context()), time.Minute)
	defer cancel()
	key := apiKey(c)
	preview, err := h.correctionPreview(ctx, im.ID, 0)
	if err != nil {
		h.adminUnavailable(c, "preview import correction", err)
		return
	}
	id, n, err := h.cfg.Store.ImportCorrectionCreate(ctx, im.ID, req.Status, key.Actor())
	switch {
	case errors.Is(err, store.ErrNotCorrectable):
		abort(c, http.StatusConflict, "not_correctable", fmt.Sprintf("import %d is %s; only a finished import of ballot events can be corrected", im.ID, im.Status), "id")
		return
	case errors.Is(err, store.ErrCorrectionPending):
		abort(c, http.StatusConflict, "correction_pending", fmt.Sprintf("a correction of import %d is under way; approve or reject it first", im.ID), "id")
		return
	case errors.Is(err, store.ErrNothingToCorrect):
		abort(c, http.StatusConflict, "nothing_to_correct", fmt.Sprintf("every event of import %d was corrected already", im.ID), "id")
		return
	case err != nil:
		h.adminUnavailable(c, "create import correction", err)
		return
	}
	if err := h.cfg.Store.Audit(ctx, key.Actor(), "import.correct", fmt.Sprintf("import:%d", im.ID), map[string]any{
		"correction_import": id, "events": n, "told": preview.Told, "status": req.Status, "note": note,
	}); err != nil {
		h.cfg.Logger.Error("audit import correction", "import_id", im.ID, "error", err)
	}
	if err := h.cfg.Intake.StartIngest(ctx, id); err != nil {
		// Stored: the pending-import sweeper starts it.
		h.cfg.Logger.Warn("start correction import; the sweeper will", "import_id", id, "error", err)
	}
	c.Header("Location", fmt.Sprintf("/v1/imports/%d", id))
	c.JSON(http.StatusAccepted, gin.H{"import_id": id, "corrects_import": im.ID, "events": n, "status": store.ImportChecking,
		"preview": preview, "workflow_id": ballot.IngestWorkflowID(id),
		"message": fmt.Sprintf("import %d holds the corrections; it is held until an operator approves it: POST /v1/imports/%d:approve", id, id)})
}
