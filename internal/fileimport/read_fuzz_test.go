package fileimport_test

import (
	"bytes"
	"encoding/csv"
	"errors"
	"io"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/ballotflow/ballotflow/internal/fileimport"
	"github.com/ballotflow/ballotflow/internal/roll"
)

// The file kinds the readers serve: the voter roll, previous subscriptions, and ballot
// events (intake's EventColumns, repeated here so that the readers' fuzz targets build
// without intake's Temporal client).
var (
	eventColumns         = []string{"event_id", "election_id", "voter_id", "ballot_id", "status", "occurred_at", "reason", "cure_deadline"}
	requiredEventColumns = eventColumns[:6]
)

// fileSeeds are files every reader's fuzz target starts from: the crashers of the security
// review, and the shapes of trouble a real export has.
func fileSeeds(header string, row string) []string {
	fields := strings.Split(row, ",")
	rest := strings.Join(fields[1:], ",")
	return []string{
		header + "\n" + row + "\n",
		header + "\r\n" + row + "\r\n" + row,
		header + "\n" + `"x"y,` + rest + "\n" + row + "\n",
		header + "\n" + `x"y,` + rest + "\n" + row + "\n",
		header + "\n" + `"x,` + rest + "\n" + row + "\n",
		header + "\n" + row + ",extra\n" + fields[0] + "\n",
		header + "\n" + "a\x00b," + rest + "\n" + "\xff\xfe," + rest + "\n",
		header + "\n" + strings.Repeat("x", fileimport.MaxFieldBytes+1) + "," + rest + "\n" + row + "\n",
		row + "\n" + row + "\n", // no header
		"\ufeff" + header + "\n" + row + "\n",
		header + "," + fields[0] + "\n",
		"",
		"\n\n",
	}
}

// ndjsonSeeds are NDJSON lines for the same kinds.
func ndjsonSeeds(columns []string) []string {
	obj := "{"
	for i, c := range columns {
		if i > 0 {
			obj += ","
		}
		obj += `"` + c + `":"v` + c + `"`
	}
	obj += "}"
	return []string{
		obj + "\n" + obj,
		obj + "{}",
		`{"` + columns[0] + `":"a\u0000b"}`,
		"{\"" + columns[0] + "\":\"\xff\"}",
		`{"Maria Garcia":"x"}` + "\n" + `{"party":1}`,
		`{"` + columns[0] + `":1,"` + columns[0] + `":2}`,
		`{"` + columns[0] + `":[1],"` + columns[1] + `":{"a":null}}`,
		`{"` + columns[0] + `":true,"` + columns[1] + `":null,"` + columns[2] + `":-1.5e3}`,
		`[1,2]` + "\n" + `"text"` + "\n" + `{` + "\n" + `{"a"` + "\n",
		`{"` + columns[0] + `":"` + strings.Repeat("x", fileimport.MaxFieldBytes+1) + `"}`,
		"\n\n  \n",
	}
}

// safeText is what a rejection's reason may hold: our own words, numbers and column names.
// Anything else (a letter outside ASCII, most punctuation) could only have come from the file.
var safeText = regexp.MustCompile(`^[A-Za-z0-9 ,.;:()"'_-]+$`)

var plainName = regexp.MustCompile(`^[a-z0-9_]{1,32}$`)

// fuzzFile reads data as a file of the given columns and checks what every reader owes:
// no panic; a header it cannot use is a *fileimport.FileError naming a column or "header"; each
// row is values or a rejection with a line, lines go up, values are text PostgreSQL takes
// and within the bounds; and a CSV file encoding/csv reads without error gives the same
// rows, at the same lines, with the same values (unless a value is over the bounds).
func fuzzFile(t *testing.T, format fileimport.Format, columns []string, required int, data []byte) {
	recs, err := fileimport.NewRecords(bytes.NewReader(data), format, fileimport.Columns(columns, required))
	if err != nil {
		var fe *fileimport.FileError
		require.ErrorAs(t, err, &fe)
		require.True(t, fe.Field == "" || fe.Field == "header" || slices.Contains(columns, fe.Field), "field %q", fe.Field)
		require.Regexp(t, safeText, fe.Message)
		return
	}
	var got []fileimport.Record
	for {
		rec, err := recs.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
		require.GreaterOrEqual(t, rec.Line, 1)
		if len(got) > 0 {
			require.Greater(t, rec.Line, got[len(got)-1].Line)
		}
		if rec.Bad != nil {
			require.Nil(t, rec.Values)
			require.Equal(t, rec.Line, rec.Bad.Line)
			// An NDJSON field that is not a column is named only when its name looks like one.
			require.True(t, rec.Bad.Field == "" || slices.Contains(columns, rec.Bad.Field) ||
				format == fileimport.NDJSON && plainName.MatchString(rec.Bad.Field), "field %q", rec.Bad.Field)
			require.Regexp(t, safeText, rec.Bad.Reason)
		} else {
			require.Len(t, rec.Values, len(columns))
			for _, v := range rec.Values {
				require.True(t, utf8.ValidString(v))
				require.NotContains(t, v, "\x00")
				require.LessOrEqual(t, len(v), fileimport.MaxFieldBytes)
			}
		}
		got = append(got, rec)
	}
	if format == fileimport.CSV {
		compareWithEncodingCSV(t, columns, data, got)
	}
}

// compareWithEncodingCSV checks rows against encoding/csv's reading of a file it reads
// without error.
func compareWithEncodingCSV(t *testing.T, columns []string, data []byte, got []fileimport.Record) {
	r := csv.NewReader(bytes.NewReader(data))
	all, err := r.ReadAll()
	if err != nil || len(all) == 0 {
		return
	}
	index := make([]int, len(all[0]))
	for i, name := range all[0] {
		index[i] = slices.Index(columns, strings.ToLower(strings.TrimSpace(strings.TrimPrefix(name, "\ufeff"))))
	}
	lines := make([]int, len(all))
	r = csv.NewReader(bytes.NewReader(data))
	for i := range all {
		_, err := r.Read()
		require.NoError(t, err)
		lines[i], _ = r.FieldPos(0)
	}
	require.Len(t, got, len(all)-1, "rows")
	for i, rec := range got {
		row := all[i+1]
		require.Equal(t, lines[i+1], rec.Line)
		if rec.Bad != nil {
			require.True(t, len(data) > fileimport.MaxRowBytes || slices.ContainsFunc(row, func(v string) bool {
				return len(v) > fileimport.MaxFieldBytes || !utf8.ValidString(v) || strings.Contains(v, "\x00")
			}), "line %d is rejected (%s) though encoding/csv reads it and its values are fine", rec.Line, rec.Bad.Reason)
			continue
		}
		want := make([]string, len(columns))
		for j, v := range row {
			want[index[j]] = v
		}
		require.Equal(t, want, rec.Values, "line %d", rec.Line)
	}
}

func FuzzVoterFile(f *testing.F) {
	header := strings.Join(roll.VoterColumns(), ",")
	for _, s := range fileSeeds(header, "600100001,Maria,,Garcia,,1985-03-14,80202,denver,active,N,N,m@example.org,3035550101,en") {
		f.Add(false, []byte(s))
	}
	for _, s := range ndjsonSeeds(roll.VoterColumns()) {
		f.Add(true, []byte(s))
	}
	f.Fuzz(func(t *testing.T, ndjson bool, data []byte) {
		fuzzFile(t, formatOf(ndjson), roll.VoterColumns(), 1, data)
	})
}

func FuzzSubscriptionFile(f *testing.F) {
	header := strings.Join(roll.SubscriptionColumns(), ",")
	for _, s := range fileSeeds(header, "600100001,sms,+13035550101,active,09:00,17:00,America/Denver,es") {
		f.Add(false, []byte(s))
	}
	for _, s := range ndjsonSeeds(roll.SubscriptionColumns()) {
		f.Add(true, []byte(s))
	}
	f.Fuzz(func(t *testing.T, ndjson bool, data []byte) {
		fuzzFile(t, formatOf(ndjson), roll.SubscriptionColumns(), 4, data)
	})
}

func FuzzEventFile(f *testing.F) {
	header := strings.Join(requiredEventColumns, ",")
	for _, s := range fileSeeds(header, "e-1,demo-general,600100001,P-1,mailed,2026-11-25T10:00:00Z") {
		f.Add(false, []byte(s))
	}
	for _, s := range ndjsonSeeds(eventColumns) {
		f.Add(true, []byte(s))
	}
	f.Fuzz(func(t *testing.T, ndjson bool, data []byte) {
		fuzzFile(t, formatOf(ndjson), eventColumns, len(requiredEventColumns), data)
	})
}

func formatOf(ndjson bool) fileimport.Format {
	if ndjson {
		return fileimport.NDJSON
	}
	return fileimport.CSV
}
