package store_test

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/ballotflow/ballotflow/internal/store"
	"github.com/ballotflow/ballotflow/internal/testdb"
)

func TestAPoolWhoseConnectionsDiedServesTheNextCallsOnNewOnes(t *testing.T) {
	st, v := setup(t)
	_, key, err := st.APIKeyCreate(ctx, store.APIKey{Role: store.RoleCounty, State: "CO", County: "denver"}, "test")
	require.NoError(t, err)

	// Fill the pool with several connections, then kill them all.
	var wg sync.WaitGroup
	for range 6 {
		wg.Go(func() {
			_, err := st.Pool().Exec(ctx, `SELECT pg_sleep(0.05)`)
			require.NoError(t, err)
		})
	}
	wg.Wait()
	require.GreaterOrEqual(t, testdb.TerminateSessions(t, st), 2)

	// Every call finds a live connection the first time: reads, writes, transactions.
	for range 8 {
		_, err := st.APIKeyAuthenticate(ctx, key)
		require.NoError(t, err)
	}
	_, err = st.VoterGetByRef(ctx, v.Ref)
	require.NoError(t, err)
	_, err = st.BallotEventRecord(ctx, event(v, "after-restart", "mailed", time.Date(2026, 10, 10, 12, 0, 0, 0, time.UTC)))
	require.NoError(t, err)
}

func TestATransactionWhoseConnectionDiesBeforeCommitRunsAgain(t *testing.T) {
	st, _ := setup(t)
	_, err := st.Pool().Exec(ctx, `CREATE TABLE retry_probe (attempt int)`)
	require.NoError(t, err)

	attempts := 0
	err = store.InTx(st, ctx, func(tx pgx.Tx) error {
		attempts++
		if _, err := tx.Exec(ctx, `INSERT INTO retry_probe VALUES ($1)`, attempts); err != nil {
			return err
		}
		if attempts == 1 {
			// The server ends this session mid-transaction, as a restart would.
			_, err := tx.Exec(ctx, `SELECT pg_terminate_backend(pg_backend_pid())`)
			var pgErr *pgconn.PgError
			require.ErrorAs(t, err, &pgErr)
			require.Equal(t, "57P01", pgErr.Code)
			return err
		}
		return nil
	})
	require.NoError(t, err)
	require.Equal(t, 2, attempts)
	rows, err := st.Pool().Query(ctx, `SELECT attempt FROM retry_probe`)
	require.NoError(t, err)
	got, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	require.NoError(t, err)
	require.Equal(t, []int32{2}, got, "the first attempt was rolled back, the second committed")

	// An error of the transaction's own is returned as it is, after one attempt.
	attempts = 0
	own := errors.New("no such ballot")
	err = store.InTx(st, ctx, func(tx pgx.Tx) error { attempts++; return own })
	require.ErrorIs(t, err, own)
	require.Equal(t, 1, attempts)
}

// BenchmarkAcquire measures what the dead-connection check adds to taking a connection from
// the pool and running the cheapest statement on it, beside the same pool without the check.
func BenchmarkAcquire(b *testing.B) {
	st := testdb.Open(b)
	plainCfg := st.Pool().Config().Copy()
	plainCfg.PrepareConn = nil
	plain, err := pgxpool.NewWithConfig(ctx, plainCfg)
	require.NoError(b, err)
	defer plain.Close()

	run := func(b *testing.B, pool *pgxpool.Pool) float64 {
		for b.Loop() {
			if _, err := pool.Exec(ctx, `SELECT 1`); err != nil {
				b.Fatal(err)
			}
		}
		return float64(b.Elapsed().Nanoseconds()) / float64(b.N)
	}
	var without float64
	b.Run("without-check", func(b *testing.B) { without = run(b, plain) })
	b.Run("with-check", func(b *testing.B) {
		with := run(b, st.Pool())
		if without > 0 {
			b.ReportMetric(with/without, "ratio-to-without")
		}
	})
}
