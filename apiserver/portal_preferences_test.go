package apiserver_test

import (
	"encoding/json"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ballotflow/ballotflow/internal/ballot"
	"github.com/ballotflow/ballotflow/internal/demo"
	"github.com/ballotflow/ballotflow/internal/store"
	"github.com/ballotflow/ballotflow/workflows/contract"
)

func TestPortalPreferencesRefuseBadInputNamingTheField(t *testing.T) {
	t.Parallel()
	p := newPortal(t, generous)
	token := maria(p)
	before, err := p.st.SubscriptionListByVoter(portalCtx, mariaRef(t, p))
	require.NoError(t, err)
	for _, tc := range []struct {
		name, body, field string
	}{
		{"email with a display name", `{"email":{"enabled":true,"address":"Maria <maria@example.org>"}}`, "email.address"},
		{"email without a domain", `{"email":{"enabled":true,"address":"maria@localhost"}}`, "email.address"},
		{"email missing", `{"email":{"enabled":true,"address":""}}`, "email.address"},
		{"email not an address", `{"email":{"enabled":true,"address":"maria"}}`, "email.address"},
		{"enabled missing", `{"sms":{"phone":"+13035550111"}}`, "sms.enabled"},
		{"SMS abroad", `{"sms":{"enabled":true,"phone":"+442071838750"}}`, "sms.phone"},
		{"SMS area code starting with 1", `{"sms":{"enabled":true,"phone":"+11035550111"}}`, "sms.phone"},
		{"SMS exchange starting with 0", `{"sms":{"enabled":true,"phone":"+13030550111"}}`, "sms.phone"},
		{"SMS too short", `{"sms":{"enabled":true,"phone":"+1303555011"}}`, "sms.phone"},
		{"SMS letters", `{"sms":{"enabled":true,"phone":"call me"}}`, "sms.phone"},
		{"voice abroad", `{"voice":{"enabled":true,"phone":"+525512345678"}}`, "voice.phone"},
		{"voice missing", `{"voice":{"enabled":true,"phone":""}}`, "voice.phone"},
		{"start not HH:MM", `{"contact_hours":{"start":"8am","end":"20:00","time_zone":"America/Denver"}}`, "contact_hours.start"},
		{"end out of range", `{"contact_hours":{"start":"08:00","end":"24:00","time_zone":"America/Denver"}}`, "contact_hours.end"},
		{"unknown time zone", `{"contact_hours":{"start":"08:00","end":"20:00","time_zone":"Mars/Olympus"}}`, "contact_hours.time_zone"},
		{"time zone offset", `{"contact_hours":{"start":"08:00","end":"20:00","time_zone":"-07:00"}}`, "contact_hours.time_zone"},
		{"language", `{"language":"fr"}`, "language"},
		{"wrong type", `{"email":{"enabled":"yes","address":"maria@example.org"}}`, "email.enabled"},
		{"unknown field", `{"fax":{"enabled":true}}`, "fax"},
		// A good change before a bad one is not half-applied.
		{"good then bad", `{"sms":{"enabled":false,"phone":""},"voice":{"enabled":true,"phone":"+1 303 055 0111"}}`, "voice.phone"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := p.do(http.MethodPut, "/v1/portal/preferences", token, tc.body, "")
			require.Equal(t, http.StatusBadRequest, a.Status, "%s", a.Body)
			require.Equal(t, tc.field, a.Error.Field)
			require.NotEmpty(t, a.Error.Message)
		})
	}
	after, err := p.st.SubscriptionListByVoter(portalCtx, mariaRef(t, p))
	require.NoError(t, err)
	require.Equal(t, before, after, "nothing may be stored from a refused save")
	require.Empty(t, p.tc.confirmations())
}

type prefsView struct {
	Email struct {
		Enabled bool
		Address string
		State   string
	}
	SMS struct {
		Enabled bool
		Phone   string
		State   string
	}
	Voice struct {
		Enabled bool
		Phone   string
		State   string
	}
	ContactHours struct {
		Start, End string
		TimeZone   string `json:"time_zone"`
	} `json:"contact_hours"`
	Language                  string
	EmailWaitsForContactHours bool     `json:"email_waits_for_contact_hours"`
	ConfirmationsSent         []string `json:"confirmations_sent"`
}

func (p *portal) put(token, body string) prefsView {
	p.t.Helper()
	a := p.do(http.MethodPut, "/v1/portal/preferences", token, body, "")
	require.Equal(p.t, http.StatusOK, a.Status, "%s", a.Body)
	var v prefsView
	require.NoError(p.t, json.Unmarshal(a.Body, &v))
	return v
}

func TestPortalPreferencesFollowTheConfirmationRules(t *testing.T) {
	t.Parallel()
	p := newPortal(t, generous)
	token := maria(p)
	ref := mariaRef(t, p)

	a := p.do(http.MethodGet, "/v1/portal/preferences", token, nil, "")
	require.Equal(t, http.StatusOK, a.Status)
	var v prefsView
	require.NoError(t, json.Unmarshal(a.Body, &v))
	require.Equal(t, "active", v.Email.State)
	require.Equal(t, "maria.garcia@example.org", v.Email.Address)
	require.Equal(t, "active", v.SMS.State)
	require.Equal(t, "off", v.Voice.State)
	require.Equal(t, "08:00", v.ContactHours.Start)
	require.Equal(t, "20:00", v.ContactHours.End)
	require.Equal(t, "America/Denver", v.ContactHours.TimeZone, "the county's time zone by default")
	require.Equal(t, "en", v.Language)

	// A new SMS number is pending and gets a confirmation; the unchanged email stays active.
	v = p.put(token, `{"email":{"enabled":true,"address":"maria.garcia@example.org"},"sms":{"enabled":true,"phone":"(720) 555-0199"}}`)
	require.Equal(t, "pending", v.SMS.State)
	require.Equal(t, "+17205550199", v.SMS.Phone, "numbers are stored in E.164")
	require.Equal(t, "active", v.Email.State)
	require.Equal(t, []string{"sms"}, v.ConfirmationsSent)
	confirms := p.tc.confirmations()
	require.Len(t, confirms, 1)
	require.Equal(t, "sms", confirms[0].Channel)
	require.Regexp(t, `^confirm/[0-9]+/[0-9]+$`, p.tc.started[0].ID, "the workflow id carries no personal data")
	require.Equal(t, contract.TaskQueue, p.tc.started[0].TaskQueue)
	sub, err := p.st.SubscriptionGetByID(portalCtx, confirms[0].SubscriptionID)
	require.NoError(t, err)
	require.Equal(t, ref, sub.VoterRef)
	require.Equal(t, "portal", sub.Source)

	// Saving again at once does not send a second text.
	v = p.put(token, `{"sms":{"enabled":true,"phone":"+17205550199"}}`)
	require.Equal(t, "pending", v.SMS.State)
	require.Empty(t, v.ConfirmationsSent)
	// A while later it does (the voter says they got none).
	_, err = p.st.Pool().Exec(portalCtx, `UPDATE subscriptions SET confirm_requested_at = now() - interval '1 hour' WHERE id = $1`, sub.ID)
	require.NoError(t, err)
	v = p.put(token, `{"sms":{"enabled":true,"phone":"+17205550199"}}`)
	require.Equal(t, []string{"sms"}, v.ConfirmationsSent)

	// Voice is active at once, with no confirmation; a new email is pending with one.
	v = p.put(token, `{"voice":{"enabled":true,"phone":"+13035550123"},"email":{"enabled":true,"address":"m.garcia@example.org"}}`)
	require.Equal(t, "active", v.Voice.State)
	require.Equal(t, "pending", v.Email.State)
	require.Equal(t, []string{"email"}, v.ConfirmationsSent)

	// Turning a channel off opts it out and keeps the address; turning it on again with the
	// same address asks for a confirmation again.
	v = p.put(token, `{"sms":{"enabled":false,"phone":""}}`)
	require.Equal(t, "opted_out", v.SMS.State)
	require.False(t, v.SMS.Enabled)
	require.Equal(t, "+17205550199", v.SMS.Phone)
	v = p.put(token, `{"sms":{"enabled":true,"phone":"+17205550199"}}`)
	require.Equal(t, "pending", v.SMS.State)
	require.Equal(t, []string{"sms"}, v.ConfirmationsSent)

	// Contact hours, time zone and language apply to every channel.
	v = p.put(token, `{"contact_hours":{"start":"09:30","end":"18:00","time_zone":"America/Chicago"},"language":"es","email_waits_for_contact_hours":true}`)
	require.Equal(t, "09:30", v.ContactHours.Start)
	require.Equal(t, "America/Chicago", v.ContactHours.TimeZone)
	require.Equal(t, "es", v.Language)
	require.True(t, v.EmailWaitsForContactHours)
	subs, err := p.st.SubscriptionListByVoter(portalCtx, ref)
	require.NoError(t, err)
	require.Len(t, subs, 3)
	for _, s := range subs {
		require.Equal(t, "09:30", s.ContactStart, s.Channel)
		require.Equal(t, "18:00", s.ContactEnd, s.Channel)
		require.Equal(t, "America/Chicago", s.TimeZone, s.Channel)
		require.Equal(t, "es", s.Language, s.Channel)
		require.Equal(t, s.Channel == "email", s.HoldForHours, s.Channel)
	}

	// The audit log has every change, with internal ids only.
	rows, err := p.st.Pool().Query(portalCtx, `SELECT actor, subject, detail::text FROM audit_log WHERE action = 'portal.preferences'`)
	require.NoError(t, err)
	n := 0
	for rows.Next() {
		var actor, subject, detail string
		require.NoError(t, rows.Scan(&actor, &subject, &detail))
		require.Equal(t, "portal", actor)
		require.Equal(t, "voter:"+strconv.FormatInt(ref, 10), subject)
		for _, pii := range []string{"555", "example.org", "Garcia", "Maria"} {
			require.NotContains(t, detail, pii)
		}
		n++
	}
	require.NoError(t, rows.Err())
	require.Equal(t, 6, n)
}

func TestPortalHouseholdsMayShareAnAddress(t *testing.T) {
	t.Parallel()
	p := newPortal(t, generous)
	james := p.signIn("James", "Smith", "07-04-1962", "80205")
	ana := p.signIn("Ana", "Smith", "11-20-1964", "80205")
	for _, token := range []string{james, ana} {
		v := p.put(token, `{"email":{"enabled":true,"address":"smith.family@example.org"},"voice":{"enabled":true,"phone":"+13035550150"}}`)
		require.Equal(t, "active", v.Email.State, "the shared, auto-enrolled email stays active")
		require.Equal(t, "active", v.Voice.State)
		require.Equal(t, "+13035550150", v.Voice.Phone)
	}
}

func TestPortalOptOutOfEverythingSignalsTheVotersBallots(t *testing.T) {
	t.Parallel()
	p := newPortal(t, generous)
	ref := mariaRef(t, p)
	rec, err := p.st.BallotEventRecord(portalCtx, store.BallotEvent{JurisdictionID: "co-denver", ElectionID: demo.ElectionID,
		BallotID: "DEN-9", VoterRef: ref, EventID: "o1", Status: "mailed", OccurredAt: time.Now().Add(-time.Hour)})
	require.NoError(t, err)
	token := maria(p)

	a := p.do(http.MethodDelete, "/v1/portal/preferences", token, nil, "")
	require.Equal(t, http.StatusOK, a.Status, "%s", a.Body)
	var v prefsView
	require.NoError(t, json.Unmarshal(a.Body, &v))
	require.Equal(t, "opted_out", v.Email.State)
	require.Equal(t, "opted_out", v.SMS.State)
	subs, err := p.st.SubscriptionListByVoter(portalCtx, ref)
	require.NoError(t, err)
	for _, s := range subs {
		require.Equal(t, "opted_out", s.State, s.Channel)
	}
	require.Equal(t, []string{ballot.WorkflowID(demo.ElectionID, rec.Ballot.Key)}, p.tc.signals)
	var audits int
	require.NoError(t, p.st.Pool().QueryRow(portalCtx, `SELECT count(*) FROM audit_log WHERE action = 'portal.opt_out_all'`).Scan(&audits))
	require.Equal(t, 1, audits)
}
