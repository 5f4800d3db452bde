package apiserver

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/ballotflow/ballotflow/internal/intake"
)

// eventsBody is either one event or {"events": [...]}.
type eventsBody struct {
	intake.Event
	Events []intake.Event `json:"events"`
}

// postBallotEvents takes one event, a JSON batch, or NDJSON. The whole body is parsed before
// anything is stored: a malformed body is a 400 and nothing is recorded. Each well-formed
// event then gets its own result.
func (h *handlers) postBallotEvents(c *gin.Context) {
	body := http.MaxBytesReader(c.Writer, c.Request.Body, maxBatchBytes)
	mediaType, _, _ := mime.ParseMediaType(c.GetHeader("Content-Type"))
	var events []intake.Event
	single := false
	var err *bodyError
	switch mediaType {
	case "application/json", "":
		events, single, err = decodeJSONEvents(body)
	case "application/x-ndjson":
		events, err = decodeNDJSONEvents(body)
	default:
		abort(c, http.StatusUnsupportedMediaType, "unsupported_media_type",
			"send application/json (one event or {\"events\": [...]}) or application/x-ndjson", "")
		return
	}
	switch {
	case err != nil && err.status == http.StatusRequestEntityTooLarge:
		abort(c, http.StatusRequestEntityTooLarge, "too_large",
			fmt.Sprintf("the body is larger than %d MiB; post larger files to /v1/ballot-events:bulk", maxBatchBytes>>20), "")
		return
	case err != nil:
		err.abort(c)
		return
	case len(events) == 0:
		abort(c, http.StatusBadRequest, "invalid_body", "the body holds no events", "events")
		return
	case len(events) > maxBatchEvents:
		abort(c, http.StatusRequestEntityTooLarge, "too_many_events",
			fmt.Sprintf("at most %d events per request; post larger files to /v1/ballot-events:bulk", maxBatchEvents), "events")
		return
	}

	key := apiKey(c)
	caller := intake.Caller{KeyID: key.ID, Role: key.Role, State: key.State, County: key.County}
	// A client that hangs up mid-batch must not leave the batch half-processed.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(c.Request.Context()), 2*time.Minute)
	defer cancel()
	results := make([]intake.Result, 0, len(events))
	for _, ev := range events {
		results = append(results, h.cfg.Intake.Submit(ctx, caller, ev))
	}
	h.auditEventPost(ctx, key, results)
	if single && results[0].Error != nil {
		e := results[0].Error
		abort(c, e.Status, e.Code, e.Message, e.Field)
		return
	}
	c.JSON(http.StatusAccepted, gin.H{"results": results})
}

func decodeJSONEvents(r io.Reader) (events []intake.Event, single bool, err *bodyError) {
	var b eventsBody
	if err := decodeJSON(r, maxBatchBytes, &b); err != nil {
		return nil, false, err
	}
	if b.Events != nil {
		if b.Event != (intake.Event{}) {
			return nil, false, &bodyError{http.StatusBadRequest, "invalid_field",
				"Send either one event or {\"events\": [...]}, not both.", "events"}
		}
		return b.Events, false, nil
	}
	return []intake.Event{b.Event}, true, nil
}

// decodeNDJSONEvents reads one event per line, at most maxBatchEvents+1 (the caller refuses
// more), each line at most 64 KiB.
func decodeNDJSONEvents(r io.Reader) ([]intake.Event, *bodyError) {
	var events []intake.Event
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 64<<10)
	line := 0
	for sc.Scan() {
		line++
		raw := bytes.TrimSpace(sc.Bytes())
		if len(raw) == 0 {
			continue
		}
		var ev intake.Event
		if err := decodeJSONLine(raw, fmt.Sprintf("Line %d: ", line), &ev); err != nil {
			return nil, err
		}
		events = append(events, ev)
		if len(events) > maxBatchEvents {
			return events, nil
		}
	}
	if err := sc.Err(); err != nil {
		var tooLarge *http.MaxBytesError
		switch {
		case errors.As(err, &tooLarge):
			return nil, jsonDecodeError(err, maxBatchBytes, "")
		case errors.Is(err, bufio.ErrTooLong):
			return nil, &bodyError{http.StatusBadRequest, "invalid_body", fmt.Sprintf("Line %d is longer than 64 KiB.", line+1), ""}
		}
		return nil, &bodyError{http.StatusBadRequest, "invalid_body", "The body could not be read to its end.", ""}
	}
	return events, nil
}
