package apiserver_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ballotflow/ballotflow/apiserver"
)

func TestPortalConfirmationThatCouldNotStartIsAskedAgainOnTheNextSave(t *testing.T) {
	t.Parallel()
	p := newPortal(t, generous)
	token := maria(p)
	p.tc.failStart = true
	a := p.do(http.MethodPut, "/v1/portal/preferences", token, `{"sms":{"enabled":true,"phone":"+17205550177"}}`, "")
	require.Equal(t, http.StatusServiceUnavailable, a.Status)
	require.Equal(t, "confirmation_not_sent", a.Error.Code)
	p.tc.failStart = false
	v := p.put(token, `{"sms":{"enabled":true,"phone":"+17205550177"}}`)
	require.Equal(t, "pending", v.SMS.State)
	require.Equal(t, []string{"sms"}, v.ConfirmationsSent)
}

func TestPortalEmailConfirmationLinkWorksOnceWhilePending(t *testing.T) {
	t.Parallel()
	p := newPortal(t, generous)
	// Sam Lee has no ballots: nothing to signal.
	token := p.signIn("Sam", "Lee", "01-09-1975", "80012")
	v := p.put(token, `{"email":{"enabled":true,"address":"sam.new@example.org"}}`)
	require.Equal(t, "pending", v.Email.State)
	subID := p.tc.confirmations()[0].SubscriptionID
	require.Equal(t, "https://portal.example.org", p.tc.confirmations()[0].LinkBase)
	state := func() string {
		t.Helper()
		sub, err := p.st.SubscriptionGetByID(portalCtx, subID)
		require.NoError(t, err)
		return sub.State
	}
	confirm := func(linkToken string) portalAnswer {
		t.Helper()
		return p.do(http.MethodPost, "/v1/portal/confirm-email", "", map[string]string{"token": linkToken}, "")
	}

	// Following the link (as a mail scanner does) changes nothing: it hands the token to the
	// page in the fragment, which no browser sends to a server.
	require.NoError(t, p.st.EmailConfirmationCreate(portalCtx, subID, "the-link-token", time.Now().Add(time.Hour)))
	for range 2 {
		a := p.do(http.MethodGet, "/v1/portal/confirm-email?token=the-link-token", "", nil, "")
		require.Equal(t, http.StatusSeeOther, a.Status)
		require.Equal(t, "/#confirm-email=the-link-token", a.Header.Get("Location"))
		require.Equal(t, "no-referrer", a.Header.Get("Referrer-Policy"))
		require.Equal(t, "no-store", a.Header.Get("Cache-Control"))
		require.Equal(t, "pending", state(), "a GET never confirms")
	}

	// The voter's press of the button confirms, once.
	a := confirm("the-link-token")
	require.Equal(t, http.StatusOK, a.Status, "%s", a.Body)
	require.JSONEq(t, `{"confirmed":"email"}`, string(a.Body))
	require.Equal(t, "no-store", a.Header.Get("Cache-Control"))
	require.Equal(t, "active", state())
	a = confirm("the-link-token")
	require.Equal(t, http.StatusNotFound, a.Status, "a link works once: %s", a.Body)
	require.Equal(t, "confirmation_invalid", a.Error.Code)
	require.Contains(t, a.Error.Message, "save your email address again")

	// A link sent to an earlier address does not confirm a new one.
	require.NoError(t, p.st.EmailConfirmationCreate(portalCtx, subID, "old-address-token", time.Now().Add(time.Hour)))
	p.put(token, `{"email":{"enabled":true,"address":"sam.newer@example.org"}}`)
	require.Equal(t, "pending", state())
	a = confirm("old-address-token")
	require.Equal(t, http.StatusNotFound, a.Status, "%s", a.Body)
	require.Equal(t, "confirmation_invalid", a.Error.Code)
	require.Equal(t, "pending", state())

	// Nor does an unknown or expired token.
	require.Equal(t, http.StatusNotFound, confirm("never-sent").Status)
	require.NoError(t, p.st.EmailConfirmationCreate(portalCtx, subID, "expired-token", time.Now().Add(-time.Minute)))
	require.Equal(t, http.StatusNotFound, confirm("expired-token").Status)
	require.Equal(t, "pending", state())
}

func TestPortalEmailConfirmationLinkEscapesTheTokenAndDropsABadOne(t *testing.T) {
	t.Parallel()
	p := newPortal(t, generous)
	for _, tc := range []struct{ query, location string }{
		{"?token=a%2Fb%23c%26d+e", "/#confirm-email=a%2Fb%23c%26d+e"},
		{"", "/#confirm-email="},
		{"?token=" + strings.Repeat("x", 129), "/#confirm-email="},
	} {
		a := p.do(http.MethodGet, "/v1/portal/confirm-email"+tc.query, "", nil, "")
		require.Equal(t, http.StatusSeeOther, a.Status, tc.query)
		require.Equal(t, tc.location, a.Header.Get("Location"), tc.query)
	}
}

func TestPortalEmailConfirmationRefusesBadInputNamingTheField(t *testing.T) {
	t.Parallel()
	p := newPortal(t, generous)
	for _, tc := range []struct {
		name, body, code, field string
	}{
		{"no token", `{}`, "missing_field", "token"},
		{"empty token", `{"token":""}`, "missing_field", "token"},
		{"token too long", `{"token":"` + strings.Repeat("x", 129) + `"}`, "invalid_field", "token"},
		{"token not a string", `{"token":42}`, "invalid_field", "token"},
		{"unknown field", `{"token":"abc","email":"x@example.org"}`, "invalid_field", "email"},
		{"not JSON", `token=abc`, "invalid_body", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := p.do(http.MethodPost, "/v1/portal/confirm-email", "", tc.body, "")
			require.Equal(t, http.StatusBadRequest, a.Status, "%s", a.Body)
			require.Equal(t, tc.code, a.Error.Code)
			require.Equal(t, tc.field, a.Error.Field)
			require.NotEmpty(t, a.Error.Message)
		})
	}
}

func TestPortalEmailConfirmationIsRateLimitedApartFromLookups(t *testing.T) {
	t.Parallel()
	p := newPortal(t, apiserver.PortalLimits{PerClient: 2, PerClientWindow: time.Minute, PerIdentity: 100, PerIdentityWindow: time.Minute})
	clearOfWindowEdges(time.Minute)
	const client = "198.51.100.20:1000"
	confirm := func() portalAnswer {
		return p.do(http.MethodPost, "/v1/portal/confirm-email", "", `{"token":"guess"}`, client)
	}
	require.Equal(t, http.StatusNotFound, confirm().Status)
	require.Equal(t, http.StatusNotFound, confirm().Status)
	a := confirm()
	require.Equal(t, http.StatusTooManyRequests, a.Status, "%s", a.Body)
	require.Equal(t, "rate_limited", a.Error.Code)
	require.NotEmpty(t, a.Header.Get("Retry-After"))
	// Confirming did not use up the client's lookups.
	require.Equal(t, http.StatusCreated,
		p.do(http.MethodPost, "/v1/portal/session", "", lookup("Maria", "Garcia", "03-14-1985", "80202"), client).Status)
}

func TestPortalEmailConfirmationAnswers503WhenTheDatabaseIsDown(t *testing.T) {
	t.Parallel()
	p := newPortal(t, generous)
	p.st.Close()
	a := p.do(http.MethodPost, "/v1/portal/confirm-email", "", `{"token":"the-link-token"}`, "")
	require.Equal(t, http.StatusServiceUnavailable, a.Status, "%s", a.Body)
	require.Equal(t, "unavailable", a.Error.Code)
	require.NotEmpty(t, a.Error.Message)
}
