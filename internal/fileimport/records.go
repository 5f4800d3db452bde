package fileimport

import "io"

// Column is one column of a kind of file. A required column must be in a CSV header; an
// NDJSON line may leave any column out (it reads as empty), and the kind's own validation
// says which values it needs.
type Column struct {
	Name     string
	Required bool
}

// Columns makes the columns of a kind of file from their names; the first required of them
// are required.
func Columns(names []string, required int) []Column {
	cols := make([]Column, len(names))
	for i, name := range names {
		cols[i] = Column{Name: name, Required: i < required}
	}
	return cols
}

// ColumnNames are the names of cols, in order.
func ColumnNames(cols []Column) []string {
	names := make([]string, len(cols))
	for i, c := range cols {
		names[i] = c.Name
	}
	return names
}

// Records reads the rows of a CSV (with a header) or NDJSON file whose columns are known.
// Whatever the file holds, memory stays bounded: a row over MaxRowBytes or a value over
// MaxFieldBytes, a row that is not valid CSV or JSON, and a value PostgreSQL cannot store
// (a NUL byte, bytes that are not UTF-8) come back as the row's rejection, and reading goes
// on with the next row.
type Records struct {
	src source
}

// Record is one row as read: its values in the order of the columns given to NewRecords,
// or, when the row could not be read, why (Bad).
type Record struct {
	Line   int
	Values []string
	Bad    *Rejection
}

// NewRecords reads the start of r in format f (a CSV file's header) and returns its rows.
// A header that cannot be used, or an unknown format, is a *FileError: nothing of the file
// can be imported.
func NewRecords(r io.Reader, f Format, cols []Column) (*Records, error) {
	src, err := newSource(r, f, cols)
	if err != nil {
		return nil, err
	}
	return &Records{src: src}, nil
}

// Next returns the next row, or io.EOF after the last. Other errors come from the reader.
func (r *Records) Next() (Record, error) {
	rec, err := r.src.next()
	if err != nil {
		return Record{}, err
	}
	return Record{Line: rec.line, Values: rec.values, Bad: rec.bad}, nil
}
