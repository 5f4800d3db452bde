package roll_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ballotflow/ballotflow/internal/fileimport"
	"github.com/ballotflow/ballotflow/internal/roll"
	"github.com/ballotflow/ballotflow/internal/store"
)

func importCSV(t *testing.T, st *store.Store, data io.Reader, batch int) roll.Result {
	t.Helper()
	res, err := roll.ImportVoters(ctx, st, data, roll.Options{State: "CO", Actor: "test", Format: fileimport.CSV, BatchSize: batch})
	require.NoError(t, err)
	return res
}

func voterRef(t *testing.T, st *store.Store, i int) int64 {
	t.Helper()
	v, err := st.VoterGetByID(ctx, "CO", fmt.Sprintf("%09d", 700000000+i))
	require.NoError(t, err)
	return v.Ref
}

func emailSubscription(t *testing.T, st *store.Store, ref int64) store.Subscription {
	t.Helper()
	subs, err := st.SubscriptionListByVoter(ctx, ref)
	require.NoError(t, err)
	for _, s := range subs {
		if s.Channel == "email" {
			return s
		}
	}
	t.Fatalf("voter #%d has no email subscription", ref)
	return store.Subscription{}
}

func count(t *testing.T, st *store.Store, sql string, args ...any) int {
	t.Helper()
	var n int
	require.NoError(t, st.Pool().QueryRow(ctx, sql, args...).Scan(&n))
	return n
}

// TestRollOf100kVotersLoadsGoodRowsReportsBadOnesAndReimportsOnlyChanges loads a
// 100,000-voter roll with 400 bad rows sprinkled in, then the next day's roll in which a few
// voters changed.
func TestRollOf100kVotersLoadsGoodRowsReportsBadOnesAndReimportsOnlyChanges(t *testing.T) {
	t.Parallel()
	st := setup(t)
	f := newFakeRoll(100_000, 1)
	const bad = 400
	valid := f.n - bad

	res := importCSV(t, st, f.csv(t), 0)
	require.Equal(t, f.n, res.Rows)
	require.Equal(t, valid, res.Inserted)
	require.Zero(t, res.Updated)
	require.Zero(t, res.Unchanged)
	require.Equal(t, bad, res.Rejected)
	require.Equal(t, f.expectedRejections(2), withoutReasons(res.Rejections), "each bad row, by line and field")
	for _, r := range res.Rejections {
		require.NotEmpty(t, r.Reason)
		for _, b := range badValues {
			require.NotContains(t, r.Reason, b.value, "a rejection never repeats the row's data")
		}
	}
	withEmail := f.count(func(i int, row map[string]string) bool {
		confidential, _ := roll.Flag(row["confidential"])
		return f.bad(i) < 0 && row["email"] != "" && !confidential
	})
	require.Equal(t, withEmail, res.Enrolled)
	require.Equal(t, valid, count(t, st, `SELECT count(*) FROM voters`))
	require.Equal(t, withEmail, count(t, st,
		`SELECT count(*) FROM subscriptions WHERE channel = 'email' AND state = 'active' AND source = 'auto_enrolled'`))
	require.Equal(t, withEmail, count(t, st, `SELECT count(*) FROM subscriptions`))
	require.Zero(t, count(t, st, `SELECT count(*) FROM subscriptions s JOIN voters v ON v.id = s.voter_ref WHERE v.confidential`),
		"confidential voters are never enrolled")

	// A row as the roll had it, normalized: ZIP+4 cut, a US phone in E.164, names folded.
	for i := range f.n {
		row := f.row(i)
		if f.bad(i) >= 0 || len(row["residential_zip"]) != 10 || !strings.HasPrefix(row["phone"], "(303)") {
			continue
		}
		v, err := st.VoterGetByID(ctx, "CO", row["voter_id"])
		require.NoError(t, err)
		require.Equal(t, row["residential_zip"][:5], v.ResidentialZIP)
		require.Equal(t, "+1303555"+row["phone"][10:], v.Phone)
		require.Equal(t, row["first_name"], v.FirstName)
		require.Equal(t, 1, count(t, st, `SELECT count(*) FROM voters WHERE id = $1 AND lookup_first = $2 AND lookup_last = $3`,
			v.Ref, store.Fold(row["first_name"]), store.Fold(row["last_name"])))
		break
	}

	var detail map[string]any
	require.NoError(t, st.Pool().QueryRow(ctx,
		`SELECT detail FROM audit_log WHERE action = 'voters.import' AND actor = 'test' AND subject = 'state:CO'`).Scan(&detail))
	require.Equal(t, true, detail["complete"])
	require.EqualValues(t, valid, detail["inserted"])
	require.EqualValues(t, bad, detail["rejected"])

	// Before the next sync, voter 300 opts out of email.
	require.NoError(t, st.SubscriptionSetState(ctx, voterRef(t, st, 300), "email", "opted_out", "portal", "voter opted out"))

	f2 := newFakeRoll(f.n, 2)
	changed := f2.count(func(i int, _ map[string]string) bool { return f2.changed(i) })
	require.Greater(t, changed, 30)
	res = importCSV(t, st, f2.csv(t), 0)
	require.Zero(t, res.Inserted)
	require.Equal(t, changed, res.Updated, "only the rows that changed are updated")
	require.Equal(t, valid-changed, res.Unchanged)
	require.Equal(t, bad, res.Rejected)
	require.Equal(t, 1, res.ConfidentialOptOuts)
	require.Equal(t, changed-3, count(t, st, `SELECT count(*) FROM voters WHERE last_name LIKE '%-Nakamura'`))

	// Voter 100 became confidential: their email is turned off (its source kept) and audited.
	ref := voterRef(t, st, 100)
	sub := emailSubscription(t, st, ref)
	require.Equal(t, "opted_out", sub.State)
	require.Equal(t, "auto_enrolled", sub.Source)
	require.Equal(t, 1, count(t, st, `SELECT count(*) FROM audit_log WHERE action = 'subscription.opted_out'
		AND subject = $1 AND detail->>'reason' = 'confidential'`, fmt.Sprintf("voter:%d/email", ref)))
	// Voter 200's new roll email replaces the one they were auto-enrolled with.
	sub = emailSubscription(t, st, voterRef(t, st, 200))
	require.Equal(t, "active", sub.State)
	require.Equal(t, "new.voter200@example.org", sub.Address)
	// Voter 300 opted out: the new roll email changes nothing.
	sub = emailSubscription(t, st, voterRef(t, st, 300))
	require.Equal(t, "opted_out", sub.State)
	require.Equal(t, "voter300@example.org", sub.Address)
	require.Equal(t, 2, count(t, st, `SELECT count(*) FROM audit_log WHERE action = 'voters.import'`))
}

// TestNDJSONRollLoadsLikeCSV loads a roll as CSV, then the same rows as NDJSON: nothing
// changes, and the same rows are rejected for the same fields.
func TestNDJSONRollLoadsLikeCSV(t *testing.T) {
	t.Parallel()
	st := setup(t)
	f := newFakeRoll(5000, 1)
	first := importCSV(t, st, f.csv(t), 0)
	require.Equal(t, 20, first.Rejected)

	res, err := roll.ImportVoters(ctx, st, f.ndjson(t), roll.Options{State: "CO", Actor: "test", Format: fileimport.NDJSON})
	require.NoError(t, err)
	require.Equal(t, f.n, res.Rows)
	require.Zero(t, res.Inserted)
	require.Zero(t, res.Updated, "NDJSON and CSV of the same roll must load the same voters")
	require.Equal(t, first.Inserted, res.Unchanged)
	require.Equal(t, f.expectedRejections(1), withoutReasons(res.Rejections))
}

func TestMalformedLinesAreRejectedAndTheRestLoads(t *testing.T) {
	t.Parallel()
	st := setup(t)
	good := func(id string) string {
		return fmt.Sprintf(`{"voter_id":%q,"first_name":"Ann","last_name":"Lee","date_of_birth":"1970-01-02","residential_zip":"80202","county":"denver","status":"active"}`, id)
	}
	body := strings.Join([]string{
		good("A1"),
		`{"voter_id":`,
		``,
		strings.Replace(good("A2"), `{`, `{"party":"X",`, 1),
		strings.Replace(good("A3"), `"Ann"`, `["Ann"]`, 1),
		strings.Replace(good("A4"), `"1970-01-02"`, `"2999-01-01"`, 1),
		good("A5") + `{}`,
		good("A6"),
	}, "\n")
	res, err := roll.ImportVoters(ctx, st, strings.NewReader(body), roll.Options{State: "CO", Actor: "test", Format: fileimport.NDJSON})
	require.NoError(t, err)
	require.Equal(t, 7, res.Rows, "blank lines are not rows")
	require.Equal(t, 2, res.Inserted)
	require.Equal(t, []fileimport.Rejection{{Line: 2}, {Line: 4, Field: "party"}, {Line: 5, Field: "first_name"},
		{Line: 6, Field: "date_of_birth"}, {Line: 7}}, withoutReasons(res.Rejections))

	csvBody := "voter_id,first_name,last_name,date_of_birth,residential_zip,county,status\n" +
		"B1,Ann,Lee,1970-01-02,80202,denver,active\n" +
		"B2,Ann,Lee,1970-01-02,80202\n" +
		"B3,\"Ann,Lee,1970-01-02,80202,denver,active\n" +
		"B4,Ann,Lee,1970-01-02,80202,denver,active\n"
	res = importCSV(t, st, strings.NewReader(csvBody), 0)
	require.Equal(t, 1, res.Inserted)
	require.Equal(t, []fileimport.Rejection{{Line: 3}, {Line: 4, Field: "first_name"}}, withoutReasons(res.Rejections))
	require.Contains(t, res.Rejections[1].Reason, "lines 4 to 5", "an unclosed quote swallows the lines after it")
}

func TestRepeatedVoterIDsAreRejectedWithTheFirstLine(t *testing.T) {
	t.Parallel()
	st := setup(t)
	var b strings.Builder
	b.WriteString("voter_id,first_name,last_name,date_of_birth,residential_zip,county,status\n")
	for _, id := range []string{"A", "B", "C", "A", "D", "D", "E"} { // batches of 2: AB CA DD E
		fmt.Fprintf(&b, "%s,Ann,Lee,1970-01-02,80202,denver,active\n", id)
	}
	res := importCSV(t, st, strings.NewReader(b.String()), 2)
	require.Equal(t, 5, res.Inserted)
	require.Equal(t, []fileimport.Rejection{{Line: 5, Field: "voter_id"}, {Line: 7, Field: "voter_id"}}, withoutReasons(res.Rejections))
	require.Contains(t, res.Rejections[0].Reason, "line 2", "across batches")
	require.Contains(t, res.Rejections[1].Reason, "line 6", "within a batch")
	require.Equal(t, res.Rows, res.Inserted+res.Updated+res.Unchanged+res.Rejected)
}

func TestBadFilesAreRefusedWhole(t *testing.T) {
	t.Parallel()
	st := setup(t)
	cases := []struct {
		name, state, body, field string
	}{
		{"empty", "CO", "", ""},
		{"unknown column", "CO", "voter_id,first_name,last_name,date_of_birth,residential_zip,county,status,ssn\n", "header"},
		{"missing column", "CO", "voter_id,first_name,last_name,residential_zip,county,status\n", "date_of_birth"},
		{"column twice", "CO", "voter_id,first_name,last_name,date_of_birth,residential_zip,county,status,status\n", "status"},
		{"no county configured", "WY", "voter_id,first_name,last_name,date_of_birth,residential_zip,county,status\n", "county"},
	}
	for _, tc := range cases {
		_, err := roll.ImportVoters(ctx, st, strings.NewReader(tc.body), roll.Options{State: tc.state, Actor: "test", Format: fileimport.CSV})
		var fe *fileimport.FileError
		require.ErrorAs(t, err, &fe, tc.name)
		require.Equal(t, tc.field, fe.Field, tc.name)
		require.NotEmpty(t, fe.Message)
		require.NotContains(t, fe.Message, "ssn", "a header may be a row of data: it is never repeated")
	}
	require.Zero(t, count(t, st, `SELECT count(*) FROM voters`))
}

// errAfter reads r, then fails: a body that broke off.
type errAfter struct{ r io.Reader }

func (e errAfter) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if errors.Is(err, io.EOF) {
		return n, errors.New("connection reset")
	}
	return n, err
}

func TestAnInterruptedImportKeepsWholeBatchesAndFinishesWhenSentAgain(t *testing.T) {
	t.Parallel()
	st := setup(t)
	f := newFakeRoll(1000, 1) // 4 bad rows
	data := f.csv(t).Bytes()
	cut := bytes.IndexByte(data[len(data)/2:], '\n') + len(data)/2 + 1

	res, err := roll.ImportVoters(ctx, st, errAfter{bytes.NewReader(data[:cut])},
		roll.Options{State: "CO", Actor: "test", Format: fileimport.CSV, BatchSize: 100})
	require.ErrorContains(t, err, "connection reset")
	require.Positive(t, res.Inserted)
	require.Zero(t, (res.Inserted+res.Rejected)%100, "only whole batches are loaded")
	loaded := count(t, st, `SELECT count(*) FROM voters`)
	require.Equal(t, res.Inserted, loaded)
	require.Equal(t, 1, count(t, st, `SELECT count(*) FROM audit_log WHERE action = 'voters.import' AND detail->>'complete' = 'false'`))

	res = importCSV(t, st, bytes.NewReader(data), 100)
	require.Equal(t, loaded, res.Unchanged)
	require.Equal(t, 996-loaded, res.Inserted)
}

// cancelAfter reads r and cancels a context once n bytes are read: Ctrl-C in the middle.
type cancelAfter struct {
	r      io.Reader
	n      int
	cancel context.CancelFunc
}

func (c *cancelAfter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if c.n -= n; c.n <= 0 {
		c.cancel()
	}
	return n, err
}

func TestACancelledImportIsAuditedAndReleasesTheState(t *testing.T) {
	t.Parallel()
	st := setup(t)
	data := newFakeRoll(20_000, 1).csv(t).Bytes() // several reads of the CSV reader's 256 KiB buffer
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	_, err := roll.ImportVoters(cctx, st, &cancelAfter{r: bytes.NewReader(data), n: len(data) / 2, cancel: cancel},
		roll.Options{State: "CO", Actor: "test", Format: fileimport.CSV, BatchSize: 1000})
	require.ErrorIs(t, err, context.Canceled)
	require.Equal(t, 1, count(t, st, `SELECT count(*) FROM audit_log WHERE action = 'voters.import' AND detail->>'complete' = 'false'`))
	res := importCSV(t, st, bytes.NewReader(data), 0) // the state is free again
	require.Equal(t, 20_000-80, res.Inserted+res.Unchanged)
}

func TestOnlyOneImportOfAStateRunsAtATime(t *testing.T) {
	t.Parallel()
	st := setup(t)
	im, err := st.ImportBegin(ctx, store.ImportVoters, "CO", "test")
	require.NoError(t, err)
	_, err = st.ImportBegin(ctx, store.ImportSubscriptions, "CO", "test")
	require.ErrorIs(t, err, store.ErrImportRunning)
	other, err := st.ImportBegin(ctx, store.ImportVoters, "WY", "test")
	require.NoError(t, err)
	require.NoError(t, other.Finish(ctx, true, nil))
	require.NoError(t, im.Finish(ctx, true, nil))
	again, err := st.ImportBegin(ctx, store.ImportVoters, "CO", "test")
	require.NoError(t, err)
	require.NoError(t, again.Finish(ctx, true, nil))
}

// TestSubscriptionImportKeepsVotersChoices imports subscriptions made in a previous system.
func TestSubscriptionImportKeepsVotersChoices(t *testing.T) {
	t.Parallel()
	st := setup(t)
	f := newFakeRoll(40, 1)
	importCSV(t, st, f.csv(t), 0)
	id := func(i int) string { return fmt.Sprintf("%09d", 700000000+i) }
	confidential := -1
	var withEmail []int
	for i := range f.n {
		row := f.row(i)
		if c, _ := roll.Flag(row["confidential"]); c && confidential < 0 {
			confidential = i
		} else if !c && row["email"] != "" && f.bad(i) < 0 {
			withEmail = append(withEmail, i)
		}
	}
	require.GreaterOrEqual(t, confidential, 0)
	require.GreaterOrEqual(t, len(withEmail), 4)
	a, b, c, d := withEmail[0], withEmail[1], withEmail[2], withEmail[3]
	require.NoError(t, st.SubscriptionSetState(ctx, voterRef(t, st, a), "email", "opted_out", "portal", "STOP"))
	require.NoError(t, st.SubscriptionUpsert(ctx, store.Subscription{VoterRef: voterRef(t, st, b), Channel: "sms",
		Address: "+13035550111", State: "active", Source: "portal"}))

	file := "voter_id,channel,address,state,contact_start,contact_end,time_zone,language\n" +
		id(a) + ",email,old.a@example.org,active,,,,\n" + // line 2: opted out here: kept
		id(a) + ",sms,303-555-0122,active,,,,\n" + // 3: new
		id(b) + ",sms,+13035550133,active,,,,\n" + // 4: the voter's portal choice is kept
		id(c) + ",email,c@example.org,active,09:00,17:00,America/New_York,es\n" + // 5: replaces the auto-enrolled one
		id(d) + ",voice,+13035550144,opted_out,,,,\n" + // 6: new, opted out
		"999999999,email,x@example.org,active,,,,\n" + // 7: not on the roll
		id(confidential) + ",email,x@example.org,active,,,,\n" + // 8: confidential
		id(c) + ",fax,+13035550155,active,,,,\n" + // 9
		id(c) + ",sms,12,active,,,,\n" + // 10
		id(c) + ",voice,+13035550166,active,09:00,,,\n" + // 11
		id(c) + ",voice,+13035550166,active,,,Mars/Olympus,\n" + // 12
		id(c) + ",voice,+13035550166,maybe,,,,\n" + // 13
		id(c) + ",email,c2@example.org,active,,,,\n" // 14: repeats line 5
	load := func() roll.Result {
		res, err := roll.ImportSubscriptions(ctx, st, strings.NewReader(file),
			roll.Options{State: "CO", Actor: "test", Format: fileimport.CSV})
		require.NoError(t, err)
		return res
	}
	res := load()
	require.Equal(t, 13, res.Rows)
	require.Equal(t, 2, res.Inserted)
	require.Equal(t, 1, res.Updated)
	require.Equal(t, 2, res.Unchanged)
	require.Equal(t, []fileimport.Rejection{{Line: 7, Field: "voter_id"}, {Line: 8, Field: "voter_id"}, {Line: 9, Field: "channel"},
		{Line: 10, Field: "address"}, {Line: 11, Field: "contact_end"}, {Line: 12, Field: "time_zone"}, {Line: 13, Field: "state"},
		{Line: 14, Field: "channel"}}, withoutReasons(res.Rejections))

	subs := func(i int) map[string]store.Subscription {
		list, err := st.SubscriptionListByVoter(ctx, voterRef(t, st, i))
		require.NoError(t, err)
		out := map[string]store.Subscription{}
		for _, s := range list {
			out[s.Channel] = s
		}
		return out
	}
	require.Equal(t, "opted_out", subs(a)["email"].State, "an opt-out is never undone")
	require.Equal(t, "+13035550122", subs(a)["sms"].Address)
	require.Equal(t, "migrated", subs(a)["sms"].Source)
	require.Equal(t, "portal", subs(b)["sms"].Source)
	require.Equal(t, "+13035550111", subs(b)["sms"].Address)
	got := subs(c)["email"]
	require.Equal(t, store.Subscription{ID: got.ID, VoterRef: got.VoterRef, Channel: "email", Address: "c@example.org",
		State: "active", Source: "migrated", ContactStart: "09:00", ContactEnd: "17:00", TimeZone: "America/New_York",
		Language: "es"}, got)
	require.Equal(t, "opted_out", subs(d)["voice"].State)

	res = load()
	require.Zero(t, res.Inserted)
	require.Zero(t, res.Updated, "the same file again changes nothing")
	require.Equal(t, 5, res.Unchanged)
	require.Equal(t, 1, count(t, st, `SELECT count(*) FROM audit_log WHERE action = 'subscriptions.import'
		AND detail->>'inserted' = '2'`))
}

func TestResultJSONIsTheAPIContract(t *testing.T) {
	t.Parallel()
	res := roll.Result{Inserted: 1, Unchanged: 1, Result: fileimport.Result{Rows: 3, Rejected: 1,
		Rejections: []fileimport.Rejection{{Line: 3, Field: "phone", Reason: "phone must be E.164"}}}}
	b, err := json.Marshal(res)
	require.NoError(t, err)
	require.JSONEq(t, `{"rows":3,"inserted":1,"updated":0,"unchanged":1,"rejected":1,
		"rejections":[{"line":3,"field":"phone","reason":"phone must be E.164"}]}`, string(b))
}

// A previous system may hold numbers ballotflow does not text or call (a Caribbean +1
// number billed as international, a number abroad): an active subscription to one is
// refused by line, naming why, while an opt-out on it is kept, since an opt-out must never
// be lost.
func TestSubscriptionImportRefusesActiveNumbersBallotflowDoesNotContact(t *testing.T) {
	t.Parallel()
	st := setup(t)
	f := newFakeRoll(40, 1)
	importCSV(t, st, f.csv(t), 0)
	var good []int
	for i := range f.n {
		if c, _ := roll.Flag(f.row(i)["confidential"]); !c && f.bad(i) < 0 {
			good = append(good, i)
		}
	}
	id := func(i int) string { return fmt.Sprintf("%09d", 700000000+i) }
	file := "voter_id,channel,address,state\n" +
		id(good[0]) + ",sms,+18765550123,active\n" + // line 2: Jamaica, billed as international
		id(good[1]) + ",voice,+442071838750,active\n" + // 3: abroad
		id(good[2]) + ",voice,+442071838750,opted_out\n" + // 4: an opt-out is kept
		id(good[3]) + ",sms,+13035550177,active\n" // 5: Denver
	res, err := roll.ImportSubscriptions(ctx, st, strings.NewReader(file),
		roll.Options{State: "CO", Actor: "test", Format: fileimport.CSV})
	require.NoError(t, err)
	require.Equal(t, []fileimport.Rejection{{Line: 2, Field: "address"}, {Line: 3, Field: "address"}}, withoutReasons(res.Rejections))
	require.Contains(t, res.Rejections[0].Reason, "international rate")
	require.Contains(t, res.Rejections[1].Reason, "outside north america")
	for _, r := range res.Rejections {
		require.NotContains(t, r.Reason, "+1876", "the number itself is never repeated")
		require.NotContains(t, r.Reason, "+44")
	}
	require.Equal(t, 2, res.Inserted)
}

// A voter_id repeated in a later batch is rejected with the line of the first, however many
// batches are loaded at once, and the voter keeps the first row; the same goes for a state's
// first roll (voters copied straight in) and for a roll loaded again (merged).
func TestARepeatedVoterIsRejectedAcrossConcurrentBatches(t *testing.T) {
	t.Parallel()
	for _, concurrent := range []int{1, 4} {
		st := setup(t)
		f := newFakeRoll(600, 1) // rows 7, 257, 507 are bad
		var buf bytes.Buffer
		buf.Write(f.csv(t).Bytes())
		w := csv.NewWriter(&buf)
		cols := roll.VoterColumns()
		// Lines 602..605 repeat rows 10 (line 12), 300 (line 302), 599 (line 601) and 300 again,
		// each under another first name.
		for _, i := range []int{10, 300, 599, 300} {
			row := f.row(i)
			row["first_name"] = "Repeated"
			rec := make([]string, len(cols))
			for j, c := range cols {
				rec[j] = row[c]
			}
			require.NoError(t, w.Write(rec))
		}
		w.Flush()
		data := buf.Bytes()
		for _, load := range []string{"first", "again"} {
			res, err := roll.ImportVoters(ctx, st, bytes.NewReader(data), roll.Options{State: "CO", Actor: "test",
				Format: fileimport.CSV, BatchSize: 50, Concurrent: concurrent})
			require.NoError(t, err, "%s load, %d at once", load, concurrent)
			require.Equal(t, 604, res.Rows)
			require.Equal(t, 3+4, res.Rejected)
			if load == "first" {
				require.Equal(t, 597, res.Inserted)
			} else {
				require.Equal(t, 597, res.Unchanged)
			}
			var repeats []string
			for _, r := range res.Rejections {
				if r.Line > 601 {
					repeats = append(repeats, fmt.Sprintf("%d %s: %s", r.Line, r.Field, r.Reason))
				}
			}
			require.Equal(t, []string{
				"602 voter_id: repeats the voter_id of line 12; only the first is loaded",
				"603 voter_id: repeats the voter_id of line 302; only the first is loaded",
				"604 voter_id: repeats the voter_id of line 601; only the first is loaded",
				"605 voter_id: repeats the voter_id of line 302; only the first is loaded",
			}, repeats)
			require.Zero(t, count(t, st, `SELECT count(*) FROM voters WHERE first_name = 'Repeated'`))
			require.Equal(t, 597, count(t, st, `SELECT count(*) FROM voters`))
		}
	}
}
