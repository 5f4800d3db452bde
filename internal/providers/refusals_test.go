package providers

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twilio/twilio-go/client"
)

// TestRefusalsSayWhoseFaultTheyAre: a permanent refusal about the recipient's address marks
// the address; one about what ballotflow sent (the sender, the subject) is configuration, so
// no voter's address is marked bad for it; Twilio's 21610 is the voter's STOP.
func TestRefusalsSayWhoseFaultTheyAre(t *testing.T) {
	sg := &SendGrid{now: time.Now}
	for _, tc := range []struct {
		name, body   string
		config       bool
		wantInReason string
	}{
		{"recipient", `{"errors":[{"field":"personalizations.0.to.0.email","message":"Does not contain a valid address."}]}`,
			false, "personalizations.0.to.0.email"},
		{"recipient among others", `{"errors":[{"field":"subject"},{"field":"personalizations.1.cc"}]}`, false, "subject"},
		{"sender", `{"errors":[{"field":"from.email","message":"The from object must be provided"}]}`, true, "from.email"},
		{"subject and content", `{"errors":[{"field":"subject"},{"field":"content.0.value"}]}`, true, "content.0.value"},
		{"no field named", `{"errors":[{"message":"Bad Request"}]}`, false, "rejected"},
		{"not JSON", `<html>`, false, "rejected"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := sg.classify(http.StatusBadRequest, http.Header{}, tc.body)
			require.True(t, e.Permanent)
			require.Equal(t, tc.config, e.Config, e.Error())
			require.Contains(t, e.Message, tc.wantInReason)
			require.False(t, e.Unsubscribed)
		})
	}

	tw := &Twilio{now: time.Now}
	require.True(t, tw.classify(nil, http.StatusBadRequest, http.Header{}).Permanent)
	for code, unsubscribed := range map[int]bool{21610: true, 21211: false, 21614: false} {
		e := tw.classify(&client.TwilioRestError{Code: code, Status: http.StatusBadRequest}, http.StatusBadRequest, http.Header{})
		require.Equal(t, unsubscribed, e.Unsubscribed, "code %d", code)
		require.True(t, e.Permanent)
		require.False(t, e.Config)
	}
}
