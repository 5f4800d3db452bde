package sandbox

import (
	"net/url"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/twilio/twilio-go/client"
)

func TestSayText(t *testing.T) {
	tests := []struct {
		twiml, want string
		wantErr     bool
	}{
		{`<Response><Say>Hello</Say></Response>`, "Hello", false},
		{`<?xml version="1.0"?><Response><Say voice="alice">  Your ballot
		   was received.</Say><Pause length="2"/><Say>Thank you &amp; goodbye.</Say></Response>`,
			"Your ballot was received. Thank you & goodbye.", false},
		{`<Response><Gather numDigits="1"><Say>Press 1.</Say></Gather><Play>https://x/y.mp3</Play></Response>`, "Press 1.", false},
		{`<Response><Say>Hi <say-as interpret-as="characters">ABC</say-as> there</Say></Response>`, "Hi ABC there", false},
		{`<Response><Hangup/></Response>`, "", false},
		{`<Response><Say>unclosed</Response>`, "", true},
		{`<Say>no root</Say>`, "", true},
		{`just text`, "", true},
		{``, "", true},
	}
	for _, tc := range tests {
		got, err := sayText(tc.twiml)
		if tc.wantErr {
			require.Error(t, err, tc.twiml)
			continue
		}
		require.NoError(t, err, tc.twiml)
		require.Equal(t, tc.want, got)
	}
}

func TestTwimlReplies(t *testing.T) {
	require.Nil(t, twimlReplies(nil))
	require.Nil(t, twimlReplies([]byte(`{"ok":true}`)))
	require.Nil(t, twimlReplies([]byte(`<Response/>`)))
	require.Equal(t, []string{"a", "b"}, twimlReplies([]byte(`<Response><Message> a </Message><Message><Body>b</Body></Message></Response>`)))
}

// twilioSignature must agree with twilio-go's validator, including repeated
// parameters, which Validate's map cannot express but ValidateBody can.
func TestTwilioSignatureMatchesSDK(t *testing.T) {
	v := client.NewRequestValidator("tok")
	u := "https://example.org/hook?a=1"
	params := url.Values{"To": {"+1"}, "Body": {"x y&z"}, "A": {"2"}}
	sig := twilioSignature("tok", u, params)
	require.True(t, v.Validate(u, map[string]string{"To": "+1", "Body": "x y&z", "A": "2"}, sig))
	require.True(t, v.ValidateBody(u, []byte(params.Encode()), sig))
	require.False(t, v.Validate(u, map[string]string{"To": "+2", "Body": "x y&z", "A": "2"}, sig))
}
