package store_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ballotflow/ballotflow/internal/store"
)

var denver = store.EventScope{State: "CO", County: "denver"}

func staged(line int, eventID, ballotID, status string, at time.Time) store.StagedEvent {
	return store.StagedEvent{Line: line, EventID: eventID, ElectionID: "e1", VoterID: "V1", BallotID: ballotID,
		Status: status, OccurredAt: at}
}

func loadImport(t *testing.T, st *store.Store, events ...store.StagedEvent) (int64, store.EventBatchCounts) {
	t.Helper()
	id, err := st.EventImportCreate(ctx, denver, "test")
	require.NoError(t, err)
	counts, err := st.EventImportLoadBatch(ctx, id, denver, store.EventBatch{Rows: len(events), Events: events})
	require.NoError(t, err)
	return id, counts
}

// The ballot workflows' status graph, as workflows.statusRules gives it to the check.
var graph = []store.StatusRule{
	{Status: "mailed", Stage: 1}, {Status: "undeliverable", Stage: 2}, {Status: "received", Stage: 3},
	{Status: "challenged", Stage: 4}, {Status: "cured", Stage: 5, Requires: "challenged"}, {Status: "accepted", Stage: 6},
	{Status: "rejected", Stage: 7, Final: true}, {Status: "counted", Stage: 7, Final: true},
	{Status: "replaced", Stage: 8, Final: true},
}

func TestCheckEventImportFindsEventsThatMoveBallotsBackwards(t *testing.T) {
	st, v := setup(t)
	yesterday := time.Now().Add(-24 * time.Hour).Truncate(time.Second)
	for ballot, status := range map[string]string{"B1": "accepted", "B2": "counted", "B5": "received", "B6": "accepted"} {
		rec, err := st.BallotEventRecord(ctx, store.BallotEvent{JurisdictionID: "co-denver", ElectionID: "e1", BallotID: ballot,
			VoterRef: v.Ref, EventID: "before-" + ballot, Status: status, OccurredAt: yesterday})
		require.NoError(t, err)
		require.NoError(t, st.BallotSetStatus(ctx, rec.Ballot.Key, status, yesterday))
	}
	at := time.Now().Add(-time.Hour).Truncate(time.Second)
	id, counts := loadImport(t, st,
		staged(2, "i1", "B1", "mailed", at),                      // backwards
		staged(3, "i2", "B2", "received", at),                    // after a final status
		staged(4, "i3", "B2", "counted", at),                     // the same status: ignored, not suspicious
		staged(5, "i4", "B3", "cured", at),                       // a new ballot cured without a challenge
		staged(6, "i5", "B4", "challenged", at),                  // a challenge ...
		staged(7, "i6", "B4", "cured", at.Add(time.Minute)),      // ... then its cure: consistent
		staged(8, "i7", "B5", "accepted", at),                    // forward
		staged(9, "i8", "B6", "cured", at),                       // cured, but the ballot was accepted, not challenged
		staged(10, "i9", "B7", "replaced", at.Add(-time.Minute)), // replaced may follow anything
	)
	require.Equal(t, 9, counts.Accepted)
	c, err := st.EventImportCheck(ctx, id, graph)
	require.NoError(t, err)
	require.Equal(t, store.ImportCheck{Events: 9, Backwards: 1, Inconsistent: 3}, c)
	im, err := st.EventImportGetByID(ctx, id)
	require.NoError(t, err)
	require.Equal(t, 1, im.Backwards)
	require.Equal(t, 3, im.Inconsistent)
}

// Events of an import wait for its workflow: the re-signal sweeper leaves them alone. An
// upload that failed hands its unsignaled events to the next import of the same rows; a
// finished import does not (they are duplicates).
func TestEventsOfAFailedImportAreTakenOverBySendingTheFileAgain(t *testing.T) {
	st, _ := setup(t)
	at := time.Now().Add(-time.Hour).Truncate(time.Second)
	rows := []store.StagedEvent{staged(2, "f1", "B1", "mailed", at), staged(3, "f2", "B2", "mailed", at)}

	first, counts := loadImport(t, st, rows...)
	require.Equal(t, 2, counts.Accepted)
	unsignaled, err := st.BallotEventListUnsignaled(ctx, time.Now().Add(time.Hour), 10)
	require.NoError(t, err)
	require.Empty(t, unsignaled, "the sweeper does not signal an import's events")

	// Loading (not failed): the same rows in another import are duplicates.
	_, counts = loadImport(t, st, rows...)
	require.Equal(t, store.EventBatchCounts{Duplicates: 2}, counts)

	require.NoError(t, st.EventImportFail(ctx, first, ""))
	second, counts := loadImport(t, st, append(rows, staged(4, "f3", "B3", "mailed", at))...)
	require.Equal(t, store.EventBatchCounts{Accepted: 3}, counts, "two taken over, one new")
	events, err := st.BallotEventListByImport(ctx, second, 0, 10)
	require.NoError(t, err)
	require.Len(t, events, 3)
	require.Less(t, events[0].EventRef, events[1].EventRef)

	require.NoError(t, st.EventImportFinishLoad(ctx, second))
	require.NoError(t, st.EventImportSetStatus(ctx, second, store.ImportDone, []string{store.ImportChecking}, ""))
	_, counts = loadImport(t, st, rows...)
	require.Equal(t, store.EventBatchCounts{Duplicates: 2}, counts)
}

// A rejected import's events stay recorded and are never signaled, even when posted again.
func TestDiscardedEventsAreNeverSignaled(t *testing.T) {
	st, v := setup(t)
	at := time.Now().Add(-time.Hour).Truncate(time.Second)
	id, _ := loadImport(t, st, staged(2, "d1", "B1", "mailed", at), staged(3, "d2", "B2", "mailed", at))
	require.NoError(t, st.EventImportFinishLoad(ctx, id))
	require.NoError(t, st.EventImportSetStatus(ctx, id, store.ImportHeld, []string{store.ImportChecking}, ""))
	n, err := st.EventImportDiscard(ctx, id, "key:oper")
	require.NoError(t, err)
	require.Equal(t, 2, n)
	n, err = st.EventImportDiscard(ctx, id, "key:oper")
	require.NoError(t, err)
	require.Zero(t, n, "discarding again changes nothing")
	im, err := st.EventImportGetByID(ctx, id)
	require.NoError(t, err)
	require.Equal(t, store.ImportRejected, im.Status)
	require.Equal(t, "key:oper", im.DecidedBy)

	rec, err := st.BallotEventRecord(ctx, store.BallotEvent{JurisdictionID: "co-denver", ElectionID: "e1", BallotID: "B1",
		VoterRef: v.Ref, EventID: "d1", Status: "mailed", OccurredAt: at})
	require.NoError(t, err)
	require.True(t, rec.Duplicate)
	require.True(t, rec.Signaled, "a single post of a discarded event must not signal it")
	require.ErrorIs(t, st.EventImportSetStatus(ctx, id, store.ImportSignaling, []string{store.ImportChecking, store.ImportHeld}, ""),
		store.ErrImportDecided)
}

// A county that posts, one at a time, an event its file already holds must not slip it past
// the import: a held import keeps it held, an import still delivering delivers it; an
// import that broke off hands it to the post, which signals it (and the sweeper covers it).
func TestASinglePostOfAnImportsEventWaitsForTheImportUnlessItBrokeOff(t *testing.T) {
	st, v := setup(t)
	at := time.Now().Add(-time.Hour).Truncate(time.Second)
	post := func(eventID, ballotID string) store.RecordedEvent {
		t.Helper()
		rec, err := st.BallotEventRecord(ctx, store.BallotEvent{JurisdictionID: "co-denver", ElectionID: "e1", BallotID: ballotID,
			VoterRef: v.Ref, EventID: eventID, Status: "mailed", OccurredAt: at})
		require.NoError(t, err)
		require.True(t, rec.Duplicate)
		return rec
	}
	held, _ := loadImport(t, st, staged(2, "h1", "B1", "mailed", at))
	require.True(t, post("h1", "B1").Signaled, "loading: the import will deliver it")
	require.NoError(t, st.EventImportFinishLoad(ctx, held))
	require.True(t, post("h1", "B1").Signaled, "checking: the import will deliver it")
	require.NoError(t, st.EventImportSetStatus(ctx, held, store.ImportHeld, []string{store.ImportChecking}, ""))
	require.True(t, post("h1", "B1").Signaled, "held: an operator decides first")

	broken, _ := loadImport(t, st, staged(2, "x1", "B2", "mailed", at))
	require.NoError(t, st.EventImportFail(ctx, broken, ""))
	rec := post("x1", "B2")
	require.False(t, rec.Signaled, "the import broke off: the post signals it")
	unsignaled, err := st.BallotEventListUnsignaled(ctx, time.Now().Add(time.Hour), 10)
	require.NoError(t, err)
	require.Len(t, unsignaled, 1, "taken over: the sweeper signals it if this post's signal is lost")
	require.Equal(t, "x1", unsignaled[0].EventID)
	require.NoError(t, st.BallotEventMarkSignaled(ctx, rec.EventRef))
	require.True(t, post("x1", "B2").Signaled, "signaled once")
}

// Rows repeated in a batch: the same content is a duplicate, other content is refused with
// the line of the first; rows of other counties, unknown voters and elections are refused.
func TestLoadEventBatchRefusesRowsByLine(t *testing.T) {
	st, _ := setup(t)
	_, err := st.JurisdictionUpsert(ctx, store.Jurisdiction{State: "CO", County: "adams", Name: "Adams",
		TimeZone: "America/Denver", EmailFrom: "a@example.org", EmailFromName: "Adams", SMSFrom: "+17205550101",
		VoiceFrom: "+17205550101", HelpText: "Call."})
	require.NoError(t, err)
	_, err = st.VoterUpsert(ctx, store.Voter{State: "CO", VoterID: "A1", County: "adams", FirstName: "A", LastName: "B",
		DateOfBirth: time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC), ResidentialZIP: "80601", Status: "active"})
	require.NoError(t, err)
	at := time.Now().Add(-time.Hour).Truncate(time.Second)
	adams := staged(5, "r4", "A-1", "mailed", at)
	adams.VoterID = "A1"
	unknownVoter := staged(6, "r5", "B9", "mailed", at)
	unknownVoter.VoterID = "nobody"
	unknownElection := staged(7, "r6", "B9", "mailed", at)
	unknownElection.ElectionID = "e0"
	_, counts := loadImport(t, st,
		staged(2, "r1", "B1", "mailed", at),
		staged(3, "r1", "B1", "mailed", at),
		staged(4, "r1", "B1", "received", at),
		adams, unknownVoter, unknownElection)
	require.Equal(t, 1, counts.Accepted)
	require.Equal(t, 1, counts.Duplicates)
	got := map[int]string{}
	for _, r := range counts.Refused {
		got[r.Line] = fmt.Sprint(r.Code, " ", r.FirstLine)
	}
	require.Equal(t, map[int]string{4: "event_id_reused 2", 5: "other_county 0", 6: "unknown_voter 0",
		7: "unknown_election 0"}, got)
}

// An import left "loading" by a process that died is marked failed, with a reason that says
// to send the file again, once it has shown no sign of life for StaleLoadAfter; one whose
// loader renews its lease is left alone. Sending the file again takes its events over.
func TestAnImportAbandonedWhileLoadingIsFailedAndTakenOverWhenSentAgain(t *testing.T) {
	st, _ := setup(t)
	at := time.Now().Add(-time.Hour).Truncate(time.Second)
	rows := []store.StagedEvent{staged(2, "s1", "B1", "mailed", at), staged(3, "s2", "B2", "mailed", at)}
	dead, _ := loadImport(t, st, rows...)
	alive, _ := loadImport(t, st, staged(2, "s9", "B9", "mailed", at))
	_, err := st.Pool().Exec(ctx, `UPDATE imports SET updated_at = now() - interval '1 hour' WHERE id = ANY($1)`,
		[]int64{dead, alive})
	require.NoError(t, err)
	require.NoError(t, st.EventImportTouchLoad(ctx, alive)) // its loader is still at work

	failed, err := st.EventImportFailStale(ctx, store.StaleLoadAfter)
	require.NoError(t, err)
	require.Equal(t, []int64{dead}, failed)
	im, err := st.EventImportGetByID(ctx, dead)
	require.NoError(t, err)
	require.Equal(t, store.ImportFailed, im.Status)
	require.Contains(t, im.FailureReason, "Send the whole file again")
	im, err = st.EventImportGetByID(ctx, alive)
	require.NoError(t, err)
	require.Equal(t, store.ImportLoading, im.Status)
	// A loader that was only slow and comes back to finish cannot hand the failed import
	// to a workflow.
	require.ErrorIs(t, st.EventImportFinishLoad(ctx, dead), store.ErrImportNotLoading)

	again, counts := loadImport(t, st, rows...)
	require.Equal(t, store.EventBatchCounts{Accepted: 2}, counts, "the dead import's events are taken over")
	events, err := st.BallotEventListByImport(ctx, again, 0, 10)
	require.NoError(t, err)
	require.Len(t, events, 2)
}

// A batch that arrives for an import already marked failed (its loader was taken for dead)
// stores nothing: the uploader is told to send the file again, and no event is left behind
// an import that will never be signaled.
func TestABatchOfAFailedImportStoresNothing(t *testing.T) {
	st, _ := setup(t)
	id, err := st.EventImportCreate(ctx, denver, "test")
	require.NoError(t, err)
	require.NoError(t, st.EventImportFail(ctx, id, ""))
	at := time.Now().Add(-time.Hour).Truncate(time.Second)
	_, err = st.EventImportLoadBatch(ctx, id, denver, store.EventBatch{Rows: 1, Events: []store.StagedEvent{staged(2, "x1", "B1", "mailed", at)}})
	require.ErrorIs(t, err, store.ErrImportNotLoading)
	var events int
	require.NoError(t, st.Pool().QueryRow(ctx, `SELECT count(*) FROM ballot_events`).Scan(&events))
	require.Zero(t, events)
	im, err := st.EventImportGetByID(ctx, id)
	require.NoError(t, err)
	require.Contains(t, im.FailureReason, "broke off")
}

// Rows of an election whose canvass is over are refused by line: their ballot workflows are
// closed, so they could never be delivered.
func TestLoadEventBatchRefusesRowsOfAClosedCanvass(t *testing.T) {
	st, _ := setup(t)
	require.NoError(t, st.ElectionUpsert(ctx, store.Election{ID: "old", State: "CO", Name: "Old",
		ElectionDay: time.Now().AddDate(0, -2, 0), CanvassEndsAt: time.Now().AddDate(0, -1, 0)}))
	at := time.Now().Add(-time.Hour).Truncate(time.Second)
	late := staged(3, "c2", "B2", "mailed", at)
	late.ElectionID = "old"
	_, counts := loadImport(t, st, staged(2, "c1", "B1", "mailed", at), late)
	require.Equal(t, 1, counts.Accepted)
	require.Equal(t, []store.EventRefusal{{Line: 3, Code: store.RefusedCanvassClosed}}, counts.Refused)
}

// A set-aside event is skipped by the sweeper and by its import's pages, and listed for
// operators with its reason; a transient failure only delays the event.
func TestSetAsideEventsAreSkippedAndListed(t *testing.T) {
	st, v := setup(t)
	at := time.Now().Add(-time.Hour).Truncate(time.Second)
	rec, err := st.BallotEventRecord(ctx, event(v, "p1", "mailed", at))
	require.NoError(t, err)
	later, err := st.BallotEventRecord(ctx, store.BallotEvent{JurisdictionID: "co-denver", ElectionID: "e1", BallotID: "B2",
		VoterRef: v.Ref, EventID: "p2", Status: "mailed", OccurredAt: at})
	require.NoError(t, err)

	require.NoError(t, st.BallotEventSetAside(ctx, rec.EventRef, store.SetAsideInvalid, "refused"))
	require.NoError(t, st.BallotEventDeferSignal(ctx, later.EventRef, time.Minute, time.Hour))
	got, err := st.BallotEventListUnsignaled(ctx, time.Now().Add(time.Minute), 10)
	require.NoError(t, err)
	require.Empty(t, got, "one set aside, one waiting for its backoff")

	aside, total, err := st.BallotEventListSetAside(ctx, "CO", 10)
	require.NoError(t, err)
	require.Equal(t, 1, total)
	require.Equal(t, "p1", aside[0].EventID)
	require.Equal(t, "e1", aside[0].ElectionID)
	require.Equal(t, "invalid_argument: refused", aside[0].Reason)
	_, total, err = st.BallotEventListSetAside(ctx, "WY", 10)
	require.NoError(t, err)
	require.Zero(t, total)

	_, err = st.Pool().Exec(ctx, `UPDATE ballot_events SET next_signal_at = now() - interval '1 second' WHERE id = $1`, later.EventRef)
	require.NoError(t, err)
	got, err = st.BallotEventListUnsignaled(ctx, time.Now().Add(time.Minute), 10)
	require.NoError(t, err)
	require.Len(t, got, 1, "after its backoff the event is swept again")
}
