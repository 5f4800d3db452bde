package roll_test

import (
	"bytes"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/ballotflow/ballotflow/internal/fileimport"
	"github.com/ballotflow/ballotflow/internal/roll"
	"github.com/ballotflow/ballotflow/internal/testdb"
)

// BenchmarkRollImport loads a 100,000-row voter roll (CSV, one bad row in 250) into an
// empty roll (a state's first load: voters copied straight in), then the same file again
// (every row unchanged: staged and compared), both with roll.DefaultConcurrent batches at
// once, and prints them in rows/s beside two references measured in the same run on the
// same database, each on one connection:
//
//   - the ceiling: the same file read with encoding/csv and COPYed as text into a bare
//     unlogged table, without validation, indexes or upsert (the best of three);
//   - the write floor: the voters the import stored, and their email subscriptions,
//     inserted straight into voters and subscriptions from an unlogged copy, with those
//     tables' indexes, foreign keys and write-ahead log: what storing them costs at the
//     least, whatever the import does before.
//
// The ratios say what validation, staging and the upsert cost (insert/ceiling), and how
// much of it is the tables' own price (floor/ceiling). BALLOTFLOW_BENCH_ROLL_ROWS sets the
// size of the roll: a million rows shows whether a batch's cost grows with the roll.
func BenchmarkRollImport(b *testing.B) {
	rows := 100_000
	if v := os.Getenv("BALLOTFLOW_BENCH_ROLL_ROWS"); v != "" {
		n, err := strconv.Atoi(v)
		require.NoError(b, err, "BALLOTFLOW_BENCH_ROLL_ROWS")
		rows = n
	}
	f := newFakeRoll(rows, 1)
	valid := rows
	for i := range rows {
		if f.bad(i) >= 0 {
			valid--
		}
	}
	st := setup(b)
	data := f.csv(b).Bytes()
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

	var insertTime, unchangedTime, copyTime, floorTime time.Duration
	for b.Loop() {
		b.StopTimer()
		_, err := pool.Exec(ctx, `TRUNCATE voters, roll_ceiling CASCADE`)
		require.NoError(b, err)
		b.StartTimer()

		start := time.Now()
		res, err := roll.ImportVoters(ctx, st, bytes.NewReader(data), roll.Options{State: "CO", Actor: "bench", Format: fileimport.CSV})
		require.NoError(b, err)
		require.Equal(b, valid, res.Inserted)
		insertTime += time.Since(start)

		start = time.Now()
		res, err = roll.ImportVoters(ctx, st, bytes.NewReader(data), roll.Options{State: "CO", Actor: "bench", Format: fileimport.CSV})
		require.NoError(b, err)
		require.Equal(b, valid, res.Unchanged)
		unchangedTime += time.Since(start)

		b.StopTimer()
		best := time.Duration(0)
		for range 3 {
			_, err := pool.Exec(ctx, `TRUNCATE roll_ceiling`)
			require.NoError(b, err)
			start := time.Now()
			n, err := testdb.CopyCSV(ctx, pool, "roll_ceiling", cols, data) // plain COPY, the ceiling
			took := time.Since(start)
			require.NoError(b, err)
			require.EqualValues(b, rows, n)
			if best == 0 || took < best {
				best = took
			}
		}
		copyTime += best

		d, err := writeFloor(pool)
		require.NoError(b, err)
		floorTime += d
		b.StartTimer()
	}
	perSecond := func(d time.Duration) float64 { return float64(rows*b.N) / d.Seconds() }
	b.ReportMetric(perSecond(insertTime), "insert-rows/s")
	b.ReportMetric(perSecond(unchangedTime), "unchanged-rows/s")
	b.ReportMetric(perSecond(copyTime), "ceiling-rows/s")
	b.ReportMetric(perSecond(floorTime), "floor-rows/s")
	b.ReportMetric(copyTime.Seconds()/insertTime.Seconds(), "insert/ceiling")
	b.ReportMetric(copyTime.Seconds()/unchangedTime.Seconds(), "unchanged/ceiling")
	b.ReportMetric(copyTime.Seconds()/floorTime.Seconds(), "floor/ceiling")
	b.Logf("roll of %d rows: insert %.0f rows/s (%.3f of plain COPY, %.2f of the write floor), unchanged %.0f rows/s (%.3f); "+
		"plain COPY %.0f rows/s; write floor %.0f rows/s (%.3f); at these rates 4 million voters take %.0f s to insert, "+
		"%.0f s unchanged", rows, perSecond(insertTime), copyTime.Seconds()/insertTime.Seconds(),
		floorTime.Seconds()/insertTime.Seconds(), perSecond(unchangedTime), copyTime.Seconds()/unchangedTime.Seconds(),
		perSecond(copyTime), perSecond(floorTime), copyTime.Seconds()/floorTime.Seconds(), 4e6/perSecond(insertTime),
		4e6/perSecond(unchangedTime))
}

// writeFloor empties the roll and times writing the voters it held, and the email
// subscriptions an import gives them, straight back into voters and subscriptions in one
// transaction.
func writeFloor(pool *pgxpool.Pool) (time.Duration, error) {
	const voterCols = `state, voter_id, county, first_name, middle_name, last_name, suffix, date_of_birth,
		residential_zip, status, confidential, uocava, language, email, phone, lookup_first, lookup_last`
	for _, sql := range []string{
		`DROP TABLE IF EXISTS roll_floor`,
		`CREATE UNLOGGED TABLE roll_floor AS SELECT ` + voterCols + ` FROM voters ORDER BY id`,
		`TRUNCATE voters CASCADE`,
	} {
		if _, err := pool.Exec(ctx, sql); err != nil {
			return 0, err
		}
	}
	start := time.Now()
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO voters (`+voterCols+`) SELECT `+voterCols+` FROM roll_floor`); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `
			INSERT INTO subscriptions (voter_ref, channel, address, state, source, consented_at)
			SELECT id, 'email', email, 'active', 'auto_enrolled', now() FROM voters
			WHERE email IS NOT NULL AND NOT confidential`)
		return err
	})
	return time.Since(start), err
}
