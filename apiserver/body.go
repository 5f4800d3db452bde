package apiserver

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/ballotflow/ballotflow/internal/ballot"
)

// bodyError is why a request body could not be read: the status to answer with, a code, a
// message a person can act on and the field at fault (a JSON path such as "events[2].reason"
// when there is one). Its message never repeats what was sent.
type bodyError struct {
	status  int
	code    string
	message string
	field   string
}

func (e *bodyError) Error() string { return e.message }

func (e *bodyError) abort(c *gin.Context) { abort(c, e.status, e.code, e.message, e.field) }

// bindJSON reads the request's body as exactly one JSON object into dst (see decodeJSON); on
// failure it answers with the error and returns false.
func bindJSON(c *gin.Context, limit int64, dst any) bool {
	if err := decodeJSON(http.MaxBytesReader(c.Writer, c.Request.Body, limit), limit, dst); err != nil {
		err.abort(c)
		return false
	}
	return true
}

// decodeJSON is the API's one strict JSON reader. It reads exactly one JSON value from r
// (which the caller bounds to limit bytes) into dst, and refuses unknown fields, values of
// the wrong type, anything after the value, and text that PostgreSQL or a person could not
// take: NUL and other control characters (tab, CR and LF excepted). Invalid UTF-8 needs no
// check here: encoding/json turns it into U+FFFD.
func decodeJSON(r io.Reader, limit int64, dst any) *bodyError {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields() // ballot content or anything else unexpected is refused
	err := dec.Decode(dst)
	if err == nil {
		if _, extra := dec.Token(); !errors.Is(extra, io.EOF) {
			var tooLarge *http.MaxBytesError
			if errors.As(extra, &tooLarge) {
				err = extra
			} else {
				return &bodyError{http.StatusBadRequest, "invalid_body",
					"The body holds more than one JSON value, or text after it; send one JSON object.", ""}
			}
		}
	}
	if err != nil {
		return jsonDecodeError(err, limit, "")
	}
	if field := controlCharField(reflect.ValueOf(dst), ""); field != "" {
		return &bodyError{http.StatusBadRequest, "invalid_field",
			fmt.Sprintf("%s holds a control character (such as NUL); send plain text.", field), field}
	}
	return nil
}

// decodeJSONLine decodes one NDJSON line as decodeJSON does a body; where says which line,
// for the messages ("line 3: ").
func decodeJSONLine(raw []byte, where string, dst any) *bodyError {
	if err := decodeJSON(bytes.NewReader(raw), 0, dst); err != nil {
		err.message = where + err.message
		return err
	}
	return nil
}

// jsonDecodeError words a decoding error; where prefixes the message (an NDJSON line).
func jsonDecodeError(err error, limit int64, where string) *bodyError {
	var syntax *json.SyntaxError
	var typeErr *json.UnmarshalTypeError
	var tooLarge *http.MaxBytesError
	bad := func(field, msg string) *bodyError {
		code := "invalid_body"
		if field != "" {
			code = "invalid_field"
		}
		return &bodyError{http.StatusBadRequest, code, where + msg, field}
	}
	switch {
	case errors.As(err, &tooLarge):
		return &bodyError{http.StatusRequestEntityTooLarge, "too_large", fmt.Sprintf("The body is larger than %s.", byteSize(limit)), ""}
	case errors.Is(err, io.EOF):
		return bad("", "The body is empty; send a JSON object.")
	case errors.As(err, &syntax), errors.Is(err, io.ErrUnexpectedEOF):
		return bad("", "The body is not valid JSON.")
	case errors.As(err, &typeErr):
		field := jsonPath(typeErr.Field)
		if field == "" {
			return bad("", "The body must be a JSON object.")
		}
		return bad(field, fmt.Sprintf("%s must be %s.", field, jsonKind(typeErr.Type)))
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		if !ballot.SafeName(name) {
			return bad("", "The body has a field that is not part of this API; see /openapi.json.")
		}
		return bad(name, fmt.Sprintf("Unknown field %q; see /openapi.json for the fields.", name))
	}
	return bad("", "The body could not be read as JSON.")
}

// jsonPath turns encoding/json's field path into the API's names: Go type names of embedded
// structs (which begin with a capital letter; the API's names never do) are dropped.
func jsonPath(goPath string) string {
	if goPath == "" {
		return ""
	}
	parts := strings.Split(goPath, ".")
	kept := parts[:0]
	for _, p := range parts {
		if p != "" && !(p[0] >= 'A' && p[0] <= 'Z') {
			kept = append(kept, p)
		}
	}
	return strings.Join(kept, ".")
}

func jsonKind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Slice, reflect.Array:
		return "a list"
	case reflect.Struct, reflect.Map:
		return "an object"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Pointer:
		return jsonKind(t.Elem())
	}
	return "a " + t.Kind().String()
}

func byteSize(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return strconv.FormatInt(n>>20, 10) + " MiB"
	case n >= 1<<10 && n%(1<<10) == 0:
		return strconv.FormatInt(n>>10, 10) + " KiB"
	}
	return strconv.FormatInt(n, 10) + " bytes"
}

// controlCharField returns the JSON path of the first string in v that holds a control
// character other than tab, CR or LF, or "" when there is none. It walks what decoding can
// fill: structs (by their json names), pointers, slices, arrays and maps.
func controlCharField(v reflect.Value, path string) string {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return ""
		}
		return controlCharField(v.Elem(), path)
	case reflect.String:
		if !ballot.PlainText(v.String()) {
			return path
		}
	case reflect.Struct:
		t := v.Type()
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "-" {
				continue
			}
			sub := path
			if !f.Anonymous || name != "" {
				if name == "" {
					name = f.Name
				}
				sub = joinPath(path, name)
			}
			if bad := controlCharField(v.Field(i), sub); bad != "" {
				return bad
			}
		}
	case reflect.Slice, reflect.Array:
		for i := range v.Len() {
			if bad := controlCharField(v.Index(i), path+"["+strconv.Itoa(i)+"]"); bad != "" {
				return bad
			}
		}
	case reflect.Map:
		iter := v.MapRange()
		for iter.Next() {
			if k := iter.Key(); k.Kind() == reflect.String && !ballot.PlainText(k.String()) {
				return joinPath(path, "(a key)")
			}
			key := "(a key)"
			if k := iter.Key(); k.Kind() == reflect.String && ballot.SafeName(k.String()) {
				key = k.String()
			}
			if bad := controlCharField(iter.Value(), joinPath(path, key)); bad != "" {
				return bad
			}
		}
	}
	return ""
}

func joinPath(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

// refuseControlCharsInURL answers 400 to a request whose path or query holds a control
// character or invalid UTF-8 (percent-encoded, as %00 or %FF): no handler, and no database
// lookup, should ever see one.
func refuseControlCharsInURL(c *gin.Context) {
	u := c.Request.URL
	bad := !ballot.PlainText(u.Path)
	for name, values := range u.Query() {
		bad = bad || !ballot.PlainText(name)
		for _, v := range values {
			bad = bad || !ballot.PlainText(v)
		}
	}
	if bad {
		abort(c, http.StatusBadRequest, "invalid_url", "The address holds a control character or is not valid UTF-8.", "")
	}
}
