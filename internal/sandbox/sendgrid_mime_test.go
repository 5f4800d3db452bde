package sandbox_test

import (
	"encoding/json"
	"net/http"
	"net/mail"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ballotflow/ballotflow/internal/sandbox"
)

// Custom headers: SendGrid refuses the ones it sets itself and any that would break the
// header block; the sandbox does too, and delivers the rest (a personalization's over the
// message's).
func TestSendGridCustomHeaders(t *testing.T) {
	f := newFixture(t, sandbox.Options{})
	send := func(headers, personal string) (int, []string) {
		body := `{"from":{"email":"notify@county.example.gov"},"subject":"s",
		  "personalizations":[{"to":[{"email":"a@example.org"}]` + personal + `}],
		  "content":[{"type":"text/plain","value":"plain"}],"headers":` + headers + `}`
		status, _, b := f.do(t, http.MethodPost, "/v3/mail/send", sendGridHeaders(key), body)
		var errs struct {
			Errors []struct {
				Field *string `json:"field"`
			} `json:"errors"`
		}
		_ = json.Unmarshal(b, &errs)
		var fields []string
		for _, e := range errs.Errors {
			if e.Field != nil {
				fields = append(fields, *e.Field)
			}
		}
		return status, fields
	}
	for _, bad := range []string{`{"Reply-To":"x@example.org"}`, `{"content-type":"text/html"}`, `{"From":"x@example.org"}`,
		`{"X-Bad Name":"v"}`, `{"X-Bad:Name":"v"}`, `{"X-Injected":"v\r\nBcc: victim@example.org"}`} {
		status, fields := send(bad, "")
		require.Equal(t, http.StatusBadRequest, status, bad)
		require.Equal(t, []string{"headers"}, fields, bad)
	}
	status, fields := send(`{}`, `,"headers":{"Subject":"x"}`)
	require.Equal(t, http.StatusBadRequest, status)
	require.Equal(t, []string{"personalizations.0.headers"}, fields)
	require.Empty(t, f.sb.Outbox(), "nothing refused is delivered")

	status, _ = send(`{"X-Campaign":"a","List-Unsubscribe":"<https://x.example/u/1>"}`, `,"headers":{"X-Campaign":"b"}`)
	require.Equal(t, http.StatusAccepted, status)
	out := f.sb.Outbox()
	require.Len(t, out, 1)
	require.Equal(t, map[string]string{"X-Campaign": "b", "List-Unsubscribe": "<https://x.example/u/1>"}, out[0].Headers)
	msg, err := mail.ReadMessage(strings.NewReader(out[0].MIME))
	require.NoError(t, err)
	require.Equal(t, "b", msg.Header.Get("X-Campaign"))
	require.Equal(t, "<https://x.example/u/1>", msg.Header.Get("List-Unsubscribe"))
	require.Empty(t, msg.Header.Get("Reply-To"), "no reply_to, no Reply-To")
}
