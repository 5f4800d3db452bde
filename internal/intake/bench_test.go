package intake_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/ballotflow/ballotflow/internal/fileimport"
	"github.com/ballotflow/ballotflow/internal/intake"
	"github.com/ballotflow/ballotflow/internal/store"
	"github.com/ballotflow/ballotflow/internal/testdb"
)

// BenchmarkBulkEventStorage stores a county's file of 50,000 "mailed" events, each for a
// ballot not seen before (mail-out day: every row creates its ballot), 200 of them bad (100
// unreadable dates, 100 unknown voters), then the same file again (every event a
// duplicate), and prints both in rows/s beside two references measured in the same run on
// the same database:
//
//   - the ceiling: the same file read with encoding/csv and COPYed as text into a bare
//     unlogged table, without validation, indexes or checks (the best of three);
//   - the write floor: the ballots and events the import stored inserted straight into
//     ballots and ballot_events from an unlogged copy, with those tables' indexes, foreign
//     keys and write-ahead log: what storing them costs at the least.
//
// The county's voters (BALLOTFLOW_BENCH_STATE_VOTERS, 50,000 unless set) each have a ballot
// and an event of an earlier election already: a batch must find its rows among them
// without reading them all, and with a million the figures show whether it does.
//
// No workflow is started: this is the storing half of POST /v1/ballot-events:bulk, which
// BenchmarkBulkEvents (internal/app) measures end to end with Temporal.
func BenchmarkBulkEventStorage(b *testing.B) {
	const events, bad = 50_000, 200
	voters := 50_000
	if v := os.Getenv("BALLOTFLOW_BENCH_STATE_VOTERS"); v != "" {
		n, err := strconv.Atoi(v)
		require.NoError(b, err, "BALLOTFLOW_BENCH_STATE_VOTERS")
		voters = max(n, events)
	}
	ctx := context.Background()
	st := testdb.Open(b)
	pool := st.Pool()
	_, err := st.JurisdictionUpsert(ctx, store.Jurisdiction{State: "CO", County: "denver", Name: "Denver Elections",
		TimeZone: "America/Denver", EmailFrom: "b@example.org", EmailFromName: "Denver", SMSFrom: "+17205550100",
		VoiceFrom: "+17205550100", HelpText: "Call 720-555-0100."})
	require.NoError(b, err)
	day := time.Now().AddDate(0, 0, 20).Truncate(24 * time.Hour)
	require.NoError(b, st.ElectionUpsert(ctx, store.Election{ID: "bench-primary", State: "CO", Name: "Primary",
		ElectionDay: day.AddDate(0, -5, 0), CanvassEndsAt: day.AddDate(0, -4, 0)}))
	require.NoError(b, st.ElectionUpsert(ctx, store.Election{ID: "bench-general", State: "CO", Name: "General",
		ElectionDay: day, CanvassEndsAt: day.AddDate(0, 0, 30)}))
	for _, sql := range []string{`
		INSERT INTO voters (state, voter_id, county, first_name, last_name, date_of_birth, residential_zip, status,
			lookup_first, lookup_last)
		SELECT 'CO', '71' || lpad(i::text, 7, '0'), 'denver', 'Bench', 'Voter' || i, date '1980-01-01' + i % 9000,
			'80202', 'active', 'bench', 'voter' || i
		FROM generate_series(0, $1 - 1) AS i`, `
		INSERT INTO ballots (key, jurisdiction_id, election_id, ballot_id, voter_ref, status, status_at)
		SELECT 'b' || left(md5(id::text), 20), 'co-denver', 'bench-primary', 'P-' || id, id, 'counted',
			now() - interval '100 days'
		FROM voters`, `
		INSERT INTO ballot_events (jurisdiction_id, event_id, ballot_ref, status, occurred_at, signaled_at)
		SELECT 'co-denver', 'primary-' || id, id, 'mailed', now() - interval '120 days', now() - interval '120 days'
		FROM ballots`,
		`ANALYZE voters, ballots, ballot_events`,
		`CREATE UNLOGGED TABLE events_ceiling (` + strings.Join(intake.EventColumns, " text, ") + ` text)`,
	} {
		var args []any
		if strings.Contains(sql, "$1") {
			args = append(args, voters)
		}
		_, err := pool.Exec(ctx, sql, args...)
		require.NoError(b, err, sql)
	}

	svc := &intake.Service{Store: st, Logger: slog.New(slog.DiscardHandler)}
	caller := intake.Caller{Role: store.RoleCounty, State: "CO", County: "denver"}
	at := time.Now().Add(-time.Hour).Truncate(time.Second).Format(time.RFC3339)
	emptyRest := strings.Repeat(",", len(intake.EventColumns)-6)
	var storeTime, resendTime, copyTime, floorTime time.Duration
	round := 0
	for b.Loop() {
		b.StopTimer()
		round++
		var file bytes.Buffer
		file.WriteString(strings.Join(intake.EventColumns, ",") + "\n")
		for i := range events {
			voter, when := fmt.Sprintf("71%07d", i), at
			switch i % 500 {
			case 7:
				when = "yesterday"
			case 257:
				voter = "no-such-voter"
			}
			// reason, cure_deadline and the envelope barcodes (EventColumns after occurred_at) empty.
			fmt.Fprintf(&file, "bench-%d-%d,bench-general,%s,BNC-%d-%d,mailed,%s%s\n", round, i, voter, round, i, when, emptyRest)
		}
		data := file.Bytes()
		best := time.Duration(0)
		for range 3 {
			_, err := pool.Exec(ctx, `TRUNCATE events_ceiling`)
			require.NoError(b, err)
			start := time.Now()
			n, err := testdb.CopyCSV(ctx, st.Pool(), "events_ceiling", intake.EventColumns, data) // plain COPY, the ceiling
			took := time.Since(start)
			require.NoError(b, err)
			require.EqualValues(b, events, n)
			if best == 0 || took < best {
				best = took
			}
		}
		copyTime += best
		b.StartTimer()

		start := time.Now()
		res, err := svc.ImportEvents(ctx, caller, bytes.NewReader(data), intake.ImportOptions{Format: fileimport.CSV, Actor: "bench"})
		require.NoError(b, err)
		require.Equal(b, events-bad, res.Accepted)
		require.Equal(b, bad, res.Rejected)
		storeTime += time.Since(start)

		start = time.Now()
		stored := res.ImportID
		res, err = svc.ImportEvents(ctx, caller, bytes.NewReader(data), intake.ImportOptions{Format: fileimport.CSV, Actor: "bench"})
		require.NoError(b, err)
		require.Equal(b, events-bad, res.Duplicates)
		resendTime += time.Since(start)

		b.StopTimer()
		d, err := eventWriteFloor(ctx, st, stored)
		require.NoError(b, err)
		floorTime += d
		b.StartTimer()
	}
	perSecond := func(d time.Duration) float64 { return float64(events*b.N) / d.Seconds() }
	b.ReportMetric(perSecond(storeTime), "store-rows/s")
	b.ReportMetric(perSecond(resendTime), "resend-rows/s")
	b.ReportMetric(perSecond(copyTime), "ceiling-rows/s")
	b.ReportMetric(perSecond(floorTime), "floor-rows/s")
	b.ReportMetric(copyTime.Seconds()/storeTime.Seconds(), "store/ceiling")
	b.ReportMetric(copyTime.Seconds()/resendTime.Seconds(), "resend/ceiling")
	b.ReportMetric(copyTime.Seconds()/floorTime.Seconds(), "floor/ceiling")
	b.Logf("events file of %d rows, county of %d voters: stored %.0f rows/s (%.3f of plain COPY, %.2f of the write floor), "+
		"sent again %.0f rows/s (%.3f); plain COPY %.0f rows/s; write floor %.0f rows/s (%.3f)",
		events, voters, perSecond(storeTime), copyTime.Seconds()/storeTime.Seconds(), floorTime.Seconds()/storeTime.Seconds(),
		perSecond(resendTime), copyTime.Seconds()/resendTime.Seconds(), perSecond(copyTime), perSecond(floorTime),
		copyTime.Seconds()/floorTime.Seconds())
}

// eventWriteFloor takes the ballots and events an import stored out of their tables and
// times writing them straight back, in one transaction.
func eventWriteFloor(ctx context.Context, st *store.Store, importID int64) (time.Duration, error) {
	pool := st.Pool()
	for _, sql := range []string{
		`DROP TABLE IF EXISTS floor_ballots, floor_events`,
		`CREATE UNLOGGED TABLE floor_events AS SELECT * FROM ballot_events WHERE import_id = $1 ORDER BY id`,
		`CREATE UNLOGGED TABLE floor_ballots AS SELECT * FROM ballots WHERE id IN (SELECT ballot_ref FROM floor_events) ORDER BY id`,
		`DELETE FROM ballot_events WHERE import_id = $1`,
		`DELETE FROM ballots WHERE id IN (SELECT id FROM floor_ballots)`,
		`VACUUM ballots, ballot_events`,
	} {
		var args []any
		if strings.Contains(sql, "$1") {
			args = append(args, importID)
		}
		if _, err := pool.Exec(ctx, sql, args...); err != nil {
			return 0, fmt.Errorf("%s: %w", sql, err)
		}
	}
	start := time.Now()
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO ballots SELECT * FROM floor_ballots`); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO ballot_events SELECT * FROM floor_events`)
		return err
	})
	return time.Since(start), err
}
