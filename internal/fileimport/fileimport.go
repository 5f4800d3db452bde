// Package fileimport is how ballotflow imports a file: a county's ballot events, a state's
// voter roll, the subscriptions voters made in a previous system. Every kind of file is read
// the same way, CSV with a header row or NDJSON, row by row within fixed bounds, in batches
// that a goroutine of its own reads and validates while the batch before is stored; and
// every import reports the same way: rows read, rows rejected, and the first
// MaxRejectionsListed rejections by line, field, code and reason, never with a row's data.
// A kind of file brings its columns, its validation and its storing (internal/roll for the
// roll and subscriptions, internal/intake for ballot events) and runs them with Run.
package fileimport

import (
	"fmt"
	"slices"
	"strings"
)

// Format is a file format.
type Format string

// Formats.
const (
	CSV    Format = "csv"    // RFC 4180, with a header row naming the columns
	NDJSON Format = "ndjson" // one JSON object per line
)

// ParseFormat reads a format name ("csv" or "ndjson").
func ParseFormat(name string) (Format, error) {
	switch f := Format(strings.ToLower(name)); f {
	case CSV, NDJSON:
		return f, nil
	}
	return "", fmt.Errorf("format %q: want csv or ndjson", name)
}

// Defaults.
const (
	// DefaultBatchSize is the number of rows stored per transaction when a kind sets none.
	DefaultBatchSize = 10_000
	// MaxRejectionsListed is how many rejections a Result lists; all are counted. A file of
	// millions of bad rows (the wrong file) would otherwise make an answer of gigabytes.
	MaxRejectionsListed = 1000
)

// Rejection is a row that was not imported: its line (the header is line 1 of a CSV file),
// the field at fault when there is one, a code when the kind of file has them (ballot
// events do, as the single-event API does; the roll's answers never had one), and why. It
// never repeats the row's data.
type Rejection struct {
	Line   int    `json:"line"`
	Field  string `json:"field,omitempty"`
	Code   string `json:"code,omitempty"`
	Reason string `json:"reason"`
}

// FileError is a file that cannot be imported at all (an unusable header, an unknown
// format, nothing configured to import it into): the field at fault and a message a person
// can act on. Nothing of the file is imported.
type FileError struct {
	Field   string
	Message string
}

func (e *FileError) Error() string { return e.Message }

// Result is what every import reports; each kind adds its own counts beside it. Rows counts
// the rows of the batches stored, so that it is the sum of a kind's outcomes and Rejected.
type Result struct {
	Rows     int `json:"rows"`
	Rejected int `json:"rejected"`
	// The first MaxRejectionsListed rejections, by line.
	Rejections          []Rejection `json:"rejections"`
	RejectionsTruncated bool        `json:"rejections_truncated,omitempty"`
	// LastLine is the last line of the last batch stored: an interrupted import stored every
	// row up to it.
	LastLine int `json:"-"`
}

// list counts a batch's rejections and lists them, by line, up to MaxRejectionsListed. It
// returns those it listed.
func (res *Result) list(rs []Rejection) []Rejection {
	res.Rejected += len(rs)
	slices.SortStableFunc(rs, func(a, b Rejection) int { return a.Line - b.Line })
	room := MaxRejectionsListed - len(res.Rejections)
	if len(rs) > room {
		res.RejectionsTruncated = true
		rs = rs[:room]
	}
	res.Rejections = append(res.Rejections, rs...)
	return rs
}
