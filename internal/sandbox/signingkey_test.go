package sandbox_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"net/http"
	"testing"

	"github.com/sendgrid/sendgrid-go/helpers/eventwebhook"
	"github.com/stretchr/testify/require"

	"github.com/ballotflow/ballotflow/internal/sandbox"
)

// TestSendGridSigningKeyIsUsed: with a signing key given (`ballotflow sandbox` with
// SANDBOX_SENDGRID_SIGNING_KEY), the events are signed with it, so that an API configured
// beforehand with its public half verifies them, as the API does (eventwebhook).
func TestSendGridSigningKeyIsUsed(t *testing.T) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	der, err := x509.MarshalPKIXPublicKey(&priv.PublicKey)
	require.NoError(t, err)
	public := base64.StdEncoding.EncodeToString(der)

	rcv := newReceiver(t, nil)
	f := newFixture(t, sandbox.Options{SendGridEventWebhookURL: rcv.URL, SendGridSigningKey: priv})
	require.Equal(t, public, f.sb.SendGridPublicKeyBase64())

	mail := `{"from":{"email":"n@county.example.gov"},"subject":"s","personalizations":[{"to":[{"email":"` + voterMail + `"}]}],` +
		`"content":[{"type":"text/plain","value":"` + body + `"}]}`
	status, _, _ := f.do(t, http.MethodPost, "/v3/mail/send", sendGridHeaders(key), mail)
	require.Equal(t, http.StatusAccepted, status)
	rcv.wait(t, 1)
	rcv.mu.Lock()
	raw, hdr := rcv.bodies[0], rcv.reqs[0].Header
	rcv.mu.Unlock()

	verifier, err := eventwebhook.ConvertPublicKeyBase64ToECDSA(public)
	require.NoError(t, err)
	ok, err := eventwebhook.VerifySignature(verifier, raw, hdr.Get(eventwebhook.VerificationHTTPHeader),
		hdr.Get(eventwebhook.TimestampHTTPHeader))
	require.NoError(t, err)
	require.True(t, ok, "the event verifies with the given key's public half")
}

// TestSendGridSigningKeyMustBeP256: SendGrid signs with P-256 and the API verifies with it.
func TestSendGridSigningKeyMustBeP256(t *testing.T) {
	priv, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	require.NoError(t, err)
	_, err = sandbox.New(sandbox.Options{TwilioAccountSID: sid, TwilioAuthToken: token, SendGridAPIKey: key,
		SendGridSigningKey: priv})
	require.ErrorContains(t, err, "P-256")
}
