package roll_test

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ballotflow/ballotflow/internal/fileimport"
	"github.com/ballotflow/ballotflow/internal/roll"
	"github.com/ballotflow/ballotflow/internal/store"
)

// Files an attacker (or a broken export) sends: each bad row must be rejected by its line,
// naming the column at fault and never the value, and every other row must load.

const hostileHeader = "voter_id,first_name,last_name,date_of_birth,residential_zip,county,status\n"

func hostileRow(id, first string) string {
	return id + "," + first + ",Lee,1970-01-02,80202,denver,active\n"
}

func importVotersAs(t *testing.T, st *store.Store, format fileimport.Format, body io.Reader) roll.Result {
	t.Helper()
	res, err := roll.ImportVoters(ctx, st, body, roll.Options{State: "CO", Actor: "test", Format: format})
	require.NoError(t, err)
	return res
}

// requireNoEcho fails when a rejection repeats any of the secrets (values of the file).
func requireNoEcho(t *testing.T, rs []fileimport.Rejection, secrets ...string) {
	t.Helper()
	for _, r := range rs {
		for _, s := range secrets {
			require.NotContains(t, r.Reason, s, "line %d", r.Line)
			require.NotContains(t, r.Field, s, "line %d", r.Line)
		}
	}
}

// TestAQuoteErrorInAnyRowsFirstFieldIsRejectedByLine: these rows panicked in the reader's
// goroutine (encoding/csv's FieldPos after a parse error) and took the process down.
func TestAQuoteErrorInAnyRowsFirstFieldIsRejectedByLine(t *testing.T) {
	t.Parallel()
	st := setup(t)
	body := hostileHeader +
		hostileRow("A1", "Ann") + // 2
		`"x"y,Ann,Lee,1970-01-02,80202,denver,active` + "\n" + // 3
		`x"y,Ann,Lee,1970-01-02,80202,denver,active` + "\n" + // 4
		hostileRow("A2", "Ann") + // 5
		`"Zed,Ann,Lee,1970-01-02,80202,denver,active` + "\n" // 6: never closed
	res := importVotersAs(t, st, fileimport.CSV, strings.NewReader(body))
	require.Equal(t, 2, res.Inserted)
	require.Equal(t, []fileimport.Rejection{{Line: 3, Field: "voter_id"}, {Line: 4, Field: "voter_id"}, {Line: 6, Field: "voter_id"}},
		withoutReasons(res.Rejections))
	require.Contains(t, res.Rejections[0].Reason, "column 1 (voter_id)")
	require.Contains(t, res.Rejections[2].Reason, "not closed")
	requireNoEcho(t, res.Rejections, "Zed", `x"y`)
}

// TestNULAndInvalidUTF8AreRejectedByColumnAndTheRestLoads: PostgreSQL refuses both in text,
// which failed the whole COPY batch, so the whole import, every time it was sent.
func TestNULAndInvalidUTF8AreRejectedByColumnAndTheRestLoads(t *testing.T) {
	t.Parallel()
	st := setup(t)
	csvBody := hostileHeader +
		hostileRow("C1", "Ann") +
		hostileRow("C2", "Ann\x00Marie") +
		hostileRow("C3", "Ren\xe9e") + // Latin-1, not UTF-8
		"C4,Ann,Lee,1970-01-02,80202,denver,act\x00ive\n" +
		hostileRow("C5", "Ann")
	res := importVotersAs(t, st, fileimport.CSV, strings.NewReader(csvBody))
	require.Equal(t, 2, res.Inserted)
	require.Equal(t, []fileimport.Rejection{{Line: 3, Field: "first_name"}, {Line: 4, Field: "first_name"}, {Line: 5, Field: "status"}},
		withoutReasons(res.Rejections))
	require.Contains(t, res.Rejections[0].Reason, "NUL")
	require.Contains(t, res.Rejections[1].Reason, "UTF-8")
	requireNoEcho(t, res.Rejections, "Marie", "Ren")

	ndjson := `{"voter_id":"N1","first_name":"Ann","last_name":"Lee","date_of_birth":"1970-01-02","residential_zip":"80202","county":"denver","status":"active"}`
	ndjsonBody := strings.Join([]string{
		ndjson,
		strings.Replace(strings.Replace(ndjson, "N1", "N2", 1), `"Ann"`, `"Ann\u0000Marie"`, 1),
		strings.Replace(strings.Replace(ndjson, "N1", "N3", 1), `"Lee"`, "\"L\xe9e\"", 1),
		strings.Replace(ndjson, "N1", "N4", 1),
	}, "\n")
	res = importVotersAs(t, st, fileimport.NDJSON, strings.NewReader(ndjsonBody))
	require.Equal(t, 2, res.Inserted)
	require.Equal(t, []fileimport.Rejection{{Line: 2, Field: "first_name"}, {Line: 3, Field: "last_name"}}, withoutReasons(res.Rejections))
	requireNoEcho(t, res.Rejections, "Marie")
}

// TestAnOverlongRowIsRejectedAndReadingGoesOn: encoding/csv held a field whole, whatever
// its size; now a row over the bounds is read past, never kept, and rejected by line.
func TestAnOverlongRowIsRejectedAndReadingGoesOn(t *testing.T) {
	t.Parallel()
	st := setup(t)
	huge := strings.Repeat("y", 1<<20)
	csvBody := hostileHeader +
		hostileRow("L1", "Ann") +
		hostileRow("L2", huge) + // 3: one field over MaxFieldBytes
		hostileRow("L3", `"`+huge+"\n"+huge+`"`) + // 4-5: quoted, across lines
		hostileRow("L4", strings.Repeat("z", fileimport.MaxFieldBytes-1)+"\t") + // 6: within the bounds, a bad name
		hostileRow("L5", "Ann")
	res := importVotersAs(t, st, fileimport.CSV, strings.NewReader(csvBody))
	require.Equal(t, 2, res.Inserted)
	require.Equal(t, []fileimport.Rejection{{Line: 3, Field: "first_name"}, {Line: 4, Field: "first_name"}, {Line: 6, Field: "first_name"}},
		withoutReasons(res.Rejections))
	require.Contains(t, res.Rejections[0].Reason, "longer than 4 KiB")
	require.Contains(t, res.Rejections[1].Reason, "lines 4 to 5")

	ndjson := `{"voter_id":"M1","first_name":"Ann","last_name":"Lee","date_of_birth":"1970-01-02","residential_zip":"80202","county":"denver","status":"active"}`
	ndjsonBody := strings.Join([]string{
		ndjson,
		strings.Replace(strings.Replace(ndjson, "M1", "M2", 1), `"Ann"`, `"`+huge+`"`, 1),
		strings.Replace(strings.Replace(ndjson, "M1", "M3", 1), `"Ann"`, `"`+strings.Repeat("w", fileimport.MaxFieldBytes+1)+`"`, 1),
		strings.Replace(ndjson, "M1", "M4", 1),
	}, "\n")
	res = importVotersAs(t, st, fileimport.NDJSON, strings.NewReader(ndjsonBody))
	require.Equal(t, 2, res.Inserted)
	require.Equal(t, []fileimport.Rejection{{Line: 2}, {Line: 3, Field: "first_name"}}, withoutReasons(res.Rejections))
}

// TestAnUnknownColumnIsNamedByItsPositionNeverByItsText: a file sent without a header has
// a voter's row where the header should be.
func TestAnUnknownColumnIsNamedByItsPositionNeverByItsText(t *testing.T) {
	t.Parallel()
	st := setup(t)
	_, err := roll.ImportVoters(ctx, st, strings.NewReader("rtx0024,Maria,Garcia,1985-03-14,80202,denver,active\n"),
		roll.Options{State: "CO", Actor: "test", Format: fileimport.CSV})
	var fe *fileimport.FileError
	require.ErrorAs(t, err, &fe)
	require.Equal(t, "header", fe.Field)
	require.Contains(t, fe.Message, "column 1 of the header")
	for _, secret := range []string{"rtx0024", "Maria", "Garcia", "1985"} {
		require.NotContains(t, fe.Message, secret)
	}

	line := func(extra string) string {
		return `{"voter_id":"U1","first_name":"Ann","last_name":"Lee","date_of_birth":"1970-01-02",` + extra +
			`"residential_zip":"80202","county":"denver","status":"active"}`
	}
	res := importVotersAs(t, st, fileimport.NDJSON, strings.NewReader(strings.Join([]string{
		line(`"party":"x",`),
		line(`"Maria Garcia 1985-03-14":"x",`),
		line(`"` + strings.Repeat("a", 33) + `":"x",`),
		line(`"status":"inactive",`),
	}, "\n")))
	require.Equal(t, []fileimport.Rejection{{Line: 1, Field: "party"}, {Line: 2}, {Line: 3}, {Line: 4, Field: "status"}},
		withoutReasons(res.Rejections))
	require.Contains(t, res.Rejections[1].Reason, "field 5 of the object")
	require.Contains(t, res.Rejections[3].Reason, "twice")
	requireNoEcho(t, res.Rejections, "Maria", strings.Repeat("a", 33))
}

// panicAfter reads r and panics once n bytes have been read: a bug deep in a reader.
type panicAfter struct {
	r io.Reader
	n int
}

func (p *panicAfter) Read(b []byte) (int, error) {
	if p.n <= 0 {
		var rows map[string]int
		rows["boom"]++ // a runtime error, as a real bug would be
	}
	if len(b) > p.n {
		b = b[:p.n]
	}
	n, err := p.r.Read(b)
	p.n -= n
	return n, err
}

// TestAPanicWhileReadingFailsTheImportNotTheProcess: the reader runs in a goroutine of its
// own, which no HTTP recovery covers; its panic must come back as the import's error.
func TestAPanicWhileReadingFailsTheImportNotTheProcess(t *testing.T) {
	t.Parallel()
	st := setup(t)
	data := newFakeRoll(5000, 1).csv(t).Bytes() // more than the CSV reader's 256 KiB buffer
	res, err := roll.ImportVoters(ctx, st, &panicAfter{r: bytes.NewReader(data), n: len(data) / 2},
		roll.Options{State: "CO", Actor: "test", Format: fileimport.CSV, BatchSize: 500})
	var panicked *fileimport.ReadPanicError
	require.ErrorAs(t, err, &panicked)
	require.Contains(t, panicked.Panic, "nil map")
	require.Positive(t, panicked.Line)
	require.NotEmpty(t, panicked.Stack)
	require.Equal(t, 1, count(t, st, `SELECT count(*) FROM audit_log WHERE action = 'voters.import' AND detail->>'complete' = 'false'`))
	require.Equal(t, res.Inserted, count(t, st, `SELECT count(*) FROM voters`), "whole batches before it stay")

	res = importCSV(t, st, bytes.NewReader(data), 0) // the state is free again, and the rest loads
	require.Equal(t, 5000-20, res.Inserted+res.Unchanged)

	// In the header, read by the caller's goroutine: the same error, and nothing is begun.
	_, err = roll.ImportSubscriptions(ctx, st, &panicAfter{r: bytes.NewReader(data), n: 0},
		roll.Options{State: "CO", Actor: "test", Format: fileimport.CSV})
	require.ErrorAs(t, err, &panicked)
	require.Zero(t, panicked.Line)
	require.Zero(t, count(t, st, `SELECT count(*) FROM audit_log WHERE action = 'subscriptions.import'`))
}

func TestAReaderErrorIsNotARejection(t *testing.T) {
	t.Parallel()
	st := setup(t)
	broken := io.MultiReader(strings.NewReader(hostileHeader+hostileRow("E1", "Ann")), errReader{})
	_, err := roll.ImportVoters(ctx, st, broken, roll.Options{State: "CO", Actor: "test", Format: fileimport.CSV})
	require.ErrorContains(t, err, "wire cut")
	var panicked *fileimport.ReadPanicError
	require.False(t, errors.As(err, &panicked))
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("wire cut") }
