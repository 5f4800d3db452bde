package fileimport

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/require"
)

// csvSeeds are inputs at the edges of RFC 4180 and of encoding/csv's leniency, and the rows
// that crashed the API before the bounded reader.
var csvSeeds = []string{
	"a,b,c\n1,2,3\n",
	"a,b\r\n1,2\r\n",
	"a,b\n\n\n1,2\n\r\n3,4",
	"\"x\"y,demo-general,600100001,P-1,mailed,2026-11-25T10:00:00Z\n",
	"x\"y,demo-general,600100001,P-1,mailed,2026-11-25T10:00:00Z\n",
	"\"x,demo-general,600100001\nP-1,mailed\n",
	"a,\"b\nc\",d\ne,f,g\n",
	"a,\"b\r\nc\"\"d\",e\r\n",
	"a,\"b\"\r",
	"a,b\r",
	"\r",
	"\r\r\n",
	"a\rb,c\n",
	"\"a\"\rb\n",
	"\"a\"\r\r\n",
	"a,\"b\"x,c\nd,e\n",
	"a,\"b\nc\"x,d\ne,f\n",
	"\"\"",
	"\"",
	",",
	",,\n,\n",
	"\"\"\"\"\n",
	"a,\"\",\"\"\"\"\n",
	"\ufeffvoter_id,first_name\n1,Ann\n",
	"a,b\x00c,d\n\xff\xfe,e\n",
	"a,b\n\"unclosed\n\n\nlast",
	" \"a\",b\n",
}

// readAllCSV reads every record of data with encoding/csv, as encoding/csv sees them.
type stdRecord struct {
	fields    []string
	err       error
	startLine int
	line      int
}

func readStd(t *testing.T, data []byte) []stdRecord {
	r := csv.NewReader(bytes.NewReader(data))
	r.FieldsPerRecord = -1
	var out []stdRecord
	for {
		fields, err := r.Read()
		if errors.Is(err, io.EOF) {
			return out
		}
		var perr *csv.ParseError
		switch {
		case err == nil:
			line, _ := r.FieldPos(0)
			out = append(out, stdRecord{fields: fields, startLine: line, line: line})
		case errors.As(err, &perr):
			out = append(out, stdRecord{err: perr.Err, startLine: perr.StartLine, line: perr.Line})
		default:
			t.Fatalf("encoding/csv: %v", err)
		}
	}
}

func readBounded(t *testing.T, r *csvReader) []csvRecord {
	var out []csvRecord
	for {
		rec, err := r.read()
		if errors.Is(err, io.EOF) {
			return out
		}
		require.NoError(t, err)
		require.GreaterOrEqual(t, rec.startLine, 1)
		require.GreaterOrEqual(t, rec.endLine, rec.startLine)
		if len(out) > 0 {
			require.Greater(t, rec.startLine, out[len(out)-1].endLine, "records follow each other")
		}
		out = append(out, rec)
	}
}

// FuzzCSVReaderMatchesEncodingCSV holds the bounded reader to encoding/csv: the same
// records at the same lines with the same fields, and an error where encoding/csv has one.
// With small bounds, the same records still begin at the same lines (a refused record is
// skipped whole and reading goes on at the next), and none holds more than its bounds.
func FuzzCSVReaderMatchesEncodingCSV(f *testing.F) {
	for _, s := range csvSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		std := readStd(t, data)
		unbounded := newCSVReader(bytes.NewReader(data))
		unbounded.maxRow, unbounded.maxField = 1<<30, 1<<30
		got := readBounded(t, unbounded)
		require.Len(t, got, len(std), "records")
		for i, want := range std {
			rec := got[i]
			require.Equal(t, want.startLine, rec.startLine, "record %d starts", i)
			switch {
			case want.err == nil:
				require.Equal(t, csvFine, rec.problem, "record %d", i)
				require.Equal(t, want.fields, rec.fields, "record %d", i)
			case errors.Is(want.err, csv.ErrBareQuote):
				require.Equal(t, csvBareQuote, rec.problem, "record %d", i)
			case errors.Is(want.err, csv.ErrQuote):
				require.Contains(t, []csvProblem{csvExtraQuote, csvUnclosed}, rec.problem, "record %d", i)
				if rec.problem == csvUnclosed {
					require.Equal(t, want.line, rec.endLine, "record %d ends", i)
				}
			default:
				t.Fatalf("record %d: unexpected encoding/csv error %v", i, want.err)
			}
		}

		// Read one byte at a time: where the reader's buffer ends changes nothing.
		small := newCSVReader(iotest.OneByteReader(bytes.NewReader(data)))
		small.maxRow, small.maxField = 64, 16
		bounded := readBounded(t, small)
		require.Len(t, bounded, len(got))
		for i, rec := range bounded {
			require.Equal(t, got[i].startLine, rec.startLine, "record %d starts", i)
			require.Equal(t, got[i].endLine, rec.endLine, "record %d ends", i)
			if rec.problem != csvFine {
				continue
			}
			require.Equal(t, got[i].fields, rec.fields)
			size := 0
			for _, field := range rec.fields {
				require.LessOrEqual(t, len(field), 16)
				size += len(field)
			}
			require.LessOrEqual(t, size, 64)
		}
	})
}

func TestCSVReaderRefusesAnOverlongRecordAndReadsOn(t *testing.T) {
	long := strings.Repeat("x", MaxRowBytes)
	data := "a,b\n" + // 1
		"1," + long + "\n" + // 2: a field over MaxFieldBytes
		"2,\"" + long + "\n" + long + "\"\n" + // 3-4: a quoted field over both bounds, across lines
		strings.Repeat("3,", MaxRowBytes/2) + "3\n" + // 5: many short fields
		"4,ok\n" // 6
	r := newCSVReader(strings.NewReader(data))
	recs := readBounded(t, r)
	require.Len(t, recs, 5)
	require.Equal(t, []string{"a", "b"}, recs[0].fields)
	require.Equal(t, csvRecord{startLine: 2, endLine: 2, problem: csvFieldTooLong, field: 1}, recs[1])
	require.Equal(t, csvRecord{startLine: 3, endLine: 4, problem: csvFieldTooLong, field: 1}, recs[2])
	require.Equal(t, csvRecord{startLine: 5, endLine: 5, problem: csvRowTooLong, field: MaxRowBytes / 2}, recs[3])
	require.Equal(t, csvRecord{startLine: 6, endLine: 6, fields: []string{"4", "ok"}}, recs[4])
	require.LessOrEqual(t, cap(r.buf), 2*MaxRowBytes, "an overlong record is not kept")
}

// BenchmarkCSVReader reads a 100,000-row roll with the bounded reader and, for the ceiling,
// with encoding/csv.
func BenchmarkCSVReader(b *testing.B) {
	var data bytes.Buffer
	data.WriteString("voter_id,first_name,last_name,date_of_birth,residential_zip,county,status,email\n")
	for i := range 100_000 {
		fmt.Fprintf(&data, "%09d,Renée,\"O'Brien, Jr.\",1970-01-02,80202-1234,denver,active,voter%d@example.org\n", i, i)
	}
	b.Run("bounded", func(b *testing.B) {
		b.SetBytes(int64(data.Len()))
		for b.Loop() {
			r := newCSVReader(bytes.NewReader(data.Bytes()))
			for {
				if _, err := r.read(); err != nil {
					break
				}
			}
		}
	})
	b.Run("encoding/csv", func(b *testing.B) {
		b.SetBytes(int64(data.Len()))
		for b.Loop() {
			r := csv.NewReader(bytes.NewReader(data.Bytes()))
			for {
				if _, err := r.Read(); err != nil {
					break
				}
			}
		}
	})
}
