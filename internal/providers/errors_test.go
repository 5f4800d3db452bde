package providers

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 3, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name   string
		header http.Header
		want   time.Duration
	}{
		{"none", http.Header{}, 0},
		{"nil", nil, 0},
		{"seconds", http.Header{"Retry-After": {"7"}}, 7 * time.Second},
		{"http date", http.Header{"Retry-After": {now.Add(90 * time.Second).Format(http.TimeFormat)}}, 90 * time.Second},
		{"date in the past", http.Header{"Retry-After": {now.Add(-time.Minute).Format(http.TimeFormat)}}, 0},
		{"negative seconds", http.Header{"Retry-After": {"-3"}}, 0},
		{"rate limit reset", http.Header{"X-Ratelimit-Reset": {"1793707245"}}, 45 * time.Second}, // now+45s
		{"retry-after wins", http.Header{"Retry-After": {"2"}, "X-Ratelimit-Reset": {"1793707245"}}, 2 * time.Second},
		{"garbage", http.Header{"Retry-After": {"soon"}}, 0},
	}
	require.Equal(t, int64(1793707200), now.Unix())
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, retryAfter(tc.header, now))
		})
	}
}

func TestErrorString(t *testing.T) {
	e := &Error{Provider: "twilio", Code: "20429", HTTPStatus: 429, RetryAfter: 3 * time.Second, Message: "rate limited"}
	require.Equal(t, "twilio: transient error 20429 (HTTP 429): rate limited (retry after 3s)", e.Error())
	e = &Error{Provider: "sendgrid", Permanent: true, Code: "http_401", HTTPStatus: 401, Message: "bad key"}
	require.Equal(t, "sendgrid: permanent error http_401 (HTTP 401): bad key", e.Error())
}

func TestSendGridErrorFieldsKeepsOnlyFieldNames(t *testing.T) {
	body := `{"errors":[{"message":"a@b.example is bad","field":"personalizations.0.to.0.email"},` +
		`{"message":"x","field":"from.email"},{"message":"y","field":"a@b.example"},{"message":"z","field":null}]}`
	got := sendGridErrorFields(body)
	require.Equal(t, "from.email, personalizations.0.to.0.email", got)
	require.False(t, strings.Contains(got, "@"))
	require.Empty(t, sendGridErrorFields("<html>"))
}
