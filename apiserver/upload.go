package apiserver

import (
	"fmt"
	"io"
	"mime"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/ballotflow/ballotflow/internal/fileimport"
)

// maxUploadBytes bounds a streamed file (a state's voter roll, a county's mail-out day of
// events): those are a few GiB at most.
const maxUploadBytes = 8 << 30

// uploadReadWindow is how long a file upload may pause between two batches; the server's
// read timeout is too short for a whole state's roll or a county's mail-out day.
const uploadReadWindow = 5 * time.Minute

// fileUpload checks a streamed file upload's type and size and returns its format, a body
// limited to maxUploadBytes, and a function that extends the read deadline (call it after
// every batch, so a long upload is not cut off while a slow one still is). It answers 415 or
// 413 itself and returns false.
func fileUpload(c *gin.Context, typeHint string) (fileimport.Format, io.Reader, func(), bool) {
	var format fileimport.Format
	mediaType, _, _ := mime.ParseMediaType(c.GetHeader("Content-Type"))
	switch mediaType {
	case "text/csv":
		format = fileimport.CSV
	case "application/x-ndjson":
		format = fileimport.NDJSON
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
	extendRead := func() { _ = rc.SetReadDeadline(time.Now().Add(uploadReadWindow)) }
	extendRead()
	return format, body, extendRead, true
}

// unreadableRow answers 422 for an upload whose reader panicked: a row that tripped a bug,
// caught so that it fails only its own upload. The log has the line and the stack for the
// operators, never the row; stored says what was kept.
func (h *handlers) unreadableRow(c *gin.Context, panicked *fileimport.ReadPanicError, stored string) {
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
