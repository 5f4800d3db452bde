package notices_test

import (
	"encoding/xml"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ballotflow/ballotflow/internal/notices"
)

func TestCallTwiMLOffersToRepeatAndEscapes(t *testing.T) {
	speech := `Ballot of "Ann & Bob" <test>`
	doc := notices.CallTwiML("es", speech, "https://x.example.org/v1/webhooks/twilio/voice?d=b1%2F1%2Fvoice&z=1")
	var parsed struct {
		XMLName xml.Name `xml:"Response"`
		Gather  struct {
			NumDigits string   `xml:"numDigits,attr"`
			Action    string   `xml:"action,attr"`
			Says      []string `xml:"Say"`
		} `xml:"Gather"`
	}
	require.NoError(t, xml.Unmarshal([]byte(doc), &parsed), doc)
	require.Equal(t, "1", parsed.Gather.NumDigits)
	require.Equal(t, "https://x.example.org/v1/webhooks/twilio/voice?d=b1%2F1%2Fvoice&z=1", parsed.Gather.Action)
	require.Equal(t, []string{speech, "Para escuchar este mensaje de nuevo, oprima 1."}, parsed.Gather.Says)
	require.Contains(t, doc, `language="es-US"`)

	plain := notices.CallTwiML("fr", "hello", "")
	require.NotContains(t, plain, "Gather", "without a voice webhook there is nothing to press")
	require.Equal(t, 2, strings.Count(plain, `<Say language="en-US">hello</Say>`), "read twice instead")
}
