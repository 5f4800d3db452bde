package usps

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/ballotflow/ballotflow/internal/fileimport"
)

// Record is one scan as read, or why its row could not be used (Bad). Line is the row's
// line in a delimited file (the header is line 1), or the event's position in JSON.
type Record struct {
	Line int
	Scan Scan
	Bad  *fileimport.Rejection
}

// DelimitedReader reads an IV-MTR delimited file: a header row naming the columns, then one
// scan per line. A row is one line (IV-MTR values hold no line breaks); a value may be
// quoted with double quotes, a quote inside it doubled. Whatever the file holds, memory
// stays bounded: a line over MaxRecordBytes, a value over MaxFieldBytes, a row that cannot
// be split or checked come back as the row's rejection, and reading goes on.
type DelimitedReader struct {
	br    *bufio.Reader
	in    *boundedReader
	opts  ReadOptions
	delim byte
	index []field // the field of each column; -1 for a column ballotflow does not use
	cols  int
	line  int
}

// NewDelimitedReader reads the header row of r and returns a reader of its scans. A header
// that cannot be used (none, too long, no imb or scan time column, a column twice) is a
// *fileimport.FileError: nothing of the file can be read.
func NewDelimitedReader(r io.Reader, opts ReadOptions) (*DelimitedReader, error) {
	in := newBoundedReader(r, opts.MaxBytes)
	d := &DelimitedReader{br: bufio.NewReaderSize(in, MaxRecordBytes), in: in, opts: opts}
	var header []byte
	for {
		raw, tooLong, err := d.readLine()
		if errors.Is(err, io.EOF) {
			return nil, &fileimport.FileError{Message: "the file is empty; an IV-MTR delimited file starts with a header row naming its columns"}
		}
		if err != nil {
			return nil, err
		}
		if tooLong {
			return nil, &fileimport.FileError{Field: "header", Message: fmt.Sprintf(
				"the header row (line %d) is longer than %d KiB", d.line, MaxRecordBytes>>10)}
		}
		if raw = bytes.TrimPrefix(raw, []byte("\ufeff")); len(bytes.TrimSpace(raw)) > 0 {
			header = raw
			break
		}
	}
	d.delim = delimiterOf(header)
	names, ok := splitRow(header, d.delim)
	if !ok {
		return nil, &fileimport.FileError{Field: "header", Message: fmt.Sprintf(
			"the header row (line %d) is not valid delimited text (a quoted name is not closed)", d.line)}
	}
	if err := d.mapColumns(names); err != nil {
		return nil, err
	}
	return d, nil
}

// mapColumns finds the fields of the header's columns; unknown columns are skipped.
func (d *DelimitedReader) mapColumns(names []string) error {
	// A trailing delimiter makes an empty last name: not a column.
	if n := len(names); n > 1 && strings.TrimSpace(names[n-1]) == "" {
		names = names[:n-1]
	}
	d.cols = len(names)
	d.index = make([]field, len(names))
	var seen [numFields]bool
	for i, name := range names {
		f, ok := lookupField(name)
		if !ok {
			d.index[i] = -1
			continue
		}
		if seen[f] {
			return &fileimport.FileError{Field: fieldNames[f], Message: fmt.Sprintf(
				"the header names the %s column twice (columns are matched without case, spaces or punctuation)", fieldNames[f])}
		}
		seen[f] = true
		d.index[i] = f
	}
	switch {
	case !seen[fieldIMb] && !seen[fieldTrackingCode]:
		// The "header" may be a row of a file sent without one: its names are never repeated.
		return &fileimport.FileError{Field: "header", Message: fmt.Sprintf(
			"the header row (line %d) has no imb column (nor imbTrackingCode); an IV-MTR file starts with a header row "+
				"naming its columns (imb, scanDatetime, scanEventCode, scanFacilityZip, scanFacilityName, ...)", d.line)}
	case !seen[fieldScanDatetime] && !(seen[fieldScanDate] && seen[fieldScanTime]):
		return &fileimport.FileError{Field: "scanDatetime", Message: "the header has no scanDatetime column (nor scanDate and scanTime)"}
	}
	return nil
}

// delimiterOf picks the header's delimiter: a pipe, else a tab, else a comma.
func delimiterOf(header []byte) byte {
	switch {
	case bytes.IndexByte(header, '|') >= 0:
		return '|'
	case bytes.IndexByte(header, '\t') >= 0:
		return '\t'
	}
	return ','
}

// Next returns the next scan, or io.EOF after the last row. Other errors come from the
// input (an *InputTooLargeError past ReadOptions.MaxBytes) and end the reading.
func (d *DelimitedReader) Next() (Record, error) {
	for {
		raw, tooLong, err := d.readLine()
		if err != nil {
			return Record{}, err
		}
		if tooLong {
			return d.bad(fmt.Sprintf("line %d is longer than %d KiB", d.line, MaxRecordBytes>>10), ""), nil
		}
		if len(bytes.TrimSpace(raw)) == 0 {
			continue
		}
		values, ok := splitRow(raw, d.delim)
		if !ok {
			return d.bad(fmt.Sprintf("line %d is not valid delimited text: a quoted value is not closed, "+
				"or its closing quote is followed by more text", d.line), ""), nil
		}
		if n := len(values); n == d.cols+1 && values[n-1] == "" {
			values = values[:n-1] // a trailing delimiter
		}
		if len(values) != d.cols {
			return d.bad(fmt.Sprintf("the row has %d values; the header has %d columns", len(values), d.cols), ""), nil
		}
		var rs rawScan
		for i, v := range values {
			f := d.index[i]
			if f < 0 {
				continue
			}
			if len(v) > MaxFieldBytes {
				return d.bad(fmt.Sprintf("%s is longer than %d KiB", fieldNames[f], MaxFieldBytes>>10), fieldNames[f]), nil
			}
			rs[f] = v
		}
		scan, bad := scanOf(d.line, &rs, &d.opts)
		if bad != nil {
			return Record{Line: d.line, Bad: bad}, nil
		}
		return Record{Line: d.line, Scan: scan}, nil
	}
}

func (d *DelimitedReader) bad(reason, field string) Record {
	return Record{Line: d.line, Bad: &fileimport.Rejection{Line: d.line, Field: field, Code: CodeInvalidRow, Reason: reason}}
}

// readLine returns the next line without its line break (fileimport.ReadLine), counting it.
func (d *DelimitedReader) readLine() (line []byte, tooLong bool, err error) {
	line, tooLong, err = fileimport.ReadLine(d.br)
	if err != nil {
		return nil, false, err
	}
	d.line++
	return bytes.TrimSuffix(line, []byte("\r")), tooLong, nil
}

// splitRow splits one line into values at delim. A value that begins with a double quote
// runs to the next lone quote ("" is a quote inside it), which must end the value; a quote
// elsewhere is text. It reports false for an unclosed quoted value or text after one.
func splitRow(line []byte, delim byte) ([]string, bool) {
	var values []string
	for {
		if len(line) > 0 && line[0] == '"' {
			var b strings.Builder
			i := 1
			for {
				j := bytes.IndexByte(line[i:], '"')
				if j < 0 {
					return nil, false
				}
				b.Write(line[i : i+j])
				i += j + 1
				if i < len(line) && line[i] == '"' {
					b.WriteByte('"')
					i++
					continue
				}
				break
			}
			values = append(values, b.String())
			if i == len(line) {
				return values, true
			}
			if line[i] != delim {
				return nil, false
			}
			line = line[i+1:]
			continue
		}
		j := bytes.IndexByte(line, delim)
		if j < 0 {
			return append(values, string(line)), true
		}
		values = append(values, string(line[:j]))
		line = line[j+1:]
	}
}

// boundedReader fails with an *InputTooLargeError once more than max bytes were read.
type boundedReader struct {
	r    io.Reader
	max  int64
	read int64
	// window counts the bytes read since the JSON reader last reset it; windowMax (when
	// not 0) bounds them, for good: once past it, every read fails.
	window, windowMax int64
	pastWindow        bool
}

func newBoundedReader(r io.Reader, max int64) *boundedReader {
	if max <= 0 {
		max = DefaultMaxBytes
	}
	return &boundedReader{r: r, max: max}
}

var errValueTooLarge = errors.New("value too large")

func (b *boundedReader) Read(p []byte) (int, error) {
	if b.read >= b.max {
		return 0, &InputTooLargeError{Message: fmt.Sprintf("the input is larger than %s", sizeText(b.max))}
	}
	if b.windowMax > 0 {
		if b.pastWindow || b.window >= b.windowMax {
			b.pastWindow = true
			return 0, errValueTooLarge
		}
		if rest := b.windowMax - b.window; int64(len(p)) > rest {
			p = p[:rest]
		}
	}
	if rest := b.max - b.read; int64(len(p)) > rest {
		p = p[:rest]
	}
	n, err := b.r.Read(p)
	b.read += int64(n)
	b.window += int64(n)
	return n, err
}

func sizeText(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%d GiB", n>>30)
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}
