package store_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ballotflow/ballotflow/internal/store"
)

// Tracking codes (20 digits) of the test envelopes: mailer ID 123456, serials 101 to 104.
const (
	outboundB1 = "00300123456000000101"
	returnB1   = "00304123456000000102"
	outboundB2 = "00300123456000000103"
)

// pieceKey is a tracking code without its barcode ID, as scans are matched.
func pieceKey(tracking string) string { return tracking[2:] }

// mailedAt is when the mailed events of these tests happened: one instant, so that an event
// posted again is the same event even when a second has passed.
var mailedAt = time.Now().Add(-72 * time.Hour).Truncate(time.Second)

func mailed(t *testing.T, st *store.Store, v store.Voter, eventID, ballotID, outbound, ret string) (store.RecordedEvent, error) {
	t.Helper()
	return st.BallotEventRecord(ctx, store.BallotEvent{JurisdictionID: "co-denver", ElectionID: "e1", BallotID: ballotID,
		VoterRef: v.Ref, EventID: eventID, Status: "mailed", OccurredAt: mailedAt,
		OutboundIMb: outbound, ReturnIMb: ret})
}

func scan(line int, tracking string, at time.Time, op, zip string) store.StagedMailScan {
	return store.StagedMailScan{Line: line, PieceKey: pieceKey(tracking), ScannedAt: at, OperationCode: op, FacilityZIP: zip,
		FacilityName: "DENVER CO P&DC", FacilityCity: "DENVER", FacilityState: "CO"}
}

func tableCount(t *testing.T, st *store.Store, table string) int {
	t.Helper()
	var n int
	require.NoError(t, st.Pool().QueryRow(ctx, `SELECT count(*) FROM `+table).Scan(&n))
	return n
}

var denverScans = store.MailScanScope{State: "CO", County: "denver"}

func TestScansOfRegisteredEnvelopesAreStoredOnceAndUnknownOnesOnlyCounted(t *testing.T) {
	st, v := setup(t)
	rec, err := mailed(t, st, v, "m1", "B1", outboundB1, returnB1)
	require.NoError(t, err)
	require.Equal(t, 2, tableCount(t, st, "mail_barcodes"))

	at := time.Now().Add(-48 * time.Hour).Truncate(time.Second)
	batch := []store.StagedMailScan{
		scan(2, outboundB1, at, "891", "80266"),
		scan(3, outboundB1, at, "891", "80266"),                                 // the same scan twice in one file
		scan(4, "01"+pieceKey(outboundB1), at.Add(7*time.Hour), "919", "80266"), // another barcode ID: the same piece
		scan(5, returnB1, at.Add(24*time.Hour), "271", "80266"),
		scan(6, "00300123456000000999", at, "891", "80266"), // no ballot has it
	}
	day := time.Now()
	counts, err := st.MailScanRecordBatch(ctx, denverScans, batch, day)
	require.NoError(t, err)
	require.Equal(t, 3, counts.Matched)
	require.Equal(t, 1, counts.Duplicates)
	require.Equal(t, 1, counts.Unknown)
	require.Len(t, counts.Stored, 3)
	directions := map[string]int{}
	for _, s := range counts.Stored {
		require.Equal(t, rec.Ballot.Key, s.Ballot.Key)
		require.Equal(t, "e1", s.Ballot.ElectionID)
		require.Equal(t, "denver", s.Ballot.County)
		require.False(t, s.DirectionNotified)
		directions[s.Direction]++
	}
	require.Equal(t, map[string]int{store.MailOutbound: 2, store.MailReturn: 1}, directions)

	// The same file again, this time with a state key: nothing new, the unknown one counted again.
	counts, err = st.MailScanRecordBatch(ctx, store.MailScanScope{State: "CO"}, batch, day)
	require.NoError(t, err)
	require.Equal(t, store.MailScanCounts{Duplicates: 4, Unknown: 1, Stored: []store.StoredMailScan{}}, counts)
	require.Equal(t, 3, tableCount(t, st, "mail_scans"))

	n, err := st.MailScanUnknownCount(ctx, "CO", "denver", day)
	require.NoError(t, err)
	require.EqualValues(t, 1, n)
	n, err = st.MailScanUnknownCount(ctx, "CO", "", day)
	require.NoError(t, err)
	require.EqualValues(t, 1, n)
	var stored int
	require.NoError(t, st.Pool().QueryRow(ctx, `SELECT count(*) FROM mail_barcodes WHERE piece_key = $1`,
		pieceKey("00300123456000000999")).Scan(&stored))
	require.Zero(t, stored, "an unknown barcode is never stored")

	ballots, err := st.BallotListByVoterWithHistory(ctx, v.Ref)
	require.NoError(t, err)
	require.Len(t, ballots, 1)
	scans := ballots[0].MailScans
	require.Len(t, scans, 3)
	require.Equal(t, []string{"outbound", "outbound", "return"}, []string{scans[0].Direction, scans[1].Direction, scans[2].Direction})
	require.True(t, scans[0].ScannedAt.Equal(at))
	require.Equal(t, "891", scans[0].OperationCode)
	require.Equal(t, "80266", scans[0].FacilityZIP)
	require.Equal(t, "DENVER CO P&DC", scans[0].FacilityName)
}

func TestScansAreMatchedWithinTheSendersCountyOnly(t *testing.T) {
	st, v := setup(t)
	_, err := st.JurisdictionUpsert(ctx, store.Jurisdiction{State: "CO", County: "arapahoe", Name: "Arapahoe",
		TimeZone: "America/Denver", EmailFrom: "a@example.org", EmailFromName: "Arapahoe", SMSFrom: "+13035550200",
		VoiceFrom: "+13035550200", HelpText: "Call."})
	require.NoError(t, err)
	_, err = mailed(t, st, v, "m1", "B1", outboundB1, "")
	require.NoError(t, err)
	at := time.Now().Add(-time.Hour).Truncate(time.Second)
	counts, err := st.MailScanRecordBatch(ctx, store.MailScanScope{State: "CO", County: "arapahoe"},
		[]store.StagedMailScan{scan(2, outboundB1, at, "891", "")}, time.Now())
	require.NoError(t, err)
	require.Equal(t, 1, counts.Unknown, "another county's envelope is unknown to this county")
	counts, err = st.MailScanRecordBatch(ctx, store.MailScanScope{State: "WY"},
		[]store.StagedMailScan{scan(2, outboundB1, at, "891", "")}, time.Now())
	require.NoError(t, err)
	require.Equal(t, 1, counts.Unknown, "and to another state")
	require.Zero(t, tableCount(t, st, "mail_scans"))
	n, err := st.MailScanUnknownCount(ctx, "CO", "arapahoe", time.Now())
	require.NoError(t, err)
	require.EqualValues(t, 1, n)
}

func TestABarcodeReusedInALaterElectionMatchesTheEnvelopeMailedLast(t *testing.T) {
	st, v := setup(t)
	require.NoError(t, st.ElectionUpsert(ctx, store.Election{ID: "e0", State: "CO", Name: "Primary",
		ElectionDay: time.Date(2026, 6, 30, 0, 0, 0, 0, time.UTC), CanvassEndsAt: time.Now().AddDate(0, 1, 0)}))
	primary, err := st.BallotEventRecord(ctx, store.BallotEvent{JurisdictionID: "co-denver", ElectionID: "e0", BallotID: "P1",
		VoterRef: v.Ref, EventID: "p1", Status: "mailed", OccurredAt: time.Now().Add(-200 * 24 * time.Hour).Truncate(time.Second),
		OutboundIMb: outboundB1})
	require.NoError(t, err)
	general, err := mailed(t, st, v, "m1", "B1", outboundB1, "")
	require.NoError(t, err)
	old := time.Now().Add(-190 * 24 * time.Hour).Truncate(time.Second)
	recent := time.Now().Add(-time.Hour).Truncate(time.Second)
	counts, err := st.MailScanRecordBatch(ctx, denverScans, []store.StagedMailScan{
		scan(2, outboundB1, old, "891", ""), scan(3, outboundB1, recent, "891", ""),
	}, time.Now())
	require.NoError(t, err)
	require.Len(t, counts.Stored, 2)
	require.Equal(t, primary.Ballot.Key, counts.Stored[0].Ballot.Key)
	require.Equal(t, general.Ballot.Key, counts.Stored[1].Ballot.Key)
}

func TestAnEnvelopeBarcodeOfAnotherBallotIsRefusedAndNothingOfTheEventIsStored(t *testing.T) {
	st, v := setup(t)
	_, err := mailed(t, st, v, "m1", "B1", outboundB1, returnB1)
	require.NoError(t, err)
	events, ballots := tableCount(t, st, "ballot_events"), tableCount(t, st, "ballots")

	_, err = mailed(t, st, v, "m2", "B2", outboundB1, "")
	var inUse *store.BarcodeInUseError
	require.ErrorAs(t, err, &inUse)
	require.ErrorIs(t, err, store.ErrBarcodeInUse)
	require.Equal(t, store.MailOutbound, inUse.Direction)

	// This ballot's return envelope given as another ballot's outbound one: in use too.
	_, err = mailed(t, st, v, "m3", "B3", returnB1, "")
	require.ErrorAs(t, err, &inUse)
	require.Equal(t, events, tableCount(t, st, "ballot_events"))
	require.Equal(t, ballots, tableCount(t, st, "ballots"), "the ballot the event would have created is not kept")
	require.Equal(t, 2, tableCount(t, st, "mail_barcodes"))

	// The same event again is a duplicate; with other barcodes, a conflict.
	rec, err := mailed(t, st, v, "m1", "B1", outboundB1, returnB1)
	require.NoError(t, err)
	require.True(t, rec.Duplicate)
	_, err = mailed(t, st, v, "m1", "B1", outboundB2, returnB1)
	require.ErrorIs(t, err, store.ErrEventConflict)
	// A second mailing of the same ballot may give the same envelopes again, or new ones.
	_, err = mailed(t, st, v, "m4", "B1", outboundB1, returnB1)
	require.NoError(t, err)
	_, err = mailed(t, st, v, "m5", "B1", outboundB2, "")
	require.NoError(t, err)
	require.Equal(t, 3, tableCount(t, st, "mail_barcodes"))
}

func TestABatchWithABadScanStoresNothingAndCountsNothing(t *testing.T) {
	st, v := setup(t)
	_, err := mailed(t, st, v, "m1", "B1", outboundB1, "")
	require.NoError(t, err)
	at := time.Now().Add(-time.Hour).Truncate(time.Second)
	bad := scan(3, outboundB1, at.Add(time.Minute), "891", "80266")
	bad.FacilityState = "co" // past the reader, the database still refuses it
	_, err = st.MailScanRecordBatch(ctx, denverScans, []store.StagedMailScan{
		scan(2, outboundB1, at, "891", "80266"), bad, scan(4, "00300123456000000999", at, "891", ""),
	}, time.Now())
	require.Error(t, err)
	require.Zero(t, tableCount(t, st, "mail_scans"))
	require.Zero(t, tableCount(t, st, "mail_scan_unknown_counts"))
}

func TestAScanHandedOnMarksItsDirection(t *testing.T) {
	st, v := setup(t)
	_, err := mailed(t, st, v, "m1", "B1", outboundB1, returnB1)
	require.NoError(t, err)
	at := time.Now().Add(-2 * time.Hour).Truncate(time.Second)
	counts, err := st.MailScanRecordBatch(ctx, denverScans, []store.StagedMailScan{scan(2, outboundB1, at, "891", "")}, time.Now())
	require.NoError(t, err)
	require.NoError(t, st.MailScanMarkNotified(ctx, []int64{counts.Stored[0].Ref}))
	counts, err = st.MailScanRecordBatch(ctx, denverScans, []store.StagedMailScan{
		scan(2, outboundB1, at.Add(time.Hour), "919", ""), scan(3, returnB1, at.Add(time.Hour), "271", ""),
	}, time.Now())
	require.NoError(t, err)
	require.Len(t, counts.Stored, 2)
	require.True(t, counts.Stored[0].DirectionNotified, "outbound was handed on")
	require.False(t, counts.Stored[1].DirectionNotified, "return was not")
}

func TestAnEventImportRegistersEnvelopesAndRefusesABarcodeInUse(t *testing.T) {
	st, v := setup(t)
	_, err := mailed(t, st, v, "m1", "B1", outboundB1, "")
	require.NoError(t, err)
	at := time.Now().Add(-time.Hour).Truncate(time.Second)
	withIMb := func(e store.StagedEvent, outbound, ret string) store.StagedEvent {
		e.OutboundIMb, e.ReturnIMb = outbound, ret
		return e
	}
	_, counts := loadImport(t, st,
		withIMb(staged(2, "i1", "B2", "mailed", at), outboundB1, ""),                     // B1's outbound barcode
		withIMb(staged(3, "i2", "B3", "mailed", at), outboundB2, returnB1),               // new
		withIMb(staged(4, "i3", "B4", "mailed", at), "00300123456000000104", outboundB2), // B3's, first in the file
		withIMb(staged(5, "i4", "B1", "mailed", at), outboundB1, ""),                     // B1 mailed again with its envelope
	)
	require.Equal(t, 2, counts.Accepted)
	refused := map[int]string{}
	for _, r := range counts.Refused {
		refused[r.Line] = r.Code
	}
	require.Equal(t, map[int]string{2: store.RefusedOutboundIMbInUse, 4: store.RefusedReturnIMbInUse}, refused)
	require.Equal(t, 3, tableCount(t, st, "mail_barcodes"))

	var outbound, ret string
	require.NoError(t, st.Pool().QueryRow(ctx, `SELECT outbound_imb, return_imb FROM ballot_events WHERE event_id = 'i2'`).
		Scan(&outbound, &ret))
	require.Equal(t, outboundB2, outbound)
	require.Equal(t, returnB1, ret)

	// The file again: duplicates; with another barcode for i2, refused as a reused event id.
	_, counts = loadImport(t, st, withIMb(staged(2, "i2", "B3", "mailed", at), outboundB2, returnB1),
		withIMb(staged(3, "i4", "B1", "mailed", at), "", ""))
	require.Equal(t, 1, counts.Duplicates)
	require.Len(t, counts.Refused, 1)
	require.Equal(t, store.RefusedEventIDReused, counts.Refused[0].Code)
}
