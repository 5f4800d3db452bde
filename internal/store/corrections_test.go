package store_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ballotflow/ballotflow/internal/store"
)

// signalAll marks every event of an import signaled and the import done, as its workflow
// would.
func signalAll(t *testing.T, st *store.Store, importID int64) {
	t.Helper()
	_, err := st.Pool().Exec(ctx, `UPDATE ballot_events SET signaled_at = now() WHERE import_id = $1`, importID)
	require.NoError(t, err)
	require.NoError(t, st.EventImportFinishLoad(ctx, importID))
	require.NoError(t, st.EventImportSetStatus(ctx, importID, store.ImportSignaling, []string{store.ImportChecking}, ""))
	require.NoError(t, st.EventImportSetStatus(ctx, importID, store.ImportDone, []string{store.ImportSignaling}, ""))
}

// An import's correction is previewed by what each event did (moved its ballot or not, still
// its status or not, told or not), is created only for a finished import, once at a time,
// holds one correction per event not corrected yet, and leaves nothing behind when refused.
func TestAnImportIsCorrectedWholeOnceAtATime(t *testing.T) {
	st, _ := setup(t)
	at := time.Now().Add(-time.Hour).Truncate(time.Second)
	id, _ := loadImport(t, st, staged(2, "w1", "B1", "rejected", at), staged(3, "w2", "B2", "rejected", at),
		staged(4, "w3", "B3", "rejected", at), staged(5, "w4", "B4", "rejected", at))

	_, _, err := st.ImportCorrectionCreate(ctx, id, "", "key:oper")
	require.ErrorIs(t, err, store.ErrNotCorrectable, "an import still loading")
	signalAll(t, st, id)

	events, err := st.BallotEventListByImport(ctx, id, 0, 10)
	require.NoError(t, err)
	key := map[string]string{}
	for _, e := range events {
		key[e.Ballot.BallotID] = e.Ballot.Key
	}
	// B1 and B2 moved to rejected, B1's voter was told; B3 moved, then a later status came;
	// B4's event never moved its ballot.
	for _, b := range []string{"B1", "B2", "B3"} {
		require.NoError(t, st.BallotSetStatus(ctx, key[b], "rejected", at))
	}
	require.NoError(t, st.BallotSetStatus(ctx, key["B3"], "replaced", at.Add(time.Minute)))
	_, err = st.Pool().Exec(ctx, `
		INSERT INTO deliveries (idempotency_key, ballot_ref, voter_ref, notice_status, channel, state)
		SELECT b.key || '/1/email', b.id, b.voter_ref, 'rejected', 'email', 'delivered' FROM ballots b WHERE b.key = $1`, key["B1"])
	require.NoError(t, err)

	preview, err := st.ImportCorrectionPreview(ctx, id, 0)
	require.NoError(t, err)
	require.Equal(t, []store.CorrectionCounts{{Status: "rejected", Told: 1, NotTold: 1, LaterStatusStands: 1, NotApplied: 1}}, preview)

	fix, n, err := st.ImportCorrectionCreate(ctx, id, "accepted", "key:oper")
	require.NoError(t, err)
	require.Equal(t, 4, n)
	im, err := st.EventImportGetByID(ctx, fix)
	require.NoError(t, err)
	require.Equal(t, store.ImportCorrections, im.Kind)
	require.Equal(t, id, im.CorrectsImport)
	require.Equal(t, store.ImportChecking, im.Status)
	require.Equal(t, 4, im.Accepted)
	fixes, err := st.BallotEventListByImport(ctx, fix, 0, 10)
	require.NoError(t, err)
	require.Len(t, fixes, 4)
	for i, f := range fixes {
		require.Equal(t, events[i].EventID, f.Corrects)
		require.Equal(t, "accepted", f.Status)
		require.Equal(t, events[i].Ballot.Key, f.Ballot.Key)
	}
	again, err := st.ImportCorrectionPreview(ctx, id, fix)
	require.NoError(t, err)
	require.Equal(t, preview, again, "the held correction is not counted as made")

	_, _, err = st.ImportCorrectionCreate(ctx, id, "", "key:oper")
	require.ErrorIs(t, err, store.ErrCorrectionPending)

	// Rejected, its corrections are discarded: the import may be corrected again.
	require.NoError(t, st.EventImportSetStatus(ctx, fix, store.ImportHeld, []string{store.ImportChecking}, ""))
	_, err = st.EventImportDiscard(ctx, fix, "key:oper")
	require.NoError(t, err)
	second, n, err := st.ImportCorrectionCreate(ctx, id, "", "key:oper")
	require.NoError(t, err)
	require.Equal(t, 4, n)
	signalAll(t, st, second)
	preview, err = st.ImportCorrectionPreview(ctx, id, 0)
	require.NoError(t, err)
	require.Equal(t, []store.CorrectionCounts{{Status: "rejected", CorrectedAlready: 4}}, preview)
	var imports int
	require.NoError(t, st.Pool().QueryRow(ctx, `SELECT count(*) FROM imports`).Scan(&imports))
	_, _, err = st.ImportCorrectionCreate(ctx, id, "", "key:oper")
	require.ErrorIs(t, err, store.ErrNothingToCorrect)
	_, _, err = st.ImportCorrectionCreate(ctx, second, "", "key:oper")
	require.ErrorIs(t, err, store.ErrNotCorrectable, "a correction is not corrected whole")
	var after int
	require.NoError(t, st.Pool().QueryRow(ctx, `SELECT count(*) FROM imports`).Scan(&after))
	require.Equal(t, imports, after, "a refused correction stores nothing")
}

// A file of events may carry corrections (corrects): a row naming an event recorded for its
// ballot is stored as a correction, and never taken for the wrong file; one naming no event
// of its ballot is refused by line; the same file again is duplicates only.
func TestAFileOfEventsCarriesCorrections(t *testing.T) {
	st, v := setup(t)
	at := time.Now().Add(-2 * time.Hour).Truncate(time.Second)
	for ballot, id := range map[string]string{"B1": "r1", "B2": "r2"} {
		rec, err := st.BallotEventRecord(ctx, store.BallotEvent{JurisdictionID: "co-denver", ElectionID: "e1", BallotID: ballot,
			VoterRef: v.Ref, EventID: id, Status: "rejected", OccurredAt: at})
		require.NoError(t, err)
		require.NoError(t, st.BallotSetStatus(ctx, rec.Ballot.Key, "rejected", at))
	}
	fix := func(line int, eventID, ballotID, corrects string) store.StagedEvent {
		e := staged(line, eventID, ballotID, "accepted", at.Add(time.Hour))
		e.Corrects = corrects
		return e
	}
	rows := []store.StagedEvent{
		fix(2, "c1", "B1", "r1"),
		fix(3, "c2", "B1", "no-such-event"),
		fix(4, "c3", "B1", "r2"), // r2 is B2's
		fix(5, "c4", "B9", "r1"), // a ballot with no events
	}
	id, counts := loadImport(t, st, rows...)
	require.Equal(t, 1, counts.Accepted)
	var refused []string
	for _, r := range counts.Refused {
		refused = append(refused, fmt.Sprintf("%d %s", r.Line, r.Code))
	}
	require.ElementsMatch(t, []string{"3 corrects_unknown", "4 corrects_unknown", "5 corrects_unknown"}, refused)
	var ballots int
	require.NoError(t, st.Pool().QueryRow(ctx, `SELECT count(*) FROM ballots WHERE ballot_id = 'B9'`).Scan(&ballots))
	require.Zero(t, ballots, "a refused correction creates no ballot")

	events, err := st.BallotEventListByImport(ctx, id, 0, 10)
	require.NoError(t, err)
	require.Len(t, events, 1)
	require.Equal(t, "r1", events[0].Corrects)
	c, err := st.EventImportCheck(ctx, id, graph)
	require.NoError(t, err)
	require.Equal(t, store.ImportCheck{Events: 1}, c, "accepted after rejected is a correction, not a wrong file")

	_, counts = loadImport(t, st, rows[0])
	require.Equal(t, store.EventBatchCounts{Duplicates: 1}, counts)
	other := fix(2, "c1", "B1", "")
	_, counts = loadImport(t, st, other)
	require.Len(t, counts.Refused, 1, "the same event_id without corrects is another event")
	require.Equal(t, store.RefusedEventIDReused, counts.Refused[0].Code)
}
