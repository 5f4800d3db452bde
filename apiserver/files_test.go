package apiserver_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ballotflow/ballotflow/apiserver"
	"github.com/ballotflow/ballotflow/internal/fileimport"
	"github.com/ballotflow/ballotflow/internal/intake"
	"github.com/ballotflow/ballotflow/internal/roll"
	"github.com/ballotflow/ballotflow/internal/store"
	"github.com/ballotflow/ballotflow/internal/testdb"
)

// Hostile files over the real endpoints: a file an attacker with a county or state key
// sends must never crash the API, never cost it more than a row's worth of memory, never
// answer 5xx, and must reject its bad rows by line while its good rows load.

const (
	eventsHeader  = "event_id,election_id,voter_id,ballot_id,status,occurred_at\n"
	votersHeader  = "voter_id,first_name,last_name,date_of_birth,residential_zip,county,status\n"
	filesElection = "demo-general"
)

// filesAPI is the API, with bulk imports, over a fresh database with Denver's voters
// 600100001 to 600100003, an election, and a Denver county key and a Colorado state key.
type filesAPI struct {
	url           string
	st            *store.Store
	county, state string
}

func newFilesAPI(t testing.TB) *filesAPI {
	t.Helper()
	ctx := context.Background()
	st := testdb.Open(t)
	_, _, err := st.JurisdictionSave(ctx, store.Jurisdiction{State: "CO", County: "denver", Name: "Denver Elections",
		TimeZone: "America/Denver", EmailFrom: "b@example.org", EmailFromName: "Denver", SMSFrom: "+17205550100",
		VoiceFrom: "+17205550100", HelpText: "Call 720-555-0100."}, "test")
	require.NoError(t, err)
	require.NoError(t, st.ElectionUpsert(ctx, store.Election{ID: filesElection, State: "CO", Name: "General",
		ElectionDay: time.Now().AddDate(0, 0, -20), CanvassEndsAt: time.Now().AddDate(0, 2, 0)}))
	voters := votersHeader
	for i := 1; i <= 3; i++ {
		voters += fmt.Sprintf("60010000%d,Ann,Lee,1970-01-02,80202,denver,active\n", i)
	}
	res, err := roll.ImportVoters(ctx, st, strings.NewReader(voters), roll.Options{State: "CO", Actor: "test", Format: fileimport.CSV})
	require.NoError(t, err)
	require.Equal(t, 3, res.Inserted)
	a := &filesAPI{st: st}
	_, a.county, err = st.APIKeyCreate(ctx, store.APIKey{Role: store.RoleCounty, State: "CO", County: "denver"}, "test")
	require.NoError(t, err)
	_, a.state, err = st.APIKeyCreate(ctx, store.APIKey{Role: store.RoleState, State: "CO"}, "test")
	require.NoError(t, err)
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	srv := httptest.NewServer(apiserver.New(apiserver.Config{Store: st, Intake: &intake.Service{Store: st, Logger: logger},
		Logger: logger}))
	t.Cleanup(srv.Close)
	a.url = srv.URL
	return a
}

// post sends body and decodes the JSON answer.
func (a *filesAPI) post(t testing.TB, path, key, contentType string, body io.Reader) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, a.url+path, body)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", contentType)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var out map[string]any
	require.NoError(t, json.Unmarshal(raw, &out), "body: %.300s", raw)
	return resp.StatusCode, out
}

func (a *filesAPI) count(t testing.TB, sql string) int {
	t.Helper()
	var n int
	require.NoError(t, a.st.Pool().QueryRow(context.Background(), sql).Scan(&n))
	return n
}

// rejectionsOf is the rejections of an answer as line → field.
func rejectionsOf(t testing.TB, body map[string]any) map[int]string {
	t.Helper()
	out := map[int]string{}
	list, _ := body["rejections"].([]any)
	for _, r := range list {
		r := r.(map[string]any)
		line := int(r["line"].(float64))
		require.GreaterOrEqual(t, line, 1)
		require.NotEmpty(t, r["reason"])
		field, _ := r["field"].(string)
		out[line] = field
	}
	return out
}

func eventRow(id, voter, ballot string) string {
	return fmt.Sprintf("%s,%s,%s,%s,mailed,%s\n", id, filesElection, voter, ballot, time.Now().Add(-time.Hour).UTC().Format(time.RFC3339))
}

func voterRow(id, first string) string {
	return id + "," + first + ",Lee,1970-01-02,80202,denver,active\n"
}

func TestHostileFilesAreRejectedByLineAndTheirGoodRowsLoad(t *testing.T) {
	t.Parallel()
	a := newFilesAPI(t)
	giant := strings.Repeat("g", 10<<20)
	cases := []struct {
		name, path, contentType, body string
		loaded                        int            // accepted events, or inserted voters
		rejected                      map[int]string // line → field
		secrets                       []string       // what no answer may repeat
	}{
		{
			name: "quote errors in the first field (the crashers)", path: "/v1/ballot-events:bulk", contentType: "text/csv",
			body: eventsHeader + eventRow("q-1", "600100001", "Q-1") +
				`"x"y,demo-general,600100001,P-1,mailed,2026-11-25T10:00:00Z` + "\n" +
				`x"y,demo-general,600100001,P-2,mailed,2026-11-25T10:00:00Z` + "\n" +
				eventRow("q-2", "600100002", "Q-2") +
				`"q-3,demo-general,600100003,P-3,mailed,2026-11-25T10:00:00Z` + "\n",
			loaded: 2, rejected: map[int]string{3: "event_id", 4: "event_id", 6: "event_id"},
		},
		{
			name: "NUL and Latin-1 in events", path: "/v1/ballot-events:bulk", contentType: "text/csv",
			body: eventsHeader + eventRow("n-1", "600100001", "N-1") + eventRow("n-2", "600100002", "N\x00-2") +
				eventRow("n-3\xe9", "600100003", "N-3") + eventRow("n-4", "600100003", "N-4"),
			loaded: 2, rejected: map[int]string{3: "ballot_id", 4: "event_id"},
		},
		{
			name: "a giant field in an event", path: "/v1/ballot-events:bulk", contentType: "text/csv",
			body:   eventsHeader + eventRow("g-1", "600100001", "G-1") + eventRow("g-2", "600100002", giant) + eventRow("g-3", "600100003", "G-3"),
			loaded: 2, rejected: map[int]string{3: "ballot_id"},
		},
		{
			name: "events in NDJSON with a NUL, a giant line and a name that is data", path: "/v1/ballot-events:bulk",
			contentType: "application/x-ndjson",
			body: `{"event_id":"j-1","election_id":"demo-general","voter_id":"600100001","ballot_id":"J-1","status":"mailed","occurred_at":"` +
				time.Now().Add(-time.Hour).UTC().Format(time.RFC3339) + `"}` + "\n" +
				`{"event_id":"j-2\u0000","election_id":"demo-general"}` + "\n" +
				`{"event_id":"` + giant + `"}` + "\n" +
				`{"Maria Garcia":"x"}` + "\n",
			loaded: 1, rejected: map[int]string{2: "event_id", 3: "", 4: ""}, secrets: []string{"Maria"},
		},
		{
			name: "a voter roll with every kind of trouble", path: "/v1/voters:sync", contentType: "text/csv",
			body: votersHeader + voterRow("700000001", "Ann") +
				`"x"y,Ann,Lee,1970-01-02,80202,denver,active` + "\n" +
				voterRow("700000002", "Ann\x00Marie") + voterRow("700000003", "Ren\xe9e") +
				voterRow("700000004", giant) + voterRow("700000005", "Ann"),
			loaded: 2, rejected: map[int]string{3: "voter_id", 4: "first_name", 5: "first_name", 6: "first_name"},
			secrets: []string{"Marie", "Ren"},
		},
		{
			name: "previous subscriptions with a crasher", path: "/v1/subscriptions:import", contentType: "text/csv",
			body: "voter_id,channel,address,state\n" + "600100001,email,ann@example.org,active\n" +
				`"x"y,email,ann@example.org,active` + "\n" + "600100002,sms,+1303555\x000101,active\n",
			loaded: 1, rejected: map[int]string{3: "voter_id", 4: "address"},
		},
	}
	for _, tc := range cases {
		key := a.county
		if tc.path != "/v1/ballot-events:bulk" {
			key = a.state
		}
		status, body := a.post(t, tc.path, key, tc.contentType, strings.NewReader(tc.body))
		require.Less(t, status, 300, "%s: %v", tc.name, body)
		loaded := body["accepted"]
		if loaded == nil {
			loaded = body["inserted"]
		}
		require.EqualValues(t, tc.loaded, loaded, tc.name)
		require.Equal(t, tc.rejected, rejectionsOf(t, body), tc.name)
		answer, err := json.Marshal(body)
		require.NoError(t, err)
		for _, s := range append(tc.secrets, "x\\\"y", "ggggggg") {
			require.NotContains(t, string(answer), s, tc.name)
		}
	}
}

func TestAFileWithoutHeaderIsRefusedWithoutRepeatingItsFirstRow(t *testing.T) {
	t.Parallel()
	a := newFilesAPI(t)
	status, body := a.post(t, "/v1/voters:sync", a.state, "text/csv",
		strings.NewReader("rtx0024,Maria,Garcia,1985-03-14,80202,denver,active\n"))
	require.Equal(t, http.StatusBadRequest, status)
	e := body["error"].(map[string]any)
	require.Equal(t, "invalid_file", e["code"])
	require.Equal(t, "header", e["field"])
	for _, secret := range []string{"rtx0024", "Maria", "Garcia"} {
		require.NotContains(t, e["message"], secret)
	}
	require.Zero(t, a.count(t, `SELECT count(*) FROM voters WHERE voter_id = 'rtx0024'`))
}

// repeat is an endless run of one byte, n bytes long: a file made on the fly, never held.
type repeat struct {
	b byte
	n int64
}

func (r *repeat) Read(p []byte) (int, error) {
	if r.n <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > r.n {
		p = p[:r.n]
	}
	for i := range p {
		p[i] = r.b
	}
	r.n -= int64(len(p))
	return len(p), nil
}

// TestAGigabyteFieldDoesNotGrowTheAPIsMemory streams files with one giant field, made on
// the fly and never held, through the real endpoints (1 GiB unquoted in an events file, 256
// MiB quoted in a voter roll), and samples the heap while they go: before the bounded
// reader, encoding/csv held a field whole (a 200 MB field cost about 1 GiB). The bound: the
// heap in use grows by less than 64 MiB. Not parallel, so that no other test's allocations
// are counted.
func TestAGigabyteFieldDoesNotGrowTheAPIsMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("streams 1.25 GiB")
	}
	a := newFilesAPI(t)
	const bound = 64 << 20
	cases := []struct {
		name, path, key, field string
		body                   io.Reader
	}{
		{"1 GiB unquoted field in an events file", "/v1/ballot-events:bulk", a.county, "ballot_id", io.MultiReader(
			strings.NewReader(eventsHeader+eventRow("m-1", "600100001", "M-1")+"m-2,demo-general,600100002,"),
			&repeat{b: 'm', n: 1 << 30},
			strings.NewReader(",mailed,2026-11-25T10:00:00Z\n"+eventRow("m-3", "600100003", "M-3")))},
		{"256 MiB quoted field in a voter roll", "/v1/voters:sync", a.state, "last_name", io.MultiReader(
			strings.NewReader(votersHeader+voterRow("700000001", "Ann")+`700000002,Ann,"`),
			&repeat{b: 'q', n: 256 << 20},
			strings.NewReader(`",1970-01-02,80202,denver,active`+"\n"+voterRow("700000003", "Ann")))},
	}
	for _, tc := range cases {
		growth, status, answer := heapGrowthWhile(func() (int, map[string]any) {
			return a.post(t, tc.path, tc.key, "text/csv", tc.body)
		})
		t.Logf("%s: the heap in use grew by %.1f MiB", tc.name, float64(growth)/(1<<20))
		require.Less(t, status, 300, "%s: %v", tc.name, answer)
		require.EqualValues(t, 3, answer["rows"], tc.name)
		require.Equal(t, map[int]string{3: tc.field}, rejectionsOf(t, answer), tc.name)
		require.Less(t, growth, uint64(bound), "%s: the heap grew by %d MiB", tc.name, growth>>20)
	}
}

// heapGrowthWhile runs do and returns how far the heap in use rose above where it was,
// sampled every few milliseconds, with do's results.
func heapGrowthWhile(do func() (int, map[string]any)) (uint64, int, map[string]any) {
	runtime.GC()
	base := heapInUse()
	peak := make(chan uint64)
	stop := make(chan struct{})
	go func() {
		highest := base
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				peak <- highest
				return
			case <-tick.C:
				highest = max(highest, heapInUse())
			}
		}
	}()
	status, answer := do()
	close(stop)
	return <-peak - base, status, answer
}

func heapInUse() uint64 {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}
