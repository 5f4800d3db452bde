package usps

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/ballotflow/ballotflow/internal/fileimport"
	"github.com/ballotflow/ballotflow/internal/jsonbound"
)

// JSONReader reads IV-MTR scans in JSON: a push body or a JSON file, {"events": [...]} with
// any other members beside the list (msgGrpId and the message counts of a push, which are
// not needed), or a bare list of events. Events are read one at a time: memory holds one
// event (MaxEventBytes; a larger one is rejected and reading goes on), and any other value
// at most 1 MiB, past which the input cannot be read on. Members of an event that
// ballotflow does not use are skipped, never kept.
type JSONReader struct {
	in    *boundedReader
	dec   *json.Decoder
	opts  ReadOptions
	state jsonState
	// bare: the input is a list of events, not an object.
	bare      bool
	sawEvents bool
	n         int // events read
}

type jsonState int

const (
	inObject jsonState = iota // at a member of the top object, before or after the events
	inEvents
	done
)

// MalformedError is input that stops being valid JSON (or the IV-MTR shape) part way:
// nothing after it can be read. After is how many events were read before it.
type MalformedError struct {
	After   int
	Message string
}

func (e *MalformedError) Error() string { return e.Message }

// NewJSONReader reads the start of r and returns a reader of its events. Input that is not
// a JSON object or list at all is a *fileimport.FileError.
func NewJSONReader(r io.Reader, opts ReadOptions) (*JSONReader, error) {
	in := newBoundedReader(r, opts.MaxBytes)
	in.windowMax = maxValueBytes
	j := &JSONReader{in: in, dec: json.NewDecoder(in), opts: opts}
	j.dec.UseNumber()
	tok, err := j.token()
	switch {
	case errors.Is(err, io.EOF):
		return nil, &fileimport.FileError{Message: "the body is empty; send IV-MTR scans as {\"events\": [...]}"}
	case err != nil:
		return nil, j.startError(err)
	case tok == json.Delim('{'):
		j.state = inObject
	case tok == json.Delim('['):
		j.state, j.bare = inEvents, true
	default:
		return nil, &fileimport.FileError{Message: "the body must be a JSON object with an events list, {\"events\": [...]}"}
	}
	return j, nil
}

// startError words an error met before the first event as a *fileimport.FileError, unless
// the input was too large.
func (j *JSONReader) startError(err error) error {
	err = j.readError(err)
	var malformed *MalformedError
	if errors.As(err, &malformed) {
		return &fileimport.FileError{Message: malformed.Message}
	}
	return err
}

// Next returns the next event as a scan, or io.EOF after the last. Other errors end the
// reading: a *MalformedError, an *InputTooLargeError, or the input's own.
func (j *JSONReader) Next() (Record, error) {
	for {
		switch j.state {
		case done:
			return Record{}, io.EOF
		case inObject:
			if err := j.members(); err != nil {
				return Record{}, err
			}
		case inEvents:
			if !j.dec.More() {
				if _, err := j.token(); err != nil { // the list's ]
					return Record{}, j.readError(err)
				}
				if j.bare {
					j.state = done
					if err := j.atEnd(); err != nil {
						return Record{}, err
					}
				} else {
					j.state = inObject
				}
				continue
			}
			var raw json.RawMessage
			j.in.window = 0
			if err := j.dec.Decode(&raw); err != nil {
				return Record{}, j.readError(err)
			}
			j.n++
			return j.event(raw), nil
		}
	}
}

// members reads the top object's members up to the events list (and enters it) or to the
// object's end, skipping the others.
func (j *JSONReader) members() error {
	for j.dec.More() {
		tok, err := j.token()
		if err != nil {
			return j.readError(err)
		}
		name, _ := tok.(string)
		if foldName(name) == "events" {
			if j.sawEvents {
				return &MalformedError{After: j.n, Message: "the body has two events lists"}
			}
			j.sawEvents = true
			tok, err := j.token()
			if err != nil {
				return j.readError(err)
			}
			if tok != json.Delim('[') {
				return &MalformedError{After: j.n, Message: "events must be a list of scan events"}
			}
			j.state = inEvents
			return nil
		}
		var skip json.RawMessage
		j.in.window = 0
		if err := j.dec.Decode(&skip); err != nil {
			return j.readError(err)
		}
	}
	if _, err := j.token(); err != nil { // the object's }
		return j.readError(err)
	}
	j.state = done
	if !j.sawEvents {
		return &MalformedError{After: j.n, Message: "the body has no events list; send IV-MTR scans as {\"events\": [...]}"}
	}
	return j.atEnd()
}

// atEnd checks that nothing follows the top value.
func (j *JSONReader) atEnd() error {
	if _, err := j.token(); !errors.Is(err, io.EOF) {
		if err != nil {
			return j.readError(err)
		}
		return &MalformedError{After: j.n, Message: "the body has text after its JSON value; send one JSON object"}
	}
	return nil
}

func (j *JSONReader) token() (json.Token, error) {
	j.in.window = 0
	return j.dec.Token()
}

// readError words an error of the decoder: input past its bound, a value too large to read
// on from, or JSON that is not valid; the input's own errors are returned as they are.
func (j *JSONReader) readError(err error) error {
	var tooLarge *InputTooLargeError
	var syntax *json.SyntaxError
	switch {
	case errors.As(err, &tooLarge):
		return err
	case errors.Is(err, errValueTooLarge):
		return &InputTooLargeError{Message: fmt.Sprintf(
			"after event %d, a JSON value is larger than %s; nothing after it could be read", j.n, sizeText(maxValueBytes))}
	case errors.As(err, &syntax), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return &MalformedError{After: j.n, Message: fmt.Sprintf("the JSON is not valid after event %d; nothing after it could be read", j.n)}
	}
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) {
		return &MalformedError{After: j.n, Message: fmt.Sprintf("the JSON is not valid after event %d", j.n)}
	}
	return err
}

// event checks one event of the list; a bad one is the event's rejection.
func (j *JSONReader) event(raw json.RawMessage) Record {
	bad := func(f, reason string) Record {
		return Record{Line: j.n, Bad: &fileimport.Rejection{Line: j.n, Field: f, Code: CodeInvalidRow, Reason: reason}}
	}
	if len(raw) > MaxEventBytes {
		return bad("", fmt.Sprintf("event %d is larger than %d KiB", j.n, MaxEventBytes>>10))
	}
	members, ok := jsonbound.ObjectMembers(raw)
	if !ok {
		return bad("", fmt.Sprintf("event %d is not a JSON object", j.n))
	}
	var rs rawScan
	var seen [numFields]bool
	for _, m := range members {
		f, ok := lookupField(m.Name)
		if !ok {
			continue
		}
		if seen[f] {
			return bad(fieldNames[f], fmt.Sprintf("event %d gives %s twice (names are matched without case or punctuation)", j.n, fieldNames[f]))
		}
		seen[f] = true
		v, problem := jsonbound.Text(m.Value)
		if problem != jsonbound.IsText {
			return bad(fieldNames[f], fmt.Sprintf("%s of event %d must be a string", fieldNames[f], j.n))
		}
		if len(v) > MaxFieldBytes {
			return bad(fieldNames[f], fmt.Sprintf("%s of event %d is longer than %d KiB", fieldNames[f], j.n, MaxFieldBytes>>10))
		}
		rs[f] = v
	}
	scan, rej := scanOf(j.n, &rs, &j.opts)
	if rej != nil {
		return Record{Line: j.n, Bad: rej}
	}
	return Record{Line: j.n, Scan: scan}
}
