package apiserver

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
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
	var err error
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
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		abort(c, http.StatusRequestEntityTooLarge, "too_large",
			fmt.Sprintf("the body is larger than %d MiB; post larger files to /v1/ballot-events:bulk", maxBatchBytes>>20), "")
		return
	case err != nil:
		var fe *fieldError
		field := ""
		if errors.As(err, &fe) {
			field = fe.field
		}
		abort(c, http.StatusBadRequest, "invalid_body", err.Error(), field)
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

// fieldError is a decoding error that names the field at fault.
type fieldError struct {
	field string
	msg   string
}

func (e *fieldError) Error() string { return e.msg }

func decodeJSONEvents(r io.Reader) (events []intake.Event, single bool, err error) {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields() // ballot content or anything else unexpected is refused
	var b eventsBody
	if err := dec.Decode(&b); err != nil {
		return nil, false, jsonError(err, "")
	}
	if dec.More() {
		return nil, false, errors.New("the body holds more than one JSON value; send a batch as {\"events\": [...]} or use application/x-ndjson")
	}
	if b.Events != nil {
		if b.Event != (intake.Event{}) {
			return nil, false, &fieldError{"events", "send either one event or {\"events\": [...]}, not both"}
		}
		return b.Events, false, nil
	}
	return []intake.Event{b.Event}, true, nil
}

func decodeNDJSONEvents(r io.Reader) ([]intake.Event, error) {
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
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		var ev intake.Event
		if err := dec.Decode(&ev); err != nil {
			return nil, jsonError(err, fmt.Sprintf("line %d: ", line))
		}
		events = append(events, ev)
		if len(events) > maxBatchEvents {
			return events, nil
		}
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, fmt.Errorf("line %d is longer than 64 KiB", line+1)
		}
		return nil, err
	}
	return events, nil
}

// jsonError turns a decoding error into a message a person can act on.
func jsonError(err error, where string) error {
	var syntax *json.SyntaxError
	var typeErr *json.UnmarshalTypeError
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		return err
	case errors.Is(err, io.EOF):
		return errors.New(where + "the body is empty")
	case errors.As(err, &syntax), errors.Is(err, io.ErrUnexpectedEOF):
		return errors.New(where + "the body is not valid JSON")
	case errors.As(err, &typeErr):
		field := typeErr.Field
		return &fieldError{field, fmt.Sprintf("%s%s must be a %s", where, field, jsonKind(typeErr.Type.Kind().String()))}
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		field := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return &fieldError{field, fmt.Sprintf("%sunknown field %q; ballotflow accepts only the documented event fields", where, field)}
	}
	return errors.New(where + "the body could not be read as JSON")
}

func jsonKind(kind string) string {
	switch kind {
	case "slice":
		return "list"
	case "struct":
		return "object"
	}
	return kind
}
