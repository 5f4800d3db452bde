package fileimport

import (
	"bufio"
	"bytes"
	"errors"
	"io"
)

// Bounds of one row of a file, in any format. A voter's row is a few hundred bytes and the
// longest field of any file (a ballot event's reason) at most 500 characters: the bounds
// are far above what a real file holds, and they are what keeps one hostile row from
// filling the API's memory (encoding/csv buffers a whole field, so a 200 MB field costs a
// GiB). A longer row is rejected by line, kept out of memory, and reading goes on.
const (
	MaxRowBytes   = 64 << 10
	MaxFieldBytes = 4 << 10
)

// csvProblem is why a CSV record could not be read.
type csvProblem int

const (
	csvFine         csvProblem = iota
	csvBareQuote               // a quote inside an unquoted field
	csvExtraQuote              // a quoted field's closing quote is followed by something else than , or the line's end
	csvUnclosed                // a quoted field runs to the end of the file
	csvRowTooLong              // more than maxRow bytes
	csvFieldTooLong            // one field of more than maxField bytes
)

// csvRecord is one record as read: its fields, or the problem that made it unreadable and
// the field (from 0) where it was found. Lines count from 1.
type csvRecord struct {
	startLine, endLine int
	fields             []string
	problem            csvProblem
	field              int
}

// csvState is where the reader is inside a record.
type csvState int

const (
	atRecordStart csvState = iota // nothing of the record read yet; empty lines are skipped here
	atFieldStart
	inUnquoted
	inQuoted
	afterQuote // a quote inside a quoted field: its end, or the first of ""
	skipToLineEnd
)

// csvReader reads RFC 4180 records as encoding/csv does with its defaults (the same
// records, fields, lines and errors: FuzzCSVReaderMatchesEncodingCSV holds it to that), but
// never holds more than maxRow bytes of a record: a record over a bound is read to its end
// without being kept, reported, and reading goes on with the next one. Like encoding/csv,
// after a quote error it skips the rest of that line, and it drops a carriage return
// before a line feed or at the end of the file.
type csvReader struct {
	br       *bufio.Reader
	maxRow   int
	maxField int
	line     int // line of the next byte

	// The record being read.
	state     csvState
	cr        bool // a '\r' was read and is not yet known to be content
	rec       csvRecord
	size      int // bytes of the record read so far
	buf       []byte
	ends      []int // where each field ends in buf
	fieldSize int
}

// csvBufferSize is the reader's buffer: larger than maxRow, so a line that does not fit in
// it is too long anyway, and large enough to read fast.
const csvBufferSize = 256 << 10

func newCSVReader(r io.Reader) *csvReader {
	return &csvReader{br: bufio.NewReaderSize(r, csvBufferSize), maxRow: MaxRowBytes, maxField: MaxFieldBytes, line: 1}
}

// read returns the next record, io.EOF after the last one, or the underlying reader's error.
func (r *csvReader) read() (csvRecord, error) {
	r.state, r.cr, r.size, r.fieldSize = atRecordStart, false, 0, 0
	r.rec = csvRecord{}
	r.buf, r.ends = r.buf[:0], r.ends[:0]
	for {
		// A record ends only at a line feed or the end of the file, so never inside a slice.
		chunk, err := r.br.ReadSlice('\n')
		if r.feed(chunk) {
			return r.finish(), nil
		}
		switch {
		case err == nil, errors.Is(err, bufio.ErrBufferFull):
		case errors.Is(err, io.EOF):
			return r.atEOF()
		default:
			return csvRecord{}, err
		}
	}
}

// unquotedStops and quotedStops are the bytes that end a run of plain field text.
var unquotedStops, quotedStops [256]bool

func init() {
	for _, b := range []byte{',', '"', '\n', '\r'} {
		unquotedStops[b] = true
	}
	for _, b := range []byte{'"', '\n', '\r'} {
		quotedStops[b] = true
	}
}

// feed reads p and reports whether the record ended at its last byte.
func (r *csvReader) feed(p []byte) bool {
	for len(p) > 0 {
		if r.cr {
			r.cr = false
			if p[0] != '\n' { // a lone carriage return is text
				r.size++
				r.step('\r')
			}
		}
		if n := r.plainRun(p); n > 0 {
			r.size += n
			r.rec.endLine = r.line
			r.keep(p[:n])
			p = p[n:]
			continue
		}
		b := p[0]
		p = p[1:]
		if b == '\r' {
			r.cr = true
			continue
		}
		if b != '\n' || r.state != atRecordStart {
			r.size++
		}
		if r.step(b) {
			return true
		}
	}
	return false
}

// plainRun is the length of the run of bytes at the start of p that the current state
// takes as plain text: field text, or the rest of a line being skipped.
func (r *csvReader) plainRun(p []byte) int {
	var stop *[256]bool
	switch r.state {
	case inUnquoted:
		stop = &unquotedStops
	case inQuoted:
		stop = &quotedStops
	case skipToLineEnd:
		if i := bytes.IndexByte(p, '\n'); i >= 0 {
			return i
		}
		return len(p)
	default:
		return 0
	}
	for i, b := range p {
		if stop[b] {
			return i
		}
	}
	return len(p)
}

// step takes one byte; it reports whether the record ended with it.
func (r *csvReader) step(b byte) bool {
	if r.state == atRecordStart {
		if b == '\n' {
			r.line++ // empty lines are not records
			return false
		}
		r.rec.startLine = r.line
		r.state = atFieldStart
	}
	r.rec.endLine = r.line
	switch r.state {
	case atFieldStart:
		switch b {
		case '"':
			r.state = inQuoted
		case ',':
			r.endField()
		case '\n':
			return r.endRecord()
		default:
			r.state = inUnquoted
			r.keepByte(b)
		}
	case inUnquoted:
		switch b {
		case ',':
			r.endField()
			r.state = atFieldStart
		case '\n':
			return r.endRecord()
		case '"':
			r.fail(csvBareQuote)
		default:
			r.keepByte(b)
		}
	case inQuoted:
		switch b {
		case '"':
			r.state = afterQuote
		case '\n':
			r.keepByte(b)
			r.line++
		default:
			r.keepByte(b)
		}
	case afterQuote:
		switch b {
		case '"':
			r.keepByte(b)
			r.state = inQuoted
		case ',':
			r.endField()
			r.state = atFieldStart
		case '\n':
			return r.endRecord()
		default:
			r.fail(csvExtraQuote)
		}
	case skipToLineEnd:
		if b == '\n' {
			r.line++
			return true
		}
	}
	return false
}

// keep adds field text to the record, unless the record is refused already or the text
// would take it over a bound: then nothing more of it is kept.
func (r *csvReader) keep(p []byte) {
	if r.rec.problem != csvFine {
		return
	}
	r.fieldSize += len(p)
	switch {
	case r.fieldSize > r.maxField:
		r.refuse(csvFieldTooLong)
	case r.size > r.maxRow:
		r.refuse(csvRowTooLong)
	default:
		r.buf = append(r.buf, p...)
	}
}

func (r *csvReader) keepByte(b byte) {
	one := [1]byte{b}
	r.keep(one[:])
}

// refuse records the record's first problem and lets go of what was kept of it.
func (r *csvReader) refuse(p csvProblem) {
	if r.rec.problem == csvFine {
		r.rec.problem, r.rec.field = p, len(r.ends)
	}
	r.buf = r.buf[:0]
}

// fail is a quote error: encoding/csv skips the rest of the line after one, and so does this.
func (r *csvReader) fail(p csvProblem) {
	r.refuse(p)
	r.state = skipToLineEnd
}

func (r *csvReader) endField() {
	r.fieldSize = 0
	if r.size > r.maxRow { // delimiters count too
		r.refuse(csvRowTooLong)
	}
	if r.rec.problem == csvFine { // a refused record's fields are not kept, nor counted
		r.ends = append(r.ends, len(r.buf))
	}
}

// endRecord ends the record at a line feed.
func (r *csvReader) endRecord() bool {
	r.endField()
	r.line++
	return true
}

// atEOF ends the record at the end of the file (a carriage return before it is dropped).
func (r *csvReader) atEOF() (csvRecord, error) {
	r.cr = false
	switch r.state {
	case atRecordStart:
		return csvRecord{}, io.EOF
	case inQuoted:
		r.refuse(csvUnclosed)
	case atFieldStart, inUnquoted, afterQuote:
		r.endField()
	}
	return r.finish(), nil
}

// finish makes the record's fields: one string for all of them, as encoding/csv does.
func (r *csvReader) finish() csvRecord {
	if r.rec.problem != csvFine {
		return r.rec
	}
	all := string(r.buf)
	r.rec.fields = make([]string, len(r.ends))
	from := 0
	for i, end := range r.ends {
		r.rec.fields[i] = all[from:end]
		from = end
	}
	return r.rec
}
