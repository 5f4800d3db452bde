package apiserver_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ballotflow/ballotflow/apiserver"
	"github.com/ballotflow/ballotflow/internal/demo"
	"github.com/ballotflow/ballotflow/internal/notices"
	"github.com/ballotflow/ballotflow/internal/store"
)

// TestVoiceRepeat: pressing 1 reads the call's notice again from its delivery, in the voter's
// language and with the county's reason; anything else hangs up.
func TestVoiceRepeat(t *testing.T) {
	f := whSetup(t)
	b := f.ballot(t, 3, "DEN-VOICE", "challenged", "falta la firma") // José reads Spanish
	key := b.Key + "/1/voice"
	f.delivery(t, b, key, "challenged", "voice", "CAvoice")
	path := apiserver.PathTwilioVoice + "?d=" + url.QueryEscape(key)

	a := f.twilio(t, path, url.Values{"CallSid": {"CAvoice"}, "Digits": {"1"}})
	require.Equal(t, http.StatusOK, a.status, a.body)
	require.Equal(t, "text/xml; charset=utf-8", a.ctype)
	require.Contains(t, a.body, "José Núñez")
	require.Contains(t, a.body, "falta la firma")
	require.Contains(t, a.body, `language="es-US"`)
	require.Contains(t, a.body, `voice="Polly.Lupe-Neural"`, "the voice of the call itself (notices.NoticeCall)")
	require.Contains(t, a.body, `<Gather numDigits="1"`)
	require.Contains(t, a.body, `action="`+whPublicURL+apiserver.PathTwilioVoice+"?d="+url.QueryEscape(key)+`"`)

	for _, digits := range []string{"2", ""} {
		a := f.twilio(t, path, url.Values{"CallSid": {"CAvoice"}, "Digits": {digits}})
		require.Equal(t, http.StatusOK, a.status)
		require.Contains(t, a.body, "<Hangup/>")
		require.NotContains(t, a.body, "Núñez")
	}
	a = f.twilio(t, apiserver.PathTwilioVoice+"?d=nope", url.Values{"Digits": {"1"}})
	require.Contains(t, a.body, "<Hangup/>")

	// Twilio may fetch with GET: the parameters are then in the signed URL.
	get := path + "&Digits=1"
	req := httptest.NewRequest(http.MethodGet, get, nil)
	req.Header.Set("X-Twilio-Signature", whTwilioSignature(whTwilioToken, whPublicURL+get, nil))
	a = whServe(f.handler, req)
	require.Equal(t, http.StatusOK, a.status, a.body)
	require.Contains(t, a.body, "José Núñez")
}

// TestVoiceRepeatIsInTheCallsLanguage: a Spanish-reading voter in a county that offers only
// English heard the call in English (delivery falls back to the county's languages) and the
// "press 1" repeat in Spanish, because the repeat read the voter's language on its own. Both
// now use the one recipient reader.
func TestVoiceRepeatIsInTheCallsLanguage(t *testing.T) {
	f := whSetup(t)
	_, err := f.st.Pool().Exec(whCtx, `UPDATE jurisdictions SET languages = '{en}' WHERE county = 'denver'`)
	require.NoError(t, err)
	b := f.ballot(t, 3, "DEN-VOICE-EN", "challenged", "signature missing") // José reads Spanish
	key := b.Key + "/1/voice"
	f.delivery(t, b, key, "challenged", "voice", "CAvoice-en")
	a := f.twilio(t, apiserver.PathTwilioVoice+"?d="+url.QueryEscape(key), url.Values{"CallSid": {"CAvoice-en"}, "Digits": {"1"}})
	require.Equal(t, http.StatusOK, a.status, a.body)
	require.Contains(t, a.body, `language="en-US"`)
	require.NotContains(t, a.body, `language="es-US"`)
}

// TestVoiceRepeatOfAReturnReminderSaysTheDeadline: pressing 1 on a return reminder's call
// says its deadline (election day) again, as the call did, in the county's wording of the
// version the call used, not a later one.
func TestVoiceRepeatOfAReturnReminderSaysTheDeadline(t *testing.T) {
	f := whSetup(t)
	b := f.ballot(t, 0, "DEN-REMIND", "mailed", "") // Maria reads English
	save := func(text string) int64 {
		v, _, err := f.st.MessageVersionSave(whCtx, store.MessageVersion{JurisdictionID: "co-denver",
			MessageID: "notice.reminder_return.speech", Language: "en", Text: text}, "key:test")
		require.NoError(t, err)
		return v.Version
	}
	used := save("Hello {{.Name}}. {{.Jurisdiction}} is still waiting for your ballot. Return it by {{.Deadline}}.")
	save("{{.Name}}, a later wording of {{.Jurisdiction}}: return it by {{.Deadline}}.")
	key := b.Key + "/2/voice"
	f.delivery(t, b, key, notices.KindReturnReminder, "voice", "")
	require.NoError(t, f.st.DeliveryAccept(whCtx, key, "CAremind", used))

	a := f.twilio(t, apiserver.PathTwilioVoice+"?d="+url.QueryEscape(key), url.Values{"CallSid": {"CAremind"}, "Digits": {"1"}})
	require.Equal(t, http.StatusOK, a.status, a.body)
	require.Contains(t, a.body, "Hello Maria Garcia.", "the wording the call used")
	require.NotContains(t, a.body, "a later wording")
	e, err := f.st.ElectionGetByID(whCtx, demo.ElectionID)
	require.NoError(t, err)
	day := e.ElectionDay
	require.Contains(t, a.body, day.Weekday().String()+`, <say-as interpret-as="date" format="md">`+
		strconv.Itoa(int(day.Month()))+"/"+strconv.Itoa(day.Day())+"</say-as>", "election day, spoken")
	require.NotContains(t, a.body, "the deadline your county gives")
}
