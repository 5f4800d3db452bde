package apiserver

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/ballotflow/ballotflow/internal/ballot"
	"github.com/ballotflow/ballotflow/internal/fileimport"
	"github.com/ballotflow/ballotflow/internal/intake"
	"github.com/ballotflow/ballotflow/internal/store"
	"github.com/ballotflow/ballotflow/internal/workflowclient"
)

// registerImports serves bulk ballot event files and their imports: counties and states post
// files and read their own imports; operators approve or reject a held import.
func (h *handlers) registerImports(v1 *gin.RouterGroup) {
	v1.POST(`/ballot-events\:bulk`, h.authenticate(store.RoleCounty, store.RoleState), h.postBulkEvents)
	v1.GET("/imports/:id", h.authenticate(store.RoleCounty, store.RoleState, store.RoleOperator), h.getImport)
	// POST /v1/imports/{id}:approve and :reject: the router sees "{id}:approve" as the id.
	v1.POST("/imports/:id", h.authenticate(store.RoleOperator), h.decideImport)
}

// postBulkEvents streams a CSV (with a header) or NDJSON file of ballot events into an
// import and answers 202 with its id and counts once the file is stored; its events are then
// signaled by the import's workflow. Rows are validated as single posts are; a bad row is
// reported by line and field and the rest of the file still loads.
func (h *handlers) postBulkEvents(c *gin.Context) {
	format, body, extendRead, ok := fileUpload(c,
		"send text/csv (with the header "+strings.Join(intake.EventColumns, ",")+") or application/x-ndjson (one event per line)")
	if !ok {
		return
	}

	key := apiKey(c)
	caller := intake.Caller{KeyID: key.ID, Role: key.Role, State: key.State, County: key.County}
	// A client that hangs up ends the body, which ends the load; the batch in flight still
	// commits or rolls back whole.
	ctx := context.WithoutCancel(c.Request.Context())
	res, err := h.cfg.Intake.ImportEvents(ctx, caller, body, intake.ImportOptions{
		Format: format, Actor: key.Actor(), Progress: func(intake.ImportResult) { extendRead() },
	})
	var fileErr *fileimport.FileError
	var tooLarge *http.MaxBytesError
	var panicked *fileimport.ReadPanicError
	again := "Send the whole file again: rows stored already count as duplicates, and every event is signaled once."
	switch {
	case err == nil:
		c.Header("Location", fmt.Sprintf("/v1/imports/%d", res.ImportID))
		c.JSON(http.StatusAccepted, res)
	case errors.As(err, &fileErr):
		abort(c, http.StatusBadRequest, "invalid_file", fileErr.Message, fileErr.Field)
	case errors.As(err, &tooLarge):
		abort(c, http.StatusRequestEntityTooLarge, "too_large", fmt.Sprintf(
			"the file is larger than %d GiB; import %d stopped at line %d. Split the file and send each part", maxUploadBytes>>30,
			res.ImportID, res.LastLine), "")
	case errors.As(err, &panicked) && res.ImportID == 0:
		h.unreadableRow(c, panicked, "nothing was stored")
	case errors.As(err, &panicked):
		h.unreadableRow(c, panicked, fmt.Sprintf("import %d failed", res.ImportID))
	case c.Request.Context().Err() != nil:
		h.cfg.Logger.Warn("bulk upload broke off", "key", key.Prefix, "import_id", res.ImportID, "last_line", res.LastLine)
	default:
		h.cfg.Logger.Error("load bulk events", "key", key.Prefix, "import_id", res.ImportID, "last_line", res.LastLine, "error", err)
		msg := "the file could not be stored; nothing was recorded. " + again
		if res.ImportID != 0 {
			msg = fmt.Sprintf("import %d stopped after line %d. %s", res.ImportID, res.LastLine, again)
		}
		abort(c, http.StatusServiceUnavailable, "unavailable", msg, "")
	}
}

// importJSON is an import as GET /v1/imports/{id} shows it: counts and ids, never rows.
type importJSON struct {
	ID           int64                  `json:"id"`
	Kind         string                 `json:"kind"`
	State        string                 `json:"state"`
	County       string                 `json:"county,omitempty"`
	Status       string                 `json:"status"`
	WorkflowID   string                 `json:"workflow_id"`
	Rows         int                    `json:"rows"`
	Accepted     int                    `json:"accepted"`
	Duplicates   int                    `json:"duplicates"`
	Rejected     int                    `json:"rejected"`
	Signaled     int                    `json:"signaled"`
	Remaining    int                    `json:"remaining"`
	Backwards    int                    `json:"backwards"`
	Inconsistent int                    `json:"inconsistent"`
	DecidedBy    string                 `json:"decided_by,omitempty"`
	DecidedAt    *time.Time             `json:"decided_at,omitempty"`
	CreatedAt    time.Time              `json:"created_at"`
	UpdatedAt    time.Time              `json:"updated_at"`
	Rejections   []fileimport.Rejection `json:"rejections"`

	// FailureReason says why a failed import stopped and what to do (send the file again).
	FailureReason string `json:"failure_reason,omitempty"`

	// CorrectsImport, for an import of kind "corrections", is the import it corrects, and
	// Preview, while it is held, what approving it would do.
	CorrectsImport int64                  `json:"corrects_import,omitempty"`
	Preview        *correctionPreviewJSON `json:"preview,omitempty"`
}

// getImport answers with an import's progress, from PostgreSQL. A county key sees its
// county's imports, a state key its state's, an operator every import; any other is a 404.
func (h *handlers) getImport(c *gin.Context) {
	im, ok := h.importInScope(c, c.Param("id"))
	if !ok {
		return
	}
	rejections, err := h.cfg.Store.ImportRejectionListByImport(c.Request.Context(), im.ID)
	if err != nil {
		h.cfg.Logger.Error("read import rejections", "import_id", im.ID, "error", err)
		abort(c, http.StatusServiceUnavailable, "unavailable", "the import could not be read; please retry", "")
		return
	}
	out := importJSON{ID: im.ID, Kind: im.Kind, State: im.State, County: im.County, Status: im.Status,
		WorkflowID: ballot.IngestWorkflowID(im.ID), Rows: im.Rows, Accepted: im.Accepted, Duplicates: im.Duplicates,
		Rejected: im.Rejected, Signaled: im.Signaled, Remaining: max(im.Accepted-im.Signaled, 0), Backwards: im.Backwards,
		Inconsistent: im.Inconsistent, DecidedBy: im.DecidedBy, DecidedAt: im.DecidedAt, CreatedAt: im.CreatedAt,
		UpdatedAt: im.UpdatedAt, FailureReason: im.FailureReason, Rejections: make([]fileimport.Rejection, len(rejections))}
	switch im.Status {
	case store.ImportRejected, store.ImportFailed:
		out.Remaining = 0 // nothing will be signaled
	}
	for i, r := range rejections {
		out.Rejections[i] = fileimport.Rejection{Line: r.Line, Field: r.Field, Code: r.Code, Reason: r.Reason}
	}
	out.CorrectsImport = im.CorrectsImport
	if im.CorrectsImport != 0 && (im.Status == store.ImportChecking || im.Status == store.ImportHeld) {
		p, err := h.correctionPreview(c.Request.Context(), im.CorrectsImport, im.ID)
		if err != nil {
			h.cfg.Logger.Error("preview import correction", "import_id", im.ID, "error", err)
			abort(c, http.StatusServiceUnavailable, "unavailable", "the import could not be read; please retry", "")
			return
		}
		out.Preview = &p
	}
	c.JSON(http.StatusOK, out)
}

// decideImport approves or rejects a held import (POST /v1/imports/{id}:approve or :reject):
// it signals the import's workflow, which signals the events or discards them, and audits
// the decision.
func (h *handlers) decideImport(c *gin.Context) {
	idText, action, _ := strings.Cut(c.Param("id"), ":")
	signal := map[string]string{"approve": workflowclient.Approve, "reject": workflowclient.Reject}[action]
	if signal == "" {
		abort(c, http.StatusNotFound, "not_found", "no such endpoint; use POST /v1/imports/{id}:approve or /v1/imports/{id}:reject", "")
		return
	}
	im, ok := h.importInScope(c, idText)
	if !ok {
		return
	}
	key := apiKey(c)
	ctx := c.Request.Context()
	// Recorded first, once: a second click, or a second operator, gets a 409.
	err := h.cfg.Store.EventImportDecide(ctx, im.ID, key.Actor())
	if errors.Is(err, store.ErrImportDecided) {
		status := im.Status
		if status == store.ImportHeld {
			status = "held, decided already by " + im.DecidedBy
		}
		abort(c, http.StatusConflict, "not_held", fmt.Sprintf(
			"import %d is %s; only a held import can be approved or rejected, once", im.ID, status), "")
		return
	}
	if err == nil {
		err = workflowclient.New(h.cfg.Temporal).DecideImport(ctx, im.ID, signal, key.Actor())
		if err != nil {
			if uerr := h.cfg.Store.EventImportUndecide(context.WithoutCancel(ctx), im.ID); uerr != nil {
				h.cfg.Logger.Error("take back import decision", "import_id", im.ID, "error", uerr)
			}
		}
	}
	if err != nil {
		h.cfg.Logger.Error("decide import", "import_id", im.ID, "decision", action, "error", err)
		abort(c, http.StatusServiceUnavailable, "unavailable", "the decision could not be delivered; nothing changed, please retry", "")
		return
	}
	if err := h.cfg.Store.Audit(ctx, key.Actor(), "import."+action, fmt.Sprintf("import:%d", im.ID), map[string]any{
		"events": im.Accepted, "backwards": im.Backwards, "inconsistent": im.Inconsistent,
	}); err != nil {
		h.cfg.Logger.Error("audit import decision", "import_id", im.ID, "error", err)
	}
	decided := map[string]string{"approve": "approved", "reject": "rejected"}[action]
	c.JSON(http.StatusAccepted, gin.H{"import_id": im.ID, "decision": decided,
		"message": fmt.Sprintf("import %d is %s; follow it at /v1/imports/%d", im.ID, decided, im.ID)})
}

// importInScope reads the import named by idText when the key may see it; otherwise it
// answers 404, the same whether the import does not exist or belongs to someone else.
func (h *handlers) importInScope(c *gin.Context, idText string) (store.EventImport, bool) {
	id, err := strconv.ParseInt(idText, 10, 64)
	if err != nil || id <= 0 {
		abort(c, http.StatusNotFound, "not_found", "an import id is a positive number, as returned by POST /v1/ballot-events:bulk", "id")
		return store.EventImport{}, false
	}
	im, err := h.cfg.Store.EventImportGetByID(c.Request.Context(), id)
	key := apiKey(c)
	visible := err == nil && (key.Role == store.RoleOperator ||
		(im.State == key.State && (key.Role == store.RoleState || im.County == key.County)))
	switch {
	case err != nil && !errors.Is(err, store.ErrNotFound):
		h.cfg.Logger.Error("read import", "import_id", id, "error", err)
		abort(c, http.StatusServiceUnavailable, "unavailable", "the import could not be read; please retry", "")
		return store.EventImport{}, false
	case !visible:
		abort(c, http.StatusNotFound, "not_found", fmt.Sprintf("there is no import %d for this key", id), "id")
		return store.EventImport{}, false
	}
	return im, true
}
