package apiserver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/ballotflow/ballotflow/internal/fileimport"
	"github.com/ballotflow/ballotflow/internal/roll"
	"github.com/ballotflow/ballotflow/internal/store"
)

// registerRoll serves the state endpoints that load a voter roll and previous subscriptions.
func (h *handlers) registerRoll(v1 *gin.RouterGroup) {
	state := v1.Group("", h.authenticate(store.RoleState))
	state.POST(`/voters\:sync`, func(c *gin.Context) { h.importFile(c, roll.ImportVoters) })
	state.POST(`/subscriptions\:import`, func(c *gin.Context) { h.importFile(c, roll.ImportSubscriptions) })
}

type importFunc func(context.Context, *store.Store, io.Reader, roll.Options) (roll.Result, error)

// importFile streams the request body, CSV with a header or NDJSON, through load for the key's
// state and answers with the counts and the rejected lines. Rows load in batches as they
// arrive; an upload that breaks off keeps the batches loaded before, and sending the file
// again completes it, since loading only changes what differs.
func (h *handlers) importFile(c *gin.Context, load importFunc) {
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
	var fileErr *fileimport.FileError
	var tooLarge *http.MaxBytesError
	var panicked *fileimport.ReadPanicError
	switch {
	case err == nil:
		c.JSON(http.StatusOK, res)
	case errors.As(err, &fileErr):
		abort(c, http.StatusBadRequest, "invalid_file", fileErr.Message, fileErr.Field)
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
			"the load stopped after line %d; the rows up to it are loaded. Send the whole file again: "+
				"loading it again changes only what differs", res.LastLine), "")
	}
}
