package apiserver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/ballotflow/ballotflow/internal/roll"
	"github.com/ballotflow/ballotflow/internal/store"
)

// maxUploadBytes bounds a streamed file (a state's voter roll, a county's mail-out day of
// events): those are a few GiB at most.
const maxUploadBytes = 8 << 30

// rollReadWindow is how long the upload of a roll may pause between two batches; the
// server's read timeout is too short for a whole state's roll.
const rollReadWindow = 5 * time.Minute

// registerRoll serves the state endpoints that load a voter roll and previous subscriptions.
func (h *handlers) registerRoll(v1 *gin.RouterGroup) {
	state := v1.Group("", h.authenticate(store.RoleState))
	state.POST(`/voters\:sync`, func(c *gin.Context) { h.loadFile(c, roll.ImportVoters) })
	state.POST(`/subscriptions\:import`, func(c *gin.Context) { h.loadFile(c, roll.ImportSubscriptions) })
}

// fileUpload checks a streamed file upload's type and size and returns its format, a body
// limited to maxUploadBytes, and a function that extends the read deadline (call it after
// every batch, so a long upload is not cut off while a slow one still is). It answers 415 or
// 413 itself and returns false.
func fileUpload(c *gin.Context, typeHint string) (roll.Format, io.Reader, func(), bool) {
	var format roll.Format
	mediaType, _, _ := mime.ParseMediaType(c.GetHeader("Content-Type"))
	switch mediaType {
	case "text/csv":
		format = roll.CSV
	case "application/x-ndjson":
		format = roll.NDJSON
	default:
		abort(c, http.StatusUnsupportedMediaType, "unsupported_media_type", typeHint, "")
		return format, nil, nil, false
	}
	if c.Request.ContentLength > maxUploadBytes {
		abort(c, http.StatusRequestEntityTooLarge, "too_large", fmt.Sprintf("the file is larger than %d GiB; split it", maxUploadBytes>>30), "")
		return format, nil, nil, false
	}
	body := http.MaxBytesReader(c.Writer, c.Request.Body, maxUploadBytes)
	rc := http.NewResponseController(c.Writer)
	extendRead := func() { _ = rc.SetReadDeadline(time.Now().Add(rollReadWindow)) }
	extendRead()
	return format, body, extendRead, true
}

type loadFunc func(context.Context, *store.Store, io.Reader, roll.Options) (roll.Result, error)

// loadFile streams the request body, CSV with a header or NDJSON, through load for the key's
// state and answers with the counts and the rejected lines. Rows load in batches as they
// arrive; an upload that breaks off keeps the batches loaded before, and sending the file
// again completes it, since loading only changes what differs.
func (h *handlers) loadFile(c *gin.Context, load loadFunc) {
	format, body, extendRead, ok := fileUpload(c, "send text/csv (with a header row) or application/x-ndjson (one JSON object per line)")
	if !ok {
		return
	}

	key := apiKey(c)
	// A client that hangs up ends the body, which ends the load; the batch in flight still
	// commits or rolls back whole.
	ctx := context.WithoutCancel(c.Request.Context())
	res, err := load(ctx, h.cfg.Store, body, roll.Options{
		State: key.State, Actor: key.Actor(), Format: format,
		Progress: func(roll.Result) { extendRead() },
	})
	var fieldErr *roll.FieldError
	var tooLarge *http.MaxBytesError
	var panicked *roll.ReadPanicError
	switch {
	case err == nil:
		c.JSON(http.StatusOK, res)
	case errors.As(err, &fieldErr):
		abort(c, http.StatusBadRequest, "invalid_file", fieldErr.Message, fieldErr.Field)
	case errors.Is(err, store.ErrImportRunning):
		abort(c, http.StatusConflict, "import_running",
			"another roll or subscription load for "+key.State+" is running; send this file when it has finished", "")
	case errors.As(err, &tooLarge):
		abort(c, http.StatusRequestEntityTooLarge, "too_large", fmt.Sprintf(
			"the file is larger than %d GiB; the rows up to line %d were loaded", maxUploadBytes>>30, res.LastLine), "")
	case errors.As(err, &panicked):
		h.unreadableRow(c, panicked, fmt.Sprintf("the batches up to line %d are loaded", res.LastLine))
	case c.Request.Context().Err() != nil:
		h.cfg.Logger.Warn("roll upload broke off", "key", key.Prefix, "last_line", res.LastLine)
	default:
		h.cfg.Logger.Error("load roll file", "key", key.Prefix, "last_line", res.LastLine, "error", err)
		abort(c, http.StatusServiceUnavailable, "unavailable", fmt.Sprintf(
			"the load stopped after line %d; the rows before it are loaded. Send the whole file again: "+
				"loading it again changes only what differs", res.LastLine), "")
	}
}

// unreadableRow answers 422 for an upload whose reader panicked: a row that tripped a bug,
// caught so that it fails only its own upload. The log has the line and the stack for the
// operators, never the row; stored says what was kept.
func (h *handlers) unreadableRow(c *gin.Context, panicked *roll.ReadPanicError, stored string) {
	h.cfg.Logger.Error("file reader panicked", "key", apiKey(c).Prefix, "after_line", panicked.Line,
		"panic", panicked.Panic, "stack", string(panicked.Stack))
	row := fmt.Sprintf("the row after line %d", panicked.Line)
	if panicked.Line == 0 {
		row = "the start of the file"
	}
	abort(c, http.StatusUnprocessableEntity, "unreadable_row", fmt.Sprintf(
		"ballotflow could not read %s (an error on our side, logged for the operators); %s. "+
			"Check that row and send the whole file again", row, stored), "")
}
