package app_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ballotflow/ballotflow/internal/app"
	"github.com/ballotflow/ballotflow/internal/ballot"
	"github.com/ballotflow/ballotflow/internal/demo"
	"github.com/ballotflow/ballotflow/internal/intake"
	"github.com/ballotflow/ballotflow/internal/sandbox"
	"github.com/ballotflow/ballotflow/workflows/contract"
)

// portalCall sends one portal request to the running stack and decodes the JSON answer.
func portalCall(t *testing.T, d *app.Dev, method, path, token, body string, out any) int {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, d.APIURL+path, r)
	require.NoError(t, err)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	if out != nil && len(raw) > 0 {
		require.NoError(t, json.Unmarshal(raw, out), "body: %s", raw)
	}
	return resp.StatusCode
}

func portalSignIn(t *testing.T, d *app.Dev, v demo.Voter) string {
	t.Helper()
	body := `{"first_name":"` + v.FirstName + `","last_name":"` + v.LastName + `","date_of_birth":"` +
		v.DateOfBirth.Format("01-02-2006") + `","zip":"` + v.ResidentialZIP + `"}`
	var s struct{ Token string }
	require.Equal(t, http.StatusCreated, portalCall(t, d, http.MethodPost, "/v1/portal/session", "", body, &s))
	return s.Token
}

type portalPrefs struct {
	Email struct {
		Enabled        bool
		Address, State string
	}
	SMS struct {
		Enabled      bool
		Phone, State string
	}
	Voice struct {
		Enabled      bool
		Phone, State string
	}
}

func portalPrefsOf(t *testing.T, d *app.Dev, token string) portalPrefs {
	t.Helper()
	var p portalPrefs
	require.Equal(t, http.StatusOK, portalCall(t, d, http.MethodGet, "/v1/portal/preferences", token, "", &p))
	return p
}

// TestPortalConfirmationsGoThroughTemporalToTheVoter: a new SMS number gets a text asking
// for YES and stays pending until the voter replies YES; a new email address gets an email
// whose link confirms it. Both are sent by the ConfirmContact workflow through the real SDK
// clients to the sandbox.
func TestPortalConfirmationsGoThroughTemporalToTheVoter(t *testing.T) {
	d := startDev(t)
	ctx := context.Background()
	maria := demo.Voters[0]
	token := portalSignIn(t, d, maria)
	const phone, email = "+17205550188", "maria.new@example.org"

	var saved struct {
		ConfirmationsSent []string `json:"confirmations_sent"`
	}
	require.Equal(t, http.StatusOK, portalCall(t, d, http.MethodPut, "/v1/portal/preferences", token,
		`{"sms":{"enabled":true,"phone":"`+phone+`"},"email":{"enabled":true,"address":"`+email+`"}}`, &saved))
	require.ElementsMatch(t, []string{"sms", "email"}, saved.ConfirmationsSent)
	p := portalPrefsOf(t, d, token)
	require.Equal(t, "pending", p.SMS.State)
	require.Equal(t, "pending", p.Email.State)

	var text, mail sandbox.Message
	require.Eventually(t, func() bool {
		texts, mails := outboxFor(d, "sms", phone), outboxFor(d, "email", email)
		if len(texts) == 1 && len(mails) == 1 {
			text, mail = texts[0], mails[0]
			return true
		}
		return false
	}, 30*time.Second, 50*time.Millisecond, "a confirmation text and a confirmation email")
	require.Contains(t, text.Text, "YES")
	require.Contains(t, text.Text, "Maria", "the text names its voter")
	require.Contains(t, text.Text, "STOP", "the first text to a number says how to stop")
	require.Equal(t, "+17205550100", text.From)
	require.Contains(t, mail.Text, "Maria Garcia")

	// Following the email's link (as a mail scanner would) confirms nothing: it opens the page
	// with the token in the fragment. Posting the token, as the page's button does, confirms
	// the address, once.
	link := regexp.MustCompile(`https?://\S+/v1/portal/confirm-email\?token=[A-Za-z0-9_%-]+`).FindString(mail.Text)
	require.NotEmpty(t, link, "the email carries a confirmation link: %s", mail.Text)
	require.True(t, strings.HasPrefix(link, d.APIURL), "the link points at the portal (PUBLIC_URL)")
	parsed, err := url.Parse(link)
	require.NoError(t, err)
	linkToken := parsed.Query().Get("token")
	require.NotEmpty(t, linkToken)
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noRedirect.Get(link)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	require.Equal(t, "/#confirm-email="+url.QueryEscape(linkToken), resp.Header.Get("Location"))
	require.Equal(t, "pending", portalPrefsOf(t, d, token).Email.State, "following the link confirms nothing")

	confirmBody, err := json.Marshal(map[string]string{"token": linkToken})
	require.NoError(t, err)
	var confirmed struct{ Confirmed string }
	require.Equal(t, http.StatusOK, portalCall(t, d, http.MethodPost, "/v1/portal/confirm-email", "", string(confirmBody), &confirmed))
	require.Equal(t, "email", confirmed.Confirmed)
	require.Equal(t, "active", portalPrefsOf(t, d, token).Email.State)
	require.Equal(t, http.StatusNotFound, portalCall(t, d, http.MethodPost, "/v1/portal/confirm-email", "", string(confirmBody), nil),
		"a link works once")

	// Replying YES confirms the number (the Twilio inbound webhook).
	err = d.Sandbox.InboundSMS(ctx, phone, "+17205550100", "YES")
	if errors.Is(err, sandbox.ErrNoInboundURL) {
		t.Skip("the Twilio inbound SMS webhook (/v1/webhooks/twilio/sms) is not wired into the dev stack yet")
	}
	require.NoError(t, err)
	require.Eventually(t, func() bool { return portalPrefsOf(t, d, token).SMS.State == "active" },
		10*time.Second, 100*time.Millisecond)
}

// TestPortalPreferenceChangeReplansAWaitingNotice: a text waiting for the voter's contact
// hours moves when the hours change and disappears when the voter turns SMS off, as the
// ballot workflow's status query shows.
func TestPortalPreferenceChangeReplansAWaitingNotice(t *testing.T) {
	d := startDev(t)
	ctx := context.Background()
	maria := demo.Voters[0]
	token := portalSignIn(t, d, maria)

	// Contact hours that start two hours from now (UTC), so the text must wait.
	now := time.Now().UTC()
	hours := func(from time.Duration) string {
		start, end := now.Add(from), now.Add(from+time.Hour)
		return `{"contact_hours":{"start":"` + start.Format("15:04") + `","end":"` + end.Format("15:04") + `","time_zone":"UTC"}}`
	}
	require.Equal(t, http.StatusOK, portalCall(t, d, http.MethodPut, "/v1/portal/preferences", token, hours(2*time.Hour), nil))

	resp := post(t, d, d.DemoKey, "application/json",
		eventJSON("replan-1", maria.VoterID, "DEN-REPLAN", "mailed", now.Add(-time.Minute)))
	require.Equal(t, http.StatusAccepted, resp.Status, "%+v", resp)
	require.Equal(t, intake.Accepted, resp.Results[0].Result)
	workflowID := resp.Results[0].WorkflowID

	pendingSMS := func() *contract.PendingNotice {
		q, err := d.Temporal.QueryWorkflow(ctx, workflowID, "", ballot.QueryStatus)
		require.NoError(t, err)
		var view contract.BallotView
		require.NoError(t, q.Get(&view))
		for _, n := range view.Pending {
			if n.Channel == "sms" {
				return &n
			}
		}
		return nil
	}
	var first time.Time
	require.Eventually(t, func() bool {
		n := pendingSMS()
		if n != nil {
			first = n.DueAt
		}
		return n != nil
	}, 30*time.Second, 100*time.Millisecond, "the text waits for the contact hours")
	require.WithinDuration(t, now.Add(2*time.Hour), first, 2*time.Minute)
	require.Eventually(t, func() bool { return len(outboxFor(d, "email", maria.Email)) == 1 },
		30*time.Second, 50*time.Millisecond, "email does not wait")

	// New hours re-plan the waiting text.
	require.Equal(t, http.StatusOK, portalCall(t, d, http.MethodPut, "/v1/portal/preferences", token, hours(4*time.Hour), nil))
	require.Eventually(t, func() bool {
		n := pendingSMS()
		return n != nil && n.DueAt.Sub(now) > 3*time.Hour
	}, 20*time.Second, 100*time.Millisecond, "the text moves to the new hours")

	// Turning SMS off drops it.
	require.Equal(t, http.StatusOK, portalCall(t, d, http.MethodPut, "/v1/portal/preferences", token,
		`{"sms":{"enabled":false,"phone":""}}`, nil))
	require.Eventually(t, func() bool { return pendingSMS() == nil }, 20*time.Second, 100*time.Millisecond,
		"a text waiting when SMS is turned off is dropped")
	require.Empty(t, outboxFor(d, "sms", maria.SMS), "no text was ever sent")
}
