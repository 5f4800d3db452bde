package main

import (
	"bufio"
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sendgrid/sendgrid-go/helpers/eventwebhook"
	"github.com/stretchr/testify/require"

	"github.com/ballotflow/ballotflow/apiserver"
	"github.com/ballotflow/ballotflow/internal/config"
	"github.com/ballotflow/ballotflow/internal/sandbox"
)

// TestStandaloneSandboxPostsVerifiableSendGridEvents: `ballotflow sandbox-key` prints a
// pair; `ballotflow sandbox` given SANDBOX_SENDGRID_SIGNING_KEY posts SendGrid's events to
// PUBLIC_URL's SendGrid webhook, signed so that SENDGRID_WEBHOOK_PUBLIC_KEY verifies them
// as the API does, and so settles emails as `ballotflow dev` does. Without the key it posts
// none (no API could verify them).
func TestStandaloneSandboxPostsVerifiableSendGridEvents(t *testing.T) {
	var out bytes.Buffer
	root := rootCommand()
	root.SetOut(&out)
	root.SetArgs([]string{"sandbox-key"})
	require.NoError(t, root.Execute())
	printed := map[string]string{}
	for sc := bufio.NewScanner(&out); sc.Scan(); {
		name, value, ok := strings.Cut(sc.Text(), "=")
		require.True(t, ok, "NAME=value lines, for an env file")
		printed[name] = value
	}
	require.Len(t, printed, 2)
	verifier, err := eventwebhook.ConvertPublicKeyBase64ToECDSA(printed["SENDGRID_WEBHOOK_PUBLIC_KEY"])
	require.NoError(t, err)

	// The API, as far as SendGrid events go.
	var (
		mu     sync.Mutex
		posted []*http.Request
		bodies [][]byte
	)
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		posted, bodies = append(posted, r), append(bodies, b)
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(api.Close)

	for _, v := range config.Vars {
		t.Setenv(v.Name, "")
	}
	t.Setenv("PUBLIC_URL", api.URL)
	cfg, err := config.FromEnv()
	require.NoError(t, err)
	logger := slog.New(slog.DiscardHandler)
	require.Empty(t, sandboxOptions(cfg, logger).SendGridEventWebhookURL, "no key: no SendGrid events")

	t.Setenv("SANDBOX_SENDGRID_SIGNING_KEY", printed["SANDBOX_SENDGRID_SIGNING_KEY"])
	cfg, err = config.FromEnv()
	require.NoError(t, err)
	opts := sandboxOptions(cfg, logger)
	require.Equal(t, api.URL+apiserver.PathSendGridEvents, opts.SendGridEventWebhookURL)
	require.Equal(t, api.URL+apiserver.PathTwilioSMS, opts.TwilioInboundSMSURL)
	sb, err := sandbox.New(opts)
	require.NoError(t, err)
	t.Cleanup(sb.Close)
	require.Equal(t, printed["SENDGRID_WEBHOOK_PUBLIC_KEY"], sb.SendGridPublicKeyBase64())
	providers := httptest.NewServer(sb.Handler())
	t.Cleanup(providers.Close)

	req, err := http.NewRequest(http.MethodPost, providers.URL+"/v3/mail/send", strings.NewReader(
		`{"from":{"email":"notify@county.example.gov"},"subject":"Your ballot","personalizations":[{"to":[{"email":"voter@example.org"}]}],`+
			`"content":[{"type":"text/plain","value":"mailed"}]}`))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+config.SandboxSendGridAPIKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusAccepted, resp.StatusCode)

	require.Eventually(t, func() bool { mu.Lock(); defer mu.Unlock(); return len(posted) > 0 }, 5*time.Second, 10*time.Millisecond)
	mu.Lock()
	r, body := posted[0], bodies[0]
	mu.Unlock()
	require.Equal(t, apiserver.PathSendGridEvents, r.URL.Path)
	ok, err := eventwebhook.VerifySignature(verifier, body, r.Header.Get(eventwebhook.VerificationHTTPHeader),
		r.Header.Get(eventwebhook.TimestampHTTPHeader))
	require.NoError(t, err)
	require.True(t, ok, "SENDGRID_WEBHOOK_PUBLIC_KEY verifies the sandbox's events")
}
