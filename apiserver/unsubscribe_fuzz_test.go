package apiserver_test

import (
	"bytes"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ballotflow/ballotflow/apiserver"
	"github.com/ballotflow/ballotflow/internal/ballot"
	"github.com/ballotflow/ballotflow/internal/demo"
)

// FuzzUnsubscribe posts any token, content type and body to POST /v1/unsubscribe/{token}
// through the real handler (the token parser and the one-click body reader): no panic, no
// 5xx, and the voter's email is turned off only by the voter's own token with a one-click
// body. The seeds run in go test.
func FuzzUnsubscribe(f *testing.F) {
	p := newPortal(f, generous)
	sub, _ := emailSub(f, p, demo.Voters[0].VoterID)
	good := unsubscribeToken(f, p, sub, "en")

	var multi bytes.Buffer
	mw := multipart.NewWriter(&multi)
	_ = mw.WriteField("List-Unsubscribe", "One-Click")
	_ = mw.Close()
	form := "application/x-www-form-urlencoded"
	for _, seed := range []struct{ token, contentType, body string }{
		{"nope", form, "List-Unsubscribe=One-Click"},
		{good[:len(good)-1], form, "List-Unsubscribe=One-Click"},
		{good + "A", form, "List-Unsubscribe=One-Click"},
		{strings.Repeat("A", 200), form, "List-Unsubscribe=One-Click"},
		{good, form, ""},
		{good, form, "List-Unsubscribe=One-Click&List-Unsubscribe=No"},
		{good, form, "List-Unsubscribe=%4Fne-Click"},
		{good, form, "%"},
		{good, form, strings.Repeat("a=b&", 2000)},
		{good, "multipart/form-data", multi.String()},
		{good, "multipart/form-data; boundary=", multi.String()},
		{good, "multipart/form-data; boundary=x", "--x\r\nContent-Disposition: form-data; name=\"List-Unsubscribe\"\r\n\r\n" +
			strings.Repeat("One-Click", 100) + "\r\n--x--\r\n"},
		{good, "multipart/form-data; boundary=x", "--x\r\n\r\n"},
		{good, "text/plain", "List-Unsubscribe=One-Click"},
		{good, "", "List-Unsubscribe=One-Click"},
		{good, "application/x-www-form-urlencoded; charset=\"", "List-Unsubscribe=One-Click"},
		{good, form, "List-Unsubscribe=One-Click\x00"},
	} {
		f.Add(seed.token, seed.contentType, seed.body)
	}
	f.Add(good, mw.FormDataContentType(), multi.String())
	f.Fuzz(func(t *testing.T, token, contentType, body string) {
		q := *p
		q.t = t
		_, err := q.st.Pool().Exec(portalCtx, `UPDATE subscriptions SET state = 'active' WHERE id = $1`, sub.ID)
		require.NoError(t, err)
		_, err = q.st.Pool().Exec(portalCtx, `DELETE FROM portal_rate_limits`)
		require.NoError(t, err)
		a := q.do(http.MethodPost, apiserver.PathUnsubscribe+url.PathEscape(token), "", body, "", "Content-Type", contentType)
		require.Less(t, a.Status, 500, "%s", a.Body)
		state := subState(t, &q, sub.ID)
		if a.Status == http.StatusOK {
			require.Equal(t, good, token, "only the voter's own link unsubscribes")
			require.Equal(t, ballot.SubscriptionOptedOut, state)
			return
		}
		require.Equal(t, ballot.SubscriptionActive, state, "a refused post changes nothing")
	})
}
