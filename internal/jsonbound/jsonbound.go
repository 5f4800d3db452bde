// Package jsonbound reads one JSON object that its caller already bounded and holds whole
// (a line of an NDJSON file, one event of an IV-MTR list): its members in the order written,
// and their values as text. The callers bound the input; this package never reads further
// than the bytes it is given.
package jsonbound

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"unicode/utf8"
)

// Member is one name and value of a JSON object, as written.
type Member struct {
	Name  string
	Value json.RawMessage
}

// ObjectMembers reads raw as exactly one JSON object, nothing after it but white space, and
// returns its members in the order written (a name given twice is there twice). ok is false
// when raw is anything else.
func ObjectMembers(raw []byte) (members []Member, ok bool) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, false
	}
	for dec.More() {
		tok, err := dec.Token()
		name, isName := tok.(string)
		if err != nil || !isName {
			return nil, false
		}
		var value json.RawMessage
		if err := dec.Decode(&value); err != nil {
			return nil, false
		}
		members = append(members, Member{Name: name, Value: value})
	}
	if tok, err := dec.Token(); err != nil || tok != json.Delim('}') {
		return nil, false
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, false
	}
	return members, true
}

// TextProblem says why a value is not text.
type TextProblem int

const (
	// IsText: the value is text.
	IsText TextProblem = iota
	// NotUTF8: a string whose bytes are not UTF-8.
	NotUTF8
	// NotText: an object, a list, or no value at all.
	NotText
)

// Text is a value as text: a string as it is, a number or a boolean as written, null as
// empty. Objects and lists are not text, nor strings that are not UTF-8.
func Text(raw json.RawMessage) (string, TextProblem) {
	if len(raw) == 0 {
		return "", NotText
	}
	switch raw[0] {
	case '"':
		if !utf8.Valid(raw) {
			return "", NotUTF8
		}
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", NotText
		}
		return s, IsText
	case 'n':
		return "", IsText
	case '{', '[':
		return "", NotText
	}
	return string(raw), IsText // a number or a boolean, as written
}
