package providers_test

import (
	"context"
	"encoding/json"
	"io"
	"mime"
	"mime/multipart"
	"net/mail"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ballotflow/ballotflow/internal/providers"
	"github.com/ballotflow/ballotflow/internal/sandbox"
)

// An email as an inbox receives it, read back from what the sandbox received with the mail
// and MIME readers of the standard library: both parts, their types, the one-click
// unsubscribe headers and the county's Reply-To.
func TestSendEmailAsTheInboxReadsIt(t *testing.T) {
	e := newEnv(t, sandbox.Options{})
	m := testEmail()
	m.FromName = "Condado de Denver — Elecciones"
	m.Subject = "Recibimos su boleta"
	m.Text = "Recibimos la boleta de José Núñez."
	m.HTML = `<!DOCTYPE html><html lang="es"><head><meta charset="utf-8" /><title>Recibimos su boleta</title></head>` +
		`<body><h1>Recibimos su boleta</h1><p>Recibimos la boleta de José Núñez.</p></body></html>`
	m.ListUnsubscribe = "https://ballots.example.org/v1/unsubscribe/AbC-123_x"
	_, err := e.sg.SendEmail(context.Background(), m)
	require.NoError(t, err)

	out := e.sb.Outbox()
	require.Len(t, out, 1)
	msg, err := mail.ReadMessage(strings.NewReader(out[0].MIME))
	require.NoError(t, err, out[0].MIME)

	dec := new(mime.WordDecoder)
	from, err := mail.ParseAddress(msg.Header.Get("From"))
	require.NoError(t, err)
	require.Equal(t, "notify@county.example.gov", from.Address)
	require.Equal(t, "Condado de Denver — Elecciones", from.Name)
	to, err := mail.ParseAddress(msg.Header.Get("To"))
	require.NoError(t, err)
	require.Equal(t, voterMail, to.Address)
	replyTo, err := mail.ParseAddress(msg.Header.Get("Reply-To"))
	require.NoError(t, err)
	require.Equal(t, "help@county.example.gov", replyTo.Address)
	subject, err := dec.DecodeHeader(msg.Header.Get("Subject"))
	require.NoError(t, err)
	require.Equal(t, "Recibimos su boleta", subject)

	require.Equal(t, "<https://ballots.example.org/v1/unsubscribe/AbC-123_x>", msg.Header.Get("List-Unsubscribe"))
	require.Equal(t, "List-Unsubscribe=One-Click", msg.Header.Get("List-Unsubscribe-Post"))
	require.Equal(t, "1.0", msg.Header.Get("MIME-Version"))

	mediaType, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	require.NoError(t, err)
	require.Equal(t, "multipart/alternative", mediaType)
	parts := map[string]string{}
	var order []string
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		ct, ctParams, err := mime.ParseMediaType(p.Header.Get("Content-Type"))
		require.NoError(t, err)
		require.Equal(t, "utf-8", strings.ToLower(ctParams["charset"]))
		body, err := io.ReadAll(p)
		require.NoError(t, err)
		parts[ct] = string(body)
		order = append(order, ct)
	}
	require.Equal(t, []string{"text/plain", "text/html"}, order, "plain text first: the least preferred alternative comes first")
	require.Equal(t, m.Text, parts["text/plain"])
	require.Equal(t, m.HTML, parts["text/html"])
	require.Contains(t, parts["text/html"], `<html lang="es">`)

	// ballotflow never lets SendGrid track a voter's reading, or rewrite its links.
	var tracking map[string]map[string]any
	require.NoError(t, json.Unmarshal([]byte(out[0].Meta["tracking_settings"]), &tracking))
	for _, setting := range []string{"click_tracking", "open_tracking", "subscription_tracking"} {
		require.Equal(t, false, tracking[setting]["enable"], setting)
	}
	require.Equal(t, map[string]string{providers.HeaderListUnsubscribe: "<" + m.ListUnsubscribe + ">",
		providers.HeaderListUnsubscribePost: providers.ListUnsubscribeOneClick}, out[0].Headers)
}

func TestSendEmailWithoutUnsubscribeLinkSendsNoListHeaders(t *testing.T) {
	e := newEnv(t, sandbox.Options{})
	m := testEmail()
	m.HTML = ""
	_, err := e.sg.SendEmail(context.Background(), m)
	require.NoError(t, err)
	out := e.sb.Outbox()
	require.Len(t, out, 1)
	msg, err := mail.ReadMessage(strings.NewReader(out[0].MIME))
	require.NoError(t, err)
	require.Empty(t, msg.Header.Get("List-Unsubscribe"))
	require.Empty(t, msg.Header.Get("List-Unsubscribe-Post"))
	mediaType, _, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	require.NoError(t, err)
	require.Equal(t, "text/plain", mediaType, "one part, no alternative")
	body, err := io.ReadAll(msg.Body)
	require.NoError(t, err)
	require.Contains(t, string(body), "Your ballot was received on Oct 3.")
}
