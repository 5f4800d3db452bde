package sandbox_test

import (
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ballotflow/ballotflow/internal/ballot"
	"github.com/ballotflow/ballotflow/internal/sandbox"
)

// TestRequestLogRecordsEveryAnswer: each valid request is logged with its arrival time, its
// recipients, the fault that hit it and the status answered, including a dropped connection
// (status 0) that the outbox shows as accepted.
func TestRequestLogRecordsEveryAnswer(t *testing.T) {
	now := time.Date(2026, 11, 3, 14, 30, 0, 0, time.UTC)
	f := newFixture(t, sandbox.Options{Clock: func() time.Time { return now }})
	form := url.Values{"To": {voter}, "From": {county}, "Body": {body}}
	f.sb.InjectFault(sandbox.Fault{Channel: ballot.ChannelSMS, Kind: sandbox.ServerError, Code: 503, Times: 1})
	f.sb.InjectFault(sandbox.Fault{Channel: ballot.ChannelSMS, Kind: sandbox.Permanent, Code: 21610, Times: 1})

	status, _, _ := f.postSMS(t, form)
	require.Equal(t, http.StatusServiceUnavailable, status)
	status, _, _ = f.postSMS(t, form)
	require.Equal(t, http.StatusBadRequest, status)
	status, _, _ = f.postSMS(t, form)
	require.Equal(t, http.StatusCreated, status)
	// Invalid requests are refused before they reach a provider's sending machinery: not logged.
	status, _, _ = f.postSMS(t, url.Values{"To": {"555"}, "From": {county}, "Body": {body}})
	require.Equal(t, http.StatusBadRequest, status)

	f.sb.InjectFault(sandbox.Fault{Channel: ballot.ChannelEmail, Kind: sandbox.DropAfterAccept, Times: 1})
	mail := `{"personalizations":[{"to":[{"email":"` + voterMail + `"}]}],"from":{"email":"county@example.org"},` +
		`"subject":"Ballot","content":[{"type":"text/plain","value":"` + body + `"}]}`
	req, err := http.NewRequest(http.MethodPost, f.srv.URL+"/v3/mail/send", strings.NewReader(mail))
	require.NoError(t, err)
	req.Header = sendGridHeaders(key)
	_, err = f.srv.Client().Do(req)
	require.Error(t, err, "the connection is dropped after acceptance")

	got := f.sb.Requests()
	require.Len(t, got, 4)
	for i, want := range []sandbox.Request{
		{Channel: "sms", To: []string{voter}, At: now, Status: 503, Fault: "server_error"},
		{Channel: "sms", To: []string{voter}, At: now, Status: 400, Fault: "permanent"},
		{Channel: "sms", To: []string{voter}, At: now, Status: 201},
		{Channel: "email", To: []string{voterMail}, At: now, Status: 0, Fault: "drop_after_accept"},
	} {
		require.Equal(t, want, got[i], "request %d", i)
	}
	require.Len(t, f.sb.Outbox(), 2, "the dropped email was accepted all the same")
}

// TestRateLimitAnswers429AboveTheAccountRate: the sandbox holds a channel to its configured
// rate like a provider account: a burst of one second's worth passes, the next request gets
// 429 with a Retry-After, and no injected fault is used up by a refused request.
func TestRateLimitAnswers429AboveTheAccountRate(t *testing.T) {
	start := time.Date(2026, 11, 3, 14, 30, 0, 0, time.UTC)
	var elapsed atomic.Int64 // the handlers read the clock on the server's goroutines
	f := newFixture(t, sandbox.Options{
		Clock:      func() time.Time { return start.Add(time.Duration(elapsed.Load())) },
		RateLimits: map[string]float64{ballot.ChannelSMS: 2},
	})
	form := url.Values{"To": {voter}, "From": {county}, "Body": {body}}
	for range 2 {
		status, _, _ := f.postSMS(t, form)
		require.Equal(t, http.StatusCreated, status)
	}
	f.sb.InjectFault(sandbox.Fault{Channel: ballot.ChannelSMS, Kind: sandbox.ServerError, Times: 1})
	status, hdr, m := f.postSMS(t, form)
	require.Equal(t, http.StatusTooManyRequests, status)
	require.Equal(t, "1", hdr.Get("Retry-After"))
	require.EqualValues(t, 20429, m["code"])

	// Email has no limit.
	mail := `{"personalizations":[{"to":[{"email":"` + voterMail + `"}]}],"from":{"email":"county@example.org"},` +
		`"subject":"Ballot","content":[{"type":"text/plain","value":"` + body + `"}]}`
	for range 5 {
		status, _, _ := f.do(t, http.MethodPost, "/v3/mail/send", sendGridHeaders(key), mail)
		require.Equal(t, http.StatusAccepted, status)
	}

	// Half a second later one token is back; the injected 500 is still there to be used.
	elapsed.Store(int64(500 * time.Millisecond))
	status, _, _ = f.postSMS(t, form)
	require.Equal(t, http.StatusInternalServerError, status)
	status, _, _ = f.postSMS(t, form)
	require.Equal(t, http.StatusTooManyRequests, status)

	var limited []string
	for _, r := range f.sb.Requests() {
		if r.Channel == ballot.ChannelSMS {
			limited = append(limited, r.Fault)
		}
	}
	require.Equal(t, []string{"", "", "rate_limit", "server_error", "rate_limit"}, limited)

	// The refusals are counted per limited channel, also over HTTP.
	require.Equal(t, map[string]int{ballot.ChannelSMS: 2}, f.sb.RateLimited())
	status, _, got := f.do(t, http.MethodGet, "/dev/rate-limited", nil, "")
	require.Equal(t, http.StatusOK, status)
	require.JSONEq(t, `{"sms":2}`, string(got))
}
