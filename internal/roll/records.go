package roll

import "io"

// Records reads the rows of any CSV (with a header) or NDJSON file whose columns are known,
// the way the roll's own files are read: other packages' bulk files (ballot events) use it.
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

// NewRecords reads r in format f. columns names the file's columns; those in required must
// be in a CSV header. A header that cannot be used is a *FieldError.
func NewRecords(r io.Reader, f Format, columns, required []string) (*Records, error) {
	cols := make([]column, len(columns))
	for i, name := range columns {
		cols[i] = column{name: name}
		for _, req := range required {
			if req == name {
				cols[i].required = true
			}
		}
	}
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
