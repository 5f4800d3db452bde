package apiserver_test

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ballotflow/ballotflow/apiserver"
	"github.com/ballotflow/ballotflow/internal/ballot"
	"github.com/ballotflow/ballotflow/internal/demo"
	"github.com/ballotflow/ballotflow/internal/store"
)

// TestTwilioStatusCallbacksInAnyOrderGiveTheSameRow: statuses only move a delivery forward
// (queued < sending < sent < delivered; undelivered and failed are terminal), so every order
// and every duplicate leave the same row.
func TestTwilioStatusCallbacksInAnyOrderGiveTheSameRow(t *testing.T) {
	f := whSetup(t)
	b := f.ballot(t, 0, "DEN-ORDER", "mailed", "")
	maria := demo.Voters[0].SMS

	type cb struct{ status, code string }
	runs := []struct {
		name      string
		callbacks []cb
		want      whDeliveryRow
	}{
		{"delivered", []cb{{"queued", ""}, {"sending", ""}, {"sent", ""}, {"delivered", ""}},
			whDeliveryRow{State: "delivered", Events: 4}},
		{"undelivered after sent and a stray delivered", []cb{{"sent", ""}, {"undelivered", "30007"}, {"delivered", ""}},
			whDeliveryRow{State: "failed", LastError: "Twilio error 30007", Events: 3}},
	}
	for _, run := range runs {
		for i, order := range whPermutations(run.callbacks) {
			key := fmt.Sprintf("%s/%d/sms", b.Key, 100*len(run.callbacks)+i)
			sid := fmt.Sprintf("SM%s%d", strings.ReplaceAll(run.name, " ", ""), i)
			f.delivery(t, b, key, "mailed", "sms", sid)
			// Every callback twice, the duplicate right away or at the end.
			seq := append(slices.Clone(order), order...)
			for _, c := range seq {
				params := url.Values{"MessageSid": {sid}, "MessageStatus": {c.status}, "To": {maria}}
				if c.code != "" {
					params.Set("ErrorCode", c.code)
				}
				a := f.twilio(t, apiserver.PathTwilioStatus+"?d="+url.QueryEscape(key), params)
				require.Equal(t, http.StatusOK, a.status, a.body)
			}
			want := run.want
			want.ProviderID = sid
			require.Equal(t, want, f.deliveryRow(t, key), "%s in order %v", run.name, order)
		}
	}
	require.Equal(t, "active", f.subState(t, f.voter(t, 0), "sms"), "30007 (carrier filtering) is not the number's fault")
}

func whPermutations[T any](xs []T) [][]T {
	if len(xs) <= 1 {
		return [][]T{slices.Clone(xs)}
	}
	var out [][]T
	for i := range xs {
		rest := append(slices.Clone(xs[:i]), xs[i+1:]...)
		for _, p := range whPermutations(rest) {
			out = append(out, append([]T{xs[i]}, p...))
		}
	}
	return out
}

// TestTwilioStatusCallbacks covers what a callback does besides ordering: an unreachable
// number bounces the SMS subscription of everyone on it; a callback that outruns the
// activity still finds its delivery by the key in the URL; an unknown sid is ignored.
func TestTwilioStatusCallbacks(t *testing.T) {
	f := whSetup(t)
	b := f.ballot(t, 0, "DEN-CB", "mailed", "")
	maria := f.voter(t, 0)
	james := f.voter(t, 1)
	phone := demo.Voters[0].SMS
	f.setSub(t, james, "sms", phone, "active") // a household phone

	t.Run("landline bounces the number", func(t *testing.T) {
		key := b.Key + "/1/sms"
		f.delivery(t, b, key, "mailed", "sms", "SMland")
		a := f.twilio(t, apiserver.PathTwilioStatus+"?d="+url.QueryEscape(key), url.Values{"MessageSid": {"SMland"},
			"MessageStatus": {"failed"}, "ErrorCode": {"30006"}, "To": {phone}})
		require.Equal(t, http.StatusOK, a.status, a.body)
		require.Equal(t, whDeliveryRow{State: "failed", ProviderID: "SMland", LastError: "Twilio error 30006", Events: 1}, f.deliveryRow(t, key))
		require.Equal(t, "bounced", f.subState(t, maria, "sms"))
		require.Equal(t, "bounced", f.subState(t, james, "sms"), "everyone on the number")
		require.Equal(t, "active", f.subState(t, maria, "email"), "only SMS")
		require.Equal(t, []string{"sms-bounce"}, f.temporal.signaled()[ballot.WorkflowID(b.ElectionID, b.Key)])
	})

	t.Run("a callback before the activity stored the sid", func(t *testing.T) {
		key := b.Key + "/2/voice"
		f.delivery(t, b, key, "mailed", "voice", "") // still "sending"
		for _, status := range []string{"initiated", "ringing", "completed"} {
			a := f.twilio(t, apiserver.PathTwilioStatus+"?d="+url.QueryEscape(key),
				url.Values{"CallSid": {"CAearly"}, "CallStatus": {status}, "Timestamp": {time.Now().Format(time.RFC1123Z)}})
			require.Equal(t, http.StatusOK, a.status, a.body)
		}
		require.Equal(t, whDeliveryRow{State: "delivered", ProviderID: "CAearly", Events: 3}, f.deliveryRow(t, key))
		// The activity settles afterwards: it must not move the row back.
		require.NoError(t, f.st.DeliveryFinish(whCtx, key, store.DeliveryAccepted, "CAearly", ""))
		require.Equal(t, "delivered", f.deliveryRow(t, key).State)
		d, err := f.st.DeliveryBegin(whCtx, store.Delivery{IdempotencyKey: key, BallotRef: b.Ref, VoterRef: b.VoterRef,
			NoticeSeq: 2, NoticeStatus: "mailed", Channel: "voice"})
		require.NoError(t, err)
		require.Equal(t, store.DeliveryDelivered, d.State, "a retried activity finds it settled and does not call again")
	})

	t.Run("matched by sid without a key", func(t *testing.T) {
		key := b.Key + "/3/sms"
		f.delivery(t, b, key, "mailed", "sms", "SMnokey")
		a := f.twilio(t, apiserver.PathTwilioStatus, url.Values{"MessageSid": {"SMnokey"}, "MessageStatus": {"delivered"}})
		require.Equal(t, http.StatusOK, a.status, a.body)
		require.Equal(t, "delivered", f.deliveryRow(t, key).State)
	})

	t.Run("an unreachable handset bounces only after three notices in a row", func(t *testing.T) {
		ana := f.voter(t, 2)
		const anasPhone = "+13035550166"
		f.setSub(t, ana, "sms", anasPhone, "active")
		bAna := f.ballot(t, 2, "DEN-CB-ANA", "mailed", "")
		callback := func(n int, status, code string) {
			t.Helper()
			key := fmt.Sprintf("%s/%d/sms", bAna.Key, n)
			sid := fmt.Sprintf("SMana%d", n)
			f.delivery(t, bAna, key, "mailed", "sms", sid)
			form := url.Values{"MessageSid": {sid}, "MessageStatus": {status}, "To": {anasPhone}}
			if code != "" {
				form.Set("ErrorCode", code)
			}
			a := f.twilio(t, apiserver.PathTwilioStatus+"?d="+url.QueryEscape(key), form)
			require.Equal(t, http.StatusOK, a.status, a.body)
		}
		callback(1, "undelivered", "30003") // her phone is off
		callback(2, "delivered", "")        // back on
		callback(3, "undelivered", "30003")
		callback(4, "undelivered", "30003")
		require.Equal(t, "active", f.subState(t, ana, "sms"), "two in a row: a phone switched off for a while")
		callback(5, "undelivered", "30003")
		require.Equal(t, "bounced", f.subState(t, ana, "sms"), "three in a row: the handset is gone")
	})

	t.Run("unknown sid is ignored", func(t *testing.T) {
		before := f.count(t, "delivery_events")
		a := f.twilio(t, apiserver.PathTwilioStatus, url.Values{"MessageSid": {"SMunknown"}, "MessageStatus": {"delivered"}})
		require.Equal(t, http.StatusOK, a.status, a.body)
		require.Equal(t, before, f.count(t, "delivery_events"))
	})

	t.Run("missing sid names the field", func(t *testing.T) {
		a := f.twilio(t, apiserver.PathTwilioStatus, url.Values{"MessageStatus": {"delivered"}})
		require.Equal(t, http.StatusBadRequest, a.status, a.body)
		require.Contains(t, a.body, `"field":"MessageSid"`)
	})
}
