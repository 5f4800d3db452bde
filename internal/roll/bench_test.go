package roll_test

import (
	"bytes"
	"encoding/csv"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/ballotflow/ballotflow/internal/fileimport"
	"github.com/ballotflow/ballotflow/internal/roll"
)

// BenchmarkRollImport loads a 100,000-row voter roll (CSV, 400 bad rows) into an empty
// roll, then the same file again (every row unchanged), and prints both in rows/s beside
// the ceiling measured in the same run on the same database: the same file read with
// encoding/csv and COPYed as text into a bare unlogged table, without validation, indexes
// or upsert. The ratios say what validation, staging and the upsert cost.
func BenchmarkRollImport(b *testing.B) {
	st := setup(b)
	data := newFakeRoll(100_000, 1).csv(b).Bytes()
	const rows = 100_000
	pool := st.Pool()
	cols := roll.VoterColumns()
	ddl := "CREATE UNLOGGED TABLE roll_ceiling ("
	for i, c := range cols {
		if i > 0 {
			ddl += ", "
		}
		ddl += c + " text"
	}
	_, err := pool.Exec(ctx, ddl+")")
	require.NoError(b, err)

	var insertTime, unchangedTime, copyTime time.Duration
	for b.Loop() {
		b.StopTimer()
		_, err := pool.Exec(ctx, `TRUNCATE voters, roll_ceiling CASCADE`)
		require.NoError(b, err)
		b.StartTimer()

		start := time.Now()
		res, err := roll.ImportVoters(ctx, st, bytes.NewReader(data), roll.Options{State: "CO", Actor: "bench", Format: fileimport.CSV})
		require.NoError(b, err)
		require.Equal(b, rows-400, res.Inserted)
		insertTime += time.Since(start)

		start = time.Now()
		res, err = roll.ImportVoters(ctx, st, bytes.NewReader(data), roll.Options{State: "CO", Actor: "bench", Format: fileimport.CSV})
		require.NoError(b, err)
		require.Equal(b, rows-400, res.Unchanged)
		unchangedTime += time.Since(start)

		start = time.Now()
		n, err := copyCSV(pool, data, cols)
		require.NoError(b, err)
		require.EqualValues(b, rows, n)
		copyTime += time.Since(start)
	}
	perSecond := func(d time.Duration) float64 { return float64(rows*b.N) / d.Seconds() }
	b.ReportMetric(perSecond(insertTime), "insert-rows/s")
	b.ReportMetric(perSecond(unchangedTime), "unchanged-rows/s")
	b.ReportMetric(perSecond(copyTime), "ceiling-rows/s")
	b.ReportMetric(copyTime.Seconds()/insertTime.Seconds(), "insert/ceiling")
	b.ReportMetric(copyTime.Seconds()/unchangedTime.Seconds(), "unchanged/ceiling")
}

// copyCSV is the ceiling: the file's rows, as text, straight into roll_ceiling.
func copyCSV(pool *pgxpool.Pool, data []byte, cols []string) (int64, error) {
	r := csv.NewReader(bytes.NewReader(data))
	r.ReuseRecord = true
	if _, err := r.Read(); err != nil { // the header
		return 0, err
	}
	row := make([]any, len(cols))
	var readErr error
	n, err := pool.CopyFrom(ctx, pgx.Identifier{"roll_ceiling"}, cols, pgx.CopyFromFunc(func() ([]any, error) {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		if err != nil {
			readErr = err
			return nil, err
		}
		for i, v := range rec {
			row[i] = v
		}
		return row, nil
	}))
	if readErr != nil {
		return n, readErr
	}
	return n, err
}
