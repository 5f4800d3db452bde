package app_test

import (
	"context"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/mail"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ballotflow/ballotflow/internal/ballot"
	"github.com/ballotflow/ballotflow/internal/demo"
	"github.com/ballotflow/ballotflow/internal/intake"
	"github.com/ballotflow/ballotflow/internal/store"
)

// TestNoticeEmailUnsubscribesInOneClick: a notice email as Maria's inbox receives it (read
// from what the sandbox SendGrid received, with the standard library's mail and MIME
// readers) is HTML in her language with a plain-text alternative, answers go to the county's
// contact address, and its List-Unsubscribe header is one click (RFC 8058): the POST a mail
// provider sends turns her email off, and the ballot's next notice goes by email no more.
func TestNoticeEmailUnsubscribesInOneClick(t *testing.T) {
	d := startDev(t)
	ctx := context.Background()
	maria := demo.Voters[0]
	start := time.Now().Add(-2 * time.Hour).Truncate(time.Second)

	resp := post(t, d, d.DemoKey, "application/json", eventJSON("unsub-1", maria.VoterID, "DEN-UNSUB", "mailed", start))
	require.Equal(t, http.StatusAccepted, resp.Status, "%+v", resp)
	require.Equal(t, intake.Accepted, resp.Results[0].Result)
	require.Eventually(t, func() bool { return len(outboxFor(d, "email", maria.Email)) == 1 },
		30*time.Second, 50*time.Millisecond)
	m := outboxFor(d, "email", maria.Email)[0]

	msg, err := mail.ReadMessage(strings.NewReader(m.MIME))
	require.NoError(t, err, m.MIME)
	replyTo, err := mail.ParseAddress(msg.Header.Get("Reply-To"))
	require.NoError(t, err)
	require.Equal(t, "elections@denver.example.org", replyTo.Address)
	require.Equal(t, "List-Unsubscribe=One-Click", msg.Header.Get("List-Unsubscribe-Post"))
	link := msg.Header.Get("List-Unsubscribe")
	require.Regexp(t, `^<`+d.APIURL+`/v1/unsubscribe/[A-Za-z0-9_-]+>$`, link)
	link = strings.Trim(link, "<>")
	require.NotContains(t, link, maria.VoterID)

	mediaType, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	require.NoError(t, err)
	require.Equal(t, "multipart/alternative", mediaType)
	parts := map[string]string{}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		ct, _, err := mime.ParseMediaType(p.Header.Get("Content-Type"))
		require.NoError(t, err)
		body, err := io.ReadAll(p)
		require.NoError(t, err)
		parts[ct] = string(body)
	}
	require.Contains(t, parts["text/plain"], "Maria Garcia")
	require.Contains(t, parts["text/plain"], link, "the plain text offers the same link")
	require.Contains(t, parts["text/html"], `<html lang="en">`)
	require.Contains(t, parts["text/html"], `href="`+link+`"`)
	require.Contains(t, parts["text/html"], `href="mailto:elections@denver.example.org"`)

	// Following the link, as a mail scanner does, changes nothing.
	get, err := http.Get(link)
	require.NoError(t, err)
	_ = get.Body.Close()
	require.Equal(t, http.StatusOK, get.StatusCode)
	require.Equal(t, ballot.SubscriptionActive, emailState(t, d.Store, maria.VoterID))

	// The mail provider's one click.
	click, err := http.Post(link, "application/x-www-form-urlencoded", strings.NewReader("List-Unsubscribe=One-Click"))
	require.NoError(t, err)
	_ = click.Body.Close()
	require.Equal(t, http.StatusOK, click.StatusCode)
	require.Equal(t, ballot.SubscriptionOptedOut, emailState(t, d.Store, maria.VoterID))

	// The ballot moves on; its notice goes by email no more.
	resp = post(t, d, d.DemoKey, "application/json", eventJSON("unsub-2", maria.VoterID, "DEN-UNSUB", "received", start.Add(time.Hour)))
	require.Equal(t, http.StatusAccepted, resp.Status, "%+v", resp)
	ballotKey := strings.TrimPrefix(resp.Results[0].WorkflowID, "ballot/"+demo.ElectionID+"/")
	require.Eventually(t, func() bool {
		b, err := d.Store.BallotGetByKey(ctx, ballotKey)
		return err == nil && b.Status == "received"
	}, 30*time.Second, 50*time.Millisecond)
	time.Sleep(2 * time.Second)
	require.Len(t, outboxFor(d, "email", maria.Email), 1, "no email after the unsubscribe")
}

func emailState(t *testing.T, st *store.Store, voterID string) string {
	t.Helper()
	ctx := context.Background()
	v, err := st.VoterGetByID(ctx, "CO", voterID)
	require.NoError(t, err)
	subs, err := st.SubscriptionListByVoter(ctx, v.Ref)
	require.NoError(t, err)
	for _, s := range subs {
		if s.Channel == ballot.ChannelEmail {
			return s.State
		}
	}
	return ""
}
