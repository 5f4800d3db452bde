package apiserver_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"maps"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ballotflow/ballotflow/internal/ballot"
)

// TestSendGridWebhookRefusesBadSignatures: the signed event webhook is verified over the raw
// body with the configured key, within a ten-minute window; anything else is a 403 and
// nothing is stored.
func TestSendGridWebhookRefusesBadSignatures(t *testing.T) {
	f := whSetup(t)
	b := f.ballot(t, 0, "DEN-SGSIG", "mailed", "")
	f.delivery(t, b, b.Key+"/1/email", "mailed", "email", "msgSIG")
	body := []byte(`[{"event":"bounce","type":"bounce","email":"maria.garcia@example.org","timestamp":1700000000,` +
		`"sg_event_id":"ev1","sg_message_id":"msgSIG.filter-1","idempotency_key":"` + b.Key + `/1/email"}]` + "\r\n")
	now := time.Now()
	ts := strconv.FormatInt(now.Unix(), 10)
	other, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	old := strconv.FormatInt(now.Add(-11*time.Minute).Unix(), 10)
	future := strconv.FormatInt(now.Add(6*time.Minute).Unix(), 10)
	reencoded := []byte(strings.TrimSuffix(string(body), "\r\n"))

	cases := []struct {
		name     string
		body     []byte
		sig, ts  string
		wantCode string
	}{
		{"missing signature", body, "", ts, "invalid_signature"},
		{"missing timestamp", body, whSignSendGrid(t, f.sgKey, ts, body), "", "invalid_signature"},
		{"altered body", []byte(strings.Replace(string(body), "bounce", "delivered", 1)), whSignSendGrid(t, f.sgKey, ts, body), ts, "invalid_signature"},
		{"body re-encoded (not the raw bytes)", reencoded, whSignSendGrid(t, f.sgKey, ts, body), ts, "invalid_signature"},
		{"other timestamp than signed", body, whSignSendGrid(t, f.sgKey, ts, body), strconv.FormatInt(now.Unix()-1, 10), "invalid_signature"},
		{"wrong key", body, whSignSendGrid(t, other, ts, body), ts, "invalid_signature"},
		{"not a signature", body, "bm90IGEgc2lnbmF0dXJl", ts, "invalid_signature"},
		{"timestamp not a number", body, whSignSendGrid(t, f.sgKey, "yesterday", body), "yesterday", "invalid_signature"},
		{"older than 10 minutes", body, whSignSendGrid(t, f.sgKey, old, body), old, "stale_signature"},
		{"more than 5 minutes ahead", body, whSignSendGrid(t, f.sgKey, future, body), future, "stale_signature"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := f.postSendGrid(t, tc.body, tc.sig, tc.ts)
			require.Equal(t, http.StatusForbidden, a.status, a.body)
			require.Equal(t, tc.wantCode, a.errorCode(t))
		})
	}
	require.Zero(t, f.count(t, "delivery_events"))
	require.Equal(t, "active", f.subState(t, b.VoterRef, "email"))

	a := f.postSendGrid(t, body, whSignSendGrid(t, f.sgKey, ts, body), ts)
	require.Equal(t, http.StatusOK, a.status, a.body)
	require.Equal(t, "bounced", f.subState(t, b.VoterRef, "email"))
}

// TestSendGridEvents: processed and delivered move an email forward; a hard bounce fails it
// and turns email off for everyone on the address (audited, ballots told); a duplicate post is
// harmless; soft bounces are recorded only; a spam report opts out.
func TestSendGridEvents(t *testing.T) {
	f := whSetup(t)
	james, ana := f.voter(t, 1), f.voter(t, 2) // share smith.family@example.org
	b := f.ballot(t, 1, "DEN-SG", "mailed", "")
	key := b.Key + "/1/email"
	f.delivery(t, b, key, "mailed", "email", "msgJAMES")
	event := func(name, id string, extra map[string]any) map[string]any {
		e := map[string]any{"event": name, "email": "Smith.Family@example.org", "timestamp": time.Now().Unix(),
			"sg_event_id": id, "sg_message_id": "msgJAMES.filterdrecv-1.0", "idempotency_key": key}
		maps.Copy(e, extra)
		return e
	}

	a := f.sendGrid(t, event("processed", "e1", nil), event("open", "e0", nil), event("delivered", "e2", nil))
	require.Equal(t, http.StatusOK, a.status, a.body)
	require.Equal(t, whDeliveryRow{State: "delivered", ProviderID: "msgJAMES", Events: 2}, f.deliveryRow(t, key),
		"opens are not tracked")

	soft := event("bounce", "e3", map[string]any{"type": "blocked", "status": "4.0.0"})
	require.Equal(t, http.StatusOK, f.sendGrid(t, soft).status)
	require.Equal(t, "delivered", f.deliveryRow(t, key).State, "a soft bounce is recorded only")
	require.Equal(t, "active", f.subState(t, james, "email"))

	hard := event("bounce", "e4", map[string]any{"type": "bounce", "status": "5.1.1",
		"bounce_classification": "Invalid Address", "reason": "550 5.1.1 <smith.family@example.org>: no such user"})
	for range 2 {
		a := f.sendGrid(t, hard)
		require.Equal(t, http.StatusOK, a.status, a.body)
	}
	row := f.deliveryRow(t, key)
	require.Equal(t, whDeliveryRow{State: "failed", ProviderID: "msgJAMES", LastError: "bounce 5.1.1 Invalid Address", Events: 4}, row,
		"the duplicate is stored once; the bounce text that quotes the address is not stored")
	require.Equal(t, "bounced", f.subState(t, james, "email"))
	require.Equal(t, "bounced", f.subState(t, ana, "email"), "the address is shared: it bounces for both")
	require.Equal(t, 2, f.count(t, "audit_log WHERE actor = 'provider:sendgrid' AND action = 'subscription.bounced'"))
	require.Equal(t, []string{"email-bounce"}, f.temporal.signaled()[ballot.WorkflowID(b.ElectionID, b.Key)])

	t.Run("spam report opts out", func(t *testing.T) {
		maria := f.voter(t, 0)
		bm := f.ballot(t, 0, "DEN-SPAM", "mailed", "")
		mkey := bm.Key + "/1/email"
		f.delivery(t, bm, mkey, "mailed", "email", "msgMARIA")
		a := f.sendGrid(t, map[string]any{"event": "spamreport", "email": "maria.garcia@example.org",
			"timestamp": time.Now().Unix(), "sg_event_id": "s1", "sg_message_id": "msgMARIA.x.0"}) // no custom arg: by message id
		require.Equal(t, http.StatusOK, a.status, a.body)
		require.Equal(t, "opted_out", f.subState(t, maria, "email"))
		require.Equal(t, "accepted", f.deliveryRow(t, mkey).State, "the email itself did arrive")
	})

	t.Run("not a JSON list", func(t *testing.T) {
		body := []byte(`{"event":"delivered"}`)
		ts := strconv.FormatInt(time.Now().Unix(), 10)
		a := f.postSendGrid(t, body, whSignSendGrid(t, f.sgKey, ts, body), ts)
		require.Equal(t, http.StatusBadRequest, a.status, a.body)
	})
}

// TestSendGridBatchesWithBadFieldsAreRefusedWhole: a signed batch whose recorded events
// carry NUL bytes, oversized fields or impossible timestamps gets a 400 naming the event and
// field, and none of its events is stored, not even the good ones before it.
func TestSendGridBatchesWithBadFieldsAreRefusedWhole(t *testing.T) {
	f := whSetup(t)
	b := f.ballot(t, 0, "DEN-SGNUL", "mailed", "")
	key := b.Key + "/1/email"
	f.delivery(t, b, key, "mailed", "email", "msgNUL")
	good := map[string]any{"event": "delivered", "email": "maria.garcia@example.org", "timestamp": time.Now().Unix(),
		"sg_event_id": "good1", "sg_message_id": "msgNUL.filter", "idempotency_key": key}
	bad := func(k string, v any) map[string]any {
		e := maps.Clone(good)
		e["event"], e["sg_event_id"] = "bounce", "bad1"
		e[k] = v
		return e
	}
	cases := []struct {
		name  string
		event map[string]any
		field string
	}{
		{"NUL in email", bad("email", "maria\u0000@example.org"), "events[1].email"},
		{"NUL in sg_event_id", bad("sg_event_id", "ev\u0000"), "events[1].sg_event_id"},
		{"NUL in idempotency key", bad("idempotency_key", "\u0000"), "events[1].idempotency_key"},
		{"huge sg_message_id", bad("sg_message_id", strings.Repeat("m", 10000)), "events[1].sg_message_id"},
		{"timestamp past year 294276", bad("timestamp", int64(1)<<60), "events[1].timestamp"},
		{"negative timestamp", bad("timestamp", -5), "events[1].timestamp"},
		{"sg_event_id not a string", bad("sg_event_id", 7), "events[1]"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := f.sendGrid(t, good, tc.event)
			require.Equal(t, http.StatusBadRequest, a.status, a.body)
			require.Contains(t, a.body, `"field":"`+tc.field+`"`)
		})
	}
	require.Zero(t, f.count(t, "delivery_events"))
	require.Equal(t, "accepted", f.deliveryRow(t, key).State)

	t.Run("NUL in fields that are never stored is harmless", func(t *testing.T) {
		e := bad("reason", "550 \u0000")
		e["event"], e["type"], e["status"] = "dropped", "\u0000", "5.\u0000"
		a := f.sendGrid(t, e)
		require.Equal(t, http.StatusOK, a.status, a.body)
		require.Equal(t, "failed", f.deliveryRow(t, key).State)
		require.Empty(t, f.deliveryRow(t, key).LastError)
	})

	t.Run("more events than a batch holds", func(t *testing.T) {
		body := []byte("[" + strings.Repeat("{},", 10000) + "{}]")
		ts := strconv.FormatInt(time.Now().Unix(), 10)
		a := f.postSendGrid(t, body, whSignSendGrid(t, f.sgKey, ts, body), ts)
		require.Equal(t, http.StatusRequestEntityTooLarge, a.status, a.body)
	})

	t.Run("something after the list", func(t *testing.T) {
		body := []byte(`[] {"event":"spamreport"}`)
		ts := strconv.FormatInt(time.Now().Unix(), 10)
		a := f.postSendGrid(t, body, whSignSendGrid(t, f.sgKey, ts, body), ts)
		require.Equal(t, http.StatusBadRequest, a.status, a.body)
	})
}

// TestSendGridEventsWithoutAnEventIDAreNotActedOn: an event without sg_event_id cannot be
// told from its own replay within the signature's ten minutes, so it changes nothing; the
// same signed batch posted twice changes things once.
func TestSendGridEventsWithoutAnEventIDAreNotActedOn(t *testing.T) {
	f := whSetup(t)
	maria := f.voter(t, 0)
	b := f.ballot(t, 0, "DEN-SGID", "mailed", "")
	key := b.Key + "/1/email"
	f.delivery(t, b, key, "mailed", "email", "msgID")
	spam := map[string]any{"event": "spamreport", "email": "maria.garcia@example.org", "timestamp": time.Now().Unix(),
		"sg_message_id": "msgID.x", "idempotency_key": key}
	a := f.sendGrid(t, spam)
	require.Equal(t, http.StatusOK, a.status, a.body)
	require.Equal(t, "active", f.subState(t, maria, "email"))
	require.Zero(t, f.count(t, "delivery_events"))

	spam["sg_event_id"] = "spam-1"
	body, err := json.Marshal([]any{spam})
	require.NoError(t, err)
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	sig := whSignSendGrid(t, f.sgKey, ts, body)
	require.Equal(t, http.StatusOK, f.postSendGrid(t, body, sig, ts).status)
	require.Equal(t, "opted_out", f.subState(t, maria, "email"))
	f.setSub(t, maria, "email", "maria.garcia@example.org", "active") // she subscribes again on the portal
	require.Equal(t, http.StatusOK, f.postSendGrid(t, body, sig, ts).status, "the same signed post, replayed")
	require.Equal(t, "active", f.subState(t, maria, "email"), "a replayed spam report must not opt her out again")
	require.Equal(t, 1, f.count(t, "delivery_events"))
}
