package activities_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ballotflow/ballotflow/activities"
	"github.com/ballotflow/ballotflow/internal/ballot"
	"github.com/ballotflow/ballotflow/internal/store"
)

// A county's own wording is what its voters get, and each delivery records the version of
// the wording its message used; a delivery whose texts are the catalog's records none. A
// change reaches the send path within the worker's check interval.
func TestDeliveriesUseTheCountysWordingAndRecordItsVersion(t *testing.T) {
	t.Parallel()
	bg := context.Background()
	st := demoStore(t)
	key := mariaMailed(t, st, "B-WORDING")
	denver := store.JurisdictionID("CO", "denver")
	override := func(id, text string) int64 {
		t.Helper()
		v, _, err := st.MessageVersionSave(bg, store.MessageVersion{JurisdictionID: denver, MessageID: id, Language: "en",
			Text: text}, "key:test")
		require.NoError(t, err)
		return v.Version
	}
	override("notice.mailed.subject", "Denver mailed your ballot")
	smsVersion := override("notice.mailed.sms", "{{.Jurisdiction}}: {{.FirstName}}, your ballot is in the mail. Drop boxes open now.")

	now := time.Now()
	texts, mail := &textCounter{}, &senders{}
	env := activityEnv(&activities.Activities{Store: st, Phone: texts, Email: mail, Now: func() time.Time { return now }})
	send := func(seq int, channel string) store.Delivery {
		t.Helper()
		idem := fmt.Sprintf("%s/%d/%s", key, seq, channel)
		activity := map[string]string{ballot.ChannelSMS: "SendSMS", ballot.ChannelEmail: "SendEmail"}[channel]
		_, err := env.ExecuteActivity(activity, activities.Notice{IdempotencyKey: idem, BallotKey: key, Seq: seq,
			Status: ballot.StatusMailed, Channel: channel})
		require.NoError(t, err)
		d, err := st.DeliveryGetByKey(bg, idem)
		require.NoError(t, err)
		return d
	}

	d := send(1, ballot.ChannelSMS)
	require.Contains(t, texts.texts[0], "Denver Elections Division: Maria, your ballot is in the mail. Drop boxes open now.")
	require.Equal(t, smsVersion, d.MessagesVersion)

	d = send(1, ballot.ChannelEmail)
	require.Len(t, mail.emails, 1)
	require.Equal(t, "Denver mailed your ballot", mail.emails[0].Subject)
	require.Contains(t, mail.emails[0].Text, "has mailed the ballot of Maria Garcia", "the catalog's body")
	require.Equal(t, smsVersion, d.MessagesVersion, "the wording as it stood: the subject is the county's")

	// A change is read once the worker's check interval has passed, not per message.
	newer := override("notice.mailed.sms", "{{.Jurisdiction}}: {{.FirstName}}, your ballot is on its way.")
	d = send(2, ballot.ChannelSMS)
	require.Contains(t, texts.texts[1], "Drop boxes open now.", "within the interval: the wording held")
	require.Equal(t, smsVersion, d.MessagesVersion)
	now = now.Add(time.Minute)
	d = send(3, ballot.ChannelSMS)
	require.Contains(t, texts.texts[2], "Maria, your ballot is on its way.")
	require.Equal(t, newer, d.MessagesVersion)

	// Back to the catalog's text: nothing of the county's wording used, none recorded.
	override("notice.mailed.sms", "")
	now = now.Add(time.Minute)
	d = send(4, ballot.ChannelSMS)
	require.Contains(t, texts.texts[3], "mailed your ballot, Maria")
	require.Zero(t, d.MessagesVersion)
}
