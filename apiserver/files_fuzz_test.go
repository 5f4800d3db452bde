package apiserver_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// httpFileSeeds are the crashers of the security review and other hostile rows, each after
// a valid header and between good rows.
func httpFileSeeds(header, good, bad string) []string {
	return []string{
		header + good,
		header + good + bad + good,
		header + `"x"y` + bad[strings.IndexByte(bad, ','):] + good,
		header + `x"y` + bad[strings.IndexByte(bad, ','):] + good,
		header + `"x` + bad[strings.IndexByte(bad, ','):] + good,
		header + strings.Replace(good, ",", ",a\x00b", 1) + good,
		header + strings.Replace(good, ",", ",\xff\xfe", 1) + good,
		header + strings.Replace(good, ",", ","+strings.Repeat("x", 70<<10), 1) + good,
		good + good,
		"",
	}
}

// fuzzFileEndpoint posts data to path and checks: never a 5xx; a refused file stores
// nothing; an accepted one counts every row once and rejects by line.
func fuzzFileEndpoint(t *testing.T, a *filesAPI, path, key, contentType string, data []byte, table string, counts ...string) {
	before := a.count(t, "SELECT count(*) FROM "+table)
	status, body := a.post(t, path, key, contentType, bytes.NewReader(data))
	require.Less(t, status, 500, "%v", body)
	if status >= 300 {
		e, _ := body["error"].(map[string]any)
		require.NotEmpty(t, e["code"])
		require.NotEmpty(t, e["message"])
		require.Equal(t, before, a.count(t, "SELECT count(*) FROM "+table), "a refused file stores nothing")
		return
	}
	total := 0
	for _, c := range counts {
		n, _ := body[c].(float64)
		total += int(n)
	}
	require.EqualValues(t, body["rows"], total, "%v", body)
	rejectionsOf(t, body) // lines >= 1, each with a reason
	require.Equal(t, int(body[counts[0]].(float64)), a.count(t, "SELECT count(*) FROM "+table)-before, "rows stored")
}

func FuzzBulkEventsOverHTTP(f *testing.F) {
	a := newFilesAPI(f)
	good := eventRow("f-1", "600100001", "F-1")
	for _, s := range httpFileSeeds(eventsHeader, good, "f-2,demo-general,600100002,F-2,mailed,2026-11-25T10:00:00Z\n") {
		f.Add(false, []byte(s))
	}
	// Corrections: one naming the file's own earlier row, one naming itself, one naming nothing.
	at := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
	f.Add(false, []byte(strings.TrimSuffix(eventsHeader, "\n")+",corrects\n"+strings.TrimSuffix(good, "\n")+",\n"+
		"f-4,demo-general,600100001,F-1,accepted,"+at+",f-1\n"+
		"f-5,demo-general,600100001,F-1,accepted,"+at+",f-5\n"+
		"f-6,demo-general,600100001,F-1,accepted,"+at+",no-such-event\n"))
	f.Add(true, []byte(`{"event_id":"f-3","election_id":"demo-general","voter_id":"600100003","ballot_id":"F-3","status":"mailed","occurred_at":"2026-11-25T10:00:00Z"}`+
		"\n"+`{"event_id":"a\u0000"}`+"\n"+`{"Maria Garcia":1}`+"\n{\n"))
	f.Fuzz(func(t *testing.T, ndjson bool, data []byte) {
		contentType := "text/csv"
		if ndjson {
			contentType = "application/x-ndjson"
		}
		fuzzFileEndpoint(t, a, "/v1/ballot-events:bulk", a.county, contentType, data, "ballot_events",
			"accepted", "duplicates", "rejected")
	})
}

func FuzzVotersSyncOverHTTP(f *testing.F) {
	a := newFilesAPI(f)
	for _, s := range httpFileSeeds(votersHeader, voterRow("700000001", "Ann"), voterRow("700000002", "Bea")) {
		f.Add(false, []byte(s))
	}
	f.Add(true, []byte(`{"voter_id":"700000003","first_name":"Ann","last_name":"Lee","date_of_birth":"1970-01-02","residential_zip":"80202","county":"denver","status":"active"}`+
		"\n"+`{"voter_id":"a\u0000"}`+"\n"+`{"Maria Garcia":1}`+"\n{\n"))
	f.Fuzz(func(t *testing.T, ndjson bool, data []byte) {
		contentType := "text/csv"
		if ndjson {
			contentType = "application/x-ndjson"
		}
		fuzzFileEndpoint(t, a, "/v1/voters:sync", a.state, contentType, data, "voters",
			"inserted", "updated", "unchanged", "rejected")
	})
}
