package apiserver_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ballotflow/ballotflow/apiserver"
	"github.com/ballotflow/ballotflow/internal/demo"
	"github.com/ballotflow/ballotflow/internal/intake"
	"github.com/ballotflow/ballotflow/internal/mailtrack"
	"github.com/ballotflow/ballotflow/internal/store"
	"github.com/ballotflow/ballotflow/internal/testdb"
	"github.com/ballotflow/ballotflow/internal/usps"
)

// Envelope barcodes of the tests (synthetic: mailer ID 123456), with their routing codes.
const (
	mariaOutbound = "0030012345600000010180202123401"
	mariaReturn   = "0030412345600000010280202999901"
	jamesOutbound = "0030012345600000010380205456702"
	jamesReturn   = "0030412345600000010480202999901"
	unknownIMb    = "0030012345600000099980209111101"
)

// recordingNotifier is a ScanNotifier that keeps what it is given; fail makes it fail.
type recordingNotifier struct {
	mu      sync.Mutex
	notices []mailtrack.Notice
	fail    bool
}

func (n *recordingNotifier) NotifyScan(_ context.Context, notice mailtrack.Notice) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.fail {
		return fmt.Errorf("temporal is away")
	}
	n.notices = append(n.notices, notice)
	return nil
}

func (n *recordingNotifier) taken() []mailtrack.Notice {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]mailtrack.Notice(nil), n.notices...)
}

// mailAPI is the API on the demo data, with a Denver and an Arapahoe county key, an operator
// key and a recording ScanNotifier.
type mailAPI struct {
	h                          http.Handler
	st                         *store.Store
	notifier                   *recordingNotifier
	denver, arapahoe, operator string
}

func newMailAPI(t *testing.T) *mailAPI {
	t.Helper()
	ctx := context.Background()
	st := testdb.Open(t)
	require.NoError(t, demo.Seed(ctx, st, time.Now()))
	a := &mailAPI{st: st, notifier: &recordingNotifier{}}
	var err error
	_, a.denver, err = st.APIKeyCreate(ctx, store.APIKey{Role: store.RoleCounty, State: "CO", County: "denver"}, "test")
	require.NoError(t, err)
	_, a.arapahoe, err = st.APIKeyCreate(ctx, store.APIKey{Role: store.RoleCounty, State: "CO", County: "arapahoe"}, "test")
	require.NoError(t, err)
	_, a.operator, err = st.APIKeyCreate(ctx, store.APIKey{Role: store.RoleOperator}, "test")
	require.NoError(t, err)
	logger := slog.New(slog.DiscardHandler)
	tc := &eventsTemporal{}
	a.h = apiserver.New(apiserver.Config{Store: st, Temporal: tc, Logger: logger, ScanNotifier: a.notifier,
		Intake: &intake.Service{Store: st, Temporal: tc, Logger: logger}})
	return a
}

type mailAnswer struct {
	Status int
	Body   map[string]any
	Raw    string
}

func (a *mailAPI) do(t *testing.T, path, key, contentType, body string) mailAnswer {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
	req.Header.Set("Content-Type", contentType)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	rec := httptest.NewRecorder()
	a.h.ServeHTTP(rec, req)
	ans := mailAnswer{Status: rec.Code, Raw: rec.Body.String()}
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &ans.Body), "body: %.300s", ans.Raw)
	return ans
}

func (a *mailAPI) count(t *testing.T, sql string) int {
	t.Helper()
	var n int
	require.NoError(t, a.st.Pool().QueryRow(context.Background(), sql).Scan(&n))
	return n
}

// mail posts a "mailed" event for a demo voter with its envelopes' barcodes.
func (a *mailAPI) mail(t *testing.T, eventID, voterID, ballotID, outbound, ret string) mailAnswer {
	t.Helper()
	raw, _ := json.Marshal(map[string]string{"event_id": eventID, "election_id": demo.ElectionID, "voter_id": voterID,
		"ballot_id": ballotID, "status": "mailed", "occurred_at": time.Now().Add(-72 * time.Hour).Format(time.RFC3339),
		"outbound_imb": outbound, "return_imb": ret})
	return a.do(t, "/v1/ballot-events", a.denver, "application/json", string(raw))
}

func (a *mailAPI) ballot(t *testing.T, voterID string) store.Ballot {
	t.Helper()
	v, err := a.st.VoterGetByID(context.Background(), "CO", voterID)
	require.NoError(t, err)
	ballots, err := a.st.BallotListByVoter(context.Background(), v.Ref)
	require.NoError(t, err)
	require.Len(t, ballots, 1)
	return ballots[0]
}

// pushEvent is one IV-MTR push event.
func pushEvent(imb string, at time.Time, op string) string {
	raw, _ := json.Marshal(map[string]any{"imb": imb, "scanDatetime": at.Format(time.RFC3339), "scanEventCode": op,
		"scanFacilityZip": "80266", "scanFacilityName": "DENVER CO P&DC", "scanFacilityCity": "DENVER",
		"scanFacilityState": "CO", "handlingEventType": "L", "mailPhase": "Phase 1 - Origin Processing",
		"machineName": "DBCS-041", "imbMid": "123456"})
	return string(raw)
}

func pushBody(events ...string) string {
	return `{"msgGrpId":"5f0c2d7e","msgSerNbr":1,"totMsgCnt":1,"recCnt":` + fmt.Sprint(len(events)) +
		`,"events":[` + strings.Join(events, ",") + `]}`
}

func counts(body map[string]any) map[string]int {
	out := map[string]int{}
	for _, k := range []string{"rows", "matched", "duplicates", "unknown", "rejected"} {
		v, _ := body[k].(float64)
		out[k] = int(v)
	}
	return out
}

func TestPushedScansAreMatchedStoredOnceAndHandedOnOncePerDirection(t *testing.T) {
	t.Parallel()
	a := newMailAPI(t)
	require.Equal(t, http.StatusAccepted, a.mail(t, "m1", demo.Voters[0].VoterID, "DEN-1", mariaOutbound, mariaReturn).Status)
	maria := a.ballot(t, demo.Voters[0].VoterID)
	require.Equal(t, 2, a.count(t, `SELECT count(*) FROM mail_barcodes`))

	at := time.Now().Add(-48 * time.Hour).Truncate(time.Second)
	ans := a.do(t, "/v1/mail-scans", a.denver, "application/json", pushBody(
		pushEvent(mariaOutbound, at, "891"),
		pushEvent(mariaOutbound, at, "891"),
		pushEvent(mariaOutbound, at.Add(7*time.Hour), "919"),
		pushEvent(unknownIMb, at, "891"),
		pushEvent("003001234560000001018020", at, "891"),
	))
	require.Equal(t, http.StatusOK, ans.Status, ans.Raw)
	require.Equal(t, map[string]int{"rows": 5, "matched": 2, "duplicates": 1, "unknown": 1, "rejected": 1}, counts(ans.Body))
	require.Equal(t, map[int]string{5: "imb"}, rejectionsOf(t, ans.Body))
	require.NotContains(t, ans.Raw, "12345600000", "no barcode is repeated")

	notices := a.notifier.taken()
	require.Len(t, notices, 1, "one notice for the outbound envelope: its first scan")
	require.Equal(t, mailtrack.Notice{BallotKey: maria.Key, ElectionID: demo.ElectionID, State: "CO", County: "denver",
		Direction: usps.Outbound, ScannedAt: at.UTC(),
		Facility: mailtrack.Facility{Name: "DENVER CO P&DC", City: "DENVER", State: "CO", ZIP: "80266"}}, notices[0])

	// The same push again changes nothing; a later outbound scan is stored, not handed on;
	// the first return scan is.
	ans = a.do(t, "/v1/mail-scans", a.denver, "application/json", pushBody(
		pushEvent(mariaOutbound, at, "891"), pushEvent(mariaOutbound, at.Add(20*time.Hour), "918"),
		pushEvent(mariaReturn, at.Add(30*time.Hour), "271"),
	))
	require.Equal(t, http.StatusOK, ans.Status, ans.Raw)
	require.Equal(t, map[string]int{"rows": 3, "matched": 2, "duplicates": 1, "unknown": 0, "rejected": 0}, counts(ans.Body))
	notices = a.notifier.taken()
	require.Len(t, notices, 2)
	require.Equal(t, usps.Return, notices[1].Direction)
	require.Equal(t, 4, a.count(t, `SELECT count(*) FROM mail_scans`))
	require.Equal(t, 1, a.count(t, `SELECT coalesce(sum(scans), 0)::int FROM mail_scan_unknown_counts WHERE county = 'denver'`))

	// The operator sees the scans in the ballot's history.
	var ballots struct {
		Ballots []struct {
			MailScans []struct {
				Direction     string    `json:"direction"`
				ScannedAt     time.Time `json:"scanned_at"`
				OperationCode string    `json:"operation_code"`
				FacilityZIP   string    `json:"facility_zip"`
				FacilityName  string    `json:"facility_name"`
			} `json:"mail_scans"`
		} `json:"ballots"`
	}
	req := httptest.NewRequest(http.MethodGet, "/v1/operator/voters/CO/"+demo.Voters[0].VoterID+"/ballots", nil)
	req.Header.Set("Authorization", "Bearer "+a.operator)
	rec := httptest.NewRecorder()
	a.h.ServeHTTP(rec, req)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &ballots))
	require.Len(t, ballots.Ballots, 1)
	scans := ballots.Ballots[0].MailScans
	require.Len(t, scans, 4)
	require.Equal(t, "outbound", scans[0].Direction)
	require.True(t, scans[0].ScannedAt.Equal(at))
	require.Equal(t, "891", scans[0].OperationCode)
	require.Equal(t, "80266", scans[0].FacilityZIP)
	require.Equal(t, "return", scans[3].Direction)
	require.NotContains(t, rec.Body.String(), "12345600000")

	// The portal shows the latest scan of each envelope, once the ballot has a status.
	require.NoError(t, a.st.BallotSetStatus(context.Background(), maria.Key, "mailed", at.Add(-time.Hour)))
	portal, err := a.st.BallotListByVoterForPortal(context.Background(), maria.VoterRef)
	require.NoError(t, err)
	require.Len(t, portal, 1)
	require.Len(t, portal[0].Mail, 2)
	require.Equal(t, store.MailOutbound, portal[0].Mail[0].Direction)
	require.True(t, portal[0].Mail[0].ScannedAt.Equal(at.Add(20*time.Hour)))
	require.Equal(t, store.MailReturn, portal[0].Mail[1].Direction)
}

func TestALateScanOfAReceivedBallotIsRecordedAndNeverHandedOn(t *testing.T) {
	t.Parallel()
	a := newMailAPI(t)
	require.Equal(t, http.StatusAccepted, a.mail(t, "m2", demo.Voters[1].VoterID, "DEN-2", jamesOutbound, jamesReturn).Status)
	james := a.ballot(t, demo.Voters[1].VoterID)
	require.NoError(t, a.st.BallotSetStatus(context.Background(), james.Key, "received", time.Now().Add(-time.Hour)))

	ans := a.do(t, "/v1/mail-scans", a.denver, "application/json", pushBody(
		pushEvent(jamesOutbound, time.Now().Add(-50*time.Hour), "891"),
		pushEvent(jamesReturn, time.Now().Add(-30*time.Minute), "919"),
	))
	require.Equal(t, http.StatusOK, ans.Status, ans.Raw)
	require.Equal(t, 2, counts(ans.Body)["matched"])
	require.Empty(t, a.notifier.taken())
	require.Equal(t, 2, a.count(t, `SELECT count(*) FROM mail_scans`))
}

func TestAScanNotHandedOnIsHandedOnWithTheNextScanOfItsEnvelope(t *testing.T) {
	t.Parallel()
	a := newMailAPI(t)
	require.Equal(t, http.StatusAccepted, a.mail(t, "m1", demo.Voters[0].VoterID, "DEN-1", mariaOutbound, "").Status)
	a.notifier.fail = true
	at := time.Now().Add(-10 * time.Hour).Truncate(time.Second)
	ans := a.do(t, "/v1/mail-scans", a.denver, "application/json", pushBody(pushEvent(mariaOutbound, at, "891")))
	require.Equal(t, http.StatusOK, ans.Status, ans.Raw)
	require.Equal(t, 1, counts(ans.Body)["matched"], "stored though it could not be handed on")
	a.notifier.fail = false
	ans = a.do(t, "/v1/mail-scans", a.denver, "application/json", pushBody(pushEvent(mariaOutbound, at.Add(time.Hour), "919")))
	require.Equal(t, http.StatusOK, ans.Status, ans.Raw)
	require.Len(t, a.notifier.taken(), 1)
}

func TestAnotherCountysEnvelopesAreUnknownToACountyKey(t *testing.T) {
	t.Parallel()
	a := newMailAPI(t)
	require.Equal(t, http.StatusAccepted, a.mail(t, "m1", demo.Voters[0].VoterID, "DEN-1", mariaOutbound, "").Status)
	ans := a.do(t, "/v1/mail-scans", a.arapahoe, "application/json", pushBody(pushEvent(mariaOutbound, time.Now().Add(-time.Hour), "891")))
	require.Equal(t, http.StatusOK, ans.Status, ans.Raw)
	require.Equal(t, map[string]int{"rows": 1, "matched": 0, "duplicates": 0, "unknown": 1, "rejected": 0}, counts(ans.Body))
	require.Zero(t, a.count(t, `SELECT count(*) FROM mail_scans`))
	require.Empty(t, a.notifier.taken())
}

func TestMailedEventBarcodesAreValidatedAndOneBallotsBarcodeIsNotAnothers(t *testing.T) {
	t.Parallel()
	a := newMailAPI(t)
	ans := a.mail(t, "m1", demo.Voters[0].VoterID, "DEN-1", "0030012345600000010180202I23401", "")
	require.Equal(t, http.StatusBadRequest, ans.Status)
	require.Equal(t, "outbound_imb", ans.Body["error"].(map[string]any)["field"])
	require.NotContains(t, ans.Raw, "12345600000")

	require.Equal(t, http.StatusAccepted, a.mail(t, "m1", demo.Voters[0].VoterID, "DEN-1", mariaOutbound, mariaReturn).Status)
	ans = a.mail(t, "m2", demo.Voters[1].VoterID, "DEN-2", jamesOutbound, mariaReturn)
	require.Equal(t, http.StatusConflict, ans.Status, ans.Raw)
	e := ans.Body["error"].(map[string]any)
	require.Equal(t, "imb_in_use", e["code"])
	require.Equal(t, "return_imb", e["field"])
	require.Equal(t, 1, a.count(t, `SELECT count(*) FROM ballot_events`), "nothing of the refused event is stored")
	require.Equal(t, 2, a.count(t, `SELECT count(*) FROM mail_barcodes`))
}

func TestMailScanEndpointsRefuseBadRequestsWithClearCodesAndStoreNothing(t *testing.T) {
	t.Parallel()
	a := newMailAPI(t)
	require.Equal(t, http.StatusAccepted, a.mail(t, "m1", demo.Voters[0].VoterID, "DEN-1", mariaOutbound, "").Status)
	good := pushEvent(mariaOutbound, time.Now().Add(-time.Hour), "891")
	many := make([]string, 10_001)
	for i := range many {
		many[i] = good
	}
	for _, tc := range []struct {
		name, path, key, contentType, body string
		status                             int
		code                               string
	}{
		{"no key", "/v1/mail-scans", "", "application/json", pushBody(good), http.StatusUnauthorized, "unauthenticated"},
		{"an operator key", "/v1/mail-scans", a.operator, "application/json", pushBody(good), http.StatusForbidden, "forbidden"},
		{"not JSON", "/v1/mail-scans", a.denver, "text/plain", "imb|scanDatetime", http.StatusUnsupportedMediaType, "unsupported_media_type"},
		{"broken JSON", "/v1/mail-scans", a.denver, "application/json", pushBody(good)[:60], http.StatusBadRequest, "invalid_body"},
		{"good events, then broken", "/v1/mail-scans", a.denver, "application/json",
			`{"events":[` + good + `,` + good + `,{"imb":`, http.StatusBadRequest, "invalid_body"},
		{"no events list", "/v1/mail-scans", a.denver, "application/json", `{"msgGrpId":"g"}`, http.StatusBadRequest, "invalid_body"},
		{"too many scans", "/v1/mail-scans", a.denver, "application/json", pushBody(many...), http.StatusRequestEntityTooLarge, "too_many_scans"},
		{"file of another type", "/v1/mail-scans:bulk", a.denver, "application/pdf", "x", http.StatusUnsupportedMediaType, "unsupported_media_type"},
		{"file without header", "/v1/mail-scans:bulk", a.denver, "text/plain", mariaOutbound + "|2026-10-14 04:52:41\n",
			http.StatusUnprocessableEntity, "invalid_file"},
		{"JSON file, not an object", "/v1/mail-scans:bulk", a.denver, "application/json", `"x"`, http.StatusUnprocessableEntity, "invalid_file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ans := a.do(t, tc.path, tc.key, tc.contentType, tc.body)
			require.Equal(t, tc.status, ans.Status, ans.Raw)
			require.Equal(t, tc.code, ans.Body["error"].(map[string]any)["code"], ans.Raw)
			require.NotContains(t, ans.Raw, "12345600000")
		})
	}
	require.Zero(t, a.count(t, `SELECT count(*) FROM mail_scans`))
	require.Zero(t, a.count(t, `SELECT count(*) FROM mail_scan_unknown_counts`))

	req := httptest.NewRequest(http.MethodPost, "/v1/mail-scans", strings.NewReader("{}"))
	req.Header.Set("Authorization", "Bearer "+a.denver)
	req.Header.Set("Content-Type", "application/json")
	req.ContentLength = 17 << 20
	rec := httptest.NewRecorder()
	a.h.ServeHTTP(rec, req)
	require.Equal(t, http.StatusRequestEntityTooLarge, rec.Code)
	require.Contains(t, rec.Body.String(), `"too_large"`)
}

// An IV-MTR delimited file, and mailed events with their envelopes as a bulk CSV file.
func TestAnIVMTRFileIsStreamedAndItsBadRowsRejectedByLine(t *testing.T) {
	t.Parallel()
	a := newFilesAPI(t)
	events := eventsHeader[:len(eventsHeader)-1] + ",outbound_imb,return_imb\n" +
		strings.TrimSuffix(eventRow("b1", "600100001", "DEN-1"), "\n") + "," + mariaOutbound + "," + mariaReturn + "\n" +
		strings.TrimSuffix(eventRow("b2", "600100002", "DEN-2"), "\n") + "," + jamesOutbound + ",\n" +
		strings.TrimSuffix(eventRow("b3", "600100003", "DEN-3"), "\n") + "," + mariaOutbound + ",\n" // Maria's envelope
	status, body := a.post(t, "/v1/ballot-events:bulk", a.county, "text/csv", strings.NewReader(events))
	require.Equal(t, http.StatusAccepted, status, body)
	require.EqualValues(t, 2, body["accepted"])
	require.Equal(t, map[int]string{4: "outbound_imb"}, rejectionsOf(t, body))
	require.Equal(t, 3, a.count(t, `SELECT count(*) FROM mail_barcodes`))

	denver, err := time.LoadLocation("America/Denver")
	require.NoError(t, err)
	local := func(d time.Duration) string { return time.Now().Add(d).In(denver).Format("2006-01-02 15:04:05") }
	file := "handlingEventType|imb|imbMid|machineName|mailPhase|scanDatetime|scanEventCode|scanFacilityCity|scanFacilityName|scanFacilityState|scanFacilityZip\n" +
		"L|" + mariaOutbound + "|123456|DBCS-041|Phase 1|" + local(-50*time.Hour) + "|891|DENVER|DENVER CO P&DC|CO|80266\n" +
		"L|" + mariaOutbound + "|123456|DBCS-041|Phase 1|" + local(-50*time.Hour) + "|891|DENVER|DENVER CO P&DC|CO|80266\n" +
		"L|" + jamesOutbound + "|123456|DBCS-017|Phase 3|" + local(-40*time.Hour) + "|919|DENVER|DENVER CO P&DC|CO|80266\n" +
		"L|" + mariaReturn + "|123456|DBCS-022|Phase 1|" + local(-2*time.Hour) + "|271|DENVER|DENVER CO P&DC|CO|80266-9998\n" +
		"L|" + unknownIMb + "|123456|DBCS-041|Phase 1|" + local(-50*time.Hour) + "|891|DENVER|DENVER CO P&DC|CO|80266\n" +
		"L|" + mariaOutbound + "|123456|DBCS-041|Phase 1|not a time|891|DENVER|DENVER CO P&DC|CO|80266\n" +
		"L|" + mariaOutbound + "|123456|DBCS-041|Phase 1|" + local(-49*time.Hour) + "|891|DENVER|DENVER CO P&DC|Colorado|80266\n"
	status, body = a.post(t, "/v1/mail-scans:bulk", a.county, "text/plain", strings.NewReader(file))
	require.Equal(t, http.StatusOK, status, body)
	require.Equal(t, map[string]int{"rows": 7, "matched": 3, "duplicates": 1, "unknown": 1, "rejected": 2}, counts(body))
	require.Equal(t, map[int]string{7: "scanDatetime", 8: "scanFacilityState"}, rejectionsOf(t, body))

	// The same file with the state key: all known now, nothing new; no ScanNotifier: nothing handed on.
	status, body = a.post(t, "/v1/mail-scans:bulk", a.state, "text/csv", strings.NewReader(file))
	require.Equal(t, http.StatusOK, status, body)
	require.Equal(t, map[string]int{"rows": 7, "matched": 0, "duplicates": 4, "unknown": 1, "rejected": 2}, counts(body))
	require.Equal(t, 3, a.count(t, `SELECT count(*) FROM mail_scans`))
	require.Zero(t, a.count(t, `SELECT count(*) FROM mail_scans WHERE notified_at IS NOT NULL`))
	require.Equal(t, 2, a.count(t, `SELECT count(*) FROM audit_log WHERE action = 'mail_scans.ingest' AND actor LIKE 'key:%'`))
	var zip string
	require.NoError(t, a.st.Pool().QueryRow(context.Background(),
		`SELECT facility_zip FROM mail_scans WHERE direction = 'return'`).Scan(&zip))
	require.Equal(t, "802669998", zip)
}

func TestAnIVMTRJSONFileThatBreaksOffKeepsWhatWasStoredAndSaysSo(t *testing.T) {
	t.Parallel()
	a := newMailAPI(t)
	require.Equal(t, http.StatusAccepted, a.mail(t, "m1", demo.Voters[0].VoterID, "DEN-1", mariaOutbound, "").Status)
	body := `{"events":[` + pushEvent(mariaOutbound, time.Now().Add(-time.Hour), "891") + `,{"imb":`
	ans := a.do(t, "/v1/mail-scans:bulk", a.denver, "application/json", body)
	require.Equal(t, http.StatusUnprocessableEntity, ans.Status, ans.Raw)
	msg := ans.Body["error"].(map[string]any)["message"].(string)
	require.Contains(t, msg, "1 matched")
	require.Equal(t, 1, a.count(t, `SELECT count(*) FROM mail_scans`))
}

// FuzzMailScansOverHTTP posts IV-MTR delimited files to /v1/mail-scans:bulk and push bodies
// to /v1/mail-scans: never a 5xx, a refused body stores nothing, and an accepted one counts
// each scan once.
func FuzzMailScansOverHTTP(f *testing.F) {
	a := newFilesAPI(f)
	events := eventsHeader[:len(eventsHeader)-1] + ",outbound_imb,return_imb\n" +
		strings.TrimSuffix(eventRow("b1", "600100001", "DEN-1"), "\n") + "," + mariaOutbound + "," + mariaReturn + "\n"
	status, body := a.post(f, "/v1/ballot-events:bulk", a.county, "text/csv", strings.NewReader(events))
	require.Equal(f, http.StatusAccepted, status, body)

	at := time.Now().Add(-2 * time.Hour).UTC().Format("2006-01-02 15:04:05")
	header := "imb|scanDatetime|scanEventCode|scanFacilityZip|scanFacilityName|scanFacilityState\n"
	good := mariaOutbound + "|" + at + "|891|80266|DENVER CO P&DC|CO\n"
	for _, s := range []string{
		header + good,
		header + good + good + mariaReturn + "|" + at + "|271|80266-9998|DENVER CO P&DC|CO\n" + unknownIMb + "|" + at + "|891|||\n",
		header + `"` + good + good,
		header + mariaOutbound + "|a\x00b|891|||\n" + good,
		header + "\xff\xfe|" + at + "||||\n" + good,
		header + mariaOutbound + "|" + at + "|891|80266|" + strings.Repeat("x", 20<<10) + "|CO\n" + good,
		good + good,
		"",
	} {
		f.Add(false, []byte(s))
	}
	ev := pushEvent(mariaOutbound, time.Now().Add(-time.Hour), "919")
	for _, s := range []string{pushBody(ev), pushBody(ev, ev, `"x"`, `{"imb":{}}`), `{"events":[` + ev, `[]`, `{}`, ``} {
		f.Add(true, []byte(s))
	}
	f.Fuzz(func(t *testing.T, push bool, data []byte) {
		path, contentType := "/v1/mail-scans:bulk", "text/plain"
		if push {
			path, contentType = "/v1/mail-scans", "application/json"
		}
		fuzzFileEndpoint(t, a, path, a.county, contentType, data, "mail_scans", "matched", "duplicates", "unknown", "rejected")
	})
}
