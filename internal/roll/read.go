package roll

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// column is one column of a file kind; required columns must be in a CSV header.
type column struct {
	name     string
	required bool
}

// record is one row as read: its values aligned with the file kind's columns, or why it
// could not be read.
type record struct {
	line   int
	values []string
	bad    *Rejection
}

// source yields a file's records one by one, io.EOF at the end. Other errors (the reader
// failed) end the load.
type source interface {
	next() (record, error)
}

func newSource(r io.Reader, f Format, cols []column) (source, error) {
	switch f {
	case CSV:
		return newCSVSource(r, cols)
	case NDJSON:
		return newNDJSONSource(r, cols), nil
	}
	return nil, &FieldError{Field: "format", Message: fmt.Sprintf("unknown format %q: want csv or ndjson", f)}
}

// csvSource reads RFC 4180 CSV whose first row names the columns, in any order.
type csvSource struct {
	r     *csv.Reader
	index []int // file field i holds column index[i]
	width int   // number of columns of the kind
}

func newCSVSource(r io.Reader, cols []column) (*csvSource, error) {
	cr := csv.NewReader(bufio.NewReaderSize(r, 256<<10))
	cr.ReuseRecord = true
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, &FieldError{Message: "the file is empty; a CSV file starts with a header row naming its columns"}
	}
	if err != nil {
		var perr *csv.ParseError
		if errors.As(err, &perr) {
			return nil, &FieldError{Message: "the header row (line 1) is not valid CSV"}
		}
		return nil, err
	}
	s := &csvSource{r: cr, index: make([]int, len(header)), width: len(cols)}
	seen := make(map[string]bool, len(header))
	for i, name := range header {
		name = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(name, "\ufeff")))
		at := columnIndex(cols, name)
		if at < 0 {
			return nil, &FieldError{Field: name, Message: fmt.Sprintf("unknown column %q in the header; the columns are %s",
				name, columnList(cols))}
		}
		if seen[name] {
			return nil, &FieldError{Field: name, Message: fmt.Sprintf("column %q appears twice in the header", name)}
		}
		seen[name] = true
		s.index[i] = at
	}
	for _, c := range cols {
		if c.required && !seen[c.name] {
			return nil, &FieldError{Field: c.name, Message: fmt.Sprintf("the header has no %q column; the columns are %s",
				c.name, columnList(cols))}
		}
	}
	return s, nil
}

func (s *csvSource) next() (record, error) {
	fields, err := s.r.Read()
	line, _ := s.r.FieldPos(0)
	var perr *csv.ParseError
	switch {
	case errors.Is(err, io.EOF):
		return record{}, io.EOF
	case errors.As(err, &perr) && errors.Is(perr.Err, csv.ErrFieldCount):
		return record{line: perr.StartLine, bad: &Rejection{Line: perr.StartLine,
			Reason: fmt.Sprintf("the row has %d fields; the header has %d", len(fields), len(s.index))}}, nil
	case errors.As(err, &perr):
		reason := "the row is not valid CSV (a quote inside an unquoted field, or a quoted field that is not closed)"
		if perr.Line > perr.StartLine {
			reason = fmt.Sprintf("lines %d to %d are not valid CSV: a quoted field is not closed", perr.StartLine, perr.Line)
		}
		return record{line: perr.StartLine, bad: &Rejection{Line: perr.StartLine, Reason: reason}}, nil
	case err != nil:
		return record{}, err
	}
	values := make([]string, s.width)
	for i, f := range fields {
		values[s.index[i]] = f
	}
	return record{line: line, values: values}, nil
}

// ndjsonSource reads one JSON object per line; blank lines are skipped. Values may be
// strings, booleans, numbers or null (empty).
type ndjsonSource struct {
	r    *bufio.Reader
	cols []column
	line int
}

// maxLineBytes bounds one NDJSON line: a voter's row is a few hundred bytes.
const maxLineBytes = 64 << 10

func newNDJSONSource(r io.Reader, cols []column) *ndjsonSource {
	return &ndjsonSource{r: bufio.NewReaderSize(r, maxLineBytes), cols: cols}
}

func (s *ndjsonSource) next() (record, error) {
	for {
		raw, tooLong, err := s.readLine()
		if err != nil {
			return record{}, err
		}
		s.line++
		if tooLong {
			return record{line: s.line, bad: &Rejection{Line: s.line,
				Reason: fmt.Sprintf("the line is longer than %d KiB", maxLineBytes>>10)}}, nil
		}
		raw = bytes.TrimSpace(raw)
		if len(raw) == 0 {
			continue
		}
		values, bad := s.decode(raw)
		if bad != nil {
			return record{line: s.line, bad: bad}, nil
		}
		return record{line: s.line, values: values}, nil
	}
}

// readLine returns the next line without its newline; a line longer than the buffer is
// skipped to its end and reported as too long. io.EOF only when nothing is left.
func (s *ndjsonSource) readLine() (line []byte, tooLong bool, err error) {
	line, err = s.r.ReadSlice('\n')
	for errors.Is(err, bufio.ErrBufferFull) {
		tooLong = true
		_, err = s.r.ReadSlice('\n')
	}
	if errors.Is(err, io.EOF) && (len(line) > 0 || tooLong) {
		err = nil
	}
	if err != nil {
		return nil, false, err
	}
	return bytes.TrimSuffix(line, []byte("\n")), tooLong, nil
}

func (s *ndjsonSource) decode(raw []byte) ([]string, *Rejection) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var obj map[string]any
	if err := dec.Decode(&obj); err != nil || dec.More() || obj == nil {
		return nil, &Rejection{Line: s.line, Reason: "the line is not one JSON object"}
	}
	values := make([]string, len(s.cols))
	for name, v := range obj {
		at := columnIndex(s.cols, name)
		if at < 0 {
			if len(name) > 64 { // a name, not a row's data, is what this is for
				name = name[:64]
			}
			return nil, &Rejection{Line: s.line, Field: name, Reason: "unknown field; the fields are " + columnList(s.cols)}
		}
		switch v := v.(type) {
		case string:
			values[at] = v
		case bool:
			values[at] = fmt.Sprint(v)
		case json.Number:
			values[at] = v.String()
		case nil:
		default:
			return nil, &Rejection{Line: s.line, Field: name, Reason: name + " must be a string"}
		}
	}
	return values, nil
}

func columnIndex(cols []column, name string) int {
	for i, c := range cols {
		if c.name == name {
			return i
		}
	}
	return -1
}

func columnList(cols []column) string {
	names := make([]string, len(cols))
	for i, c := range cols {
		names[i] = c.name
	}
	return strings.Join(names, ", ")
}
