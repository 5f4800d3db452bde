package apiserver_test

import (
	"encoding/json"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ballotflow/ballotflow/apiserver"
	"github.com/ballotflow/ballotflow/internal/demo"
)

// The fuzz targets post arbitrary, validly signed provider requests through the real
// handlers on a real database. Whatever comes, the answer is never a 5xx, and a refused
// request (4xx) changes nothing.

// whTwilioFormSeeds are raw form bodies: NUL bytes, invalid UTF-8, huge fields, repeated
// keys, broken escapes.
func whTwilioFormSeeds(sid string) []string {
	phone := url.QueryEscape(demo.Voters[0].SMS)
	return []string{
		"From=" + phone + "&To=%2B17205550100&Body=STOP&MessageSid=" + sid,
		"From=" + phone + "&Body=STOP%00&MessageSid=" + sid,
		"From=%00&Body=STOP&MessageSid=" + sid,
		"From=" + phone + "%FF&Body=YES&MessageSid=" + sid,
		"From=" + phone + "&Body=%FF%FE%00&MessageSid=" + sid + "%00",
		"From=" + phone + "&Body=" + strings.Repeat("STOP", 5000) + "&MessageSid=" + sid,
		"From=" + strings.Repeat("1", 60000) + "&MessageSid=" + sid,
		"From=" + phone + "&From=%2B13035550999&Body=STOP&Body=START&MessageSid=" + sid + "&MessageSid=SMother",
		"MessageSid=" + sid + "&MessageStatus=undelivered&ErrorCode=30006&To=" + phone,
		"MessageSid=" + sid + "&MessageStatus=%00&ErrorCode=21610&To=" + phone,
		"MessageSid=" + sid + "&MessageStatus=failed&ErrorCode=" + strings.Repeat("9", 100) + "&To=%00",
		"CallSid=CA1&CallStatus=completed&Timestamp=Mon%2C+01+Jan+9999+00%3A00%3A00+%2B0000",
		"CallSid=CA1&CallStatus=busy&CallSid=%00",
		"CallSid=CA1&Digits=1&Digits=2",
		"Digits=1&d=%00",
		"%zz=1&From=%",
		"",
	}
}

func fuzzTwilio(f *testing.F, path string) {
	for i, seed := range whTwilioFormSeeds("SMfuzzseed" + strconv.Itoa(len(path))) {
		f.Add(seed, "")
		f.Add(seed, "d=ballot%2F1%2Fsms&n="+strconv.Itoa(i))
	}
	f.Add("Digits=1", "d=%00")
	f.Add("Digits=1", "d=%FF")
	fx := whNew(f)
	// A ballot with deliveries the seeds' keys and sids name, so that accepted requests act.
	b := fx.ballot(f, 0, "DEN-FUZZ", "mailed", "")
	fx.delivery(f, b, "ballot/1/sms", "mailed", "sms", "SMfuzzseed"+strconv.Itoa(len(path)))
	f.Fuzz(func(t *testing.T, form, query string) {
		target := path
		if query != "" {
			target += "?" + query
		}
		// An HTTP request line cannot carry spaces or control bytes in its target.
		if _, err := url.ParseRequestURI(target); err != nil || strings.ContainsFunc(target, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
			t.Skip("not a request target")
		}
		before := fx.stored(t)
		a := fx.rawTwilio(t, target, form)
		require.Less(t, a.status, 500, a.body)
		if a.status >= 400 {
			require.Equal(t, before, fx.stored(t), "a refused request changes nothing")
		}
	})
}

// FuzzTwilioInboundSMS fuzzes the inbound SMS webhook.
func FuzzTwilioInboundSMS(f *testing.F) { fuzzTwilio(f, apiserver.PathTwilioSMS) }

// FuzzTwilioStatusCallback fuzzes the message and call status callback.
func FuzzTwilioStatusCallback(f *testing.F) { fuzzTwilio(f, apiserver.PathTwilioStatus) }

// FuzzTwilioVoice fuzzes the voice "press 1 to repeat" webhook.
func FuzzTwilioVoice(f *testing.F) { fuzzTwilio(f, apiserver.PathTwilioVoice) }

// FuzzSendGridEvents fuzzes the signed SendGrid event webhook's batches.
func FuzzSendGridEvents(f *testing.F) {
	now := strconv.FormatInt(time.Now().Unix(), 10)
	ev := func(extra string) string {
		return `{"event":"bounce","type":"bounce","email":"maria.garcia@example.org","timestamp":` + now +
			`,"sg_event_id":"fz1","sg_message_id":"msgFUZZ.x"` + extra + `}`
	}
	for _, seed := range []string{
		"[" + ev("") + "]",
		"[" + ev(`,"email":"a\u0000b"`) + "]",
		"[" + ev(`,"sg_event_id":"\u0000"`) + "]",
		"[" + ev(`,"reason":"\u0000","status":"\u0000"`) + "]",
		"[" + ev(`,"email":"`+"\xff\xfe"+`"`) + "]",
		"[" + ev(`,"email":"\ud800"`) + "]",
		"[" + ev(`,"sg_message_id":"`+strings.Repeat("m", 70000)+`"`) + "]",
		"[" + ev(`,"timestamp":9223372036854775807`) + "]",
		"[" + ev(`,"timestamp":-9223372036854775808`) + "]",
		"[" + ev(`,"timestamp":1e400`) + "]",
		"[" + ev(`,"event":"spamreport","event":"delivered"`) + "]",
		"[" + ev("") + "," + ev(`,"sg_event_id":7`) + "]",
		`[{"event":"dropped"}]`,
		"[" + strings.Repeat("{},", 10001) + "{}]",
		strings.Repeat("[", 20000),
		`[] []`, `{}`, `null`, `[null]`, `["x"]`, ``, `[`,
	} {
		f.Add(seed)
	}
	fx := whNew(f)
	b := fx.ballot(f, 0, "DEN-FUZZ-SG", "mailed", "")
	fx.delivery(f, b, b.Key+"/1/email", "mailed", "email", "msgFUZZ")
	f.Fuzz(func(t *testing.T, body string) {
		ts := strconv.FormatInt(time.Now().Unix(), 10)
		before := fx.stored(t)
		a := fx.postSendGrid(t, []byte(body), whSignSendGrid(t, fx.sgKey, ts, []byte(body)), ts)
		require.Less(t, a.status, 500, a.body)
		if a.status >= 400 {
			require.Equal(t, before, fx.stored(t), "a refused batch changes nothing")
			var e struct {
				Error struct{ Code, Message string } `json:"error"`
			}
			require.NoError(t, json.Unmarshal([]byte(a.body), &e), a.body)
			require.NotEmpty(t, e.Error.Message)
		}
	})
}
