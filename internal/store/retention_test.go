package store_test

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ballotflow/ballotflow/internal/store"
)

func date(s string) time.Time {
	d, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return d
}

// An election's records are kept 22 months after election day unless said otherwise, never
// less than until its canvass ends, and a corrected election day moves a default records
// period with it while a chosen one stays.
func TestElectionRecordsUntilDefaultsTo22MonthsAndFollowsCorrectedDates(t *testing.T) {
	st, _ := setup(t)
	canvass := time.Date(2026, 11, 27, 17, 0, 0, 0, time.FixedZone("MST", -7*3600))
	e := store.Election{ID: "g26", State: "CO", Name: "General", ElectionDay: date("2026-11-03"), CanvassEndsAt: canvass}

	saved, outcome, err := st.ElectionSave(ctx, e, "test")
	require.NoError(t, err)
	require.Equal(t, store.Created, outcome)
	require.Equal(t, "2028-09-03", saved.RecordsUntil.Format(time.DateOnly), "52 U.S.C. 20701: 22 months")

	// Election day was mistyped: the default records period follows the corrected day.
	e.ElectionDay, e.CanvassEndsAt = date("2027-11-02"), canvass.AddDate(1, 0, 0)
	saved, outcome, err = st.ElectionSave(ctx, e, "test")
	require.NoError(t, err)
	require.Equal(t, store.Updated, outcome)
	require.Equal(t, "2029-09-02", saved.RecordsUntil.Format(time.DateOnly))

	// A records period the state chose stays when a later save leaves it out.
	e.RecordsUntil = date("2031-01-31")
	_, _, err = st.ElectionSave(ctx, e, "test")
	require.NoError(t, err)
	e.RecordsUntil, e.Name = time.Time{}, "General Election"
	saved, outcome, err = st.ElectionSave(ctx, e, "test")
	require.NoError(t, err)
	require.Equal(t, store.Updated, outcome)
	require.Equal(t, "2031-01-31", saved.RecordsUntil.Format(time.DateOnly))
	got, err := st.ElectionGetByID(ctx, "g26")
	require.NoError(t, err)
	require.Equal(t, "2031-01-31", got.RecordsUntil.Format(time.DateOnly))

	// A records period that would end before the canvass is refused, and nothing changes.
	e.RecordsUntil = date("2027-11-20")
	_, _, err = st.ElectionSave(ctx, e, "test")
	require.ErrorIs(t, err, store.ErrRecordsBeforeCanvass)
	got, err = st.ElectionGetByID(ctx, "g26")
	require.NoError(t, err)
	require.Equal(t, "2031-01-31", got.RecordsUntil.Format(time.DateOnly))

	// The period is never shortened: Apr 30 + 22 months is Mar 1, not Feb 28.
	recordsUntil := func(id string) string {
		e, err := st.ElectionGetByID(ctx, id)
		require.NoError(t, err)
		return e.RecordsUntil.Format(time.DateOnly)
	}
	require.NoError(t, st.ElectionUpsert(ctx, store.Election{ID: "apr", State: "CO", Name: "Municipal",
		ElectionDay: date("2026-04-30"), CanvassEndsAt: date("2026-05-30")}))
	require.Equal(t, "2028-03-01", recordsUntil("apr"))
	// A canvass that ends later still holds the records until it ends (UTC).
	require.NoError(t, st.ElectionUpsert(ctx, store.Election{ID: "apr", State: "CO", Name: "Municipal",
		ElectionDay: date("2026-04-30"), CanvassEndsAt: time.Date(2029, 12, 31, 20, 0, 0, 0, time.FixedZone("MST", -7*3600))}))
	require.Equal(t, "2030-01-01", recordsUntil("apr"))

	// A release that knows nothing of records periods still saves elections, with the default.
	_, err = st.Pool().Exec(ctx, `INSERT INTO elections (id, state, name, election_day, canvass_ends_at)
		VALUES ('old', 'CO', 'Old', '2026-11-03', '2026-11-28T00:00:00Z')`)
	require.NoError(t, err)
	require.Equal(t, "2028-09-03", recordsUntil("old"))
}

// purgeFixture is an election whose records period is over, with one ballot that holds every
// kind of personal data the purge removes, and a ballot of another election that keeps it.
type purgeFixture struct {
	st           *store.Store
	voter        store.Voter
	electionID   string
	recordsUntil time.Time
	ballotRef    int64
	otherRef     int64
}

func newPurgeFixture(t *testing.T) purgeFixture {
	st, v := setup(t)
	f := purgeFixture{st: st, voter: v, electionID: "e1"}
	e, err := st.ElectionGetByID(ctx, "e1")
	require.NoError(t, err)
	f.recordsUntil = e.RecordsUntil

	occurred := time.Now().Add(-2 * time.Hour).Truncate(time.Second)
	deadline := occurred.AddDate(0, 0, 10)
	var key string
	for i, ev := range []store.BallotEvent{
		{EventID: "ev-1", Status: "mailed", OutboundIMb: outboundB1, ReturnIMb: returnB1},
		{EventID: "ev-2", Status: "challenged", Reason: "signature does not match the one on file for Jose Nunez",
			CureDeadline: &deadline},
	} {
		ev.JurisdictionID, ev.ElectionID, ev.BallotID, ev.VoterRef = "co-denver", "e1", "DEN-77", v.Ref
		ev.OccurredAt = occurred.Add(time.Duration(i) * time.Minute)
		rec, err := st.BallotEventRecord(ctx, ev)
		require.NoError(t, err)
		require.NoError(t, st.BallotEventMarkSignaled(ctx, rec.EventRef))
		require.NoError(t, st.BallotSetStatus(ctx, rec.Ballot.Key, ev.Status, ev.OccurredAt))
		f.ballotRef, key = rec.Ballot.Ref, rec.Ballot.Key
	}
	for seq, ch := range []string{"email", "sms"} {
		idem := key + "/" + string(rune('1'+seq)) + "/" + ch
		_, err := st.DeliveryBegin(ctx, store.Delivery{IdempotencyKey: idem, BallotRef: f.ballotRef, VoterRef: v.Ref,
			NoticeSeq: seq + 1, NoticeStatus: "challenged", Channel: ch})
		require.NoError(t, err)
		require.NoError(t, st.DeliveryFinish(ctx, idem, store.DeliveryAccepted, "PROV-"+ch, "Twilio error 30003"))
		res, err := st.DeliveryEventRecord(ctx, store.ProviderEvent{Provider: "twilio", IdempotencyKey: idem,
			Channels: []string{ch}, EventID: "PROV-" + ch + ":delivered", Status: "delivered", Detail: "250 2.0.0 OK",
			OccurredAt: time.Now(), State: store.DeliveryDelivered})
		require.NoError(t, err)
		require.True(t, res.Matched)
	}

	require.NoError(t, st.ElectionUpsert(ctx, store.Election{ID: "e2", State: "CO", Name: "Recall",
		ElectionDay: date("2026-12-01"), CanvassEndsAt: time.Now().AddDate(0, 2, 0)}))
	other, err := st.BallotEventRecord(ctx, store.BallotEvent{JurisdictionID: "co-denver", ElectionID: "e2",
		BallotID: "DEN-78", VoterRef: v.Ref, EventID: "ev-3", Status: "mailed", OccurredAt: occurred, Reason: "kept",
		OutboundIMb: outboundB2})
	require.NoError(t, err)
	f.otherRef = other.Ballot.Ref

	// USPS scanned both envelopes of the purged ballot, and the other election's one.
	scanned := occurred.Add(time.Hour)
	counts, err := st.MailScanRecordBatch(ctx, denverScans, []store.StagedMailScan{
		scan(2, outboundB1, scanned, "891", "80266"), scan(3, returnB1, scanned.Add(time.Minute), "271", "80266"),
		scan(4, outboundB2, scanned, "891", "80266"),
	}, time.Now())
	require.NoError(t, err)
	require.Equal(t, 3, counts.Matched)
	return f
}

// purge runs the purge of the fixture's election as the retention activity does, a page of
// one ballot at a time.
func (f purgeFixture) purge(t *testing.T, asOf time.Time) store.PurgedRows {
	t.Helper()
	_, err := f.st.ElectionBeginPurge(ctx, f.electionID, asOf)
	require.NoError(t, err)
	var total store.PurgedRows
	after := int64(0)
	for {
		page, err := f.st.ElectionPurgeBatch(ctx, f.electionID, after, 1)
		require.NoError(t, err)
		total.Add(page.Changed)
		after = page.LastRef
		if page.Ballots < 1 {
			break
		}
	}
	_, err = f.st.ElectionFinishPurge(ctx, f.electionID)
	require.NoError(t, err)
	return total
}

// The purge takes an election only after its records period, unties its ballots and
// deliveries from the voter, forgets the county's free text and the provider's ids and
// texts, and keeps the counts, the status history and the audit log; another election's
// ballot of the same voter, and the voter's registration, stay as they were.
func TestPurgeUntiesAnElectionFromItsVotersAndKeepsCountsAndAudit(t *testing.T) {
	f := newPurgeFixture(t)
	st := f.st

	due, err := st.ElectionListDueForPurge(ctx, f.recordsUntil.Add(23*time.Hour))
	require.NoError(t, err)
	require.NotContains(t, due, f.electionID, "records are kept through records_until")
	_, err = st.ElectionBeginPurge(ctx, f.electionID, f.recordsUntil)
	require.ErrorIs(t, err, store.ErrRecordsKept)
	_, err = st.ElectionPurgeBatch(ctx, f.electionID, 0, 10)
	require.ErrorIs(t, err, store.ErrPurgeNotBegun, "no page is purged before the purge began")

	dayAfter := f.recordsUntil.AddDate(0, 0, 1).Add(time.Hour)
	due, err = st.ElectionListDueForPurge(ctx, dayAfter)
	require.NoError(t, err)
	require.Equal(t, []string{f.electionID}, due)

	countsBefore, err := st.BallotCountByStatus(ctx, f.electionID, "")
	require.NoError(t, err)
	var auditBefore int
	require.NoError(t, st.Pool().QueryRow(ctx, `SELECT count(*) FROM audit_log`).Scan(&auditBefore))

	changed := f.purge(t, dayAfter)
	require.Equal(t, store.PurgedRows{Ballots: 1, Events: 2, Deliveries: 2, DeliveryEvents: 2, MailBarcodes: 2, MailScans: 2},
		changed)

	var voterRef *int64
	var ballotID *string
	var status string
	require.NoError(t, st.Pool().QueryRow(ctx, `SELECT voter_ref, ballot_id, status FROM ballots WHERE id = $1`, f.ballotRef).
		Scan(&voterRef, &ballotID, &status))
	require.Nil(t, voterRef)
	require.Nil(t, ballotID)
	require.Equal(t, "challenged", status, "the ballot's status stays for the counts")

	var reasons, deadlines, events int
	require.NoError(t, st.Pool().QueryRow(ctx, `
		SELECT count(*) FILTER (WHERE reason <> ''), count(cure_deadline), count(*) FROM ballot_events WHERE ballot_ref = $1`,
		f.ballotRef).Scan(&reasons, &deadlines, &events))
	require.Equal(t, 0, reasons, "the county's free text is gone")
	require.Equal(t, 2, events, "every event stays, with its status and times")
	require.Equal(t, 1, deadlines)

	// The envelopes' tracking codes and their scans say where the voter's ballot went, and
	// the outbound one is tied to the voter's address: they go, the event that gave them stays.
	var imbs, barcodes, scans int
	require.NoError(t, st.Pool().QueryRow(ctx, `
		SELECT (SELECT count(*) FROM ballot_events WHERE ballot_ref = $1 AND (outbound_imb IS NOT NULL OR return_imb IS NOT NULL)),
			(SELECT count(*) FROM mail_barcodes WHERE ballot_ref = $1), (SELECT count(*) FROM mail_scans WHERE ballot_ref = $1)`,
		f.ballotRef).Scan(&imbs, &barcodes, &scans))
	require.Zero(t, imbs, "the events' tracking codes are gone")
	require.Zero(t, barcodes, "the ballot's envelopes are gone")
	require.Zero(t, scans, "the scans of its envelopes are gone")

	rows, err := st.Pool().Query(ctx, `
		SELECT d.voter_ref IS NULL, d.provider_id IS NULL, d.last_error, d.state, d.channel,
			e.detail, e.provider_event_id IS NULL, e.status
		FROM deliveries d JOIN delivery_events e ON e.delivery_ref = d.id WHERE d.ballot_ref = $1 ORDER BY d.id`, f.ballotRef)
	require.NoError(t, err)
	n := 0
	for rows.Next() {
		var noVoter, noProviderID, noEventID bool
		var lastError, state, channel, detail, eventStatus string
		require.NoError(t, rows.Scan(&noVoter, &noProviderID, &lastError, &state, &channel, &detail, &noEventID, &eventStatus))
		require.True(t, noVoter)
		require.True(t, noProviderID, "the provider's message id leads to the message and its address")
		require.Empty(t, lastError)
		require.Empty(t, detail)
		require.True(t, noEventID)
		require.Equal(t, store.DeliveryDelivered, state, "the fact and outcome of the delivery stay")
		require.Equal(t, "delivered", eventStatus)
		n++
	}
	require.NoError(t, rows.Err())
	require.Equal(t, 2, n)

	countsAfter, err := st.BallotCountByStatus(ctx, f.electionID, "")
	require.NoError(t, err)
	require.Equal(t, countsBefore, countsAfter)
	var history int
	require.NoError(t, st.Pool().QueryRow(ctx, `SELECT count(*) FROM ballot_status_history WHERE ballot_ref = $1`,
		f.ballotRef).Scan(&history))
	require.Equal(t, 2, history)

	var auditAfter int
	require.NoError(t, st.Pool().QueryRow(ctx, `SELECT count(*) FROM audit_log`).Scan(&auditAfter))
	require.Equal(t, auditBefore+1, auditAfter, "every audit row stays, and the purge adds its own")
	var actor string
	var ballots int64
	require.NoError(t, st.Pool().QueryRow(ctx, `
		SELECT actor, (detail->>'ballots')::bigint FROM audit_log WHERE action = 'election.purge' AND subject = 'election:e1'`).
		Scan(&actor, &ballots))
	require.Equal(t, store.PurgeActor, actor)
	require.EqualValues(t, 1, ballots)

	e, err := st.ElectionGetByID(ctx, f.electionID)
	require.NoError(t, err)
	require.NotNil(t, e.PurgedAt)
	due, err = st.ElectionListDueForPurge(ctx, dayAfter)
	require.NoError(t, err)
	require.Empty(t, due, "a purged election is not due again")

	// The other election's ballot, and the roll, are untouched.
	var otherReason string
	require.NoError(t, st.Pool().QueryRow(ctx, `
		SELECT e.reason FROM ballots b JOIN ballot_events e ON e.ballot_ref = b.id WHERE b.id = $1 AND b.voter_ref = $2`,
		f.otherRef, f.voter.Ref).Scan(&otherReason))
	require.Equal(t, "kept", otherReason)
	require.NoError(t, st.Pool().QueryRow(ctx, `
		SELECT (SELECT count(*) FROM ballot_events WHERE ballot_ref = $1 AND outbound_imb IS NOT NULL),
			(SELECT count(*) FROM mail_barcodes WHERE ballot_ref = $1), (SELECT count(*) FROM mail_scans WHERE ballot_ref = $1)`,
		f.otherRef).Scan(&imbs, &barcodes, &scans))
	require.Equal(t, []int{1, 1, 1}, []int{imbs, barcodes, scans}, "the other election's envelope and its scan stay")
	voter, err := st.VoterGetByID(ctx, "CO", f.voter.VoterID)
	require.NoError(t, err)
	require.Equal(t, f.voter.Email, voter.Email)
	ballots2, err := st.BallotListByVoter(ctx, f.voter.Ref)
	require.NoError(t, err)
	require.Len(t, ballots2, 1, "the purged ballot is no longer the voter's")
	require.Equal(t, f.otherRef, ballots2[0].Ref)

	// Run again (a retried activity), it changes nothing and audits nothing more.
	require.Equal(t, store.PurgedRows{}, f.purge(t, dayAfter))
	require.NoError(t, st.Pool().QueryRow(ctx, `SELECT count(*) FROM audit_log`).Scan(&auditAfter))
	require.Equal(t, auditBefore+1, auditAfter)

	// A purged election no longer changes.
	_, _, err = st.ElectionSave(ctx, store.Election{ID: "e1", State: "CO", Name: "Renamed", ElectionDay: e.ElectionDay,
		CanvassEndsAt: e.CanvassEndsAt}, "test")
	require.ErrorIs(t, err, store.ErrElectionPurged)
}

// A page purged by a release that kept the envelopes leaves them (a worker upgraded
// mid-purge resumes after that page): the purge is not finished until a run from the
// election's first ballot took them.
func TestPurgeIsNotFinishedWhileEnvelopesOfItsBallotsRemain(t *testing.T) {
	f := newPurgeFixture(t)
	st := f.st
	dayAfter := f.recordsUntil.AddDate(0, 0, 1).Add(time.Hour)
	_, err := st.ElectionBeginPurge(ctx, f.electionID, dayAfter)
	require.NoError(t, err)
	// What the earlier release did to the page: the ballot untied, its envelopes kept.
	_, err = st.Pool().Exec(ctx, `UPDATE ballots SET voter_ref = NULL, ballot_id = NULL WHERE id = $1`, f.ballotRef)
	require.NoError(t, err)

	finished, err := st.ElectionFinishPurge(ctx, f.electionID)
	require.ErrorContains(t, err, "run the purge again")
	require.False(t, finished)
	e, err := st.ElectionGetByID(ctx, f.electionID)
	require.NoError(t, err)
	require.Nil(t, e.PurgedAt)

	changed := f.purge(t, dayAfter)
	require.Equal(t, store.PurgedRows{Events: 2, Deliveries: 2, DeliveryEvents: 2, MailBarcodes: 2, MailScans: 2}, changed)
	e, err = st.ElectionGetByID(ctx, f.electionID)
	require.NoError(t, err)
	require.NotNil(t, e.PurgedAt)
}

// The records of an election are its events and deliveries with the ballot's and the voter's
// ids, ballot by ballot and in the order they happened; once the purge begins there is
// nothing to read.
func TestElectionRecordsHoldEventsAndDeliveriesUntilThePurgeBegins(t *testing.T) {
	f := newPurgeFixture(t)
	var got []store.ElectionRecord
	require.NoError(t, f.st.ElectionEachRecord(ctx, f.electionID, "", func(r store.ElectionRecord) error {
		got = append(got, r)
		return nil
	}))
	var kinds []string
	for _, r := range got {
		kinds = append(kinds, r.Kind+":"+r.Status+":"+r.Channel)
		require.Equal(t, "DEN-77", r.BallotID)
		require.Equal(t, f.voter.VoterID, r.VoterID)
		require.Equal(t, "denver", r.County)
	}
	require.Equal(t, []string{"event:mailed:", "event:challenged:", "delivery:challenged:email", "delivery:challenged:sms"}, kinds)
	require.Contains(t, got[1].Reason, "signature does not match")
	require.Equal(t, "signaled", got[1].Outcome)
	require.NotNil(t, got[1].ReceivedAt)
	require.Equal(t, store.DeliveryDelivered, got[2].Outcome)
	require.Equal(t, "PROV-email", got[2].ProviderID)
	require.Equal(t, 1, got[2].Notice)
	require.NotNil(t, got[2].SettledAt)

	none := 0
	require.NoError(t, f.st.ElectionEachRecord(ctx, f.electionID, "arapahoe", func(store.ElectionRecord) error {
		none++
		return nil
	}))
	require.Zero(t, none, "a county's export holds its ballots only")

	_, err := f.st.ElectionBeginPurge(ctx, f.electionID, f.recordsUntil.AddDate(0, 0, 2))
	require.NoError(t, err)
	read := 0
	err = f.st.ElectionEachRecord(ctx, f.electionID, "", func(store.ElectionRecord) error {
		read++
		return nil
	})
	require.True(t, errors.Is(err, store.ErrElectionPurged), "%v", err)
	require.Zero(t, read)
}

// An election purged by an earlier release kept its envelopes and scans; migration 022 removes
// them, and leaves those of another election alone.
func TestMigrationRemovesTheEnvelopesOfElectionsPurgedBefore(t *testing.T) {
	f := newPurgeFixture(t)
	st := f.st
	dayAfter := f.recordsUntil.AddDate(0, 0, 1).Add(time.Hour)
	_, err := st.ElectionBeginPurge(ctx, f.electionID, dayAfter)
	require.NoError(t, err)
	// What the earlier release left: the election purged, its envelopes and scans kept.
	_, err = st.Pool().Exec(ctx, `UPDATE elections SET purged_at = now() WHERE id = $1`, f.electionID)
	require.NoError(t, err)
	counts := func(election string) [3]int {
		var n [3]int
		require.NoError(t, st.Pool().QueryRow(ctx, `SELECT
			(SELECT count(*) FROM mail_barcodes WHERE election_id = $1),
			(SELECT count(*) FROM mail_scans s JOIN ballots b ON b.id = s.ballot_ref WHERE b.election_id = $1),
			(SELECT count(*) FROM ballot_events e JOIN ballots b ON b.id = e.ballot_ref
				WHERE b.election_id = $1 AND (e.outbound_imb IS NOT NULL OR e.return_imb IS NOT NULL))`, election).
			Scan(&n[0], &n[1], &n[2]))
		return n
	}
	require.Equal(t, [3]int{2, 2, 1}, counts("e1"), "barcodes, scans, events with barcodes")
	other := counts("e2")
	require.NotZero(t, other[0])

	raw, err := os.ReadFile("migrations/022_purged_envelopes.sql")
	require.NoError(t, err)
	up, _, found := strings.Cut(string(raw), "---- create above / drop below ----")
	require.True(t, found)
	_, err = st.Pool().Exec(ctx, up)
	require.NoError(t, err)

	require.Equal(t, [3]int{}, counts("e1"))
	require.Equal(t, other, counts("e2"), "another election's envelopes stay")
}
