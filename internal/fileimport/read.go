package fileimport

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/ballotflow/ballotflow/internal/ballot"
	"github.com/ballotflow/ballotflow/internal/jsonbound"
)

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

// newSource reads the start of the file (a CSV header) and returns its rows' source. A
// panic while reading becomes a *ReadPanicError, as it does for the rows.
func newSource(r io.Reader, f Format, cols []Column) (src source, err error) {
	defer func() {
		if v := recover(); v != nil {
			src, err = nil, NewReadPanicError(v, 0)
		}
	}()
	switch f {
	case CSV:
		return newCSVSource(r, cols)
	case NDJSON:
		return newNDJSONSource(r, cols), nil
	}
	return nil, &FileError{Field: "format", Message: fmt.Sprintf("unknown format %q: want csv or ndjson", f)}
}

// csvSource reads RFC 4180 CSV whose first row names the columns, in any order.
type csvSource struct {
	r     *csvReader
	cols  []Column
	index []int // file field i holds column index[i]
}

func newCSVSource(r io.Reader, cols []Column) (*csvSource, error) {
	cr := newCSVReader(r)
	header, err := cr.read()
	if errors.Is(err, io.EOF) {
		return nil, &FileError{Message: "the file is empty; a CSV file starts with a header row naming its columns"}
	}
	if err != nil {
		return nil, err
	}
	if header.problem != csvFine {
		return nil, &FileError{Field: "header", Message: fmt.Sprintf("the header row (line %d) is not valid CSV, or longer than %d KiB",
			header.startLine, MaxRowBytes>>10)}
	}
	s := &csvSource{r: cr, cols: cols, index: make([]int, len(header.fields))}
	seen := make(map[string]bool, len(header.fields))
	for i, name := range header.fields {
		name = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(name, "\ufeff")))
		at := columnIndex(cols, name)
		if at < 0 {
			// The "header" may be a data row of a file sent without one: it is named by its
			// position, never repeated.
			return nil, &FileError{Field: "header", Message: fmt.Sprintf(
				"column %d of the header (line %d) is not a known column; the columns are %s",
				i+1, header.startLine, columnList(cols))}
		}
		if seen[name] {
			return nil, &FileError{Field: name, Message: fmt.Sprintf("column %q appears twice in the header", name)}
		}
		seen[name] = true
		s.index[i] = at
	}
	for _, c := range cols {
		if c.Required && !seen[c.Name] {
			return nil, &FileError{Field: c.Name, Message: fmt.Sprintf("the header has no %q column; the columns are %s",
				c.Name, columnList(cols))}
		}
	}
	return s, nil
}

func (s *csvSource) next() (record, error) {
	rec, err := s.r.read()
	if err != nil {
		return record{}, err
	}
	if rec.problem != csvFine {
		return record{line: rec.startLine, bad: s.problem(rec)}, nil
	}
	if len(rec.fields) != len(s.index) {
		return record{line: rec.startLine, bad: &Rejection{Line: rec.startLine,
			Reason: fmt.Sprintf("the row has %d fields; the header has %d", len(rec.fields), len(s.index))}}, nil
	}
	values := make([]string, len(s.cols))
	for i, v := range rec.fields {
		values[s.index[i]] = v
	}
	if bad := checkText(rec.startLine, s.cols, values); bad != nil {
		return record{line: rec.startLine, bad: bad}, nil
	}
	return record{line: rec.startLine, values: values}, nil
}

// problem words why a record could not be read, naming the column at fault by the header.
func (s *csvSource) problem(rec csvRecord) *Rejection {
	bad := &Rejection{Line: rec.startLine}
	where := fmt.Sprintf("field %d of the row", rec.field+1)
	if rec.field < len(s.index) {
		bad.Field = s.cols[s.index[rec.field]].Name
		where = fmt.Sprintf("column %d (%s)", rec.field+1, bad.Field)
	}
	lines := fmt.Sprintf("line %d", rec.startLine)
	if rec.endLine > rec.startLine {
		lines = fmt.Sprintf("lines %d to %d", rec.startLine, rec.endLine)
	}
	switch rec.problem {
	case csvBareQuote:
		bad.Reason = lines + " is not valid CSV: " + where + " has a quote inside an unquoted field " +
			"(quote the whole field, and double each quote inside it)"
	case csvExtraQuote:
		bad.Reason = lines + " is not valid CSV: in " + where + ", a closing quote is followed by more text " +
			"(double each quote inside a quoted field)"
	case csvUnclosed:
		verb := " are"
		if rec.endLine == rec.startLine {
			verb = " is"
		}
		bad.Reason = lines + verb + " not valid CSV: the quoted field in " + where + " is not closed"
	case csvFieldTooLong:
		bad.Reason = fmt.Sprintf("%s: %s is longer than %d KiB", lines, where, MaxFieldBytes>>10)
	case csvRowTooLong:
		bad.Field = ""
		bad.Reason = fmt.Sprintf("%s: the row is longer than %d KiB", lines, MaxRowBytes>>10)
	}
	return bad
}

// checkText refuses a row with a value PostgreSQL cannot store as text (a NUL byte, or
// bytes that are not UTF-8): one such value would fail the whole batch it is copied in.
// It names the column, never the value.
func checkText(line int, cols []Column, values []string) *Rejection {
	for i, v := range values {
		switch {
		case strings.IndexByte(v, 0) >= 0:
			return &Rejection{Line: line, Field: cols[i].Name, Reason: cols[i].Name + " contains a NUL byte; send plain text"}
		case !utf8.ValidString(v):
			return &Rejection{Line: line, Field: cols[i].Name, Reason: cols[i].Name + " is not valid UTF-8 text; save the file as UTF-8"}
		case len(v) > MaxFieldBytes:
			return &Rejection{Line: line, Field: cols[i].Name, Reason: fmt.Sprintf("%s is longer than %d KiB", cols[i].Name, MaxFieldBytes>>10)}
		}
	}
	return nil
}

// ndjsonSource reads one JSON object per line; blank lines are skipped. Values may be
// strings, booleans, numbers or null (empty).
type ndjsonSource struct {
	r    *bufio.Reader
	cols []Column
	line int
}

func newNDJSONSource(r io.Reader, cols []Column) *ndjsonSource {
	return &ndjsonSource{r: bufio.NewReaderSize(r, MaxRowBytes), cols: cols}
}

func (s *ndjsonSource) next() (record, error) {
	for {
		raw, tooLong, err := ReadLine(s.r)
		if err != nil {
			return record{}, err
		}
		s.line++
		if tooLong {
			return record{line: s.line, bad: &Rejection{Line: s.line,
				Reason: fmt.Sprintf("the line is longer than %d KiB", MaxRowBytes>>10)}}, nil
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

// ReadLine returns r's next line without its newline; a line longer than r's buffer is
// skipped to its end, never held, and reported as too long. io.EOF only when nothing is left.
// The line is r's own buffer: valid until the next read.
func ReadLine(r *bufio.Reader) (line []byte, tooLong bool, err error) {
	line, err = r.ReadSlice('\n')
	for errors.Is(err, bufio.ErrBufferFull) {
		tooLong = true
		_, err = r.ReadSlice('\n')
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
	members, ok := jsonbound.ObjectMembers(raw)
	if !ok {
		return nil, &Rejection{Line: s.line, Reason: "the line is not one JSON object"}
	}
	values := make([]string, len(s.cols))
	seen := make([]bool, len(s.cols))
	for i, m := range members {
		at := columnIndex(s.cols, m.Name)
		if at < 0 {
			return nil, s.unknownField(i, m.Name)
		}
		name := s.cols[at].Name
		if seen[at] {
			return nil, &Rejection{Line: s.line, Field: name, Reason: name + " appears twice in the object"}
		}
		seen[at] = true
		v, problem := jsonbound.Text(m.Value)
		switch problem {
		case jsonbound.NotUTF8:
			return nil, &Rejection{Line: s.line, Field: name, Reason: name + " is not valid UTF-8 text"}
		case jsonbound.NotText:
			return nil, &Rejection{Line: s.line, Field: name, Reason: name + " must be a string"}
		}
		values[at] = v
	}
	if bad := checkText(s.line, s.cols, values); bad != nil {
		return nil, bad
	}
	return values, nil
}

// unknownField refuses a line for a field that is not a column. Its name is repeated only
// when it looks like a column name: anything else could be a voter's data.
func (s *ndjsonSource) unknownField(i int, name string) *Rejection {
	if ballot.SafeName(name) {
		return &Rejection{Line: s.line, Field: name, Reason: "unknown field; the fields are " + columnList(s.cols)}
	}
	return &Rejection{Line: s.line, Reason: fmt.Sprintf("field %d of the object is not a known field; the fields are %s",
		i+1, columnList(s.cols))}
}

func columnIndex(cols []Column, name string) int {
	for i, c := range cols {
		if c.Name == name {
			return i
		}
	}
	return -1
}

func columnList(cols []Column) string {
	return strings.Join(ColumnNames(cols), ", ")
}
